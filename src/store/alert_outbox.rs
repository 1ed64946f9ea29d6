//! `alert_outbox`: alerts waiting for delivery, one row per destination. A delivery first
//! claims its row (moves its next attempt past the lease), so the cron and a Durable Object
//! never send the same row at once.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::{D1PreparedStatement, D1Type};

/// A due row with what sending it needs from its destination.
#[derive(Debug, Clone, Deserialize)]
pub struct Due {
    pub id: String,
    pub event_id: String,
    pub destination_id: String,
    pub project_id: Option<String>,
    pub body: String,
    pub created_at_ms: i64,
    pub attempts: i64,
    /// The destination's URL: plaintext only on a row not sealed yet, else `url_enc`.
    pub url: String,
    pub url_enc: Option<String>,
    pub format: String,
    pub secret_enc: Option<String>,
}

pub struct NewAlert<'a> {
    pub id: &'a str,
    pub event_id: &'a str,
    pub destination_id: &'a str,
    pub project_id: Option<&'a str>,
    pub body: &'a str,
    pub now_ms: i64,
}

pub fn insert(db: &Db, a: &NewAlert<'_>) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "INSERT INTO alert_outbox (id, event_id, destination_id, project_id, body, created_at_ms, next_attempt_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        &[
            D1Type::Text(a.id),
            D1Type::Text(a.event_id),
            D1Type::Text(a.destination_id),
            d1::opt(a.project_id),
            D1Type::Text(a.body),
            d1::ms(a.now_ms),
        ],
    )
}

/// Up to `limit` pending rows due by `now_ms` for enabled destinations, oldest first;
/// `project_id` narrows them to one project's.
pub async fn due(
    db: &Db,
    now_ms: i64,
    project_id: Option<&str>,
    limit: usize,
) -> Result<Vec<Due>, ApiError> {
    d1::all(
        db,
        "SELECT o.id, o.event_id, o.destination_id, o.project_id, o.body, o.created_at_ms, o.attempts, \
         d.url, d.url_enc, d.format, d.secret_enc FROM alert_outbox o JOIN alert_destinations d ON d.id = o.destination_id \
         WHERE o.status = 'pending' AND o.next_attempt_ms <= ?1 AND d.disabled_at IS NULL \
         AND (?2 IS NULL OR o.project_id = ?2) ORDER BY o.next_attempt_ms LIMIT ?3",
        &[d1::ms(now_ms), d1::opt(project_id), d1::int(limit)],
    )
    .await
}

/// Claims a due row until `lease_until_ms`; false when another delivery got it first.
pub async fn claim(db: &Db, id: &str, now_ms: i64, lease_until_ms: i64) -> Result<bool, ApiError> {
    let changed = d1::run(
        db,
        "UPDATE alert_outbox SET next_attempt_ms = ?3, attempts = attempts + 1 \
         WHERE id = ?1 AND status = 'pending' AND next_attempt_ms <= ?2",
        &[D1Type::Text(id), d1::ms(now_ms), d1::ms(lease_until_ms)],
    )
    .await?;
    Ok(changed > 0)
}

/// Records an attempt: `next_attempt_ms` `None` ends the row as `status` (delivered/failed).
pub async fn record(
    db: &Db,
    id: &str,
    status_code: u16,
    error: Option<&str>,
    next_attempt_ms: Option<i64>,
    final_status: &str,
) -> Result<(), ApiError> {
    let (status, next) = match next_attempt_ms {
        Some(next) => ("pending", d1::ms(next)),
        None => (final_status, D1Type::Null),
    };
    d1::run(
        db,
        "UPDATE alert_outbox SET status = ?2, last_status = ?3, last_error = ?4, \
         next_attempt_ms = COALESCE(?5, next_attempt_ms) WHERE id = ?1",
        &[
            D1Type::Text(id),
            D1Type::Text(status),
            D1Type::Integer(i32::from(status_code)),
            d1::opt(error),
            next,
        ],
    )
    .await
    .map(|_| ())
}

/// Drops a disabled destination's queued alerts.
pub async fn fail_pending_of(db: &Db, destination_id: &str, reason: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE alert_outbox SET status = 'failed', last_error = ?2 WHERE destination_id = ?1 AND status = 'pending'",
        &[D1Type::Text(destination_id), D1Type::Text(reason)],
    )
    .await
    .map(|_| ())
}

/// Deletes delivered and abandoned rows raised before `before_ms`.
pub async fn prune_settled(db: &Db, before_ms: i64) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM alert_outbox WHERE status != 'pending' AND created_at_ms < ?1",
        &[d1::ms(before_ms)],
    )
    .await
    .map(|_| ())
}
