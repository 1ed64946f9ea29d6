//! The cron's pruning of the D1 history: the statements behind `crate::sync::retention`, which
//! decides how far back rows are kept and how many one run may delete.
//!
//! Every `DELETE` walks the projects and, per project, an index range of its rows past the
//! retention, oldest first (`webhook_events_project`, `sync_runs_project`, and
//! `pending_verifications_expiry` from migration 0002), stopping at the batch size: it reads a
//! few rows per row deleted (the index entry, the row, its other index entries) and one index
//! probe per project (for `sync_runs`, also the last 100 index entries of each project with runs
//! that old), never the other rows that stay (the integration test and `bench/retention.mjs`
//! print D1's rows-read figures). One round is one D1 batch (a transaction).

use super::context::{now_ms, AppContext};
use super::db;
use crate::api::error::ApiError;
use crate::sync::retention::{Cutoffs, Pass, Policy, Round, RoundResult, Table, KEEP_LAST_RUNS};
use serde::Deserialize;
use worker::{console_error, console_log, D1Database, D1PreparedStatement, D1Result, D1Type, Env};

/// Webhook deliveries received before `?1`, oldest first per project, at most `?2`.
const OLD_EVENTS: &str = "SELECT e.rowid FROM projects p CROSS JOIN webhook_events e \
     WHERE e.project_id = p.id AND e.received_at < ?1 \
     ORDER BY p.rowid, e.received_at LIMIT ?2";

/// Runs started before `?1` that are not among their project's last `?2` + 1, oldest first per
/// project, at most `?3`. Projects with no run that old cost one index probe; a project with
/// fewer runs than it keeps gets no boundary (NULL becomes '', before every timestamp).
const OLD_RUNS: &str = "SELECT s.rowid FROM projects p CROSS JOIN sync_runs s \
     WHERE EXISTS (SELECT 1 FROM sync_runs o WHERE o.project_id = p.id AND o.started_at < ?1) \
     AND s.project_id = p.id \
     AND s.started_at < MIN(?1, COALESCE((SELECT k.started_at FROM sync_runs k WHERE k.project_id = p.id \
         ORDER BY k.started_at DESC LIMIT 1 OFFSET ?2), '')) \
     ORDER BY p.rowid, s.started_at LIMIT ?3";

/// Verification tokens that expired before `?1` unclaimed, oldest first, at most `?2`.
const EXPIRED_VERIFICATIONS: &str = "SELECT rowid FROM pending_verifications \
     WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2";

/// The cron's pruning step; logs one line, whatever happens.
pub async fn run(env: &Env) {
    let started = now_ms();
    let mut pass = Pass::default();
    let outcome = match AppContext::new(env.clone()) {
        Ok(ctx) => prune(&ctx, &mut pass).await,
        Err(e) => Err(e),
    };
    let duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    let error = outcome.err();
    console_log!(
        "{}",
        pass.log_line(duration_ms, error.as_ref().map(ApiError::code))
    );
}

async fn prune(ctx: &AppContext, pass: &mut Pass) -> Result<(), ApiError> {
    let cutoffs = Policy::from(&ctx.settings).cutoffs(now_ms());
    while let Some(round) = pass.next_round() {
        let result = run_round(&ctx.db, &round, &cutoffs).await?;
        pass.record(&round, &result);
    }
    Ok(())
}

