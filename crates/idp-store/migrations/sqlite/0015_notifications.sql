-- Where approvers are reached: notification channels (a signed JSON webhook
-- or a Slack-compatible incoming webhook), the audit log position up to which
-- notifications were derived (one row), and the durable outbox of deliveries
-- with their receipts. A webhook's signing secret is kept to sign with; it is
-- shown once, when the channel is created, and never read back out.
CREATE TABLE notification_channels (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT,
    events      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE TABLE notification_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);

CREATE TABLE notification_outbox (
    id              TEXT PRIMARY KEY,
    channel_id      TEXT NOT NULL REFERENCES notification_channels(id),
    event           TEXT NOT NULL,
    audit_seq       BIGINT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    delivered_at_ms BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    UNIQUE (channel_id, audit_seq, event)
);
CREATE INDEX notification_outbox_due ON notification_outbox(status, next_attempt_ms);
CREATE INDEX notification_outbox_channel ON notification_outbox(channel_id, created_at_ms);
