-- Issue 24: retryable failures alert on time, and alert destination URLs are secrets.

-- When an open incident becomes worth an alert (a retryable failure lasting
-- ALERT_RETRYABLE_AFTER_SECONDS from its first failure), while none went out: the project's
-- Durable Object alarm and the cron raise it then, not at the next failed run. `detail` keeps
-- what that alert says besides the summary (JSON: the failure's code, message, retryable).
ALTER TABLE alert_incidents ADD COLUMN alert_due_at_ms INTEGER;
ALTER TABLE alert_incidents ADD COLUMN detail TEXT;
-- Incidents opened before this version: due after the default grace period (30 minutes).
UPDATE alert_incidents SET alert_due_at_ms = opened_at_ms + 1800000 WHERE alerted = 0;
CREATE INDEX alert_incidents_due ON alert_incidents(alert_due_at_ms) WHERE alerted = 0;

-- A destination URL is a credential (whoever has a Slack incoming-webhook URL can post to the
-- channel): it is stored AES-256-GCM-encrypted under ENCRYPTION_KEY in `url_enc`, bound to the
-- destination id; the API shows only `url_hint` (host and the last characters). SQL cannot
-- encrypt, so rows written before this version keep their plaintext in `url` until the Worker
-- first reads them (list, read, delivery, or the cron's sweep): it then writes `url_enc` and
-- `url_hint` and empties `url`. New rows never store the plaintext.
ALTER TABLE alert_destinations ADD COLUMN url_enc TEXT;
ALTER TABLE alert_destinations ADD COLUMN url_hint TEXT;
