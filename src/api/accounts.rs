//! Accounts, for the operator (admin token): list, create (with a first API token), read, and
//! rename or change plan.

use super::{tokens, Admin};
use crate::context::now_ms;
use crate::http::{self, Reply};
use crate::store;
use notion_framer_core::api::account::{Account, Plan};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::util::secrets;
use notion_framer_core::util::time::iso_from_ms;
use serde_json::{json, Value};
use worker::Request;

pub async fn list(admin: &Admin<'_>) -> Result<Reply, ApiError> {
    let accounts = store::accounts::list(&admin.ctx.db).await?;
    Ok(Reply::json(
        200,
        &json!({ "accounts": accounts.iter().map(Account::view).collect::<Vec<_>>() }),
    ))
}

pub async fn get(admin: &Admin<'_>, id: &str) -> Result<Reply, ApiError> {
    let account = find(admin, id).await?;
    Ok(Reply::json(200, &json!({ "account": account.view() })))
}

async fn find(admin: &Admin<'_>, id: &str) -> Result<Account, ApiError> {
    store::accounts::by_id(&admin.ctx.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("account".to_owned()))
}

fn name_field(body: &Value) -> Result<Option<String>, ApiError> {
    match body.get("name") {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 100 => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => Err(ApiError::validation(
            "name",
            "`name` must be a non-empty string of at most 100 characters",
        )),
    }
}

fn plan_field(body: &Value) -> Result<Option<Plan>, ApiError> {
    match body.get("plan").map(Value::as_str) {
        None => Ok(None),
        Some(Some(text)) if Plan::parse(text).is_some() => Ok(Plan::parse(text)),
        Some(_) => Err(ApiError::validation(
            "plan",
            "`plan` must be \"free\" or \"paid\"",
        )),
    }
}

/// The account and its first API token, stored together; the token is shown this once.
pub async fn create(admin: &Admin<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let body: Value = http::read_json(req).await?;
    if !body.is_object() {
        return Err(ApiError::validation("body", "expected a JSON object"));
    }
    let name =
        name_field(&body)?.ok_or_else(|| ApiError::validation("name", "`name` is required"))?;
    let account = Account {
        id: secrets::random_id()?,
        name,
        plan: plan_field(&body)?.unwrap_or(Plan::Free),
        created_at: iso_from_ms(now_ms()),
    };
    let token = tokens::NewToken::generate(&account.id, &account.created_at)?;
    store::accounts::create(&admin.ctx.db, &account, &token.row()).await?;
    Ok(Reply::json(
        201,
        &json!({ "account": account.view(), "token": token.shown() }),
    ))
}

/// Changing the plan needs no project writes: auto-sync and auto-publish are derived from the
/// plan at use, so a downgrade pauses them and an upgrade restores the projects' own choice.
pub async fn update(admin: &Admin<'_>, id: &str, req: &mut Request) -> Result<Reply, ApiError> {
    let body: Value = http::read_json(req).await?;
    if !body.is_object() {
        return Err(ApiError::validation("body", "expected a JSON object"));
    }
    if let Some(unknown) = body
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .find(|k| *k != "name" && *k != "plan")
    {
        return Err(ApiError::validation(
            unknown,
            format!("unknown field `{unknown}`"),
        ));
    }
    let mut account = find(admin, id).await?;
    if let Some(name) = name_field(&body)? {
        account.name = name;
    }
    if let Some(plan) = plan_field(&body)? {
        account.plan = plan;
    }
    store::accounts::update(&admin.ctx.db, &account).await?;
    Ok(Reply::json(200, &json!({ "account": account.view() })))
}
