//! Notion webhook ingestion: verification capture, signature checks, dedupe, and handing
//! relevant events to the project's Durable Object before Notion gets its 200.

use super::context::{now_ms, AppContext};
use super::db::{self, ProjectRow};
use super::http::{self, Reply};
use super::project_sync;
use crate::api_error::ApiError;
use crate::notion_event::{self, Event, Incoming};
use crate::secrets::{self, ProjectSecret};
use crate::signature;
use crate::time::iso_from_ms;
use worker::{D1Type, Request};

/// How long a verification token that reached the shared URL waits to be claimed.
const PENDING_TOKEN_TTL_MS: i64 = 3_600_000;

/// `POST /webhooks/notion/{webhook_key}`: everything here belongs to one project.
pub async fn for_project(
    ctx: &AppContext,
    key: &str,
    req: &mut Request,
) -> Result<Reply, ApiError> {
    let body = http::read_body(req).await?;
    let incoming = parse(&body)?;
    let event_id = match &incoming {
        Incoming::Event(event) => event.id.as_str(),
        Incoming::Verification { .. } => "",
    };
    let project = db::project_by_webhook_key(&ctx.db, key, event_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("webhook".to_owned()))?;
    match incoming {
        Incoming::Verification { token } => store_token(ctx, &project, &token).await,
        Incoming::Event(event) => {
            let token = verification_token(ctx, &project)?.ok_or_else(|| {
                ApiError::InvalidSignature(
                    "no verification token has been received for this webhook yet".to_owned(),
                )
            })?;
            check_signature(&token, &body, req)?;
            accept_event(ctx, &project, &event).await
        }
    }
}

/// `POST /webhooks/notion`: the shared URL. Events are routed by the database they concern and
/// authenticated with the token of a project connected to it.
pub async fn shared(ctx: &AppContext, req: &mut Request) -> Result<Reply, ApiError> {
    let body = http::read_body(req).await?;
    match parse(&body)? {
        Incoming::Verification { token } => keep_pending_token(ctx, &token).await,
        Incoming::Event(event) => {
            let refs = notion_event::database_refs(&event);
            let header = signature_header(req);
            for project in db::projects_for_shared_event(&ctx.db, &refs, &event.id).await? {
                let Some(token) = verification_token(ctx, &project)? else {
                    continue;
                };
                if signature::verify(&token, &body, header.as_deref()).is_ok() {
                    return accept_event(ctx, &project, &event).await;
                }
            }
            let why = if header.is_none() {
                signature::SignatureError::Missing
            } else {
                signature::SignatureError::Mismatch
            };
            Err(ApiError::InvalidSignature(format!(
                "{why} for any project connected to this event's database"
            )))
        }
    }
}

fn parse(body: &[u8]) -> Result<Incoming, ApiError> {
    notion_event::parse(body).map_err(|e| match e {
        notion_event::ParseError::NotJson(_) => ApiError::InvalidJson(e.to_string()),
        notion_event::ParseError::NotAnObject | notion_event::ParseError::MissingField(_) => {
            ApiError::validation("body", e.to_string())
        }
    })
}

fn signature_header(req: &Request) -> Option<String> {
    req.headers().get("x-notion-signature").ok().flatten()
}

fn check_signature(token: &str, body: &[u8], req: &Request) -> Result<(), ApiError> {
    signature::verify(token, body, signature_header(req).as_deref())
        .map_err(|e| ApiError::InvalidSignature(e.to_string()))
}

fn verification_token(ctx: &AppContext, project: &ProjectRow) -> Result<Option<String>, ApiError> {
    let Some(enc) = &project.verification_token_enc else {
        return Ok(None);
    };
    let token = ctx
        .cipher()?
        .decrypt(enc, &ProjectSecret::VerificationToken.context(&project.id))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Some(token))
}

/// Stores (or replaces, for Notion's "Resend token") the project's verification token.
pub async fn store_token(
    ctx: &AppContext,
    project: &ProjectRow,
    token: &str,
) -> Result<Reply, ApiError> {
    save_token(ctx, &project.id, token, false).await?;
    Ok(Reply::json(200, &serde_json::json!({ "ok": true }))
        .project(&project.id)
        .note("verification token received"))
}

pub async fn save_token(
    ctx: &AppContext,
    project_id: &str,
    token: &str,
    via_shared_url: bool,
) -> Result<(), ApiError> {
    let enc = ctx
        .cipher()?
        .encrypt(token, &ProjectSecret::VerificationToken.context(project_id))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = iso_from_ms(now_ms());
    db::run(
        &ctx.db,
        "UPDATE webhooks SET verification_token_enc = ?1, token_received_at = ?2, via_shared_url = ?3, \
         status = 'token_received', activated_at = NULL WHERE project_id = ?4",
        &[D1Type::Text(&enc), D1Type::Text(&now), D1Type::Integer(i32::from(via_shared_url)), D1Type::Text(project_id)],
    )
    .await?;
    Ok(())
}

