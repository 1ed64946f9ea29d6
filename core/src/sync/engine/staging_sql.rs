//! Every SQL statement of the run's staging in the Durable Object's SQLite, as constants: the
//! runtime (the Worker's `src/store/staging.rs`) runs them, and the native tests run the very same text on
//! an embedded SQLite against the pure rules they implement (the deletion rule of
//! [`crate::sync::reconcile::is_removal`], the slug holders of [`crate::sync::slug::Holder`]).
//! Parameters are positional (`?`, `?1`), as both `SqlStorage` and SQLite take them.

use super::job::{Job, RowState};
use super::ports::Legacy;
use crate::sync::reconcile::RemovalSet;
use crate::sync::slug::Holder;

/// The tables, created when missing. `items`, `assets`, `relation_values` and `sync_meta`
/// outlive runs: `items` is the record of what Framer holds for the project (before, D1's
/// `synced_items`, copied into the object by every run), `assets` the files re-hosted in Framer
/// (before, D1's `assets`), `relation_values` the two-way relations rows last showed, so a run
/// reads and writes only what its rows touch. The rest is the run in progress.
/// `sync_stored`, the per-run copy of the version before, is dropped.
pub const TABLES: [&str; 13] = [
    "DROP TABLE IF EXISTS sync_stored",
    // The run's setup (schema, mapping, fields) apart from the job: written when it changes,
    // while the job's small cursor is written after every unit.
    "CREATE TABLE IF NOT EXISTS sync_setup (id INTEGER PRIMARY KEY CHECK (id = 1), setup TEXT NOT NULL)",
    // Two-way relations as each row last showed them (JSON arrays of related page ids).
    "CREATE TABLE IF NOT EXISTS relation_values (page_id TEXT NOT NULL, field_id TEXT NOT NULL, \
     ids TEXT NOT NULL, PRIMARY KEY (page_id, field_id))",
    "CREATE TABLE IF NOT EXISTS assets (file_key TEXT PRIMARY KEY, asset TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS items (page_id TEXT PRIMARY KEY, slug TEXT NOT NULL, item TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS items_slug ON items (slug)",
    "CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_job (id INTEGER PRIMARY KEY CHECK (id = 1), job TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_rows (page_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, \
     state TEXT NOT NULL, slug TEXT NOT NULL, row TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_rows_state ON sync_rows (state, seq)",
    "CREATE INDEX IF NOT EXISTS sync_rows_slug ON sync_rows (slug)",
    "CREATE TABLE IF NOT EXISTS sync_framer_ids (page_id TEXT PRIMARY KEY)",
    // Removals the deletion guard held earlier (kept = 1: the owner chose "Keep them").
    "CREATE TABLE IF NOT EXISTS sync_reviewed (page_id TEXT PRIMARY KEY, kept INTEGER NOT NULL)",
];

/// Emptied when a run ends (the record of items stays).
pub const CLEAR: [&str; 5] = [
    "DELETE FROM sync_job",
    "DELETE FROM sync_setup",
    "DELETE FROM sync_rows",
    "DELETE FROM sync_framer_ids",
    "DELETE FROM sync_reviewed",
];

pub const LOAD_JOB: &str = "SELECT job AS t FROM sync_job WHERE id = 1";
pub const LOAD_SETUP: &str = "SELECT setup AS t FROM sync_setup WHERE id = 1";
/// (setup)
pub const SAVE_SETUP: &str = "INSERT INTO sync_setup (id, setup) VALUES (1, ?) \
     ON CONFLICT(id) DO UPDATE SET setup = excluded.setup";

/// The checkpoint as two rows: the job without its setup (a cursor and counters, written after
/// every unit) and the setup's JSON (written only when it changed: the schema and mapping can
/// be most of a checkpoint's bytes).
pub fn split_job(job: &Job) -> serde_json::Result<(String, Option<String>)> {
    let mut value = serde_json::to_value(job)?;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("setup");
    }
    let setup = job.setup.as_ref().map(serde_json::to_string).transpose()?;
    Ok((value.to_string(), setup))
}

