//! Dispatch: one route table (`notion_framer_core::api::routes`) naming an operation per method and path, one
//! match that sends every operation to its handler, one place where errors become responses,
//! and one log line per request, carrying the request id an internal error's body quotes.

use super::api::{self, accounts, alerts, projects, removals, syncs, tokens, webhook_setup};
use super::context::{now_ms, AppContext};
use super::http::{self, Reply};
use super::{schema, store, webhook};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::log_line::{self, LogLine};
use notion_framer_core::api::routes::{self, Operation};
use notion_framer_core::util::secrets;
use worker::{console_log, Env, Request, Response};

pub async fn handle(mut req: Request, env: Env) -> Response {
    let started = now_ms();
    let request_id = request_id(&req);
    let method = req.method().to_string();
    let https = http::is_https(&req);
    let matched = routes::resolve(&method, &req.path());
    let mut line = LogLine {
        kind: "request",
        request_id: Some(request_id.clone()),
        route: Some(matched.as_ref().map_or("unmatched", |m| m.pattern)),
        method: Some(method.clone()),
        ..LogLine::default()
    };
    let outcome = match matched {
        Ok(m) => {
            let param = m.param.as_deref().unwrap_or_default();
            let outcome = dispatch(m.operation, param, &mut req, env).await;
            if m.pattern.starts_with("/api/") && method != "GET" {
                // Tokens, auto-sync, plans and databases feed the webhook route cache.
                webhook::forget_cached_routes();
            }
            outcome
        }
        Err(e) => Err(e),
    };
    let response = match outcome {
        Ok(reply) => {
            line.project_id = reply.project_id;
            line.note = reply.note;
            reply.response
        }
        Err(e) => {
            line.error_code = Some(e.code().to_owned());
            line.detail = e.fault().cloned();
            http::error(&e, &request_id)
        }
    };
    http::secure(&response, https);
    line.status = Some(response.status_code());
    line.duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    console_log!("{}", line.to_json());
    response
}

/// Cloudflare's ray id when there is one, else a random id.
fn request_id(req: &Request) -> String {
    let ray = req.headers().get("cf-ray").ok().flatten();
    log_line::request_id_from_ray(ray.as_deref())
        .unwrap_or_else(|| secrets::random_id().unwrap_or_else(|_| format!("t{}", now_ms())))
}

/// Every operation of the route table, each by name: an operation added to the table does not
/// compile until it is handled here.
async fn dispatch(
    operation: Operation,
    param: &str,
    req: &mut Request,
    env: Env,
) -> Result<Reply, ApiError> {
    let ctx = AppContext::new(env);
    // Liveness answers even when the configuration is broken; everything else needs it.
    let ctx = || ctx.as_ref().map_err(Clone::clone);
    match operation {
        Operation::GetLive => Ok(Reply::json(200, &serde_json::json!({ "ok": true }))),
        Operation::GetHealth => health(ctx()?).await,
        Operation::ReceiveProjectWebhook => webhook::for_project(ctx()?, param, req).await,
        Operation::ReceiveSharedWebhook => webhook::shared(ctx()?, req).await,
        Operation::GetOpenApi => Ok(Reply::json(200, &api::openapi())),
        Operation::ListAccounts => accounts::list(&api::admin(ctx()?, req).await?).await,
        Operation::CreateAccount => accounts::create(&api::admin(ctx()?, req).await?, req).await,
        Operation::GetAccount => accounts::get(&api::admin(ctx()?, req).await?, param).await,
        Operation::UpdateAccount => {
            accounts::update(&api::admin(ctx()?, req).await?, param, req).await
        }
        Operation::ListTokens => tokens::list(&api::caller(ctx()?, req).await?).await,
        Operation::CreateToken => tokens::create(&api::caller(ctx()?, req).await?).await,
        Operation::RevokeToken => tokens::revoke(&api::caller(ctx()?, req).await?, param).await,
        Operation::ListProjects => projects::list(&api::caller(ctx()?, req).await?, req).await,
        Operation::CreateProject => projects::create(&api::caller(ctx()?, req).await?, req).await,
        Operation::GetProject => projects::get(&api::owned(ctx()?, req, param).await?, req).await,
        Operation::UpdateProject => {
            projects::update(&api::owned(ctx()?, req, param).await?, req).await
        }
        Operation::DeleteProject => projects::delete(&api::owned(ctx()?, req, param).await?).await,
        Operation::RefreshWebhookToken => {
            webhook_setup::refresh_token(&api::owned(ctx()?, req, param).await?).await
        }
        Operation::ConfirmWebhook => {
            webhook_setup::confirm(&api::owned(ctx()?, req, param).await?, req).await
        }
        Operation::RotateWebhookUrl => {
            webhook_setup::rotate(&api::owned(ctx()?, req, param).await?, req).await
        }
        Operation::SyncNow => syncs::sync_now(&api::owned(ctx()?, req, param).await?).await,
        Operation::ApplyRemovals => removals::apply(&api::owned(ctx()?, req, param).await?).await,
        Operation::DismissRemovals => {
            removals::dismiss(&api::owned(ctx()?, req, param).await?).await
        }
        Operation::ListSyncs => syncs::history(&api::owned(ctx()?, req, param).await?, req).await,
        Operation::GetSchema => schema::handle(&api::owned(ctx()?, req, param).await?).await,
        Operation::AddSiblings => {
            projects::add_siblings(&api::owned(ctx()?, req, param).await?, req).await
        }
        Operation::DiscoverNotionGraph => {
            schema::discover(&api::caller(ctx()?, req).await?, req).await
        }
        Operation::ListAlertDestinations => alerts::list(&api::caller(ctx()?, req).await?).await,
        Operation::CreateAlertDestination => {
            alerts::create(&api::caller(ctx()?, req).await?, req).await
        }
        Operation::GetAlertDestination => {
            alerts::get(&api::caller(ctx()?, req).await?, param).await
        }
        Operation::UpdateAlertDestination => {
            alerts::update(&api::caller(ctx()?, req).await?, param, req).await
        }
        Operation::DeleteAlertDestination => {
            alerts::delete(&api::caller(ctx()?, req).await?, param).await
        }
        Operation::SendTestAlert => alerts::test(&api::caller(ctx()?, req).await?, param).await,
    }
}

/// Liveness plus the two things a deployment most often gets wrong: D1 and its migrations.
async fn health(ctx: &AppContext) -> Result<Reply, ApiError> {
    let version = store::migrations::latest(&ctx.db).await?;
    let body = serde_json::json!({
        "ok": version.is_some(),
        "d1": "reachable",
        "schema_version": version,
    });
    Ok(Reply::json(
        if version.is_some() { 200 } else { 503 },
        &body,
    ))
}
