//! Notion webhook ingestion: verification capture, signature checks, and handing every
//! authentic event to the project's Durable Object (which dedupes, counts and queues it) before
//! Notion gets its 200.

use super::context::{now_ms, AppContext};
use super::http::{self, Reply};
use super::project_sync;
use super::rate_limit;
use super::store::{self, pending_verifications::PendingToken};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::rate_limit::{self as limits, Limit};
use notion_framer_core::notion::event::{self, Event, Incoming};
use notion_framer_core::notion::signature;
use notion_framer_core::project::Project;
use notion_framer_core::sync::ledger::EventRecord;
use notion_framer_core::sync::object::IngestRequest;
use notion_framer_core::util::secrets::{self, ProjectSecret};
use notion_framer_core::util::time::iso_from_ms;
use notion_framer_core::util::ttl_cache::TtlCache;
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
    /// A newer token waiting for confirmation, and its ciphertext (what promoting it checks).
    pending: Option<(String, String)>,
    database_id: String,
    data_source_ids: Vec<String>,
    auto_sync: bool,
}

/// Which of a project's tokens signed an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Current,
    Pending,
}

thread_local! {
    static ROUTES: RefCell<TtlCache<WebhookRoute>> = RefCell::new(TtlCache::new(ROUTE_TTL_MS, 1024));
}

/// Drops every cached route: called after any change made through the dashboard API.
pub fn forget_cached_routes() {
    ROUTES.with(|routes| routes.borrow_mut().clear());
}

/// Drops the cached routes of one project's keys (current and rotated).
fn forget_routes_of(project: &Project) {
    ROUTES.with(|routes| {
        let mut routes = routes.borrow_mut();
        routes.remove(&project.webhook_key);
        if let Some(next) = &project.webhook.next_webhook_key {
            routes.remove(next);
        }
    });
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
            rate_limit::spend(&ctx.env, Limit::Verification, &limits::webhook_key(key)).await?;
            let project = project_for_key(ctx, key).await?;
            forget_routes_of(&project);
            receive_token(ctx, &project, key, &token).await
        }
        Incoming::Event(event) => {
            let header = signature_header(req);
            let (route, signer) = authenticated_route(ctx, key, &body, header.as_deref()).await?;
            if signer == Signer::Pending {
                promote_pending(ctx, &route).await?;
            }
            accept_event(ctx, &route, &event).await
        }
    }
}

/// The key's route and which of its tokens signed `body`. A failing signature spends the key's
/// budget for bad signatures once; a cached route that fails is re-read from D1 (its token may
/// have changed) only within that budget, so a flood of forged events stops reaching D1.
async fn authenticated_route(
    ctx: &AppContext,
    key: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(WebhookRoute, Signer), ApiError> {
    if let Some(cached) = ROUTES.with(|routes| routes.borrow().get(key, now_ms())) {
        if let Ok(signer) = signed_by(&cached, body, header) {
            return Ok((cached, signer));
        }
        spend_forged(ctx, key).await?;
        let fresh = load_route(ctx, key).await?;
        let signer = signed_by(&fresh, body, header)?;
        return Ok((fresh, signer));
    }
    let fresh = load_route(ctx, key).await?;
    match signed_by(&fresh, body, header) {
        Ok(signer) => Ok((fresh, signer)),
        Err(e) => {
            spend_forged(ctx, key).await?;
            Err(e.into())
        }
    }
}

async fn spend_forged(ctx: &AppContext, key: &str) -> Result<(), ApiError> {
    rate_limit::spend(&ctx.env, Limit::ForgedSignature, &limits::webhook_key(key)).await
}

/// Notion signed an event with the token it sent last: the subscription was re-verified, so
/// that token replaces the old one.
async fn promote_pending(ctx: &AppContext, route: &WebhookRoute) -> Result<(), ApiError> {
    if let Some((_, pending_enc)) = &route.pending {
        store::webhooks::promote_pending_token(&ctx.db, &route.project_id, pending_enc).await?;
        forget_cached_routes();
    }
    Ok(())
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
        let pending = match &project.webhook.pending_token_enc {
            Some(enc) => Some((decrypt_token(ctx, project, enc)?, enc.clone())),
            None => None,
        };
        Ok(Self {
            project_id: project.id.clone(),
            token: verification_token(ctx, project)?,
            pending,
            database_id: project.notion_database_id.clone(),
            data_source_ids: project.notion_data_source_ids.clone(),
            auto_sync: project.auto_sync_active(),
        })
    }
}

/// The current token is tried first; the pending one only when it fails.
fn signed_by(
    route: &WebhookRoute,
    body: &[u8],
    header: Option<&str>,
) -> Result<Signer, signature::SignatureError> {
    let token = route
        .token
        .as_deref()
        .ok_or(signature::SignatureError::NoToken)?;
    match signature::verify(token, body, header) {
        Ok(()) => Ok(Signer::Current),
        Err(e) => match &route.pending {
            Some((pending, _)) if signature::verify(pending, body, header).is_ok() => {
                Ok(Signer::Pending)
            }
            _ => Err(e),
        },
    }
}

