-- Alert destinations (issue 13): where an account's alerts go. The json format's signing
-- secret is stored AES-256-GCM-encrypted under ENCRYPTION_KEY and shown once, at creation.
CREATE TABLE alert_destinations (
  id              TEXT PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  url             TEXT NOT NULL,
  format          TEXT NOT NULL CHECK (format IN ('slack', 'json')),
  secret_enc      TEXT,
  secret_hint     TEXT,
  created_at      TEXT NOT NULL,
  -- Set when the receiver answered 410 Gone: no more deliveries, a note on the page.
  disabled_at     TEXT,
  disabled_reason TEXT,
  last_status     INTEGER,
  last_attempt_at TEXT
);
CREATE INDEX alert_destinations_account ON alert_destinations(account_id);

-- Open incidents, one per project and kind: the dedupe of alerts, and what a recovery closes.
CREATE TABLE alert_incidents (
  project_id    TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  kind          TEXT NOT NULL,
  opened_at_ms  INTEGER NOT NULL,
  alerted       INTEGER NOT NULL DEFAULT 0,
  summary       TEXT NOT NULL,
  PRIMARY KEY (project_id, kind)
);

-- Alerts waiting to be delivered (one row per destination): a sync only inserts here; the
-- project's Durable Object (after the run) and the cron deliver, retrying for up to an hour.
CREATE TABLE alert_outbox (
  id              TEXT PRIMARY KEY,
  event_id        TEXT NOT NULL,
  destination_id  TEXT NOT NULL REFERENCES alert_destinations(id) ON DELETE CASCADE,
  project_id      TEXT,
  body            TEXT NOT NULL,
  created_at_ms   INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  last_status     INTEGER,
  last_error      TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox(status, next_attempt_ms);

-- The cron's freshness check per project: Notion's latest edit against the last webhook event.
CREATE TABLE freshness_checks (
  project_id      TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
  checked_at      TEXT NOT NULL,
  latest_edit_at  TEXT,
  stale           INTEGER NOT NULL DEFAULT 0,
  warning         TEXT
);
