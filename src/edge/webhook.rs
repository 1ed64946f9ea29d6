//! Notion webhook ingestion: verification capture, signature checks, and handing every
//! authentic event to the project's Durable Object (which dedupes, counts and queues it) before
//! Notion gets its 200.

use super::context::{now_ms, AppContext};
use super::http::{self, Reply};
use super::project_sync::{self, IngestRequest};
use super::store::{self, pending_verifications::PendingToken};
use crate::api::error::ApiError;
use crate::api::project::Project;
use crate::notion::event::{self, Event, Incoming};
use crate::notion::signature;
use crate::sync::ledger::EventRecord;
use crate::util::secrets::{self, ProjectSecret};
use crate::util::time::iso_from_ms;
use crate::util::ttl_cache::TtlCache;
use std::cell::RefCell;
use worker::Request;

/// How long a verification token that reached the shared URL waits to be claimed.
const PENDING_TOKEN_TTL_MS: i64 = 3_600_000;

/// How long an isolate trusts what it read about a webhook key. Changes made through this
/// isolate's API drop the cache at once; other isolates see them within this bound, and a
/// signature that fails against a cached token is re-checked against D1 first.
const ROUTE_TTL_MS: i64 = 5_000;

/// What the event path needs to know about the project behind a webhook key.
#[derive(Clone)]
struct WebhookRoute {
    project_id: String,
    token: Option<String>,
    database_id: String,
    data_source_ids: Vec<String>,
    auto_sync: bool,
}

thread_local! {
    static ROUTES: RefCell<TtlCache<WebhookRoute>> = RefCell::new(TtlCache::new(ROUTE_TTL_MS, 1024));
}

/// Drops every cached route: called after any change made through the dashboard API.
pub fn forget_cached_routes() {
    ROUTES.with(|routes| routes.borrow_mut().clear());
}

/// `POST /webhooks/notion/{webhook_key}`: everything here belongs to one project.
pub async fn for_project(
    ctx: &AppContext,
    key: &str,
    req: &mut Request,
) -> Result<Reply, ApiError> {
    let body = http::read_body(req).await?;
    match event::parse(&body)? {
        Incoming::Verification { token } => {
            let project = project_for_key(ctx, key).await?;
            ROUTES.with(|routes| routes.borrow_mut().remove(key));
            store_token(ctx, &project, &token).await
        }
        Incoming::Event(event) => {
            let header = signature_header(req);
            let cached = ROUTES.with(|routes| routes.borrow().get(key, now_ms()));
            let route = match cached {
                Some(route) if signed_by(&route, &body, header.as_deref()).is_ok() => route,
                // Not cached, or the token changed since: ask D1 before rejecting.
                _ => load_route(ctx, key).await?,
            };
            signed_by(&route, &body, header.as_deref())?;
            accept_event(ctx, &route, &event).await
        }
    }
}

async fn project_for_key(ctx: &AppContext, key: &str) -> Result<Project, ApiError> {
    store::projects::by_webhook_key(&ctx.db, key)
        .await?
        .ok_or_else(|| ApiError::NotFound("webhook".to_owned()))
}

async fn load_route(ctx: &AppContext, key: &str) -> Result<WebhookRoute, ApiError> {
    let route = WebhookRoute::new(ctx, &project_for_key(ctx, key).await?)?;
    ROUTES.with(|routes| routes.borrow_mut().insert(key, route.clone(), now_ms()));
    Ok(route)
}

impl WebhookRoute {
    fn new(ctx: &AppContext, project: &Project) -> Result<Self, ApiError> {
        Ok(Self {
            project_id: project.id.clone(),
            token: verification_token(ctx, project)?,
            database_id: project.notion_database_id.clone(),
            data_source_ids: project.notion_data_source_ids.clone(),
            auto_sync: project.auto_sync_active(),
        })
    }
}

