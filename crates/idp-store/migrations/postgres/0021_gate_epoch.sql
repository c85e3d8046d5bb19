-- The gate epoch: one number that every write to what the token exchange's
-- gate reads (people, groups, memberships, blocks, connections) moves, in
-- the writer's own transaction. A node may then answer the gate from its
-- memory and check, in the very statement that commits the exchange's audit
-- event, that the epoch it read with is still the current one: a revoke or
-- block acknowledged by any node before the exchange began has moved it.
-- Triggers rather than the application's discipline, so no write path can
-- forget (a connection's last use alone is not the gate's business).
CREATE TABLE gate_epoch (
    one   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    epoch BIGINT NOT NULL
);
INSERT INTO gate_epoch (one, epoch) VALUES (TRUE, 1);

-- Before the statement touches a row: the writer lock (the audit log's and
-- every writer's, so writers meet the two locks in one order), then the epoch.
CREATE FUNCTION gate_epoch_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7449363237540164979);
    UPDATE gate_epoch SET epoch = epoch + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER gate_epoch_people BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON people
    FOR EACH STATEMENT EXECUTE FUNCTION gate_epoch_moves();
CREATE TRIGGER gate_epoch_groups BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON directory_groups
    FOR EACH STATEMENT EXECUTE FUNCTION gate_epoch_moves();
CREATE TRIGGER gate_epoch_members BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION gate_epoch_moves();
CREATE TRIGGER gate_epoch_blocks BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION gate_epoch_moves();
CREATE TRIGGER gate_epoch_connections BEFORE INSERT OR DELETE OR TRUNCATE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION gate_epoch_moves();
-- Every column but last_used_at (a test holds this list to the table's).
CREATE TRIGGER gate_epoch_connection_changes BEFORE UPDATE OF
    id, client_id, resource_app, scope_condition, allowed_groups, allowed_resources,
    step_up, id_jag_lifetime, expires_at, status, approved_by, justification,
    request_id, created_at, updated_at, version, status_reason, excluded_users, risk_rank
    ON connections FOR EACH STATEMENT EXECUTE FUNCTION gate_epoch_moves();
