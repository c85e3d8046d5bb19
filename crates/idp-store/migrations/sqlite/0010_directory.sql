-- The directory: people and groups, provisioned through SCIM, signed in from an
-- upstream IdP, or seeded from the configuration file at first start. The policy
-- gate reads groups and `active` from here. `resource` is the SCIM resource as
-- last written (normalised by its schema; without id, meta and memberships);
-- the columns beside it are what queries and the gate need.
CREATE TABLE people (
    id           TEXT PRIMARY KEY,
    username     TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    external_id  TEXT,
    active       INTEGER NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('config', 'scim', 'upstream')),
    resource     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX people_external_id ON people(external_id);

CREATE TABLE directory_groups (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    name_key     TEXT NOT NULL UNIQUE,
    external_id  TEXT,
    source       TEXT NOT NULL CHECK (source IN ('config', 'scim', 'upstream')),
    resource     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX directory_groups_external_id ON directory_groups(external_id);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES directory_groups(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_members_person ON group_members(person_id);
