-- The gate epoch (see the PostgreSQL migration of this number). On SQLite
-- this process is the database's only writer and invalidates its gate cache
-- after each write itself, so nothing moves the number; the table is here so
-- the gate's one statement reads alike on both.
CREATE TABLE gate_epoch (
    one   INTEGER PRIMARY KEY DEFAULT 1 CHECK (one = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO gate_epoch (one, epoch) VALUES (1, 1);
