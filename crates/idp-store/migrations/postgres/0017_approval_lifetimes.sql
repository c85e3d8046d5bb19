-- Governance over time, second part. `orphaned_clients`: a client with no
-- active owner left, since when (the orphan grace policy counts from there;
-- `suspended_at` once its connections were suspended in this orphaned spell).
-- `attestations`: one per connection and expiry asked about: the owners'
-- answer ("still needed?") and the approver's renewal decision.
-- `connection_requests.decided_rules`: the risk and sensitivity of the
-- request's scopes when it was decided (JSON), to show a decision made under
-- rules that have since changed.
CREATE TABLE orphaned_clients (
    client_id    TEXT PRIMARY KEY,
    since        BIGINT NOT NULL,
    suspended_at BIGINT
);

CREATE TABLE attestations (
    connection_id   TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    asked_at        BIGINT NOT NULL,
    attested_by     TEXT,
    attested_at     BIGINT,
    still_needed    BIGINT,
    attest_reason   TEXT,
    renewal         TEXT,
    decided_by      TEXT,
    decided_at      BIGINT,
    decision_reason TEXT,
    PRIMARY KEY (connection_id, expires_at)
);

ALTER TABLE connection_requests ADD COLUMN decided_rules TEXT;