fn signed_by(
    route: &WebhookRoute,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), signature::SignatureError> {
    let token = route
        .token
        .as_deref()
        .ok_or(signature::SignatureError::NoToken)?;
    signature::verify(token, body, header)
}

/// `POST /webhooks/notion`: the shared URL. Events are routed by the database they concern and
/// authenticated with the token of a project connected to it.
pub async fn shared(ctx: &AppContext, req: &mut Request) -> Result<Reply, ApiError> {
    let body = http::read_body(req).await?;
    match event::parse(&body)? {
        Incoming::Verification { token } => keep_pending_token(ctx, &token).await,
        Incoming::Event(event) => {
            let refs = event::database_refs(&event);
            let header = signature_header(req);
            for project in store::projects::for_shared_event(&ctx.db, &refs).await? {
                let route = WebhookRoute::new(ctx, &project)?;
                if signed_by(&route, &body, header.as_deref()).is_ok() {
                    return accept_event(ctx, &route, &event).await;
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

fn signature_header(req: &Request) -> Option<String> {
    req.headers().get("x-notion-signature").ok().flatten()
}

fn verification_token(ctx: &AppContext, project: &Project) -> Result<Option<String>, ApiError> {
    let Some(enc) = &project.webhook.verification_token_enc else {
        return Ok(None);
    };
    let token = ctx
        .cipher()?
        .decrypt(enc, &ProjectSecret::VerificationToken.context(&project.id))?;
    Ok(Some(token))
}

/// Stores (or replaces, for Notion's "Resend token") the project's verification token.
pub async fn store_token(
    ctx: &AppContext,
    project: &Project,
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
        .encrypt(token, &ProjectSecret::VerificationToken.context(project_id))?;
    let now = iso_from_ms(now_ms());
    store::webhooks::save_token(&ctx.db, project_id, &enc, &now, via_shared_url).await
}

async fn keep_pending_token(ctx: &AppContext, token: &str) -> Result<Reply, ApiError> {
    let id = secrets::random_id()?;
    let token_enc = ctx.cipher()?.encrypt(token, &format!("pending:{id}"))?;
    let now = now_ms();
    let (received, expires) = (iso_from_ms(now), iso_from_ms(now + PENDING_TOKEN_TTL_MS));
    store::pending_verifications::keep(
        &ctx.db,
        &PendingToken { id, token_enc },
        &received,
        &expires,
    )
    .await?;
    Ok(Reply::json(200, &serde_json::json!({ "ok": true }))
        .note("verification token kept for claiming"))
}

/// Takes the one unexpired token that reached the shared URL, if there is exactly one.
pub async fn take_pending_token(ctx: &AppContext) -> Result<PendingClaim, ApiError> {
    let now = iso_from_ms(now_ms());
    let waiting = store::pending_verifications::unexpired(&ctx.db, &now).await?;
    match waiting.as_slice() {
        [] => Ok(PendingClaim::None),
        [pending] => {
            let token = ctx
                .cipher()?
                .decrypt(&pending.token_enc, &format!("pending:{}", pending.id))?;
            store::pending_verifications::delete(&ctx.db, &pending.id).await?;
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

/// An authentic event: the project's object records it (a retried id is recognised there),
/// queues relevant ones when auto-sync is on, and says which of those happened.
async fn accept_event(
    ctx: &AppContext,
    route: &WebhookRoute,
    event: &Event,
) -> Result<Reply, ApiError> {
    let effect = event::effect_for(event, &route.database_id, &route.data_source_ids);
    let request = IngestRequest {
        project_id: route.project_id.clone(),
        record: EventRecord::new(event, effect.is_some(), now_ms()),
        effect,
        auto_sync: route.auto_sync,
    };
    let outcome = project_sync::ingest(ctx, &request).await?.as_str();
    Ok(
        Reply::json(200, &serde_json::json!({ "ok": true, "outcome": outcome }))
            .project(&route.project_id)
            .note(format!("{} {outcome}", event.kind)),
    )
}
