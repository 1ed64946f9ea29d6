//! `webhooks`: each project's Notion subscription as the setup flow sees it (status, the
//! encrypted verification token) and its delivery counters.

use super::{d1, projects};
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::ledger::Tally;
use serde::Deserialize;
use worker::{D1PreparedStatement, D1Type};

/// The row of a new project (status `setup_required`), stored in the project's batch.
pub fn insert(db: &Db, project_id: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "INSERT INTO webhooks (project_id) VALUES (?1)",
        &[D1Type::Text(project_id)],
    )
}

/// Stores the project's first verification token; the subscription waits for confirmation.
/// Returns false (and changes nothing) when the project already has a token: a later one is
/// only ever a pending replacement (`keep_pending_token`).
pub async fn save_first_token(
    db: &Db,
    project_id: &str,
    token_enc: &str,
    received_at: &str,
    via_shared_url: bool,
) -> Result<bool, ApiError> {
    let changed = d1::run(
        db,
        "UPDATE webhooks SET verification_token_enc = ?1, token_received_at = ?2, via_shared_url = ?3, \
         status = 'token_received', activated_at = NULL \
         WHERE project_id = ?4 AND verification_token_enc IS NULL",
        &[
            D1Type::Text(token_enc),
            D1Type::Text(received_at),
            D1Type::Integer(i32::from(via_shared_url)),
            D1Type::Text(project_id),
        ],
    )
    .await?;
    Ok(changed > 0)
}

/// Keeps a newer verification token beside the current one, which keeps working.
pub async fn keep_pending_token(
    db: &Db,
    project_id: &str,
    token_enc: &str,
    received_at: &str,
) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE webhooks SET pending_token_enc = ?1, pending_token_received_at = ?2 WHERE project_id = ?3",
        &[
            D1Type::Text(token_enc),
            D1Type::Text(received_at),
            D1Type::Text(project_id),
        ],
    )
    .await?;
    Ok(())
}

/// Notion's verification request reached the rotated URL `key`.
pub async fn mark_next_key_verified(
    db: &Db,
    project_id: &str,
    key: &str,
    at: &str,
) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE webhooks SET next_key_verified_at = ?1 WHERE project_id = ?2 AND next_webhook_key = ?3",
        &[D1Type::Text(at), D1Type::Text(project_id), D1Type::Text(key)],
    )
    .await?;
    Ok(())
}

/// An event signed with the pending token proved it is Notion's: it becomes the current one.
/// Only the pending token that was checked (`pending_enc`) is promoted, never a newer one.
pub async fn promote_pending_token(
    db: &Db,
    project_id: &str,
    pending_enc: &str,
) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE webhooks SET verification_token_enc = pending_token_enc, \
         token_received_at = pending_token_received_at, pending_token_enc = NULL, \
         pending_token_received_at = NULL WHERE project_id = ?1 AND pending_token_enc = ?2",
        &[D1Type::Text(project_id), D1Type::Text(pending_enc)],
    )
    .await?;
    Ok(())
}

/// A new webhook URL key for the project, answering beside the current one until confirmed.
pub async fn start_rotation(db: &Db, project_id: &str, key: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "UPDATE webhooks SET next_webhook_key = ?1, next_key_verified_at = NULL WHERE project_id = ?2",
        &[D1Type::Text(key), D1Type::Text(project_id)],
    )
    .await?;
    Ok(())
}

/// The owner's "I've verified in Notion": a pending token (`pending_enc`, the one the owner
/// was shown) becomes the current one, the subscription is active, and a rotated URL that
/// Notion has verified becomes the only one (the old URL then answers 404).
pub async fn confirm(
    db: &Db,
    project_id: &str,
    pending_enc: Option<&str>,
    promote_next_key: bool,
    now: &str,
) -> Result<(), ApiError> {
    let mut statements = Vec::new();
    if promote_next_key {
        statements.push(projects::promote_next_webhook_key(db, project_id)?);
        statements.push(d1::stmt(
            db,
            "UPDATE webhooks SET next_webhook_key = NULL, next_key_verified_at = NULL WHERE project_id = ?1",
            &[D1Type::Text(project_id)],
        )?);
    }
    if let Some(pending_enc) = pending_enc {
        statements.push(d1::stmt(
            db,
            "UPDATE webhooks SET verification_token_enc = pending_token_enc, \
             token_received_at = pending_token_received_at, pending_token_enc = NULL, \
             pending_token_received_at = NULL WHERE project_id = ?1 AND pending_token_enc = ?2",
            &[D1Type::Text(project_id), D1Type::Text(pending_enc)],
        )?);
    }
    statements.push(d1::stmt(
        db,
        "UPDATE webhooks SET status = 'active', activated_at = COALESCE(activated_at, ?1) WHERE project_id = ?2",
        &[D1Type::Text(now), D1Type::Text(project_id)],
    )?);
    d1::batch(db, statements).await
}

/// The one project (of every account) that still waits for a verification token, if exactly
/// one does: a token reaching the shared URL now can only be meant for it.
pub async fn only_project_waiting_for_token(db: &Db) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        project_id: String,
    }
    let rows: Vec<Row> = d1::all(
        db,
        "SELECT project_id FROM webhooks WHERE verification_token_enc IS NULL LIMIT 2",
        &[],
    )
    .await?;
    Ok(match rows.as_slice() {
        [only] => Some(only.project_id.clone()),
        _ => None,
    })
}

/// Adds a tally of the project object's ledger to the counters, marking the subscription
/// active, unless a tally with this number or a later one was applied already (a retry).
pub async fn count_tally(db: &Db, project_id: &str, tally: &Tally) -> Result<(), ApiError> {
    let latest = tally.latest_received_at();
    d1::run(
        db,
        "UPDATE webhooks SET events_received = events_received + ?2, \
         events_ignored = events_ignored + ?3, \
         last_event_at = MAX(COALESCE(last_event_at, ''), ?4), status = 'active', \
         activated_at = COALESCE(activated_at, ?4), events_tally_seq = ?5 \
         WHERE project_id = ?1 AND events_tally_seq < ?5",
        &[
            D1Type::Text(project_id),
            d1::int(tally.received),
            d1::int(tally.ignored),
            D1Type::Text(&latest),
            D1Type::Integer(i32::try_from(tally.seq).unwrap_or(i32::MAX)),
        ],
    )
    .await?;
    Ok(())
}
