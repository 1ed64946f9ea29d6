//! The object's event ledger counted in D1's webhook counters, a numbered tally per chunk, after
//! the answer to Notion and again from the alarm for whatever a tally left behind. The
//! deliveries themselves stay in the object.

use crate::context::{now_ms, AppContext};
use crate::fault::RuntimeResult;
use crate::store;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::log_line::LogLine;
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::sync::ledger;
use worker::{console_error, SqlStorage};

/// Counts every ledger row not counted yet in D1, a tally per round trip (first the one left
/// pending by an interrupted flush; one D1 query from `budget` each, leaving it `keep` queries
/// for the rest of the invocation: what does not fit is counted by a later invocation), then
/// drops ids older than the retention. Safe to run twice at once: D1 applies each tally
/// number once. `ctx` is the invocation's, so its D1 rows written count the tallies.
pub async fn flush(
    ctx: &AppContext,
    sql: &SqlStorage,
    project_id: &str,
    budget: &Budget,
    keep: u32,
) -> std::result::Result<(), ApiError> {
    let limit = i64::try_from(ledger::FLUSH_CHUNK).unwrap_or(100);
    loop {
        if !budget.affords(0, keep + 1) {
            break;
        }
        let pending = store::ledger::pending_tally(sql).fault()?;
        let tally = match pending {
            Some(tally) => tally,
            None => match store::ledger::begin_tally(sql, limit).fault()? {
                Some(tally) => tally,
                None => break,
            },
        };
        if !budget.take_d1() {
            break;
        }
        store::webhooks::count_tally(&ctx.db, project_id, &tally).await?;
        store::ledger::end_tally(sql, &tally).fault()?;
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
        note: Some("event ledger tally to D1 failed".to_owned()),
        detail: e.fault().cloned(),
        ..LogLine::default()
    };
    console_error!("{}", line.to_json());
}
