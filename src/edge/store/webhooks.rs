//! `webhooks`: each project's Notion subscription as the setup flow sees it (status, the
//! encrypted verification token) and its delivery counters.

use super::d1;
use crate::api::error::ApiError;
use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement, D1Type};

/// The row of a new project (status `setup_required`), stored in the project's batch.
pub fn insert(db: &D1Database, project_id: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "INSERT INTO webhooks (project_id) VALUES (?1)",
        &[D1Type::Text(project_id)],
    )
}

/// Stores (or replaces) the verification token; the subscription waits for confirmation again.
pub async fn save_token(
    db: &D1Database,
    project_id: &str,
    token_enc: &str,
    received_at: &str,
    via_shared_url: bool,
) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE webhooks SET verification_token_enc = ?1, token_received_at = ?2, via_shared_url = ?3, \
         status = 'token_received', activated_at = NULL WHERE project_id = ?4",
        &[
            D1Type::Text(token_enc),
            D1Type::Text(received_at),
            D1Type::Integer(i32::from(via_shared_url)),
            D1Type::Text(project_id),
        ],
    )
    .await?;
    Ok(())
}

/// Marks the subscription active, keeping the first activation time.
pub async fn activate(db: &D1Database, project_id: &str, now: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE webhooks SET status = 'active', activated_at = COALESCE(activated_at, ?1) WHERE project_id = ?2",
        &[D1Type::Text(now), D1Type::Text(project_id)],
    )
    .await?;
    Ok(())
}

/// How many projects (of every account) still wait for a verification token.
pub async fn waiting_for_token(db: &D1Database) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        n: i64,
    }
    let row: Option<Row> = d1::first(
        db,
        "SELECT COUNT(*) AS n FROM webhooks WHERE verification_token_enc IS NULL",
        &[],
    )
    .await?;
    Ok(row.map_or(0, |r| r.n))
}

/// Moves the counters by the rows the preceding insert into `webhook_events` added
/// (`changes()`), marking the subscription active: a statement for that insert's batch. Does
/// nothing when the insert added none, so a chunk copied twice is counted once.
pub fn count_copied_events(
    db: &D1Database,
    project_id: &str,
    ignored: bool,
    latest_received_at: &str,
) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "UPDATE webhooks SET events_received = events_received + changes(), \
         events_ignored = events_ignored + ?2 * changes(), \
         last_event_at = MAX(COALESCE(last_event_at, ''), ?3), status = 'active', \
         activated_at = COALESCE(activated_at, ?3) \
         WHERE project_id = ?1 AND changes() > 0",
        &[
            D1Type::Text(project_id),
            D1Type::Integer(i32::from(ignored)),
            D1Type::Text(latest_received_at),
        ],
    )
}
