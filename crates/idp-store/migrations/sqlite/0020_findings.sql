-- What people decided about least-privilege findings (computed on request
-- from the audit log and the grants): snoozed until a date, acknowledged or
-- marked a false positive, each against the digest of the evidence it was
-- decided on — a finding whose evidence changed is open again.
CREATE TABLE finding_states (
    finding_id TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    state      TEXT NOT NULL,
    until      BIGINT,
    reason     TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at BIGINT NOT NULL
);
