-- Gatehouse IdP schema, version 2: the admin API (decisions, API tokens,
-- idempotency, revocation outbox, change feed, user blocks).
ALTER TABLE access_tokens ADD COLUMN acr TEXT;
ALTER TABLE access_tokens ADD COLUMN auth_time INTEGER;

ALTER TABLE connection_requests ADD COLUMN decided_by TEXT;
ALTER TABLE connection_requests ADD COLUMN decision_reason TEXT;
ALTER TABLE connection_requests ADD COLUMN connection_id TEXT;

ALTER TABLE connections ADD COLUMN status_reason TEXT;

-- First approvals of a grant that needs two distinct approvers.
CREATE TABLE request_approvals (
    request_id TEXT NOT NULL REFERENCES connection_requests(id),
    approver   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    grant_json TEXT NOT NULL,
    PRIMARY KEY (request_id, approver)
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    roles        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

-- A retried mutation with the same key returns the stored first result.
CREATE TABLE idempotency_keys (
    actor        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
);

-- Security Event Tokens waiting for (or delivered to) resource app receivers.
CREATE TABLE revocation_outbox (
    event_id        TEXT NOT NULL,
    receiver        TEXT NOT NULL,
    connection_id   TEXT,
    set_jwt         TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    delivered_at_ms INTEGER,
    last_error      TEXT,
    PRIMARY KEY (event_id, receiver)
);
CREATE INDEX revocation_outbox_due ON revocation_outbox(status, next_attempt_ms);
CREATE INDEX revocation_outbox_connection ON revocation_outbox(connection_id);

-- What changed, for the server-sent event stream and its Last-Event-ID resume.
CREATE TABLE change_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    target TEXT NOT NULL,
    at_ms  INTEGER NOT NULL
);

-- Users whose XAA access is cut off everywhere (help-desk kill switch by user).
CREATE TABLE user_blocks (
    username   TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
