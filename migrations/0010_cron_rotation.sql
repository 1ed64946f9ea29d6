-- Issue 20: the cron does a bounded amount of work per run. When more projects are due for a
-- catch-up sync than one run queues, the least recently served go first: `served_at` is when
-- the cron last queued the project's catch-up sync (never: first of all).
CREATE TABLE catch_up_turns (
  project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
  served_at TEXT NOT NULL
);
