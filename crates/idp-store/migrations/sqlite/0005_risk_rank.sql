-- The highest risk a connection grants, kept in the row so the inventory can
-- filter and sort by it in SQL at 100k connections. Risk comes from the scope
-- catalogue in the configuration, mirrored into `scope_catalogue` at every start
-- (ranks: read 1, write 2, destructive 3, admin 4; a scope outside the catalogue
-- counts as admin, as the views say). Triggers keep `risk_rank` right on every
-- insert and every change of a connection's scopes, whichever code path writes.
ALTER TABLE connections ADD COLUMN risk_rank INTEGER NOT NULL DEFAULT 0;
CREATE TABLE scope_catalogue (
    app   TEXT NOT NULL,
    scope TEXT NOT NULL,
    rank  INTEGER NOT NULL,
    PRIMARY KEY (app, scope)
);
CREATE TRIGGER connections_risk_update AFTER UPDATE OF scope_condition ON connections BEGIN
    UPDATE connections SET risk_rank = COALESCE(
        CASE json_extract(NEW.scope_condition, '$.kind')
            WHEN 'all' THEN (SELECT MAX(rank) FROM scope_catalogue WHERE app = NEW.resource_app)
            ELSE (SELECT MAX(COALESCE((SELECT rank FROM scope_catalogue s WHERE s.app = NEW.resource_app AND s.scope = j.value), 4))
                  FROM json_each(NEW.scope_condition, '$.scopes') j)
        END, 0)
    WHERE id = NEW.id;
END;
-- An insert (and the recompute at start) rewrites `scope_condition` unchanged,
-- which runs the one computation above.
CREATE TRIGGER connections_risk_insert AFTER INSERT ON connections BEGIN
    UPDATE connections SET scope_condition = NEW.scope_condition WHERE id = NEW.id;
END;
CREATE INDEX connections_status_risk ON connections(status, risk_rank);
