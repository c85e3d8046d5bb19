-- Lifecycle policies an admin sets (one versioned JSON document, id 1), and
-- the inactivity warnings given: a connection idle past the warning point is
-- warned once per idle spell (a use after `warned_at` starts a new spell).
CREATE TABLE lifecycle_policies (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    doc        TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE inactivity_warnings (
    connection_id TEXT PRIMARY KEY,
    warned_at     BIGINT NOT NULL,
    suspend_at    BIGINT NOT NULL
);
