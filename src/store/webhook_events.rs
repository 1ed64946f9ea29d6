//! `webhook_events`: the history of authentic deliveries, copied from the project objects'
//! ledgers.

use super::{d1, webhooks};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::ledger::{self, EventRecord};
use worker::{D1Database, D1PreparedStatement, D1Type};

/// Copies a chunk of a project object's ledger and moves the webhook's counters, in one
/// round trip. Idempotent: ids already present are skipped and each counter update counts only
/// what the insert before it added, so a chunk copied twice (a retry after a lost reply) is
/// counted once. Events of a project deleted meanwhile are dropped rather than failing the copy.
pub async fn record(
    db: &D1Database,
    project_id: &str,
    chunk: &[EventRecord],
) -> Result<(), ApiError> {
    let Some(latest) = ledger::latest_received_at(chunk) else {
        return Ok(());
    };
    let rows = ledger::d1_rows_json(chunk);
    d1::batch(
        db,
        vec![
            insert(db, project_id, &rows, true)?,
            webhooks::count_copied_events(db, project_id, false, &latest)?,
            insert(db, project_id, &rows, false)?,
            webhooks::count_copied_events(db, project_id, true, &latest)?,
        ],
    )
    .await
}

/// Inserts the relevant (or the ignored) rows of `rows_json`, a JSON array of ledger rows.
fn insert(
    db: &D1Database,
    project_id: &str,
    rows_json: &str,
    relevant: bool,
) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "INSERT OR IGNORE INTO webhook_events (event_id, project_id, type, entity_id, relevant, attempt_number, received_at) \
         SELECT json_extract(e.value, '$.event_id'), ?1, json_extract(e.value, '$.kind'), json_extract(e.value, '$.entity_id'), \
                ?3, json_extract(e.value, '$.attempt_number'), json_extract(e.value, '$.received_at') \
         FROM json_each(?2) e \
         WHERE json_extract(e.value, '$.relevant') = ?3 AND EXISTS (SELECT 1 FROM projects WHERE id = ?1)",
        &[
            D1Type::Text(project_id),
            D1Type::Text(rows_json),
            D1Type::Integer(i32::from(relevant)),
        ],
    )
}

/// Deliveries received before `?1`, oldest first per project through `webhook_events_project`,
/// at most `?2`: the retention's unit of work (see `edge::retention`).
const OLD_EVENTS: &str = "SELECT e.rowid FROM projects p CROSS JOIN webhook_events e \
     WHERE e.project_id = p.id AND e.received_at < ?1 \
     ORDER BY p.rowid, e.received_at LIMIT ?2";

/// Deletes up to `limit` deliveries received before `before`, oldest first.
pub fn prune_before(
    db: &D1Database,
    before: &str,
    limit: usize,
) -> Result<D1PreparedStatement, ApiError> {
    d1::delete_selected(
        db,
        "webhook_events",
        OLD_EVENTS,
        vec![D1Type::Text(before)],
        limit,
    )
}

/// `more` = 1 when a delivery received before `before` is left.
pub fn any_before(db: &D1Database, before: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::any_selected(db, OLD_EVENTS, vec![D1Type::Text(before)])
}
