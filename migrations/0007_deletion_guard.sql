-- Issue 19: the live site is never emptied by mistake.

-- The data source a project syncs (chosen once, never re-resolved to "the first one listed"),
-- the deletion guard's per-project settings, and a settings version: every change the owner
-- saves bumps it, and the writes a run makes to its project are compare-and-swaps on it.
ALTER TABLE projects ADD COLUMN notion_data_source_id TEXT;
ALTER TABLE projects ADD COLUMN deletion_guard INTEGER NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN deletion_guard_percent INTEGER
  CHECK (deletion_guard_percent IS NULL OR deletion_guard_percent BETWEEN 1 AND 100);
ALTER TABLE projects ADD COLUMN config_version INTEGER NOT NULL DEFAULT 0;
-- Projects that synced before keep syncing what they synced: the first listed data source.
UPDATE projects SET notion_data_source_id = json_extract(notion_data_source_ids, '$[0]')
  WHERE json_valid(notion_data_source_ids) AND json_array_length(notion_data_source_ids) > 0;

-- Removals the deletion guard held for the owner's review ('held'), or that the owner chose
-- to keep in Framer although Notion no longer shows them ('kept').
CREATE TABLE held_removals (
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  page_id    TEXT NOT NULL,
  title      TEXT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('held', 'kept')),
  sync_id    TEXT NOT NULL,
  held_at    TEXT NOT NULL,
  PRIMARY KEY (project_id, page_id)
);

-- A run closed as 'cancelled' (the project's database or collection changed while it ran),
-- and the removals a run held. SQLite cannot widen a CHECK in place: the table is rebuilt.
CREATE TABLE sync_runs_new (
  id            TEXT PRIMARY KEY,
  project_id    TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  trigger       TEXT NOT NULL CHECK (trigger IN ('webhook', 'manual', 'schedule')),
  scope         TEXT NOT NULL DEFAULT 'incremental' CHECK (scope IN ('full', 'incremental')),
  status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
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
  error_message TEXT,
  phase         TEXT CHECK (phase IN ('reading', 'writing', 'publishing')),
  rows_read     INTEGER NOT NULL DEFAULT 0,
  items_written INTEGER NOT NULL DEFAULT 0,
  rows_total    INTEGER,
  steps         INTEGER NOT NULL DEFAULT 0,
  skipped_rows  TEXT NOT NULL DEFAULT '[]',
  removals_held INTEGER NOT NULL DEFAULT 0,
  -- {reason, items: [{page_id, title, url}]} with the first 20 held items; null when none.
  held          TEXT
);
INSERT INTO sync_runs_new (id, project_id, trigger, scope, status, started_at, finished_at, events,
  added, updated, removed, unchanged, skipped, notion_calls, framer_calls, bytes_sent, published,
  warnings, error_code, error_message, phase, rows_read, items_written, rows_total, steps, skipped_rows)
SELECT id, project_id, trigger, scope, status, started_at, finished_at, events,
  added, updated, removed, unchanged, skipped, notion_calls, framer_calls, bytes_sent, published,
  warnings, error_code, error_message, phase, rows_read, items_written, rows_total, steps, skipped_rows
FROM sync_runs;
DROP TABLE sync_runs;
ALTER TABLE sync_runs_new RENAME TO sync_runs;
CREATE INDEX sync_runs_project ON sync_runs(project_id, started_at DESC);