/// One D1 batch: each table's `DELETE`, then (in a run's last round) whether rows remain.
async fn run_round(
    db: &D1Database,
    round: &Round,
    cutoffs: &Cutoffs,
) -> Result<RoundResult, ApiError> {
    let mut statements = Vec::new();
    for &table in &round.tables {
        statements.push(match table {
            Table::WebhookEvents => delete_old_events(db, cutoffs)?,
            Table::SyncRuns => delete_old_runs(db, cutoffs)?,
            Table::PendingVerifications => delete_expired_verifications(db, cutoffs)?,
        });
    }
    if round.probe {
        for &table in &round.tables {
            statements.push(match table {
                Table::WebhookEvents => old_events_left(db, cutoffs)?,
                Table::SyncRuns => old_runs_left(db, cutoffs)?,
                Table::PendingVerifications => expired_verifications_left(db, cutoffs)?,
            });
        }
    }
    let results = db.batch(statements).await.map_err(|e| {
        console_error!(
            "{}",
            serde_json::json!({"kind": "d1_error", "op": "retention", "detail": e.to_string()})
        );
        ApiError::Internal("the database did not answer; try again".to_owned())
    })?;
    let (deletes, probes) = results.split_at(round.tables.len().min(results.len()));
    let more_left = if round.probe {
        Some(probes.iter().map(any_left).collect::<Result<_, _>>()?)
    } else {
        None
    };
    Ok(RoundResult {
        removed: deletes.iter().map(|r| meta(r, |m| m.changes)).collect(),
        more_left,
        rows_read: results.iter().map(|r| meta(r, |m| m.rows_read)).sum(),
        rows_written: results.iter().map(|r| meta(r, |m| m.rows_written)).sum(),
    })
}

fn meta(result: &D1Result, field: impl Fn(worker::D1ResultMeta) -> Option<usize>) -> u64 {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(field)
        .map_or(0, |n| u64::try_from(n).unwrap_or(u64::MAX))
}

fn any_left(result: &D1Result) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        more: i64,
    }
    let rows: Vec<Row> = result
        .results()
        .map_err(|e| ApiError::Internal(format!("retention probe: {e}")))?;
    Ok(rows.first().is_some_and(|r| r.more != 0))
}

fn limit(table: Table) -> D1Type<'static> {
    D1Type::Integer(i32::try_from(table.batch_rows()).unwrap_or(i32::MAX))
}

fn keep_offset() -> D1Type<'static> {
    // The boundary is the oldest run kept: the KEEP_LAST_RUNS-th newest.
    D1Type::Integer(i32::try_from(KEEP_LAST_RUNS - 1).unwrap_or(0))
}

fn delete_old_events(db: &D1Database, cutoffs: &Cutoffs) -> Result<D1PreparedStatement, ApiError> {
    db::stmt(
        db,
        &format!("DELETE FROM webhook_events WHERE rowid IN ({OLD_EVENTS})"),
        &[
            D1Type::Text(&cutoffs.events_before),
            limit(Table::WebhookEvents),
        ],
    )
}

fn old_events_left(db: &D1Database, cutoffs: &Cutoffs) -> Result<D1PreparedStatement, ApiError> {
    db::stmt(
        db,
        &format!("SELECT EXISTS ({OLD_EVENTS}) AS more"),
        &[D1Type::Text(&cutoffs.events_before), D1Type::Integer(1)],
    )
}

fn delete_old_runs(db: &D1Database, cutoffs: &Cutoffs) -> Result<D1PreparedStatement, ApiError> {
    db::stmt(
        db,
        &format!("DELETE FROM sync_runs WHERE rowid IN ({OLD_RUNS})"),
        &[
            D1Type::Text(&cutoffs.runs_before),
            keep_offset(),
            limit(Table::SyncRuns),
        ],
    )
}

fn old_runs_left(db: &D1Database, cutoffs: &Cutoffs) -> Result<D1PreparedStatement, ApiError> {
    db::stmt(
        db,
        &format!("SELECT EXISTS ({OLD_RUNS}) AS more"),
        &[
            D1Type::Text(&cutoffs.runs_before),
            keep_offset(),
            D1Type::Integer(1),
        ],
    )
}

fn delete_expired_verifications(
    db: &D1Database,
    cutoffs: &Cutoffs,
) -> Result<D1PreparedStatement, ApiError> {
    db::stmt(
        db,
        &format!("DELETE FROM pending_verifications WHERE rowid IN ({EXPIRED_VERIFICATIONS})"),
        &[
            D1Type::Text(&cutoffs.expired_before),
            limit(Table::PendingVerifications),
        ],
    )
}

fn expired_verifications_left(
    db: &D1Database,
    cutoffs: &Cutoffs,
) -> Result<D1PreparedStatement, ApiError> {
    db::stmt(
        db,
        &format!("SELECT EXISTS ({EXPIRED_VERIFICATIONS}) AS more"),
        &[D1Type::Text(&cutoffs.expired_before), D1Type::Integer(1)],
    )
}
