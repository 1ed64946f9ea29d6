//! `accounts`: who uses the service, and on which plan.

use super::{api_tokens, d1};
use crate::store::d1::Db;
use notion_framer_core::api::account::{Account, AccountRow};
use notion_framer_core::api::error::ApiError;
use worker::{D1PreparedStatement, D1Type};

pub async fn list(db: &Db) -> Result<Vec<Account>, ApiError> {
    let rows: Vec<AccountRow> = d1::all(
        db,
        "SELECT id, name, plan, created_at FROM accounts ORDER BY created_at, id",
        &[],
    )
    .await?;
    rows.into_iter().map(Account::try_from).collect()
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Account>, ApiError> {
    let row: Option<AccountRow> = d1::first(
        db,
        "SELECT id, name, plan, created_at FROM accounts WHERE id = ?1",
        &[D1Type::Text(id)],
    )
    .await?;
    row.map(Account::try_from).transpose()
}

/// The account owning an unrevoked API token, looked up by the token's hash.
pub async fn by_token_hash(db: &Db, hash: &str) -> Result<Option<Account>, ApiError> {
    let row: Option<AccountRow> = d1::first(
        db,
        "SELECT a.id, a.name, a.plan, a.created_at FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL",
        &[D1Type::Text(hash)],
    )
    .await?;
    row.map(Account::try_from).transpose()
}

/// Stores the account with its first API token, together.
pub async fn create(
    db: &Db,
    account: &Account,
    first_token: &api_tokens::NewToken<'_>,
) -> Result<(), ApiError> {
    d1::batch(
        db,
        vec![insert(db, account)?, api_tokens::insert(db, first_token)?],
    )
    .await
}

fn insert(db: &Db, account: &Account) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "INSERT INTO accounts (id, name, plan, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[
            D1Type::Text(&account.id),
            D1Type::Text(&account.name),
            D1Type::Text(account.plan.as_str()),
            D1Type::Text(&account.created_at),
        ],
    )
}

/// Stores the account's name and plan.
pub async fn update(db: &Db, account: &Account) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE accounts SET name = ?1, plan = ?2 WHERE id = ?3",
        &[
            D1Type::Text(&account.name),
            D1Type::Text(account.plan.as_str()),
            D1Type::Text(&account.id),
        ],
    )
    .await?;
    Ok(())
}
