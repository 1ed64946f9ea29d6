-- Issue 21: a run whose rows wait for related projects' runs shows the phase 'waiting'.
-- SQLite cannot widen a CHECK in place: the table is rebuilt (as in 0007), every column kept.
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
  phase         TEXT CHECK (phase IN ('reading', 'waiting', 'writing', 'publishing')),
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
  warnings, error_code, error_message, phase, rows_read, items_written, rows_total, steps,
  skipped_rows, removals_held, held)
SELECT id, project_id, trigger, scope, status, started_at, finished_at, events,
  added, updated, removed, unchanged, skipped, notion_calls, framer_calls, bytes_sent, published,
  warnings, error_code, error_message, phase, rows_read, items_written, rows_total, steps,
  skipped_rows, removals_held, held
FROM sync_runs;
DROP TABLE sync_runs;
ALTER TABLE sync_runs_new RENAME TO sync_runs;
CREATE INDEX sync_runs_project ON sync_runs(project_id, started_at DESC);
