//! `pending_verifications`: verification tokens that reached the shared URL, waiting (an hour)
//! for a project to claim them. A token is bound at arrival to the one project then waiting
//! for a token, or to none (then nobody may claim it): never to whoever asks first.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::{D1PreparedStatement, D1Type};

/// A waiting token, encrypted under the context `pending:<id>`.
#[derive(Debug, Clone, Deserialize)]
pub struct PendingToken {
    pub id: String,
    pub token_enc: String,
}

/// Stores a token for `project_id` (or for nobody), dropping expired ones in the same batch.
pub async fn keep(
    db: &Db,
    token: &PendingToken,
    project_id: Option<&str>,
    received_at: &str,
    expires_at: &str,
) -> Result<(), ApiError> {
    d1::batch(
        db,
        vec![
            d1::stmt(
                db,
                "DELETE FROM pending_verifications WHERE expires_at < ?1",
                &[D1Type::Text(received_at)],
            )?,
            d1::stmt(
                db,
                "INSERT INTO pending_verifications (id, token_enc, received_at, expires_at, project_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    D1Type::Text(&token.id),
                    D1Type::Text(&token.token_enc),
                    D1Type::Text(received_at),
                    D1Type::Text(expires_at),
                    d1::opt(project_id),
                ],
            )?,
        ],
    )
    .await
}

/// The tokens bound to `project_id` not expired at `now`, newest first.
pub async fn unexpired_for(
    db: &Db,
    project_id: &str,
    now: &str,
) -> Result<Vec<PendingToken>, ApiError> {
    d1::all(
        db,
        "SELECT id, token_enc FROM pending_verifications WHERE project_id = ?1 AND expires_at >= ?2 \
         ORDER BY received_at DESC",
        &[D1Type::Text(project_id), D1Type::Text(now)],
    )
    .await
}

pub async fn delete(db: &Db, id: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM pending_verifications WHERE id = ?1",
        &[D1Type::Text(id)],
    )
    .await?;
    Ok(())
}

/// Tokens that expired before `?1` unclaimed, oldest first (`pending_verifications_expiry`), at
/// most `?2`.
const EXPIRED: &str = "SELECT rowid FROM pending_verifications \
     WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2";

/// Deletes up to `limit` tokens that expired before `before`, oldest first.
pub fn prune_expired(db: &Db, before: &str, limit: usize) -> Result<D1PreparedStatement, ApiError> {
    d1::delete_selected(
        db,
        "pending_verifications",
        EXPIRED,
        vec![D1Type::Text(before)],
        limit,
    )
}

/// `more` = 1 when a token that expired before `before` is left.
pub fn any_expired(db: &Db, before: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::any_selected(db, EXPIRED, vec![D1Type::Text(before)])
}
