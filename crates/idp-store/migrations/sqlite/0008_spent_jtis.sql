-- The `jti`s of client assertions already used (RFC 7523 single use), shared by
-- every node; rows are dropped once the assertion has expired.
CREATE TABLE spent_jtis (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX spent_jtis_expiry ON spent_jtis(expires_at);