/// `POST /webhooks/notion`: the shared URL. Events are routed by the database they concern and
/// authenticated with the token of a project connected to it.
pub async fn shared(ctx: &AppContext, req: &mut Request) -> Result<Reply, ApiError> {
    if !ctx.settings.shared_webhook_url {
        return Err(ApiError::NotFound(
            "the shared webhook URL is off on this deployment; use the project's own webhook URL (route /webhooks/notion)".to_owned(),
        ));
    }
    let body = http::read_body(req).await?;
    match event::parse(&body)? {
        Incoming::Verification { token } => {
            rate_limit::spend(
                &ctx.env,
                Limit::Verification,
                &limits::webhook_key("shared"),
            )
            .await?;
            keep_pending_token(ctx, &token).await
        }
        Incoming::Event(event) => {
            let refs = event::database_refs(&event);
            let header = signature_header(req);
            for project in store::projects::for_shared_event(&ctx.db, &refs).await? {
                let route = WebhookRoute::new(ctx, &project)?;
                if let Ok(signer) = signed_by(&route, &body, header.as_deref()) {
                    if signer == Signer::Pending {
                        promote_pending(ctx, &route).await?;
                    }
                    return accept_event(ctx, &route, &event).await;
                }
            }
            spend_forged(ctx, "shared").await?;
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
    project
        .webhook
        .verification_token_enc
        .as_deref()
        .map(|enc| decrypt_token(ctx, project, enc))
        .transpose()
}

/// A verification token of the project (current or pending: both under the same context).
pub fn decrypt_token(ctx: &AppContext, project: &Project, enc: &str) -> Result<String, ApiError> {
    Ok(ctx
        .cipher()?
        .decrypt(enc, &ProjectSecret::VerificationToken.context(&project.id))?)
}

/// A verification request at one of the project's URLs. The first token is stored as the
/// project's; once there is one, a new token only waits beside it (an unauthenticated request
/// must never replace a working token), and the owner's confirmation or an event signed with
/// it makes the swap.
async fn receive_token(
    ctx: &AppContext,
    project: &Project,
    key: &str,
    token: &str,
) -> Result<Reply, ApiError> {
    let enc = encrypt_token(ctx, &project.id, token)?;
    let now = iso_from_ms(now_ms());
    let first = project.webhook.verification_token_enc.is_none()
        && store::webhooks::save_first_token(&ctx.db, &project.id, &enc, &now, false).await?;
    if !first {
        store::webhooks::keep_pending_token(&ctx.db, &project.id, &enc, &now).await?;
    }
    if project.webhook.next_webhook_key.as_deref() == Some(key) {
        store::webhooks::mark_next_key_verified(&ctx.db, &project.id, key, &now).await?;
    }
    let note = if first {
        "verification token received"
    } else {
        "verification token kept until confirmed"
    };
    Ok(Reply::json(200, &serde_json::json!({ "ok": true }))
        .project(&project.id)
        .note(note))
}

fn encrypt_token(ctx: &AppContext, project_id: &str, token: &str) -> Result<String, ApiError> {
    Ok(ctx
        .cipher()?
        .encrypt(token, &ProjectSecret::VerificationToken.context(project_id))?)
}

/// Stores a token claimed from the shared URL as the project's first one.
pub async fn save_claimed_token(
    ctx: &AppContext,
    project_id: &str,
    token: &str,
) -> Result<bool, ApiError> {
    let enc = encrypt_token(ctx, project_id, token)?;
    let now = iso_from_ms(now_ms());
    store::webhooks::save_first_token(&ctx.db, project_id, &enc, &now, true).await
}

/// A token at the shared URL says nothing about whose it is: it is bound to the one project
/// that waits for a token right now, if exactly one does, and can be claimed by nobody else.
async fn keep_pending_token(ctx: &AppContext, token: &str) -> Result<Reply, ApiError> {
    let id = secrets::random_id()?;
    let token_enc = ctx.cipher()?.encrypt(token, &format!("pending:{id}"))?;
    let now = now_ms();
    let (received, expires) = (iso_from_ms(now), iso_from_ms(now + PENDING_TOKEN_TTL_MS));
    let bound_to = store::webhooks::only_project_waiting_for_token(&ctx.db).await?;
    store::pending_verifications::keep(
        &ctx.db,
        &PendingToken { id, token_enc },
        bound_to.as_deref(),
        &received,
        &expires,
    )
    .await?;
    let note = if bound_to.is_some() {
        "verification token kept for the one project awaiting one"
    } else {
        "verification token kept for nobody: no single project awaits one"
    };
    Ok(Reply::json(200, &serde_json::json!({ "ok": true })).note(note))
}

/// Takes the one unexpired shared-URL token bound to `project_id`, if there is exactly one.
pub async fn take_pending_token(
    ctx: &AppContext,
    project_id: &str,
) -> Result<PendingClaim, ApiError> {
    let now = iso_from_ms(now_ms());
    let waiting = store::pending_verifications::unexpired_for(&ctx.db, project_id, &now).await?;
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
    // Moved out of the project's database (its event names the new parent): the object knows
    // whether Framer holds the page.
    let moved_page = effect.is_none().then(|| event::moved_page(event)).flatten();
    if let Some(data_source) = event::new_data_source(event, &route.database_id) {
        let known = route
            .data_source_ids
            .iter()
            .any(|id| notion_framer_core::notion::ids::canonical(id) == data_source);
        if !known {
            store::offered_sources::offer(
                &ctx.db,
                &route.project_id,
                &data_source,
                &iso_from_ms(now_ms()),
            )
            .await?;
        }
    }
    let request = IngestRequest {
        project_id: route.project_id.clone(),
        record: EventRecord::new(event, effect.is_some(), now_ms()),
        effect,
        auto_sync: route.auto_sync,
        moved_page,
    };
    let outcome = project_sync::ingest(ctx, &request).await?.as_str();
    Ok(
        Reply::json(200, &serde_json::json!({ "ok": true, "outcome": outcome }))
            .project(&route.project_id)
            .note(format!("{} {outcome}", event.kind)),
    )
}
