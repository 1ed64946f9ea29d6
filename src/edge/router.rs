//! Dispatch: one route table (`crate::api::routes`), one place where errors become responses, one log
//! line per request.

use super::context::{now_ms, AppContext};
use super::http::{self, Reply};
use super::{api, db, webhook};
use crate::api::error::ApiError;
use crate::api::log_line::LogLine;
use crate::api::routes::{self, Matched, Route};
use worker::{console_log, Env, Method, Request, Response};

pub async fn handle(mut req: Request, env: Env) -> Response {
    let started = now_ms();
    let method = req.method().to_string();
    let matched = routes::resolve(&method, &req.path());
    let pattern = matched.as_ref().map_or("unmatched", |m| m.pattern);
    let outcome = match matched {
        Ok(m) => dispatch(&m, &mut req, env).await,
        Err(e) => Err(e),
    };
    let mut line = LogLine {
        kind: "request",
        route: Some(pattern),
        method: Some(method),
        ..LogLine::default()
    };
    let response = match outcome {
        Ok(reply) => {
            line.project_id = reply.project_id;
            line.note = reply.note;
            reply.response
        }
        Err(e) => {
            line.error_code = Some(e.code().to_owned());
            if let ApiError::Internal(detail) = &e {
                line.note = Some(detail.clone());
            }
            http::error(&e)
        }
    };
    line.status = Some(response.status_code());
    line.duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    console_log!("{}", line.to_json());
    response
}

async fn dispatch(m: &Matched, req: &mut Request, env: Env) -> Result<Reply, ApiError> {
    if m.route == Route::Live {
        return Ok(Reply::json(200, &serde_json::json!({ "ok": true })));
    }
    let ctx = AppContext::new(env)?;
    let param = m.param.as_deref().unwrap_or_default();
    match m.route {
        Route::Health => health(&ctx).await,
        Route::WebhookForProject => webhook::for_project(&ctx, param, req).await,
        Route::WebhookShared => webhook::shared(&ctx, req).await,
        _ => {
            let changes_state = req.method() != Method::Get;
            let reply = api::handle(&ctx, m, req).await;
            if changes_state {
                // Tokens, auto-sync, plans and databases feed the webhook route cache.
                webhook::forget_cached_routes();
            }
            reply
        }
    }
}

/// Liveness plus the two things a deployment most often gets wrong: D1 and its migrations.
async fn health(ctx: &AppContext) -> Result<Reply, ApiError> {
    let version = db::schema_version(&ctx.db).await?;
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