/// A job from its row and the setup row; a checkpoint of a version before keeps its setup in
/// the job row.
pub fn join_job(job: &str, setup: Option<&str>) -> serde_json::Result<Job> {
    let mut job: Job = serde_json::from_str(job)?;
    if job.setup.is_none() {
        job.setup = setup.map(serde_json::from_str).transpose()?;
    }
    Ok(job)
}
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
/// (page_id, slug, item) An upsert, not `INSERT OR REPLACE`: a replace is a delete and an
/// insert, twice the rows written for the same record.
pub const RECORD_ITEM: &str = "INSERT INTO items (page_id, slug, item) VALUES (?, ?, ?) \
     ON CONFLICT(page_id) DO UPDATE SET slug = excluded.slug, item = excluded.item";
/// (page_id)
pub const STORED: &str = "SELECT item AS t FROM items WHERE page_id = ?";
/// (JSON array of page ids)
pub const FORGET_ITEMS: &str =
    "DELETE FROM items WHERE page_id IN (SELECT value FROM json_each(?))";
/// (JSON array of page ids) Removed rows take their two-way relations with them.
pub const FORGET_RELATIONS: &str =
    "DELETE FROM relation_values WHERE page_id IN (SELECT value FROM json_each(?))";
/// (JSON array of page ids) `[page_id, field_id, [ids]]` as JSON text.
pub const PREVIOUS_RELATIONS: &str = "SELECT json_array(page_id, field_id, json(ids)) AS t \
     FROM relation_values WHERE page_id IN (SELECT value FROM json_each(?))";
/// (page_id, field_id, JSON array of ids)
pub const REMEMBER_RELATION: &str = "INSERT INTO relation_values (page_id, field_id, ids) \
     VALUES (?, ?, ?) ON CONFLICT(page_id, field_id) DO UPDATE SET ids = excluded.ids";
/// The project now syncs another database: nothing recorded is about it.
pub const CLEAR_ITEMS: &str = "DELETE FROM items";
/// With the items, their two-way relations.
pub const CLEAR_RELATIONS: &str = "DELETE FROM relation_values";
/// () `n`
pub const COUNT_ITEMS: &str = "SELECT COUNT(*) AS n FROM items";
/// (key)
pub const META: &str = "SELECT value AS t FROM sync_meta WHERE key = ?";
/// (key, value)
pub const SET_META: &str = "INSERT INTO sync_meta (key, value) VALUES (?, ?) \
     ON CONFLICT(key) DO UPDATE SET value = excluded.value";
/// The `sync_meta` key of how far the object has adopted D1's `synced_items` or `assets`.
pub fn adoption_key(of: Legacy) -> &'static str {
    match of {
        Legacy::Items => "items_adoption",
        Legacy::Assets => "assets_adoption",
    }
}
/// (JSON array of file keys) `file_key`, `asset`
pub const ASSETS_AMONG: &str =
    "SELECT file_key, asset FROM assets WHERE file_key IN (SELECT value FROM json_each(?))";
/// (file_key, asset)
pub const RECORD_ASSET: &str = "INSERT INTO assets (file_key, asset) VALUES (?, ?) \
     ON CONFLICT(file_key) DO UPDATE SET asset = excluded.asset";
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
            "UNION ALL SELECT 3 AS x FROM items s WHERE s.slug = ?1 AND s.page_id != ?2 ",
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
        "SELECT page_id FROM items UNION SELECT page_id FROM sync_framer_ids"
    };
}
/// The deletion rule ([`crate::sync::reconcile::is_removal`]) with a title for each page:
/// rows staged to remove that D1 or Framer has.
macro_rules! listed {
    () => {
        concat!(
            "SELECT r.page_id AS id, COALESCE(NULLIF(json_extract(r.row, '$.title'), ''), ",
            "(SELECT s.slug FROM items s WHERE s.page_id = r.page_id), '') AS title ",
            "FROM sync_rows r WHERE r.state = 'remove' AND r.page_id IN (",
            known!(),
            ")"
        )
    };
}
/// ...and in a full run also every page D1 or Framer has that the run did not stage at all
/// (its slug stands for its title).
macro_rules! unseen {
    () => {
        concat!(
            " UNION SELECT k.page_id AS id, ",
            "COALESCE((SELECT s.slug FROM items s WHERE s.page_id = k.page_id), '') AS title FROM (",
            known!(),
            ") k WHERE k.page_id NOT IN (SELECT page_id FROM sync_rows)"
        )
    };
}
const CANDIDATES_INCREMENTAL: &str = listed!();
const CANDIDATES_FULL: &str = concat!(listed!(), unseen!());

