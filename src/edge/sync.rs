//! One sync run: the record in D1 around the engine that does the work. Every run ends in a
//! visible result (succeeded or failed with a message a user can act on).

use super::context::{now_ms, AppContext};
use super::db;
use super::sync_engine::{self, RunStats};
use crate::sync::queue::{Pending, Trigger};
use crate::util::time::iso_from_ms;
use worker::D1Type;

/// Why a run failed, and whether trying again soon may help.
#[derive(Debug, Clone)]
pub struct SyncFailure {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

pub async fn run(
    ctx: &AppContext,
    project_id: &str,
    batch: &Pending,
    sync_id: &str,
) -> Result<(), SyncFailure> {
    let Some(project) = db::project_by_id(&ctx.db, project_id)
        .await
        .map_err(|e| store_failure(&e))?
    else {
        // Deleted while work was queued: nothing to do, nothing to record.
        return Ok(());
    };
    let trigger = batch.trigger.unwrap_or(Trigger::Webhook);
    if trigger == Trigger::Webhook && !project.auto_sync_active() {
        // Auto-sync was turned off (or the plan lost it) after these events were queued.
        return Ok(());
    }
    start_record(ctx, sync_id, project_id, trigger, batch)
        .await
        .map_err(|e| store_failure(&e))?;
    let mut stats = RunStats::default();
    let outcome = sync_engine::sync(ctx, &project, batch, &mut stats).await;
    finish_record(ctx, sync_id, &stats, outcome.as_ref().err())
        .await
        .map_err(|e| store_failure(&e))?;
    outcome
}

fn store_failure(e: &crate::api::error::ApiError) -> SyncFailure {
    SyncFailure {
        code: "storage_unavailable".to_owned(),
        message: e.message(),
        retryable: true,
    }
}

async fn start_record(
    ctx: &AppContext,
    sync_id: &str,
    project_id: &str,
    trigger: Trigger,
    batch: &Pending,
) -> Result<(), crate::api::error::ApiError> {
    let now = iso_from_ms(now_ms());
    db::run(
        &ctx.db,
        "INSERT INTO sync_runs (id, project_id, trigger, scope, status, started_at, events) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6) \
         ON CONFLICT(id) DO UPDATE SET status = 'running', started_at = excluded.started_at, finished_at = NULL",
        &[
            D1Type::Text(sync_id),
            D1Type::Text(project_id),
            D1Type::Text(trigger.as_str()),
            D1Type::Text(if batch.full { "full" } else { "incremental" }),
            D1Type::Text(&now),
            D1Type::Integer(i32::try_from(batch.events).unwrap_or(i32::MAX)),
        ],
    )
    .await
    .map(|_| ())
}

async fn finish_record(
    ctx: &AppContext,
    sync_id: &str,
    s: &RunStats,
    failure: Option<&SyncFailure>,
) -> Result<(), crate::api::error::ApiError> {
    let now = iso_from_ms(now_ms());
    let warnings = serde_json::to_string(&s.warnings).unwrap_or_else(|_| "[]".to_owned());
    let n = |v: usize| D1Type::Integer(i32::try_from(v).unwrap_or(i32::MAX));
    db::run(
        &ctx.db,
        "UPDATE sync_runs SET status = ?2, finished_at = ?3, scope = ?4, added = ?5, updated = ?6, removed = ?7, unchanged = ?8, \
         skipped = ?9, notion_calls = ?10, framer_calls = ?11, bytes_sent = ?12, published = ?13, warnings = ?14, \
         error_code = ?15, error_message = ?16 WHERE id = ?1",
        &[
            D1Type::Text(sync_id),
            D1Type::Text(if failure.is_some() { "failed" } else { "succeeded" }),
            D1Type::Text(&now),
            D1Type::Text(if s.full { "full" } else { "incremental" }),
            n(s.added),
            n(s.updated),
            n(s.removed),
            n(s.unchanged),
            n(s.skipped),
            n(s.notion_calls),
            n(s.framer_calls),
            n(s.bytes_sent),
            D1Type::Integer(i32::from(s.published)),
            D1Type::Text(&warnings),
            db::opt(failure.map(|f| f.code.as_str())),
            db::opt(failure.map(|f| f.message.as_str())),
        ],
    )
    .await
    .map(|_| ())
}
