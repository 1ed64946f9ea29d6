//! `sync_runs`: one row per sync run (trigger, scope, status, counts, calls, warnings, error):
//! in D1 the run in flight and the newest finished one of each project (behind "Last sync"),
//! every finished run in its project's object (`run_history`, the history the API pages).
//! Versions before kept the whole history here; it moves to the objects a chunk per run.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::engine::job::Job;
use notion_framer_core::sync::engine::ports::RunEnd;
use notion_framer_core::util::time::iso_from_ms;
use serde::{Deserialize, Serialize};
use worker::{D1PreparedStatement, D1Type};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRun {
    pub id: String,
    pub project_id: String,
    pub trigger: String,
    pub scope: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub events: i64,
    pub added: i64,
    pub updated: i64,
    pub removed: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub notion_calls: i64,
    pub framer_calls: i64,
    pub bytes_sent: i64,
    pub published: i64,
    pub warnings: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// While running: reading, writing or publishing; `None` once finished.
    pub phase: Option<String>,
    pub rows_read: i64,
    pub items_written: i64,
    /// Rows the run will write or check, once reading is done.
    pub rows_total: Option<i64>,
    pub steps: i64,
    /// JSON array of the rows Framer refused: `[{page_id, title, url, property, reason}]`.
    pub skipped_rows: String,
    /// Removals the deletion guard held (nothing of them was removed).
    pub removals_held: i64,
    /// `{reason, items: [{page_id, title, url}]}` of the held removals, when any.
    pub held: Option<String>,
}

const RUN_COLUMNS: &str = "id, project_id, trigger, scope, status, started_at, finished_at, events, added, updated, removed, unchanged, \
    skipped, notion_calls, framer_calls, bytes_sent, published, warnings, error_code, error_message, \
    phase, rows_read, items_written, rows_total, steps, skipped_rows, removals_held, held";

fn scope(full: bool) -> &'static str {
    if full {
        "full"
    } else {
        "incremental"
    }
}

/// Records the run as running (again, when a step is retried) and closes any other run of the
/// project still marked running: one object runs one job at a time, so such a run was lost.
pub async fn start(db: &Db, job: &Job, project_id: &str, now: &str) -> Result<(), ApiError> {
    let close_lost = d1::stmt(
        db,
        "UPDATE sync_runs SET status = 'failed', phase = NULL, finished_at = ?3, error_code = 'interrupted', \
         error_message = 'the run was interrupted and could not resume; a later run took over' \
         WHERE project_id = ?1 AND status = 'running' AND id != ?2",
        &[D1Type::Text(project_id), D1Type::Text(&job.sync_id), D1Type::Text(now)],
    )?;
    let insert = d1::stmt(
        db,
        "INSERT INTO sync_runs (id, project_id, trigger, scope, status, started_at, events, phase) \
         VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, 'reading') \
         ON CONFLICT(id) DO UPDATE SET status = 'running', finished_at = NULL, phase = 'reading'",
        &[
            D1Type::Text(&job.sync_id),
            D1Type::Text(project_id),
            D1Type::Text(job.trigger().as_str()),
            D1Type::Text(scope(job.batch.full)),
            D1Type::Text(now),
            D1Type::Integer(i32::try_from(job.batch.events).unwrap_or(i32::MAX)),
        ],
    )?;
    d1::batch(db, vec![close_lost, insert]).await
}

/// The counters of a run so far (after each step, and at its end).
fn counters<'a>(
    job: &'a Job,
    warnings: &'a str,
    skipped_rows: &'a str,
    held: Option<&'a str>,
) -> Vec<D1Type<'a>> {
    let stats = &job.stats;
    vec![
        D1Type::Text(&job.sync_id),
        D1Type::Text(scope(stats.full)),
        d1::int(stats.added),
        d1::int(stats.updated),
        d1::int(stats.removed),
        d1::int(stats.unchanged),
        d1::int(stats.skipped),
        d1::int(stats.notion_calls),
        d1::int(stats.framer_calls),
        d1::int(stats.bytes_sent),
        D1Type::Integer(i32::from(stats.published)),
        D1Type::Text(warnings),
        d1::int(job.rows_read),
        d1::int(job.items_written),
        job.rows_total.map_or(D1Type::Null, d1::int),
        d1::int(usize::try_from(job.steps).unwrap_or(usize::MAX)),
        D1Type::Text(skipped_rows),
        d1::int(stats.removals_held),
        d1::opt(held),
    ]
}

/// The held removals as the record keeps them.
fn held_json(job: &Job) -> Result<Option<String>, ApiError> {
    let Some(reason) = job.stats.held_reason else {
        return Ok(None);
    };
    Ok(Some(serde_json::to_string(&serde_json::json!({
        "reason": reason,
        "items": job.stats.held_items,
    }))?))
}

const COUNTERS: &str = "scope = ?2, added = ?3, updated = ?4, removed = ?5, unchanged = ?6, skipped = ?7, \
    notion_calls = ?8, framer_calls = ?9, bytes_sent = ?10, published = ?11, warnings = ?12, rows_read = ?13, \
    items_written = ?14, rows_total = ?15, steps = ?16, skipped_rows = ?17, removals_held = ?18, held = ?19";

