-- A campaign's kind: `access` (connections matching a filter, reviewed by
-- named reviewers or the apps' owners) or `agent` (every connection of one
-- AI client, reviewed by its owners).
ALTER TABLE review_campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'access';
