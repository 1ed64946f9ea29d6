//! `runs`, in each project's Durable Object SQLite: the project's finished sync runs, the
//! history the dashboard pages through. D1 keeps only the run in flight and the newest finished
//! one (what the project list shows); a run is written here when it ends, before D1 lets go of
//! the one before it, and runs that versions before kept in D1 are moved here a chunk per run.

use super::sync_runs::{After, SyncRun};
use notion_framer_core::api::error::ApiError;
use worker::{SqlStorage, SqlStorageValue};

/// Runs moved from D1's history per finished run until none is left there.
pub const ADOPT_CHUNK: usize = 200;

pub struct RunHistory {
    sql: SqlStorage,
}

fn fault(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal("object storage", e.to_string())
}

#[derive(serde::Deserialize)]
struct Text {
    t: String,
}

impl RunHistory {
    /// The table, created when missing.
    pub fn open(sql: SqlStorage) -> Result<Self, ApiError> {
        for statement in [
            "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, run TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at, id)",
            "CREATE TABLE IF NOT EXISTS runs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ] {
            sql.exec(statement, None).map_err(fault)?;
        }
        Ok(Self { sql })
    }

    fn exec(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<Vec<Text>, ApiError> {
        self.sql
            .exec(query, Some(args))
            .and_then(|cursor| cursor.to_array::<Text>())
            .map_err(fault)
    }

    /// Writes finished runs (again: the same id replaces its row).
    pub fn record(&self, runs: &[SyncRun]) -> Result<(), ApiError> {
        for run in runs {
            self.exec(
                "INSERT INTO runs (id, started_at, run) VALUES (?, ?, ?) \
                 ON CONFLICT(id) DO UPDATE SET started_at = excluded.started_at, run = excluded.run",
                vec![
                    run.id.clone().into(),
                    run.started_at.clone().into(),
                    serde_json::to_string(run)?.into(),
                ],
            )?;
        }
        Ok(())
    }

    /// Up to `limit` runs, newest first, older than `after` when given (the API's cursor).
    pub fn page(&self, after: Option<&After<'_>>, limit: usize) -> Result<Vec<SyncRun>, ApiError> {
        let (started_at, id) = after.map_or(("\u{10FFFF}", "\u{10FFFF}"), |a| (a.started_at, a.id));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.exec(
            "SELECT run AS t FROM runs WHERE started_at < ?1 OR (started_at = ?1 AND id < ?2) \
             ORDER BY started_at DESC, id DESC LIMIT ?3",
            vec![started_at.into(), id.into(), limit.into()],
        )?
        .into_iter()
        .map(|r| Ok(serde_json::from_str(&r.t)?))
        .collect()
    }

    pub fn by_id(&self, id: &str) -> Result<Option<SyncRun>, ApiError> {
        let rows = self.exec("SELECT run AS t FROM runs WHERE id = ?", vec![id.into()])?;
        rows.into_iter()
            .next()
            .map(|r| serde_json::from_str(&r.t).map_err(ApiError::from))
            .transpose()
    }

    /// Drops runs started before `before` that are not among the newest `keep_last`.
    pub fn prune(&self, before: &str, keep_last: usize) -> Result<(), ApiError> {
        let keep = i64::try_from(keep_last).unwrap_or(i64::MAX);
        self.exec(
            "DELETE FROM runs WHERE started_at < ?1 AND id NOT IN \
             (SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT ?2)",
            vec![before.into(), keep.into()],
        )?;
        Ok(())
    }

    /// Whether D1 may still hold runs of the project from versions before (until a look
    /// finds fewer than a chunk of them).
    pub fn legacy_left(&self) -> Result<bool, ApiError> {
        let rows = self.exec(
            "SELECT value AS t FROM runs_meta WHERE key = 'legacy_adopted'",
            vec![],
        )?;
        Ok(rows.is_empty())
    }

    pub fn set_legacy_adopted(&self) -> Result<(), ApiError> {
        self.exec(
            "INSERT OR REPLACE INTO runs_meta (key, value) VALUES ('legacy_adopted', '1')",
            vec![],
        )?;
        Ok(())
    }
}
