-- Signing-key rotation: a key is `next` (published in the JWKS, not yet
-- signing), `active` (signing; `active` = 1 stays true of it alone, so a node of
-- the previous version keeps reading the same key), `previous` (published, so
-- tokens it signed still verify) or `retired` (gone from the JWKS, its private
-- key erased).
ALTER TABLE signing_keys ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
UPDATE signing_keys SET status = CASE WHEN active = 1 THEN 'active' ELSE 'retired' END;
