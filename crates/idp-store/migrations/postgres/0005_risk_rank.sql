-- The highest risk a connection grants, kept in the row so the inventory can
-- filter and sort by it in SQL (PostgreSQL; see ../sqlite/0005_risk_rank.sql):
-- ranks from the scope catalogue mirrored from the configuration at every start
-- (read 1, write 2, destructive 3, admin 4; a scope outside it counts as admin).
-- A trigger keeps `risk_rank` right on every insert and change of the scopes.
ALTER TABLE connections ADD COLUMN risk_rank BIGINT NOT NULL DEFAULT 0;
CREATE TABLE scope_catalogue (
    app   TEXT NOT NULL,
    scope TEXT NOT NULL,
    rank  BIGINT NOT NULL,
    PRIMARY KEY (app, scope)
);
CREATE FUNCTION connections_risk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.risk_rank := COALESCE(
        CASE (NEW.scope_condition::jsonb)->>'kind'
            WHEN 'all' THEN (SELECT MAX(rank) FROM scope_catalogue WHERE app = NEW.resource_app)
            ELSE (SELECT MAX(COALESCE((SELECT rank FROM scope_catalogue s WHERE s.app = NEW.resource_app AND s.scope = j.value), 4))
                  FROM jsonb_array_elements_text(COALESCE((NEW.scope_condition::jsonb)->'scopes', '[]'::jsonb)) AS j(value))
        END, 0);
    RETURN NEW;
END $$;
CREATE TRIGGER connections_risk BEFORE INSERT OR UPDATE OF scope_condition ON connections
    FOR EACH ROW EXECUTE FUNCTION connections_risk();
CREATE INDEX connections_status_risk ON connections(status, risk_rank);
