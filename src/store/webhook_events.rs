//! `webhook_events`: the history of deliveries that versions before migration 0009 copied from
//! the project objects' ledgers. Nothing writes it any more (the deliveries stay in the objects,
//! D1 gets counters); the retention prunes what is left.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use worker::{D1PreparedStatement, D1Type};

/// Deliveries received before `?1`, oldest first per project through `webhook_events_project`,
/// at most `?2`: the retention's unit of work (see `edge::retention`).
const OLD_EVENTS: &str = "SELECT e.rowid FROM projects p CROSS JOIN webhook_events e \
     WHERE e.project_id = p.id AND e.received_at < ?1 \
     ORDER BY p.rowid, e.received_at LIMIT ?2";

/// Deletes up to `limit` deliveries received before `before`, oldest first.
pub fn prune_before(db: &Db, before: &str, limit: usize) -> Result<D1PreparedStatement, ApiError> {
    d1::delete_selected(
        db,
        "webhook_events",
        OLD_EVENTS,
        vec![D1Type::Text(before)],
        limit,
    )
}

/// `more` = 1 when a delivery received before `before` is left.
pub fn any_before(db: &Db, before: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::any_selected(db, OLD_EVENTS, vec![D1Type::Text(before)])
}
