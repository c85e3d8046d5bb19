-- How far each configured audit stream (a SIEM) has been sent: the last
-- audit sequence number its receiver acknowledged, kept across restarts.
CREATE TABLE audit_stream_cursors (
    name       TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
