-- What each kill switch turned off, so that a reinstatement turns exactly that
-- back on. `kills`: the selector (client, resource app or user), who and why,
-- the user it blocked (a user selector), and the reinstatement once made
-- (`version` is its ETag). `kill_connections`: each connection it revoked,
-- its status before and its version right after (reinstated only if still
-- exactly as the kill left it). The revocation events a kill queued carry
-- its id, so its deliveries can be followed.
CREATE TABLE kills (
    id               TEXT PRIMARY KEY,
    selector_kind    TEXT NOT NULL,
    selector         TEXT NOT NULL,
    reason           TEXT NOT NULL,
    killed_by        TEXT NOT NULL,
    killed_at        BIGINT NOT NULL,
    blocked_user     TEXT,
    reinstated_by    TEXT,
    reinstated_at    BIGINT,
    reinstate_reason TEXT,
    version          BIGINT NOT NULL
);
CREATE INDEX kills_killed_at ON kills (killed_at);

CREATE TABLE kill_connections (
    kill_id       TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    status_before TEXT NOT NULL,
    version_after BIGINT NOT NULL,
    reinstated    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kill_id, connection_id)
);

ALTER TABLE revocation_outbox ADD COLUMN kill_id TEXT;
CREATE INDEX revocation_outbox_kill ON revocation_outbox (kill_id);
