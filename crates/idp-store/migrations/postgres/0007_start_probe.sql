-- One row written at every start, so a database that cannot be written refuses
-- the start instead of failing every sign-in and decision later.
CREATE TABLE start_probe (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    started_at_ms BIGINT NOT NULL
);
