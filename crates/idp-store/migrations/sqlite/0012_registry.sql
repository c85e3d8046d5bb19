-- The AI clients and resource apps, managed at run time through the admin API;
-- the config file's [[clients]] and [[resource_apps]] seed them at a start when
-- they are absent (then the database is the truth). `doc` is the entry as the
-- IdP reads it (JSON, with credential hashes, never a secret); the columns beside
-- it are what lookups and uniqueness need. Every write bumps `version` (the
-- ETag). A retired entry stays for the audit trail and is honoured nowhere.
CREATE TABLE registry_clients (
    client_id  TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('config', 'admin')),
    version    INTEGER NOT NULL,
    retired_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE registry_apps (
    id         TEXT PRIMARY KEY,
    audience   TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('config', 'admin')),
    version    INTEGER NOT NULL,
    retired_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
