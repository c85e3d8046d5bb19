-- Gatehouse IdP schema, version 1 (PostgreSQL). The same schema as
-- ../sqlite/0001_initial.sql: integers are BIGINT, blobs BYTEA, flags 0/1.
-- Secrets are stored only as SHA-256 hashes.
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    pkcs8      BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    active     BIGINT NOT NULL
);

CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    username       TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    auth_time      BIGINT NOT NULL,
    acr            TEXT NOT NULL,
    amr            TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family         TEXT NOT NULL
);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_family ON access_tokens(family);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    acr        TEXT NOT NULL,
    amr        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);

CREATE TABLE totp_last_step (
    username  TEXT PRIMARY KEY,
    last_step BIGINT NOT NULL
);

CREATE TABLE connections (
    id                TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL,
    resource_app      TEXT NOT NULL,
    scope_condition   TEXT NOT NULL,
    allowed_groups    TEXT NOT NULL,
    allowed_resources TEXT NOT NULL,
    step_up           TEXT NOT NULL,
    id_jag_lifetime   BIGINT,
    expires_at        BIGINT,
    status            TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked', 'expired')),
    approved_by       TEXT NOT NULL,
    justification     TEXT,
    request_id        TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_used_at      BIGINT,
    version           BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX connections_one_live ON connections(client_id, resource_app)
    WHERE status IN ('active', 'suspended');

CREATE TABLE connection_requests (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    resource_app  TEXT NOT NULL,
    refused_count BIGINT NOT NULL,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    justification TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    version       BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX connection_requests_one_pending ON connection_requests(client_id, resource_app)
    WHERE status = 'pending';

CREATE TABLE connection_request_scopes (
    request_id TEXT NOT NULL REFERENCES connection_requests(id),
    scope      TEXT NOT NULL,
    PRIMARY KEY (request_id, scope)
);

CREATE TABLE connection_request_resources (
    request_id TEXT NOT NULL REFERENCES connection_requests(id),
    resource   TEXT NOT NULL,
    PRIMARY KEY (request_id, resource)
);

CREATE TABLE connection_request_users (
    request_id    TEXT NOT NULL REFERENCES connection_requests(id),
    username      TEXT NOT NULL,
    groups        TEXT NOT NULL,
    refused_count BIGINT NOT NULL,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    PRIMARY KEY (request_id, username)
);

-- Append-only and hash-chained: hash = SHA-256(prev_hash || canonical JSON of the event).
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    at_ms     BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT,
    client_id TEXT,
    subject   TEXT,
    target    TEXT,
    outcome   TEXT NOT NULL,
    reason    TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_events_kind ON audit_events(kind, at_ms);
