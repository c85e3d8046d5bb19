-- Sign-ins in flight at an upstream OpenID Provider: written when Gatehouse
-- sends the browser there, taken (deleted) exactly once when it comes back, so a
-- replayed `state` finds nothing, on any node. `browser_hash` binds the row to
-- the browser that started it (a cookie); `request` is the client's
-- authorization request (JSON) to resume. Expired rows are purged.
CREATE TABLE upstream_logins (
    state_hash    TEXT PRIMARY KEY,
    upstream      TEXT NOT NULL,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    request       TEXT NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX upstream_logins_expiry ON upstream_logins(expires_at);
