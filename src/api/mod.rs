//! The dashboard API under `/api/v1`: who may call an operation (the scopes below, which the
//! router asks for by operation), then one handler per operation in the modules.

pub mod accounts;
pub mod alerts;
pub mod projects;
pub mod removals;
pub mod syncs;
pub mod tokens;
pub mod webhook_setup;

use super::context::AppContext;
use super::http::{self, Reply};
use super::rate_limit;
use super::store;
use notion_framer_core::api::account::Account;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::rate_limit::{self as limits, Limit};
use notion_framer_core::project::Project;
use notion_framer_core::util::secrets;
use worker::Request;

/// The OpenAPI document, kept beside the route table and checked against it by a test;
/// embedded without its whitespace (`build.rs`).
pub fn openapi() -> serde_json::Value {
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json")))
        .unwrap_or_default()
}

/// A request that presented the operator's admin token.
pub struct Admin<'a> {
    pub ctx: &'a AppContext,
}

/// A request that presented an account's API token.
pub struct Caller<'a> {
    pub ctx: &'a AppContext,
    pub account: Account,
}

/// A request about one of the caller's projects.
pub struct Owned<'a> {
    pub ctx: &'a AppContext,
    pub project: Project,
}

impl Owned<'_> {
    /// A reply whose log line names the project.
    pub fn reply(&self, status: u16, value: &serde_json::Value) -> Reply {
        Reply::json(status, value).project(&self.project.id)
    }
}

pub async fn admin<'a>(ctx: &'a AppContext, req: &Request) -> Result<Admin<'a>, ApiError> {
    let presented = http::bearer_token(req).ok_or_else(missing_token)?;
    let admin = ctx.admin_token().ok_or_else(|| {
        ApiError::Forbidden("account management is disabled: ADMIN_TOKEN is not set".to_owned())
    })?;
    if secrets::constant_time_eq(
        &secrets::hash_token(&presented),
        &secrets::hash_token(&admin),
    ) {
        Ok(Admin { ctx })
    } else {
        Err(failed_authentication(
            ctx,
            req,
            &presented,
            ApiError::Unauthorized("this route needs the operator's admin token".to_owned()),
        )
        .await)
    }
}

pub async fn caller<'a>(ctx: &'a AppContext, req: &Request) -> Result<Caller<'a>, ApiError> {
    let presented = http::bearer_token(req).ok_or_else(missing_token)?;
    // The lookup is by hash, so timing reveals nothing about stored tokens.
    let Some(account) =
        store::accounts::by_token_hash(&ctx.db, &secrets::hash_token(&presented)).await?
    else {
        let unknown = ApiError::Unauthorized("the API token is unknown or revoked".to_owned());
        return Err(failed_authentication(ctx, req, &presented, unknown).await);
    };
    Ok(Caller { ctx, account })
}

/// A presented token was wrong: counted per client IP and per token prefix, so that guessing
/// is slowed wherever it comes from; over either limit the answer is 429 instead of `error`.
/// (A request with no token at all guesses nothing and is not counted.)
async fn failed_authentication(
    ctx: &AppContext,
    req: &Request,
    presented: &str,
    error: ApiError,
) -> ApiError {
    let ip = req.headers().get("cf-connecting-ip").ok().flatten();
    for key in [
        limits::client_key(ip.as_deref()),
        limits::token_prefix_key(presented),
    ] {
        if let Err(limited) = rate_limit::spend(&ctx.env, Limit::FailedAuth, &key).await {
            return limited;
        }
    }
    error
}

/// The caller's project `project_id`; another account's project is not found.
pub async fn owned<'a>(
    ctx: &'a AppContext,
    req: &Request,
    project_id: &str,
) -> Result<Owned<'a>, ApiError> {
    let caller = caller(ctx, req).await?;
    let project = store::projects::of_account(&ctx.db, &caller.account.id, project_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("project".to_owned()))?;
    Ok(Owned { ctx, project })
}

fn missing_token() -> ApiError {
    ApiError::Unauthorized("send `Authorization: Bearer <token>`".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_document_is_openapi_json() {
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../openapi.json")).unwrap();
        assert_eq!(super::openapi(), file);
    }
}
