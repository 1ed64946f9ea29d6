//! The cron's pruning of the D1 history: `notion_framer_core::sync::retention` decides how far back rows are
//! kept and how many one run may delete; the statements live with their tables in `store`.
//!
//! Every `DELETE` walks the projects and, per project, an index range of its rows past the
//! retention, oldest first (`webhook_events_project`, `sync_runs_project`, and
//! `pending_verifications_expiry` from migration 0002), stopping at the batch size: it reads a
//! few rows per row deleted (the index entry, the row, its other index entries) and one index
//! probe per project (for `sync_runs`, also the last 100 index entries of each project with runs
//! that old), never the other rows that stay (`tests/retention.test.mjs` prints D1's
//! rows-read figures). One round is one D1 batch (a transaction).

use super::context::{now_ms, AppContext};
use super::store::{self, d1};
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::cron;
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::sync::retention::{
    Cutoffs, Pass, Policy, Round, RoundResult, Table, KEEP_LAST_RUNS,
};
use serde::Deserialize;
use worker::{console_log, D1PreparedStatement, D1Result, Env};

/// The cron's pruning step, with what the run's `budget` leaves (at most
/// `cron::RETENTION_ROUNDS` rounds, one D1 query each); logs one line, whatever happens.
pub async fn run(env: &Env, budget: &Budget) {
    let started = now_ms();
    let rounds = budget.d1_left().min(cron::RETENTION_ROUNDS);
    if rounds == 0 || !budget.affords(0, rounds) {
        console_log!("{}", Pass::limited(1).log_line(0, Some("budget_spent")));
        return;
    }
    let mut pass = Pass::limited(rounds);
    let outcome = match AppContext::new(env.clone()) {
        Ok(ctx) => prune(&ctx, budget, &mut pass).await,
        Err(e) => Err(e),
    };
    let duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    let error = outcome.err();
    console_log!(
        "{}",
        pass.log_line(duration_ms, error.as_ref().map(ApiError::code))
    );
}

async fn prune(ctx: &AppContext, budget: &Budget, pass: &mut Pass) -> Result<(), ApiError> {
    let cutoffs = Policy::from(&ctx.settings).cutoffs(now_ms());
    while let Some(round) = pass.next_round() {
        if !budget.take_d1_closing() {
            break;
        }
        let result = run_round(&ctx.db, &round, &cutoffs).await?;
        pass.record(&round, &result);
    }
    Ok(())
}

/// One D1 batch: each table's `DELETE`, then (in a run's last round) whether rows remain.
async fn run_round(db: &Db, round: &Round, cutoffs: &Cutoffs) -> Result<RoundResult, ApiError> {
    let mut statements = Vec::new();
    for &table in &round.tables {
        statements.push(prune_statement(db, table, cutoffs)?);
    }
    if round.probe {
        for &table in &round.tables {
            statements.push(any_left(db, table, cutoffs)?);
        }
    }
    let results = d1::batch_results(db, statements).await?;
    let (deletes, probes) = results.split_at(round.tables.len().min(results.len()));
    let more_left = if round.probe {
        Some(probes.iter().map(more_left).collect::<Result<_, _>>()?)
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

/// The table's `DELETE` for this round: at most its batch size, oldest first.
fn prune_statement(
    db: &Db,
    table: Table,
    cutoffs: &Cutoffs,
) -> Result<D1PreparedStatement, ApiError> {
    let limit = whole(table.batch_rows());
    match table {
        Table::WebhookEvents => {
            store::webhook_events::prune_before(db, &cutoffs.events_before, limit)
        }
        Table::SyncRuns => {
            store::sync_runs::prune_before(db, &cutoffs.runs_before, whole(KEEP_LAST_RUNS), limit)
        }
        Table::PendingVerifications => {
            store::pending_verifications::prune_expired(db, &cutoffs.expired_before, limit)
        }
    }
}

/// Whether the table still holds rows past its retention (a run's last round asks).
fn any_left(db: &Db, table: Table, cutoffs: &Cutoffs) -> Result<D1PreparedStatement, ApiError> {
    match table {
        Table::WebhookEvents => store::webhook_events::any_before(db, &cutoffs.events_before),
        Table::SyncRuns => {
            store::sync_runs::any_before(db, &cutoffs.runs_before, whole(KEEP_LAST_RUNS))
        }
        Table::PendingVerifications => {
            store::pending_verifications::any_expired(db, &cutoffs.expired_before)
        }
    }
}

fn whole(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn more_left(result: &D1Result) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        more: i64,
    }
    let rows: Vec<Row> = d1::rows(result)?;
    Ok(rows.first().is_some_and(|r| r.more != 0))
}
