-- Accounts and their API tokens. Tokens are stored only as SHA-256 hashes.
CREATE TABLE accounts (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  plan        TEXT NOT NULL CHECK (plan IN ('free', 'paid')),
  created_at  TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id          TEXT PRIMARY KEY,
  account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  token_hash  TEXT NOT NULL UNIQUE,
  hint        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  revoked_at  TEXT
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

-- One project = one Notion database synced into one Framer collection.
-- Secrets (*_enc) are AES-256-GCM ciphertexts under ENCRYPTION_KEY; *_hint is what the API shows.
CREATE TABLE projects (
  id                    TEXT PRIMARY KEY,
  account_id            TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name                  TEXT NOT NULL,
  notion_token_enc      TEXT NOT NULL,
  notion_token_hint     TEXT NOT NULL,
  notion_database_id    TEXT NOT NULL,
  -- JSON array of the database's data source ids, filled in by the first sync.
  notion_data_source_ids TEXT NOT NULL DEFAULT '[]',
  framer_project_url    TEXT NOT NULL,
  framer_api_key_enc    TEXT NOT NULL,
  framer_api_key_hint   TEXT NOT NULL,
  framer_collection_name TEXT NOT NULL,
  framer_collection_id  TEXT,
  mapping               TEXT,
  slug_property         TEXT,
  publish_filter        TEXT,
  unpublished_mode      TEXT NOT NULL DEFAULT 'remove' CHECK (unpublished_mode IN ('remove', 'draft')),
  page_body             INTEGER NOT NULL DEFAULT 0,
  auto_sync             INTEGER NOT NULL DEFAULT 1,
  auto_publish          INTEGER NOT NULL DEFAULT 0,
  webhook_key           TEXT NOT NULL UNIQUE,
  last_full_sync_at     TEXT,
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL
);
CREATE INDEX projects_account ON projects(account_id);
CREATE INDEX projects_database ON projects(notion_database_id);

-- The Notion webhook subscription of a project, as the setup flow sees it.
CREATE TABLE webhooks (
  project_id             TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
  status                 TEXT NOT NULL DEFAULT 'setup_required'
                         CHECK (status IN ('setup_required', 'token_received', 'active')),
  verification_token_enc TEXT,
  token_received_at      TEXT,
  activated_at           TEXT,
  last_event_at          TEXT,
  events_received        INTEGER NOT NULL DEFAULT 0,
  events_ignored         INTEGER NOT NULL DEFAULT 0,
  -- 1 when the token was claimed from the shared URL: events there are tried against it.
  via_shared_url         INTEGER NOT NULL DEFAULT 0
);

-- Verification tokens that reached the shared URL and wait for a project to claim them.
CREATE TABLE pending_verifications (
  id           TEXT PRIMARY KEY,
  token_enc    TEXT NOT NULL,
  received_at  TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);

-- Every authentic event, once: the primary key is what makes retries harmless.
CREATE TABLE webhook_events (
  event_id       TEXT PRIMARY KEY,
  project_id     TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  type           TEXT NOT NULL,
  entity_id      TEXT,
  relevant       INTEGER NOT NULL,
  attempt_number INTEGER,
  received_at    TEXT NOT NULL
);
CREATE INDEX webhook_events_project ON webhook_events(project_id, received_at);

-- One row per sync run; "Last sync" and the history come from here.
CREATE TABLE sync_runs (
  id            TEXT PRIMARY KEY,
  project_id    TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  trigger       TEXT NOT NULL CHECK (trigger IN ('webhook', 'manual', 'schedule')),
  scope         TEXT NOT NULL DEFAULT 'incremental' CHECK (scope IN ('full', 'incremental')),
  status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  events        INTEGER NOT NULL DEFAULT 0,
  added         INTEGER NOT NULL DEFAULT 0,
  updated       INTEGER NOT NULL DEFAULT 0,
  removed       INTEGER NOT NULL DEFAULT 0,
  unchanged     INTEGER NOT NULL DEFAULT 0,
  skipped       INTEGER NOT NULL DEFAULT 0,
  notion_calls  INTEGER NOT NULL DEFAULT 0,
  framer_calls  INTEGER NOT NULL DEFAULT 0,
  bytes_sent    INTEGER NOT NULL DEFAULT 0,
  published     INTEGER NOT NULL DEFAULT 0,
  warnings      TEXT NOT NULL DEFAULT '[]',
  error_code    TEXT,
  error_message TEXT
);
CREATE INDEX sync_runs_project ON sync_runs(project_id, started_at DESC);

-- What the Worker believes is in Framer, per Notion page: the hash hides unchanged rows.
CREATE TABLE synced_items (
  project_id       TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  page_id          TEXT NOT NULL,
  slug             TEXT NOT NULL,
  slug_source      TEXT NOT NULL,
  content_hash     TEXT NOT NULL,
  last_edited_time TEXT,
  synced_at        TEXT NOT NULL,
  PRIMARY KEY (project_id, page_id)
);
