//! Every SQL statement of the run's staging in the Durable Object's SQLite, as constants: the
//! runtime (`edge/store/staging.rs`) runs them, and the native tests run the very same text on
//! an embedded SQLite against the pure rules they implement (the deletion rule of
//! [`crate::sync::reconcile::is_removal`], the slug holders of [`crate::sync::slug::Holder`]).
//! Parameters are positional (`?`, `?1`), as both `SqlStorage` and SQLite take them.

use super::job::RowState;
use crate::sync::slug::Holder;

/// The tables, created when missing.
pub const TABLES: [&str; 7] = [
    "CREATE TABLE IF NOT EXISTS sync_job (id INTEGER PRIMARY KEY CHECK (id = 1), job TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_rows (page_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, \
     state TEXT NOT NULL, slug TEXT NOT NULL, row TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_rows_state ON sync_rows (state, seq)",
    "CREATE INDEX IF NOT EXISTS sync_rows_slug ON sync_rows (slug)",
    "CREATE TABLE IF NOT EXISTS sync_stored (page_id TEXT PRIMARY KEY, slug TEXT NOT NULL, item TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_stored_slug ON sync_stored (slug)",
    "CREATE TABLE IF NOT EXISTS sync_framer_ids (page_id TEXT PRIMARY KEY)",
];

/// Emptied when a run ends.
pub const CLEAR: [&str; 4] = [
    "DELETE FROM sync_job",
    "DELETE FROM sync_rows",
    "DELETE FROM sync_stored",
    "DELETE FROM sync_framer_ids",
];

pub const LOAD_JOB: &str = "SELECT job AS t FROM sync_job WHERE id = 1";
/// (job)
pub const SAVE_JOB: &str =
    "INSERT INTO sync_job (id, job) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET job = excluded.job";
/// (page_id)
pub const CONTAINS: &str = "SELECT 1 AS x FROM sync_rows WHERE page_id = ?";
/// (page_id, seq, state, slug, row)
pub const PUT_ROW: &str =
    "INSERT INTO sync_rows (page_id, seq, state, slug, row) VALUES (?, ?, ?, ?, ?) \
     ON CONFLICT(page_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, \
     slug = excluded.slug, row = excluded.row";
/// (state, limit)
pub const ROWS_IN: &str = "SELECT row AS t FROM sync_rows WHERE state = ? ORDER BY seq LIMIT ?";
/// (state)
pub const COUNT_IN: &str = "SELECT COUNT(*) AS n FROM sync_rows WHERE state = ?";
/// (page_id, slug, item)
pub const PUT_STORED: &str =
    "INSERT OR REPLACE INTO sync_stored (page_id, slug, item) VALUES (?, ?, ?)";
/// (page_id)
pub const STORED: &str = "SELECT item AS t FROM sync_stored WHERE page_id = ?";
/// (JSON array of page ids)
pub const PUT_FRAMER_IDS: &str =
    "INSERT OR IGNORE INTO sync_framer_ids (page_id) SELECT value FROM json_each(?)";
/// (page_id)
pub const IN_FRAMER: &str = "SELECT 1 AS x FROM sync_framer_ids WHERE page_id = ?";

/// What holds slug ?1 for a page other than ?2, strongest first: `x` is 1 for a row given it,
/// 2 for a row waiting for it, 3 for the stored slug of a page whose item Framer still has
/// with it. A page's stored slug stops counting once its row was written or removed this run
/// ([`SLUG_HOLDER_READING`]); once reading is over, every staged row but the skipped ones and
/// those still to remove is written in the batches to come ([`SLUG_HOLDER_FINAL`]).
macro_rules! slug_holder {
    ($freed:literal) => {
        concat!(
            "SELECT CASE WHEN state = 'slug_wait' THEN 2 ELSE 1 END AS x FROM sync_rows ",
            "WHERE slug = ?1 AND page_id != ?2 ",
            "UNION ALL SELECT 3 AS x FROM sync_stored s WHERE s.slug = ?1 AND s.page_id != ?2 ",
            "AND NOT EXISTS (SELECT 1 FROM sync_rows r WHERE r.page_id = s.page_id AND ",
            $freed,
            ") ORDER BY x LIMIT 1"
        )
    };
}
/// (slug, page_id) while reading.
pub const SLUG_HOLDER_READING: &str = slug_holder!("r.state IN ('done', 'removed')");
/// (slug, page_id) once reading and removing are over.
pub const SLUG_HOLDER_FINAL: &str = slug_holder!("r.state NOT IN ('skipped', 'remove')");

/// Pages D1 or Framer has: the only ones worth a removal.
macro_rules! known {
    () => {
        "SELECT page_id FROM sync_stored UNION SELECT page_id FROM sync_framer_ids"
    };
}
macro_rules! listed {
    () => {
        concat!(
            "SELECT page_id AS t FROM sync_rows WHERE state = 'remove' AND page_id IN (",
            known!(),
            ")"
        )
    };
}
/// (limit) Pages to take out of Framer in an incremental run: rows staged to remove.
pub const REMOVALS_INCREMENTAL: &str = concat!(listed!(), " ORDER BY t LIMIT ?");
/// (limit) In a full run, also every page D1 or Framer has that the run did not stage at all.
pub const REMOVALS_FULL: &str = concat!(
    listed!(),
    " UNION SELECT page_id AS t FROM (",
    known!(),
    ") WHERE page_id NOT IN (SELECT page_id FROM sync_rows) ORDER BY t LIMIT ?"
);

/// How a row state is spelled in `sync_rows.state`.
pub fn state_name(state: RowState) -> &'static str {
    match state {
        RowState::Body => "body",
        RowState::SlugWait => "slug_wait",
        RowState::Write => "write",
        RowState::Done => "done",
        RowState::Skipped => "skipped",
        RowState::Remove => "remove",
        RowState::Removed => "removed",
    }
}

/// The holder an `x` of the slug holder statements stands for.
pub fn holder(x: i64) -> Option<Holder> {
    match x {
        1 => Some(Holder::Given),
        2 => Some(Holder::Wanted),
        3 => Some(Holder::Item),
        _ => None,
    }
}