/// Where a running run stands, after a step.
pub async fn progress(db: &Db, job: &Job) -> Result<(), ApiError> {
    let warnings = serde_json::to_string(&job.stats.warnings)?;
    let skipped = serde_json::to_string(&job.skipped_rows)?;
    let held = held_json(job)?;
    let mut args = counters(job, &warnings, &skipped, held.as_deref());
    args.push(D1Type::Text(job.public_phase()));
    d1::run(
        db,
        &format!(
            "UPDATE sync_runs SET {COUNTERS}, phase = ?20 WHERE id = ?1 AND status = 'running'"
        ),
        &args,
    )
    .await?;
    Ok(())
}

impl SyncRun {
    /// The run's record as it ends: succeeded, failed (code, message) or cancelled.
    pub fn finished(
        job: &Job,
        project_id: &str,
        end: RunEnd<'_>,
        now: &str,
    ) -> Result<Self, ApiError> {
        let (status, code, message) = match end {
            RunEnd::Succeeded => ("succeeded", None, None),
            RunEnd::Failed { code, message } => ("failed", Some(code), Some(message)),
            RunEnd::Cancelled { message } => ("cancelled", Some("cancelled"), Some(message)),
        };
        let counts = &job.stats;
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Self {
            id: job.sync_id.clone(),
            project_id: project_id.to_owned(),
            trigger: job.trigger().as_str().to_owned(),
            scope: scope(counts.full).to_owned(),
            status: status.to_owned(),
            started_at: iso_from_ms(job.started_at_ms),
            finished_at: Some(now.to_owned()),
            events: i64::from(job.batch.events),
            added: n(counts.added),
            updated: n(counts.updated),
            removed: n(counts.removed),
            unchanged: n(counts.unchanged),
            skipped: n(counts.skipped),
            notion_calls: n(counts.notion_calls),
            framer_calls: n(counts.framer_calls),
            bytes_sent: n(counts.bytes_sent),
            published: i64::from(counts.published),
            warnings: serde_json::to_string(&counts.warnings)?,
            error_code: code.map(str::to_owned),
            error_message: message.map(str::to_owned),
            phase: None,
            rows_read: n(job.rows_read),
            items_written: n(job.items_written),
            rows_total: job.rows_total.map(n),
            steps: i64::from(job.steps),
            skipped_rows: serde_json::to_string(&job.skipped_rows)?,
            removals_held: n(counts.removals_held),
            held: held_json(job)?,
        })
    }
}

/// Which of the project's other finished runs D1 lets go of when a run ends: they are in the
/// object's history by then.
pub enum Release<'a> {
    /// Every other finished run (the history has all of them).
    AllOthers,
    /// These runs, just moved from D1's history of versions before; more are left.
    These(&'a [String]),
}

/// A run's end: its record, the project's figures (items in Framer, the last success) and the
/// release of the project's other finished runs, in one round trip.
pub async fn finish(
    db: &Db,
    run: &SyncRun,
    job: &Job,
    release: Release<'_>,
) -> Result<(), ApiError> {
    let warnings = serde_json::to_string(&job.stats.warnings)?;
    let skipped = serde_json::to_string(&job.skipped_rows)?;
    let held = held_json(job)?;
    let mut args = counters(job, &warnings, &skipped, held.as_deref());
    args.extend([
        D1Type::Text(&run.status),
        d1::opt(run.finished_at.as_deref()),
        d1::opt(run.error_code.as_deref()),
        d1::opt(run.error_message.as_deref()),
    ]);
    let mut statements = vec![d1::stmt(
        db,
        &format!(
            "UPDATE sync_runs SET {COUNTERS}, status = ?20, finished_at = ?21, error_code = ?22, error_message = ?23, \
             phase = NULL WHERE id = ?1"
        ),
        &args,
    )?];
    if let Some(items) = job.items_in_framer {
        statements.push(d1::stmt(
            db,
            "UPDATE projects SET items_in_framer = ?2 WHERE id = ?1",
            &[D1Type::Text(&run.project_id), d1::int(items)],
        )?);
    }
    if run.status == "succeeded" {
        statements.push(d1::stmt(
            db,
            "UPDATE projects SET last_success_started_at = MAX(COALESCE(last_success_started_at, ''), ?2) WHERE id = ?1",
            &[D1Type::Text(&run.project_id), D1Type::Text(&run.started_at)],
        )?);
    }
    let ids;
    statements.push(match release {
        Release::AllOthers => d1::stmt(
            db,
            "DELETE FROM sync_runs WHERE project_id = ?1 AND id != ?2 AND status != 'running'",
            &[D1Type::Text(&run.project_id), D1Type::Text(&run.id)],
        )?,
        Release::These(these) => {
            ids = serde_json::to_string(these)?;
            d1::stmt(
                db,
                "DELETE FROM sync_runs WHERE project_id = ?1 AND id != ?2 AND status != 'running' \
                 AND id IN (SELECT value FROM json_each(?3))",
                &[
                    D1Type::Text(&run.project_id),
                    D1Type::Text(&run.id),
                    D1Type::Text(&ids),
                ],
            )?
        }
    });
    d1::batch(db, statements).await
}