async fn keep_pending_token(ctx: &AppContext, token: &str) -> Result<Reply, ApiError> {
    let id = secrets::random_id().map_err(|e| ApiError::Internal(e.to_string()))?;
    let enc = ctx
        .cipher()?
        .encrypt(token, &format!("pending:{id}"))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = now_ms();
    let (received, expires) = (iso_from_ms(now), iso_from_ms(now + PENDING_TOKEN_TTL_MS));
    db::batch(
        &ctx.db,
        vec![
            db::stmt(&ctx.db, "DELETE FROM pending_verifications WHERE expires_at < ?1", &[D1Type::Text(&received)])?,
            db::stmt(
                &ctx.db,
                "INSERT INTO pending_verifications (id, token_enc, received_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &[D1Type::Text(&id), D1Type::Text(&enc), D1Type::Text(&received), D1Type::Text(&expires)],
            )?,
        ],
    )
    .await?;
    Ok(Reply::json(200, &serde_json::json!({ "ok": true }))
        .note("verification token kept for claiming"))
}

/// Takes the one unexpired token that reached the shared URL, if there is exactly one.
pub async fn take_pending_token(ctx: &AppContext) -> Result<PendingClaim, ApiError> {
    #[derive(serde::Deserialize)]
    struct Row {
        id: String,
        token_enc: String,
    }
    let now = iso_from_ms(now_ms());
    let rows: Vec<Row> = db::all(
        &ctx.db,
        "SELECT id, token_enc FROM pending_verifications WHERE expires_at >= ?1 ORDER BY received_at DESC",
        &[D1Type::Text(&now)],
    )
    .await?;
    match rows.as_slice() {
        [] => Ok(PendingClaim::None),
        [row] => {
            let token = ctx
                .cipher()?
                .decrypt(&row.token_enc, &format!("pending:{}", row.id))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            db::run(
                &ctx.db,
                "DELETE FROM pending_verifications WHERE id = ?1",
                &[D1Type::Text(&row.id)],
            )
            .await?;
            Ok(PendingClaim::Token(token))
        }
        _ => Ok(PendingClaim::Ambiguous),
    }
}

pub enum PendingClaim {
    None,
    Token(String),
    Ambiguous,
}

/// An authentic event: count it once, and hand relevant ones to the project's Durable Object.
async fn accept_event(
    ctx: &AppContext,
    project: &ProjectRow,
    event: &Event,
) -> Result<Reply, ApiError> {
    let ok = |note: &str| {
        Ok(
            Reply::json(200, &serde_json::json!({ "ok": true, "outcome": note }))
                .project(&project.id)
                .note(format!("{} {note}", event.kind)),
        )
    };
    if project.event_seen != 0 {
        return ok("duplicate");
    }
    let effect = notion_event::effect_for(
        event,
        &project.notion_database_id,
        &project.data_source_ids(),
    );
    let forwarded = match (&effect, project.auto_sync_active()) {
        (Some(effect), true) => {
            project_sync::send_effects(ctx, &project.id, std::slice::from_ref(effect)).await?;
            true
        }
        _ => false,
    };
    let counted = record(ctx, project, event, effect.is_some()).await?;
    match (counted, effect.is_some(), forwarded) {
        (false, _, _) => ok("duplicate"),
        (true, true, true) => ok("queued"),
        (true, true, false) => ok("auto_sync_off"),
        (true, false, _) => ok("ignored"),
    }
}

/// Records the event id (the dedupe key) and the counters; returns false when a concurrent
/// delivery of the same id got there first.
async fn record(
    ctx: &AppContext,
    project: &ProjectRow,
    event: &Event,
    relevant: bool,
) -> Result<bool, ApiError> {
    let now = iso_from_ms(now_ms());
    let entity = event.entity.as_ref().map(|e| e.id.as_str());
    let attempt = event
        .attempt_number
        .and_then(|n| i32::try_from(n).ok())
        .map_or(D1Type::Null, D1Type::Integer);
    // One round trip: the counters move only when this delivery inserted the event id
    // (`changes()` is the INSERT's), so a concurrent retry is counted once.
    let changes = db::batch_changes(
        &ctx.db,
        vec![
            db::stmt(
                &ctx.db,
                "INSERT OR IGNORE INTO webhook_events (event_id, project_id, type, entity_id, relevant, attempt_number, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[
                    D1Type::Text(&event.id),
                    D1Type::Text(&project.id),
                    D1Type::Text(&event.kind),
                    db::opt(entity),
                    D1Type::Integer(i32::from(relevant)),
                    attempt,
                    D1Type::Text(&now),
                ],
            )?,
            db::stmt(
                &ctx.db,
                "UPDATE webhooks SET events_received = events_received + 1, events_ignored = events_ignored + ?1, \
                 last_event_at = ?2, status = 'active', activated_at = COALESCE(activated_at, ?2) \
                 WHERE project_id = ?3 AND changes() = 1",
                &[D1Type::Integer(i32::from(!relevant)), D1Type::Text(&now), D1Type::Text(&project.id)],
            )?,
        ],
    )
    .await?;
    Ok(changes.first().copied().unwrap_or(0) == 1)
}
