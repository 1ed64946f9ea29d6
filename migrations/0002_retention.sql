-- Retention (the cron prunes the history in bounded batches, oldest first). webhook_events and
-- sync_runs are pruned per project through their existing (project_id, time) indexes; expired
-- verification tokens need an index on their expiry so that their removal is a range scan too.
CREATE INDEX pending_verifications_expiry ON pending_verifications(expires_at);
