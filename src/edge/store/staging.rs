//! The run in progress, in the project's Durable Object SQLite: the job's checkpoint, the rows
//! staged between Notion and Framer, a copy of what D1 believes Framer holds and Framer's item
//! ids. A step loads at most one batch of rows; everything else stays on disk.

use crate::api::error::ApiError;
use crate::sync::engine::failure::StepError;
use crate::sync::engine::job::{Job, RowState, StagedRow, StoredItem};
use crate::sync::engine::ports::{RemovalCounts, RemovalSet, Staging};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

const TABLES: [&str; 8] = [
    "CREATE TABLE IF NOT EXISTS sync_job (id INTEGER PRIMARY KEY CHECK (id = 1), job TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_rows (page_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, \
     state TEXT NOT NULL, slug TEXT NOT NULL, row TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_rows_state ON sync_rows (state, seq)",
    "CREATE INDEX IF NOT EXISTS sync_rows_slug ON sync_rows (slug)",
    "CREATE TABLE IF NOT EXISTS sync_stored (page_id TEXT PRIMARY KEY, slug TEXT NOT NULL, item TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_stored_slug ON sync_stored (slug)",
    "CREATE TABLE IF NOT EXISTS sync_framer_ids (page_id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS sync_reviewed (page_id TEXT PRIMARY KEY, kept INTEGER NOT NULL)",
];

/// Pages Framer holds for the project: what D1 recorded and, on full runs, what Framer listed.
const KNOWN: &str = "SELECT page_id FROM sync_stored UNION SELECT page_id FROM sync_framer_ids";

/// The deletion rule, with a title for each page: rows marked for removal that Framer has and,
/// on full runs, every page Framer has that the run did not stage at all.
fn candidates(full: bool) -> String {
    let title = "COALESCE(NULLIF(json_extract(r.row, '$.title'), ''), \
                 (SELECT s.slug FROM sync_stored s WHERE s.page_id = r.page_id), '')";
    let listed = format!(
        "SELECT r.page_id AS id, {title} AS title FROM sync_rows r \
         WHERE r.state = 'remove' AND r.page_id IN ({KNOWN})"
    );
    if full {
        format!(
            "{listed} UNION SELECT k.page_id AS id, \
             COALESCE((SELECT s.slug FROM sync_stored s WHERE s.page_id = k.page_id), '') AS title \
             FROM ({KNOWN}) k WHERE k.page_id NOT IN (SELECT page_id FROM sync_rows)"
        )
    } else {
        listed
    }
}

fn set_filter(set: RemovalSet) -> &'static str {
    match set {
        RemovalSet::All => "1",
        RemovalSet::AllButKept => "c.id NOT IN (SELECT page_id FROM sync_reviewed WHERE kept = 1)",
        RemovalSet::Reviewed => "c.id IN (SELECT page_id FROM sync_reviewed)",
        RemovalSet::Unreviewed => "c.id NOT IN (SELECT page_id FROM sync_reviewed)",
    }
}

/// The staging tables of one object.
pub struct SqlStaging {
    sql: SqlStorage,
}

fn fault(e: impl std::fmt::Display) -> StepError {
    ApiError::internal("object storage", e.to_string()).into()
}

fn state_name(state: RowState) -> &'static str {
    match state {
        RowState::Body => "body",
        RowState::Write => "write",
        RowState::Done => "done",
        RowState::Skipped => "skipped",
        RowState::Remove => "remove",
        RowState::Removed => "removed",
    }
}

impl SqlStaging {
    /// The tables, created when missing.
    pub fn open(sql: SqlStorage) -> Result<Self, StepError> {
        for statement in TABLES {
            sql.exec(statement, None).map_err(fault)?;
        }
        Ok(Self { sql })
    }

