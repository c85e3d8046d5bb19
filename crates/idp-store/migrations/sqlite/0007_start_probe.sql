-- One row written at every start, so a database that cannot be written (a
-- read-only directory or file left behind by a crash) refuses the start instead
-- of failing every sign-in and decision later.
CREATE TABLE start_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    started_at_ms INTEGER NOT NULL
);