/// Up to `limit` of the project's finished runs other than `current` that D1 still holds from
/// versions before, newest first: the next chunk for the object's history.
pub async fn legacy_chunk(
    db: &Db,
    project_id: &str,
    current: &str,
    limit: usize,
) -> Result<Vec<SyncRun>, ApiError> {
    d1::all(
        db,
        &format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = ?1 AND id != ?2 AND status != 'running' \
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        ),
        &[D1Type::Text(project_id), D1Type::Text(current), d1::int(limit)],
    )
    .await
}

/// Closes a run that cannot continue (its checkpoint is unreadable).
pub async fn close_interrupted(db: &Db, sync_id: &str, now: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE sync_runs SET status = 'failed', phase = NULL, finished_at = ?2, error_code = 'interrupted', \
         error_message = 'the run was interrupted and could not resume; the next run starts over' \
         WHERE id = ?1 AND status = 'running'",
        &[D1Type::Text(sync_id), D1Type::Text(now)],
    )
    .await?;
    Ok(())
}

/// The project's newest run.
pub async fn latest_for(db: &Db, project_id: &str) -> Result<Option<SyncRun>, ApiError> {
    d1::first(
        db,
        &format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = ?1 ORDER BY started_at DESC, id DESC LIMIT 1"),
        &[D1Type::Text(project_id)],
    )
    .await
}

/// One run of the project, by id: the one in flight, when it is not the newest.
pub async fn by_id(db: &Db, project_id: &str, sync_id: &str) -> Result<Option<SyncRun>, ApiError> {
    d1::first(
        db,
        &format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = ?1 AND project_id = ?2"),
        &[D1Type::Text(sync_id), D1Type::Text(project_id)],
    )
    .await
}

/// The newest run of each of the account's projects (a statement of the project list's batch).
pub fn latest_of_account(db: &Db, account_id: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        &format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE id IN (SELECT (SELECT s.id FROM sync_runs s \
             WHERE s.project_id = p.id ORDER BY s.started_at DESC, s.id DESC LIMIT 1) \
             FROM projects p WHERE p.account_id = ?1)"
        ),
        &[D1Type::Text(account_id)],
    )
}

/// Where a page of the history starts: after the run `(started_at, id)`.
pub struct After<'a> {
    pub started_at: &'a str,
    pub id: &'a str,
}

/// Up to `limit` of the project's runs, newest first, older than `after` when given.
pub async fn page(
    db: &Db,
    project_id: &str,
    after: Option<&After<'_>>,
    limit: usize,
) -> Result<Vec<SyncRun>, ApiError> {
    // No cursor: start above every real value.
    let (started_at, id) = after.map_or(("\u{10FFFF}", "\u{10FFFF}"), |a| (a.started_at, a.id));
    d1::all(
        db,
        &format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = ?1 AND (started_at < ?2 OR (started_at = ?2 AND id < ?3)) \
             ORDER BY started_at DESC, id DESC LIMIT ?4"
        ),
        &[
            D1Type::Text(project_id),
            D1Type::Text(started_at),
            D1Type::Text(id),
            d1::int(limit),
        ],
    )
    .await
}

/// Runs started before `?1` that are not among their project's last `?2` + 1, oldest first per
/// project through `sync_runs_project`, at most `?3`. Projects with no run that old cost one
/// index probe; a project with fewer runs than it keeps gets no boundary (NULL becomes '',
/// before every timestamp).
const OLD_RUNS: &str = "SELECT s.rowid FROM projects p CROSS JOIN sync_runs s \
     WHERE EXISTS (SELECT 1 FROM sync_runs o WHERE o.project_id = p.id AND o.started_at < ?1) \
     AND s.project_id = p.id \
     AND s.started_at < MIN(?1, COALESCE((SELECT k.started_at FROM sync_runs k WHERE k.project_id = p.id \
         ORDER BY k.started_at DESC LIMIT 1 OFFSET ?2), '')) \
     ORDER BY p.rowid, s.started_at LIMIT ?3";

/// The boundary is the oldest run kept: the `keep_last`-th newest (offset `keep_last - 1`).
fn keep_offset(keep_last: usize) -> D1Type<'static> {
    d1::int(keep_last.saturating_sub(1))
}

/// Deletes up to `limit` runs started before `before` that are not among their project's last
/// `keep_last`, oldest first.
pub fn prune_before(
    db: &Db,
    before: &str,
    keep_last: usize,
    limit: usize,
) -> Result<D1PreparedStatement, ApiError> {
    let args = vec![D1Type::Text(before), keep_offset(keep_last)];
    d1::delete_selected(db, "sync_runs", OLD_RUNS, args, limit)
}

/// `more` = 1 when a run that [`prune_before`] would delete is left.
pub fn any_before(
    db: &Db,
    before: &str,
    keep_last: usize,
) -> Result<D1PreparedStatement, ApiError> {
    d1::any_selected(
        db,
        OLD_RUNS,
        vec![D1Type::Text(before), keep_offset(keep_last)],
    )
}
