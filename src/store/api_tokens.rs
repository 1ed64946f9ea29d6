//! `api_tokens`: an account's API tokens, stored as SHA-256 hashes with a hint.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::{Deserialize, Serialize};
use worker::{D1PreparedStatement, D1Type};

/// A token as the token list shows it (never the token or its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub hint: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A token about to be stored: only its hash is kept.
pub struct NewToken<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub token_hash: &'a str,
    pub hint: &'a str,
    pub created_at: &'a str,
}

pub async fn create(db: &Db, token: &NewToken<'_>) -> Result<(), ApiError> {
    d1::batch(db, vec![insert(db, token)?]).await
}

/// The insert, as a statement so that an account and its first token are stored together.
pub fn insert(db: &Db, token: &NewToken<'_>) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "INSERT INTO api_tokens (id, account_id, token_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[
            D1Type::Text(token.id),
            D1Type::Text(token.account_id),
            D1Type::Text(token.token_hash),
            D1Type::Text(token.hint),
            D1Type::Text(token.created_at),
        ],
    )
}

pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<TokenRow>, ApiError> {
    d1::all(
        db,
        "SELECT id, hint, created_at, revoked_at FROM api_tokens WHERE account_id = ?1 ORDER BY created_at, id",
        &[D1Type::Text(account_id)],
    )
    .await
}

/// Revokes the account's token `id` (keeping the first revocation time); false when the
/// account has no such token.
pub async fn revoke(db: &Db, account_id: &str, id: &str, now: &str) -> Result<bool, ApiError> {
    let changed = d1::run(
        db,
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2 AND account_id = ?3",
        &[D1Type::Text(now), D1Type::Text(id), D1Type::Text(account_id)],
    )
    .await?;
    Ok(changed > 0)
}
