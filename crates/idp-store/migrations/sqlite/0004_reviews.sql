-- Periodic access reviews: campaigns over connections, one item per connection,
-- each with a usage-based recommendation, a reviewer, a decision and what the
-- decision did (remediation).
CREATE TABLE review_campaigns (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    scope_json       TEXT NOT NULL,
    reviewers_json   TEXT NOT NULL,
    fallback_reviewer TEXT NOT NULL,
    starts_at        INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    default_action   TEXT NOT NULL CHECK (default_action IN ('keep', 'revoke', 'recommendation')),
    status           TEXT NOT NULL CHECK (status IN ('active', 'completed')),
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    completed_at     INTEGER
);
CREATE TABLE review_items (
    id                    TEXT PRIMARY KEY,
    campaign_id           TEXT NOT NULL REFERENCES review_campaigns(id),
    connection_id         TEXT NOT NULL REFERENCES connections(id),
    client_id             TEXT NOT NULL,
    resource_app          TEXT NOT NULL,
    scopes_json           TEXT NOT NULL,
    reviewer              TEXT NOT NULL,
    recommendation        TEXT NOT NULL CHECK (recommendation IN ('keep', 'revoke')),
    recommendation_reason TEXT NOT NULL,
    last_used_at          INTEGER,
    exchanges_30d         INTEGER NOT NULL,
    exchanges_90d         INTEGER NOT NULL,
    decision              TEXT CHECK (decision IN ('keep', 'revoke', 'modify')),
    decided_by            TEXT,
    decided_at            INTEGER,
    reason                TEXT,
    scopes_after_json     TEXT,
    defaulted             INTEGER NOT NULL DEFAULT 0,
    remediation           TEXT,
    reassign_note         TEXT
);
CREATE INDEX review_items_campaign ON review_items(campaign_id, reviewer);
CREATE INDEX review_campaigns_due ON review_campaigns(status, due_at);
CREATE INDEX review_items_order ON review_items(campaign_id, resource_app, client_id, id);
-- (0006 adds `username`; per-user items order by it within a connection.)
