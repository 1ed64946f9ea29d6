//! The dashboard API under `/api/v1`: authentication, then one handler per route.

mod accounts;
mod projects;

use super::context::AppContext;
use super::db;
use super::http::{self, Reply};
use crate::api::error::ApiError;
use crate::api::routes::{Matched, Route};
use crate::util::secrets;
use serde::Deserialize;
use worker::{D1Type, Request};

/// The account a request acts for.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub created_at: String,
}

pub async fn handle(ctx: &AppContext, m: &Matched, req: &mut Request) -> Result<Reply, ApiError> {
    let param = m.param.as_deref().unwrap_or_default();
    let method = req.method().to_string();
    match m.route {
        Route::OpenApi => Ok(Reply::json(200, &openapi())),
        Route::Accounts | Route::Account => {
            require_admin(ctx, req)?;
            accounts::handle_admin(ctx, m.route, &method, param, req).await
        }
        _ => {
            let account = require_account(ctx, req).await?;
            match m.route {
                Route::Tokens | Route::Token => {
                    accounts::handle_tokens(ctx, &account, &method, param).await
                }
                _ => projects::handle(ctx, &account, m.route, &method, param, req).await,
            }
        }
    }
}

/// The OpenAPI document, kept beside the route table and checked against it by a test.
pub fn openapi() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../openapi.json")).unwrap_or_default()
}

fn require_admin(ctx: &AppContext, req: &Request) -> Result<(), ApiError> {
    let presented = http::bearer_token(req).ok_or_else(missing_token)?;
    let admin = ctx.admin_token().ok_or_else(|| {
        ApiError::Forbidden("account management is disabled: ADMIN_TOKEN is not set".to_owned())
    })?;
    if secrets::constant_time_eq(
        &secrets::hash_token(&presented),
        &secrets::hash_token(&admin),
    ) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "this route needs the operator's admin token".to_owned(),
        ))
    }
}

async fn require_account(ctx: &AppContext, req: &Request) -> Result<Account, ApiError> {
    let presented = http::bearer_token(req).ok_or_else(missing_token)?;
    // The lookup is by hash, so timing reveals nothing about stored tokens.
    let hash = secrets::hash_token(&presented);
    db::first(
        &ctx.db,
        "SELECT a.id, a.name, a.plan, a.created_at FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL",
        &[D1Type::Text(&hash)],
    )
    .await?
    .ok_or_else(|| ApiError::Unauthorized("the API token is unknown or revoked".to_owned()))
}

fn missing_token() -> ApiError {
    ApiError::Unauthorized("send `Authorization: Bearer <token>`".to_owned())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}
