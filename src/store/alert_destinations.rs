//! `alert_destinations`: where an account's alerts go. The URL (a credential: a Slack
//! incoming-webhook URL lets anyone post to the channel) and the json format's secret are
//! stored encrypted; the API shows only their hints. Rows from before URLs were encrypted keep
//! the plaintext in `url` until `seal_url` rewrites them.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::D1Type;

#[derive(Debug, Clone, Deserialize)]
pub struct DestinationRow {
    pub id: String,
    pub name: String,
    /// The plaintext URL of a row not sealed yet; empty once `url_enc` holds it.
    pub url: String,
    pub url_enc: Option<String>,
    pub url_hint: Option<String>,
    pub format: String,
    pub secret_enc: Option<String>,
    pub secret_hint: Option<String>,
    pub created_at: String,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub last_status: Option<i64>,
    pub last_attempt_at: Option<String>,
}

pub struct NewDestination<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub name: &'a str,
    pub url_enc: &'a str,
    pub url_hint: &'a str,
    pub format: &'a str,
    pub secret_enc: Option<&'a str>,
    pub secret_hint: Option<&'a str>,
    pub created_at: &'a str,
}

pub async fn create(db: &Db, d: &NewDestination<'_>) -> Result<(), ApiError> {
    d1::run(
        db,
        "INSERT INTO alert_destinations (id, account_id, name, url, url_enc, url_hint, format, secret_enc, secret_hint, created_at) \
         VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            D1Type::Text(d.id),
            D1Type::Text(d.account_id),
            D1Type::Text(d.name),
            D1Type::Text(d.url_enc),
            D1Type::Text(d.url_hint),
            D1Type::Text(d.format),
            d1::opt(d.secret_enc),
            d1::opt(d.secret_hint),
            D1Type::Text(d.created_at),
        ],
    )
    .await
    .map(|_| ())
}

pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<DestinationRow>, ApiError> {
    d1::all(
        db,
        "SELECT * FROM alert_destinations WHERE account_id = ?1 ORDER BY created_at, id",
        &[D1Type::Text(account_id)],
    )
    .await
}

pub async fn count_of_account(db: &Db, account_id: &str) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let row: Option<Count> = d1::first(
        db,
        "SELECT COUNT(*) AS n FROM alert_destinations WHERE account_id = ?1",
        &[D1Type::Text(account_id)],
    )
    .await?;
    Ok(row.map_or(0, |r| r.n))
}

/// The account's destination `id`; another account's is not found.
pub async fn of_account_by_id(
    db: &Db,
    account_id: &str,
    id: &str,
) -> Result<Option<DestinationRow>, ApiError> {
    d1::first(
        db,
        "SELECT * FROM alert_destinations WHERE id = ?1 AND account_id = ?2",
        &[D1Type::Text(id), D1Type::Text(account_id)],
    )
    .await
}

/// The enabled destinations of the account that owns `project_id`.
pub async fn active_for_project(
    db: &Db,
    project_id: &str,
) -> Result<Vec<DestinationRow>, ApiError> {
    d1::all(
        db,
        "SELECT d.* FROM alert_destinations d JOIN projects p ON p.account_id = d.account_id \
         WHERE p.id = ?1 AND d.disabled_at IS NULL ORDER BY d.created_at, d.id",
        &[D1Type::Text(project_id)],
    )
    .await
}

/// Deletes the account's destination `id` (its queued alerts go with it); false when absent.
pub async fn delete(db: &Db, account_id: &str, id: &str) -> Result<bool, ApiError> {
    let changed = d1::run(
        db,
        "DELETE FROM alert_destinations WHERE id = ?1 AND account_id = ?2",
        &[D1Type::Text(id), D1Type::Text(account_id)],
    )
    .await?;
    Ok(changed > 0)
}

/// Stops deliveries to `id`, keeping the first reason.
pub async fn disable(db: &Db, id: &str, reason: &str, now: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE alert_destinations SET disabled_at = COALESCE(disabled_at, ?2), \
         disabled_reason = COALESCE(disabled_reason, ?3) WHERE id = ?1",
        &[D1Type::Text(id), D1Type::Text(now), D1Type::Text(reason)],
    )
    .await
    .map(|_| ())
}

/// The account's destination names, to name a new one apart from them.
pub async fn names_of_account(db: &Db, account_id: &str) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    let rows: Vec<Name> = d1::all(
        db,
        "SELECT name FROM alert_destinations WHERE account_id = ?1",
        &[D1Type::Text(account_id)],
    )
    .await?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Renames the destination.
pub async fn rename(db: &Db, id: &str, name: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE alert_destinations SET name = ?2 WHERE id = ?1",
        &[D1Type::Text(id), D1Type::Text(name)],
    )
    .await
    .map(|_| ())
}

/// Stores the URL encrypted, with its hint, and drops any plaintext. `only_if_plain`: only
/// while the row still holds a plaintext URL (the first read of a row from an earlier
/// version; another reader may have sealed it meanwhile).
pub async fn seal_url(
    db: &Db,
    id: &str,
    url_enc: &str,
    url_hint: &str,
    only_if_plain: bool,
) -> Result<(), ApiError> {
    let sql = if only_if_plain {
        "UPDATE alert_destinations SET url_enc = ?2, url_hint = ?3, url = '' WHERE id = ?1 AND url_enc IS NULL"
    } else {
        "UPDATE alert_destinations SET url_enc = ?2, url_hint = ?3, url = '' WHERE id = ?1"
    };
    d1::run(
        db,
        sql,
        &[
            D1Type::Text(id),
            D1Type::Text(url_enc),
            D1Type::Text(url_hint),
        ],
    )
    .await
    .map(|_| ())
}

/// Up to `limit` rows still holding a plaintext URL (written before URLs were encrypted).
pub async fn plaintext(db: &Db, limit: usize) -> Result<Vec<DestinationRow>, ApiError> {
    d1::all(
        db,
        "SELECT * FROM alert_destinations WHERE url_enc IS NULL LIMIT ?1",
        &[d1::int(limit)],
    )
    .await
}

/// Turns a disabled destination back on.
pub async fn enable(db: &Db, id: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE alert_destinations SET disabled_at = NULL, disabled_reason = NULL WHERE id = ?1",
        &[D1Type::Text(id)],
    )
    .await
    .map(|_| ())
}

/// What the page shows of the last attempt: its HTTP status (0: no answer) and time.
pub async fn record_attempt(db: &Db, id: &str, status: u16, now: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE alert_destinations SET last_status = ?2, last_attempt_at = ?3 WHERE id = ?1",
        &[
            D1Type::Text(id),
            D1Type::Integer(i32::from(status)),
            D1Type::Text(now),
        ],
    )
    .await
    .map(|_| ())
}