    fn all<T: DeserializeOwned>(
        &self,
        query: &str,
        args: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, StepError> {
        self.sql
            .exec(query, Some(args))
            .and_then(|cursor| cursor.to_array::<T>())
            .map_err(fault)
    }

    fn run(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<(), StepError> {
        self.sql.exec(query, Some(args)).map(|_| ()).map_err(fault)
    }

    fn exists(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<bool, StepError> {
        #[derive(Deserialize)]
        struct One {
            #[allow(dead_code)]
            x: i64,
        }
        Ok(!self.all::<One>(query, args)?.is_empty())
    }
}

#[derive(Deserialize)]
struct Text {
    t: String,
}

fn parse<T: DeserializeOwned>(rows: Vec<Text>) -> Result<Vec<T>, StepError> {
    rows.into_iter()
        .map(|r| serde_json::from_str(&r.t).map_err(fault))
        .collect()
}

fn json(value: &impl serde::Serialize) -> Result<SqlStorageValue, StepError> {
    Ok(serde_json::to_string(value).map_err(fault)?.into())
}

impl Staging for SqlStaging {
    fn load_job(&self) -> Result<Option<Job>, StepError> {
        let rows = self.all::<Text>("SELECT job AS t FROM sync_job WHERE id = 1", vec![])?;
        Ok(parse(rows)?.pop())
    }

    fn save_job(&self, job: &Job) -> Result<(), StepError> {
        self.run(
            "INSERT INTO sync_job (id, job) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET job = excluded.job",
            vec![json(job)?],
        )
    }

    fn clear(&self) -> Result<(), StepError> {
        for table in [
            "sync_job",
            "sync_rows",
            "sync_stored",
            "sync_framer_ids",
            "sync_reviewed",
        ] {
            self.run(&format!("DELETE FROM {table}"), vec![])?;
        }
        Ok(())
    }

    fn contains(&self, page_id: &str) -> Result<bool, StepError> {
        self.exists(
            "SELECT 1 AS x FROM sync_rows WHERE page_id = ?",
            vec![page_id.into()],
        )
    }

    fn put_rows(&self, rows: &[StagedRow]) -> Result<(), StepError> {
        for row in rows {
            let seq = i64::try_from(row.seq).unwrap_or(i64::MAX);
            self.run(
                "INSERT INTO sync_rows (page_id, seq, state, slug, row) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT(page_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, \
                 slug = excluded.slug, row = excluded.row",
                vec![
                    row.page_id.clone().into(),
                    seq.into(),
                    state_name(row.state).into(),
                    row.slug.clone().into(),
                    json(row)?,
                ],
            )?;
        }
        Ok(())
    }

    fn rows_in(&self, state: RowState, limit: usize) -> Result<Vec<StagedRow>, StepError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        parse(self.all::<Text>(
            "SELECT row AS t FROM sync_rows WHERE state = ? ORDER BY seq LIMIT ?",
            vec![state_name(state).into(), limit.into()],
        )?)
    }

    fn count_in(&self, state: RowState) -> Result<usize, StepError> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let rows = self.all::<Count>(
            "SELECT COUNT(*) AS n FROM sync_rows WHERE state = ?",
            vec![state_name(state).into()],
        )?;
        Ok(rows
            .first()
            .map_or(0, |c| usize::try_from(c.n).unwrap_or(0)))
    }

    fn slug_taken(&self, slug: &str, page_id: &str) -> Result<bool, StepError> {
        self.exists(
            "SELECT 1 AS x FROM sync_rows WHERE slug = ?1 AND page_id != ?2 \
             UNION ALL SELECT 1 AS x FROM sync_stored WHERE slug = ?1 AND page_id != ?2 LIMIT 1",
            vec![slug.into(), page_id.into()],
        )
    }

    fn put_stored(&self, items: &[StoredItem]) -> Result<(), StepError> {
        for item in items {
            self.run(
                "INSERT OR REPLACE INTO sync_stored (page_id, slug, item) VALUES (?, ?, ?)",
                vec![
                    item.page_id.clone().into(),
                    item.slug.clone().into(),
                    json(item)?,
                ],
            )?;
        }
        Ok(())
    }

    fn stored(&self, page_id: &str) -> Result<Option<StoredItem>, StepError> {
        let rows = self.all::<Text>(
            "SELECT item AS t FROM sync_stored WHERE page_id = ?",
            vec![page_id.into()],
        )?;
        Ok(parse(rows)?.pop())
    }

    fn put_framer_ids(&self, ids: &[String]) -> Result<(), StepError> {
        for chunk in ids.chunks(500) {
            self.run(
                "INSERT OR IGNORE INTO sync_framer_ids (page_id) SELECT value FROM json_each(?)",
                vec![json(&chunk)?],
            )?;
        }
        Ok(())
    }

    fn in_framer(&self, page_id: &str) -> Result<bool, StepError> {
        self.exists(
            "SELECT 1 AS x FROM sync_framer_ids WHERE page_id = ?",
            vec![page_id.into()],
        )
    }

    fn removals(
        &self,
        full: bool,
        set: RemovalSet,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StepError> {
        #[derive(Deserialize)]
        struct Candidate {
            id: String,
            title: String,
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let query = format!(
            "SELECT c.id AS id, c.title AS title FROM ({}) c WHERE {} AND c.id > ? ORDER BY c.id LIMIT ?",
            candidates(full),
            set_filter(set)
        );
        Ok(self
            .all::<Candidate>(&query, vec![after.unwrap_or("").into(), limit.into()])?
            .into_iter()
            .map(|c| (c.id, c.title))
            .collect())
    }

    fn removal_counts(&self, full: bool) -> Result<RemovalCounts, StepError> {
        #[derive(Deserialize)]
        struct Counts {
            known: i64,
            unreviewed: i64,
            held: i64,
            kept: i64,
        }
        let query = format!(
            "SELECT (SELECT COUNT(*) FROM ({KNOWN})) AS known, \
             COALESCE(SUM(v.kept IS NULL), 0) AS unreviewed, COALESCE(SUM(v.kept = 0), 0) AS held, \
             COALESCE(SUM(v.kept = 1), 0) AS kept \
             FROM ({}) c LEFT JOIN sync_reviewed v ON v.page_id = c.id",
            candidates(full)
        );
        let counts = self.all::<Counts>(&query, vec![])?;
        let count = |n: i64| usize::try_from(n).unwrap_or(0);
        Ok(counts
            .first()
            .map_or_else(RemovalCounts::default, |c| RemovalCounts {
                known: count(c.known),
                unreviewed: count(c.unreviewed),
                held: count(c.held),
                kept: count(c.kept),
            }))
    }

    fn put_reviewed(&self, reviewed: &[(String, bool)]) -> Result<(), StepError> {
        for chunk in reviewed.chunks(500) {
            let rows: Vec<(&str, i64)> = chunk
                .iter()
                .map(|(id, kept)| (id.as_str(), i64::from(*kept)))
                .collect();
            self.run(
                "INSERT OR REPLACE INTO sync_reviewed (page_id, kept) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)",
                vec![json(&rows)?],
            )?;
        }
        Ok(())
    }

    fn reviewed_back(&self) -> Result<Vec<String>, StepError> {
        Ok(self
            .all::<Text>(
                "SELECT v.page_id AS t FROM sync_reviewed v JOIN sync_rows r ON r.page_id = v.page_id \
                 WHERE r.state NOT IN ('remove', 'removed')",
                vec![],
            )?
            .into_iter()
            .map(|r| r.t)
            .collect())
    }
}
