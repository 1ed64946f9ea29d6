-- A sync run is a resumable job of bounded steps (one Durable Object alarm each): the record
-- shows how far it got while it runs, how many steps it took, and the rows Framer refused.
ALTER TABLE sync_runs ADD COLUMN phase TEXT CHECK (phase IN ('reading', 'writing', 'publishing'));
ALTER TABLE sync_runs ADD COLUMN rows_read INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN items_written INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN rows_total INTEGER;
ALTER TABLE sync_runs ADD COLUMN steps INTEGER NOT NULL DEFAULT 0;
-- [{page_id, title, url, property, reason}], at most 100; `skipped` counts them all.
ALTER TABLE sync_runs ADD COLUMN skipped_rows TEXT NOT NULL DEFAULT '[]';
