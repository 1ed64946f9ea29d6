//! The copy of the object's event ledger to D1 (`webhook_events`), in chunks, after the answer
//! to Notion and again from the alarm for whatever a copy left behind.

use crate::context::{now_ms, AppContext};
use crate::fault::RuntimeResult;
use crate::store;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::log_line::LogLine;
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::sync::ledger;
use worker::{console_error, Env, SqlStorage};

/// Copies unflushed ledger rows to D1, a chunk per round trip (one D1 query from `budget`
/// each, leaving it `keep` queries for the rest of the invocation: what does not fit is copied
/// by a later invocation), then drops ids older than the retention. Safe to run twice at once:
/// the D1 side is idempotent.
pub async fn flush(
    env: &Env,
    sql: &SqlStorage,
    project_id: &str,
    budget: &Budget,
    keep: u32,
) -> std::result::Result<(), ApiError> {
    let ctx = AppContext::new(env.clone())?;
    let limit = i64::try_from(ledger::FLUSH_CHUNK).unwrap_or(100);
    loop {
        let chunk = store::ledger::unflushed(sql, limit).fault()?;
        if chunk.is_empty() || !budget.affords(0, keep + 1) || !budget.take_d1() {
            break;
        }
        store::webhook_events::record(&ctx.db, project_id, &chunk).await?;
        store::ledger::mark_flushed(sql, &chunk).fault()?;
    }
    store::ledger::drop_flushed_before(sql, now_ms() - ledger::RETENTION_MS).fault()?;
    Ok(())
}

/// One JSON line with what failed; the rows stay in the ledger for the next copy.
pub fn log_copy_failure(project_id: &str, e: &ApiError) {
    let line = LogLine {
        kind: "ledger_copy",
        project_id: Some(project_id.to_owned()),
        error_code: Some(e.code().to_owned()),
        note: Some("event ledger copy to D1 failed".to_owned()),
        detail: e.fault().cloned(),
        ..LogLine::default()
    };
    console_error!("{}", line.to_json());
}
