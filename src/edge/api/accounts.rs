//! Accounts (operator only) and an account's API tokens.

use super::{internal, Account};
use crate::api::error::ApiError;
use crate::api::routes::Route;
use crate::edge::context::{now_ms, AppContext};
use crate::edge::db;
use crate::edge::http::{self, Reply};
use crate::util::secrets;
use crate::util::time::iso_from_ms;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{D1Type, Request};

pub async fn handle_admin(
    ctx: &AppContext,
    route: Route,
    method: &str,
    id: &str,
    req: &mut Request,
) -> Result<Reply, ApiError> {
    match (route, method) {
        (Route::Accounts, "POST") => create(ctx, &http::read_json(req).await?).await,
        (Route::Accounts, _) => {
            let rows: Vec<Account> = db::all(
                &ctx.db,
                "SELECT id, name, plan, created_at FROM accounts ORDER BY created_at, id",
                &[],
            )
            .await?;
            Ok(Reply::json(
                200,
                &json!({ "accounts": rows.iter().map(view).collect::<Vec<_>>() }),
            ))
        }
        (_, "PATCH") => update(ctx, id, &http::read_json(req).await?).await,
        _ => Ok(Reply::json(
            200,
            &json!({ "account": view(&find(ctx, id).await?) }),
        )),
    }
}

fn view(a: &Account) -> Value {
    json!({ "id": a.id, "name": a.name, "plan": a.plan, "created_at": a.created_at })
}

async fn find(ctx: &AppContext, id: &str) -> Result<Account, ApiError> {
    db::first(
        &ctx.db,
        "SELECT id, name, plan, created_at FROM accounts WHERE id = ?1",
        &[D1Type::Text(id)],
    )
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

fn plan_field(body: &Value) -> Result<Option<&'static str>, ApiError> {
    match body.get("plan").map(Value::as_str) {
        None => Ok(None),
        Some(Some("free")) => Ok(Some("free")),
        Some(Some("paid")) => Ok(Some("paid")),
        Some(_) => Err(ApiError::validation(
            "plan",
            "`plan` must be \"free\" or \"paid\"",
        )),
    }
}

async fn create(ctx: &AppContext, body: &Value) -> Result<Reply, ApiError> {
    if !body.is_object() {
        return Err(ApiError::validation("body", "expected a JSON object"));
    }
    let name =
        name_field(body)?.ok_or_else(|| ApiError::validation("name", "`name` is required"))?;
    let plan = plan_field(body)?.unwrap_or("free");
    let id = secrets::random_id().map_err(internal)?;
    let now = iso_from_ms(now_ms());
    let account = Account {
        id,
        name,
        plan: plan.to_owned(),
        created_at: now.clone(),
    };
    let (token, token_stmt) = new_token_statement(ctx, &account.id, &now)?;
    db::batch(
        &ctx.db,
        vec![
            db::stmt(
                &ctx.db,
                "INSERT INTO accounts (id, name, plan, created_at) VALUES (?1, ?2, ?3, ?4)",
                &[
                    D1Type::Text(&account.id),
                    D1Type::Text(&account.name),
                    D1Type::Text(plan),
                    D1Type::Text(&now),
                ],
            )?,
            token_stmt,
        ],
    )
    .await?;
    Ok(Reply::json(
        201,
        &json!({ "account": view(&account), "token": token }),
    ))
}

/// Changing the plan needs no project writes: auto-sync and auto-publish are derived from the
/// plan at use, so a downgrade pauses them and an upgrade restores the projects' own choice.
async fn update(ctx: &AppContext, id: &str, body: &Value) -> Result<Reply, ApiError> {
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
    let mut account = find(ctx, id).await?;
    if let Some(name) = name_field(body)? {
        account.name = name;
    }
    if let Some(plan) = plan_field(body)? {
        account.plan = plan.to_owned();
    }
    db::run(
        &ctx.db,
        "UPDATE accounts SET name = ?1, plan = ?2 WHERE id = ?3",
        &[
            D1Type::Text(&account.name),
            D1Type::Text(&account.plan),
            D1Type::Text(id),
        ],
    )
    .await?;
    Ok(Reply::json(200, &json!({ "account": view(&account) })))
}

#[derive(Serialize, Deserialize)]
struct TokenRow {
    id: String,
    hint: String,
    created_at: String,
    revoked_at: Option<String>,
}

/// A fresh token and the statement that stores its hash. The token itself is returned once.
fn new_token_statement(
    ctx: &AppContext,
    account_id: &str,
    now: &str,
) -> Result<(Value, worker::D1PreparedStatement), ApiError> {
    let token = secrets::random_token("nfs_").map_err(internal)?;
    let id = secrets::random_id().map_err(internal)?;
    let hint = secrets::hint(&token);
    let stmt = db::stmt(
        &ctx.db,
        "INSERT INTO api_tokens (id, account_id, token_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[D1Type::Text(&id), D1Type::Text(account_id), D1Type::Text(&secrets::hash_token(&token)), D1Type::Text(&hint), D1Type::Text(now)],
    )?;
    Ok((
        json!({ "id": id, "token": token, "hint": hint, "created_at": now }),
        stmt,
    ))
}

pub async fn handle_tokens(
    ctx: &AppContext,
    account: &Account,
    method: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    match method {
        "POST" => {
            let now = iso_from_ms(now_ms());
            let (token, stmt) = new_token_statement(ctx, &account.id, &now)?;
            db::batch(&ctx.db, vec![stmt]).await?;
            Ok(Reply::json(201, &json!({ "token": token })))
        }
        "DELETE" => {
            let now = iso_from_ms(now_ms());
            let changed = db::run(
                &ctx.db,
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2 AND account_id = ?3",
                &[D1Type::Text(&now), D1Type::Text(id), D1Type::Text(&account.id)],
            )
            .await?;
            if changed == 0 {
                return Err(ApiError::NotFound("token".to_owned()));
            }
            Ok(Reply::json(200, &json!({ "revoked": id })))
        }
        _ => {
            let rows: Vec<TokenRow> = db::all(
                &ctx.db,
                "SELECT id, hint, created_at, revoked_at FROM api_tokens WHERE account_id = ?1 ORDER BY created_at, id",
                &[D1Type::Text(&account.id)],
            )
            .await?;
            Ok(Reply::json(
                200,
                &json!({ "account": view(account), "tokens": rows }),
            ))
        }
    }
}
