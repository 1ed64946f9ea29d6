-- Issue 14: a verification request never weakens a working webhook, and a leaked webhook URL
-- can be retired.
-- A verification token that arrives once the project already has one waits here until the owner
-- confirms it or an event signed with it arrives (encrypted like verification_token_enc).
ALTER TABLE webhooks ADD COLUMN pending_token_enc TEXT;
ALTER TABLE webhooks ADD COLUMN pending_token_received_at TEXT;
-- "Rotate the webhook URL": the new key answers beside the old one until the owner confirms the
-- subscription at the new URL; next_key_verified_at is when Notion's verification reached it.
ALTER TABLE webhooks ADD COLUMN next_webhook_key TEXT;
ALTER TABLE webhooks ADD COLUMN next_key_verified_at TEXT;
CREATE UNIQUE INDEX webhooks_next_webhook_key ON webhooks (next_webhook_key)
  WHERE next_webhook_key IS NOT NULL;
-- A token that reached the shared URL while exactly one project awaited one is bound to that
-- project; any other token there can be claimed by nobody.
ALTER TABLE pending_verifications ADD COLUMN project_id TEXT REFERENCES projects(id) ON DELETE CASCADE;
