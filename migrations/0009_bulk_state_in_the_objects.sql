-- Issue 20: a run costs what it changes. The record of what Framer holds per Notion page
-- moves from D1's `synced_items` into each project's Durable Object SQLite (its `items` table),
-- where a run reads and writes only the items its rows touch; before, every run copied the
-- project's whole record into the object and deleted it again (about 2N rows written per run).
-- Each object adopts its project's rows on its next run (a chunk per unit, before anything
-- else) and deletes them from D1 once it holds all of them, so the table empties as projects
-- run; new projects never write it. The dashboard's item count is kept on the project row,
-- set when a run ends; until a project's first run under this version, it is D1's count.
ALTER TABLE projects ADD COLUMN items_in_framer INTEGER NOT NULL DEFAULT 0;
UPDATE projects SET items_in_framer = (SELECT COUNT(*) FROM synced_items s WHERE s.project_id = projects.id);

-- Webhook deliveries stay in the project's object (its ledger, the dedupe); D1 gets only the
-- counters, a numbered tally per batch: a tally applies once, when its number is above the last
-- one applied (`events_tally_seq`). `webhook_events` is no longer written; the retention prunes
-- what earlier versions copied there.
ALTER TABLE webhooks ADD COLUMN events_tally_seq INTEGER NOT NULL DEFAULT 0;

-- The run history moves to each project's object (its `runs` table), where the API pages it;
-- D1 keeps the run in flight and the newest finished run of each project (the project list's
-- "last sync"). Each run's end moves a chunk of what versions before kept here. When the newest
-- successful run started is kept on the project row: the incremental window and the catch-up
-- cron read it there instead of searching the history.
ALTER TABLE projects ADD COLUMN last_success_started_at TEXT;
UPDATE projects SET last_success_started_at =
  (SELECT MAX(started_at) FROM sync_runs s WHERE s.project_id = projects.id AND s.status = 'succeeded');
