-- Access reviews per user of a connection: a user's access through one
-- connection can be removed without touching anyone else's.
ALTER TABLE connections ADD COLUMN excluded_users TEXT NOT NULL DEFAULT '[]';
ALTER TABLE review_campaigns ADD COLUMN per_user BIGINT NOT NULL DEFAULT 0;
ALTER TABLE review_items ADD COLUMN username TEXT;
DROP INDEX review_items_order;
CREATE INDEX review_items_order ON review_items(campaign_id, resource_app, client_id, username, id);
