-- A pending request that asks an approver to confirm a live connection whose
-- app's scope catalogue made a granted scope riskier or sensitive: the
-- connection it is about and what changed (JSON). NULL for every other request.
ALTER TABLE connection_requests ADD COLUMN reapproval TEXT;