/// The removals of a run: `(id, title)` rows of the candidates.
pub fn candidates(full: bool) -> &'static str {
    if full {
        CANDIDATES_FULL
    } else {
        CANDIDATES_INCREMENTAL
    }
}

/// (after, limit) Up to `limit` removals of `set` after page id `after` (`''` from the start),
/// by page id: `id`, `title`.
pub fn removals(full: bool, set: RemovalSet) -> String {
    let filter = match set {
        RemovalSet::All => "1",
        RemovalSet::AllButKept => "c.id NOT IN (SELECT page_id FROM sync_reviewed WHERE kept = 1)",
        RemovalSet::Reviewed => "c.id IN (SELECT page_id FROM sync_reviewed)",
        RemovalSet::Unreviewed => "c.id NOT IN (SELECT page_id FROM sync_reviewed)",
    };
    format!(
        "SELECT c.id AS id, c.title AS title FROM ({}) c WHERE {filter} AND c.id > ? ORDER BY c.id LIMIT ?",
        candidates(full)
    )
}

/// () The counts the deletion guard decides on: `known`, `unreviewed`, `held`, `kept`.
pub fn removal_counts(full: bool) -> String {
    format!(
        "SELECT (SELECT COUNT(*) FROM ({}) ) AS known, \
         COALESCE(SUM(v.kept IS NULL), 0) AS unreviewed, COALESCE(SUM(v.kept = 0), 0) AS held, \
         COALESCE(SUM(v.kept = 1), 0) AS kept \
         FROM ({}) c LEFT JOIN sync_reviewed v ON v.page_id = c.id",
        known!(),
        candidates(full)
    )
}

/// (JSON array of [page_id, kept]) The removals reviewed earlier.
pub const PUT_REVIEWED: &str = "INSERT OR REPLACE INTO sync_reviewed (page_id, kept) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)";

/// (JSON array of page ids) Those the record holds.
pub const HELD_AMONG: &str =
    "SELECT page_id AS t FROM items WHERE page_id IN (SELECT value FROM json_each(?))";

/// () Reviewed pages the run staged as rows Framer keeps: Notion shows them again.
const REVIEWED_BACK: &str = "SELECT v.page_id AS t FROM sync_reviewed v \
     JOIN sync_rows r ON r.page_id = v.page_id WHERE r.state NOT IN ('remove', 'removed')";
/// () In a full run, which sees every removal: reviewed pages that are no removal at all any
/// more (Notion shows them again, or Framer no longer has them).
const REVIEWED_NOT_REMOVALS: &str = concat!(
    "SELECT v.page_id AS t FROM sync_reviewed v WHERE v.page_id NOT IN (SELECT c.id FROM (",
    listed!(),
    unseen!(),
    ") c)"
);

/// () Reviews that no longer stand: their pages are no removal (any more).
pub fn reviewed_moot(full: bool) -> &'static str {
    if full {
        REVIEWED_NOT_REMOVALS
    } else {
        REVIEWED_BACK
    }
}

/// How a row state is spelled in `sync_rows.state`.
pub fn state_name(state: RowState) -> &'static str {
    match state {
        RowState::Relations => "relations",
        RowState::Targets => "targets",
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
