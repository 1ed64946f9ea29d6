//! Projects: create, read (with everything the project page shows), update, delete, the webhook
//! setup actions and the sync controls.

use super::{internal, Account};
use crate::api::error::ApiError;
use crate::api::input::{ProjectInput, UnpublishedMode};
use crate::api::routes::Route;
use crate::api::view;
use crate::edge::context::{now_ms, AppContext};
use crate::edge::db::{self, ProjectRow};
use crate::edge::http::{self, Reply};
use crate::edge::{project_sync, webhook};
use crate::sync::queue::Trigger;
use crate::sync::retention::Policy;
use crate::util::secrets::{self, ProjectSecret};
use crate::util::time::iso_from_ms;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{D1Type, Request};

pub async fn handle(
    ctx: &AppContext,
    account: &Account,
    route: Route,
    method: &str,
    id: &str,
    req: &mut Request,
) -> Result<Reply, ApiError> {
    if route == Route::Projects {
        return match method {
            "POST" => create(ctx, account, req).await,
            _ => list(ctx, account, req).await,
        };
    }
    let project = db::project_of_account(&ctx.db, &account.id, id).await?;
    let reply = match (route, method) {
        (Route::Project, "GET") => {
            Reply::json(200, &json!({ "project": view(ctx, &project, req).await? }))
        }
        (Route::Project, "PATCH") => update(ctx, &project, req).await?,
        (Route::Project, _) => delete(ctx, &project).await?,
        (Route::WebhookRefreshToken, _) => refresh_token(ctx, &project).await?,
        (Route::WebhookConfirm, _) => confirm(ctx, &project).await?,
        (Route::SyncNow, _) => sync_now(ctx, &project).await?,
        (Route::Syncs, _) => history(ctx, &project, req).await?,
        _ => super::super::schema::handle(ctx, &project).await?,
    };
    Ok(reply.project(&project.id))
}

fn plan_gate(input: &ProjectInput, paid: bool) -> Result<(), ApiError> {
    if paid {
        return Ok(());
    }
    if input.auto_sync == Some(true) {
        return Err(ApiError::PlanRequired(
            "auto-sync needs the paid plan; use \"Sync now\" on the free plan".to_owned(),
        ));
    }
    if input.auto_publish == Some(true) {
        return Err(ApiError::PlanRequired(
            "auto-publish needs the paid plan".to_owned(),
        ));
    }
    Ok(())
}

async fn create(ctx: &AppContext, account: &Account, req: &mut Request) -> Result<Reply, ApiError> {
    let body: Value = http::read_json(req).await?;
    let input = ProjectInput::parse_create(&body)?;
    let paid = account.plan == "paid";
    plan_gate(&input, paid)?;
    let id = secrets::random_id().map_err(internal)?;
    let webhook_key = secrets::random_token("whk_").map_err(internal)?;
    let cipher = ctx.cipher()?;
    let notion_token = input.notion_token.clone().unwrap_or_default();
    let framer_key = input.framer_api_key.clone().unwrap_or_default();
    let notion_enc = cipher
        .encrypt(&notion_token, &ProjectSecret::NotionToken.context(&id))
        .map_err(internal)?;
    let framer_enc = cipher
        .encrypt(&framer_key, &ProjectSecret::FramerApiKey.context(&id))
        .map_err(internal)?;
    let now = iso_from_ms(now_ms());
    let mapping = json_text(input.mapping.clone().flatten().as_ref());
    let filter = json_text(
        input
            .publish_filter
            .clone()
            .flatten()
            .map(|f| serde_json::to_value(f).unwrap_or_default())
            .as_ref(),
    );
    let slug = input.slug_property.clone().flatten();
    db::batch(
        &ctx.db,
        vec![
            db::stmt(
                &ctx.db,
                "INSERT INTO projects (id, account_id, name, notion_token_enc, notion_token_hint, notion_database_id, \
                 framer_project_url, framer_api_key_enc, framer_api_key_hint, framer_collection_name, mapping, slug_property, \
                 publish_filter, unpublished_mode, page_body, auto_sync, auto_publish, webhook_key, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)",
                &[
                    D1Type::Text(&id),
                    D1Type::Text(&account.id),
                    D1Type::Text(input.name.as_deref().unwrap_or_default()),
                    D1Type::Text(&notion_enc),
                    D1Type::Text(&secrets::hint(&notion_token)),
                    D1Type::Text(input.notion_database_id.as_deref().unwrap_or_default()),
                    D1Type::Text(input.framer_project_url.as_deref().unwrap_or_default()),
                    D1Type::Text(&framer_enc),
                    D1Type::Text(&secrets::hint(&framer_key)),
                    D1Type::Text(input.framer_collection_name.as_deref().unwrap_or_default()),
                    db::opt(mapping.as_deref()),
                    db::opt(slug.as_deref()),
                    db::opt(filter.as_deref()),
                    D1Type::Text(input.unpublished_mode.unwrap_or(UnpublishedMode::Remove).as_str()),
                    D1Type::Integer(i32::from(input.page_body.unwrap_or(false))),
                    D1Type::Integer(i32::from(input.auto_sync.unwrap_or(paid))),
                    D1Type::Integer(i32::from(input.auto_publish.unwrap_or(false))),
                    D1Type::Text(&webhook_key),
                    D1Type::Text(&now),
                ],
            )?,
            db::stmt(&ctx.db, "INSERT INTO webhooks (project_id) VALUES (?1)", &[D1Type::Text(&id)])?,
        ],
    )
    .await?;
    let project = db::project_by_id(&ctx.db, &id)
        .await?
        .ok_or_else(|| internal("project vanished after insert"))?;
    Ok(Reply::json(
        201,
        &json!({ "project": view(ctx, &project, req).await? }),
    ))
}

fn json_text(value: Option<&Value>) -> Option<String> {
    value.map(Value::to_string)
}

/// The project list: three queries whatever the number of projects.
async fn list(ctx: &AppContext, account: &Account, req: &Request) -> Result<Reply, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        project_id: String,
        n: i64,
    }
    let account_id = D1Type::Text(&account.id);
    let counts: Vec<Count> = db::all(
        &ctx.db,
        "SELECT project_id, COUNT(*) AS n FROM synced_items \
         WHERE project_id IN (SELECT id FROM projects WHERE account_id = ?1) GROUP BY project_id",
        std::slice::from_ref(&account_id),
    )
    .await?;
    let last_runs: Vec<SyncRun> = db::all(
        &ctx.db,
        &format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE id IN (SELECT (SELECT s.id FROM sync_runs s \
             WHERE s.project_id = p.id ORDER BY s.started_at DESC, s.id DESC LIMIT 1) \
             FROM projects p WHERE p.account_id = ?1)"
        ),
        std::slice::from_ref(&account_id),
    )
    .await?;
    let projects: Vec<Value> = db::projects_of_account(&ctx.db, &account.id)
        .await?
        .iter()
        .map(|project| {
            let items = counts
                .iter()
                .find(|c| c.project_id == project.id)
                .map_or(0, |c| c.n);
            let last = last_runs.iter().find(|r| r.project_id == project.id);
            summary(ctx, project, req, last, items)
        })
        .collect();
    Ok(Reply::json(200, &json!({ "projects": projects })))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SyncRun {
    id: String,
    project_id: String,
    trigger: String,
    scope: String,
    status: String,
    started_at: String,
    finished_at: Option<String>,
    events: i64,
    added: i64,
    updated: i64,
    removed: i64,
    unchanged: i64,
    skipped: i64,
    notion_calls: i64,
    framer_calls: i64,
    bytes_sent: i64,
    published: i64,
    warnings: String,
    error_code: Option<String>,
    error_message: Option<String>,
}

fn run_view(run: &SyncRun) -> Value {
    json!({
        "id": run.id, "trigger": run.trigger, "scope": run.scope, "status": run.status,
        "started_at": run.started_at, "finished_at": run.finished_at, "events": run.events,
        "counts": { "added": run.added, "updated": run.updated, "removed": run.removed, "unchanged": run.unchanged, "skipped": run.skipped },
        "calls": { "notion": run.notion_calls, "framer": run.framer_calls, "bytes_sent_to_framer": run.bytes_sent },
        "published": run.published != 0,
        "warnings": serde_json::from_str::<Value>(&run.warnings).unwrap_or_else(|_| json!([])),
        "error": run.error_code.as_ref().map(|code| json!({ "code": code, "message": run.error_message })),
    })
}

const RUN_COLUMNS: &str = "id, project_id, trigger, scope, status, started_at, finished_at, events, added, updated, removed, unchanged, \
    skipped, notion_calls, framer_calls, bytes_sent, published, warnings, error_code, error_message";

async fn last_run(ctx: &AppContext, project_id: &str) -> Result<Option<SyncRun>, ApiError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = ?1 ORDER BY started_at DESC, id DESC LIMIT 1");
    db::first(&ctx.db, &sql, &[D1Type::Text(project_id)]).await
}

async fn items_in_framer(ctx: &AppContext, project_id: &str) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        n: i64,
    }
    let row: Option<Row> = db::first(
        &ctx.db,
        "SELECT COUNT(*) AS n FROM synced_items WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(row.map_or(0, |r| r.n))
}

fn webhook_url(ctx: &AppContext, project: &ProjectRow, req: &Request) -> String {
    let base = ctx
        .settings
        .public_base_url
        .clone()
        .unwrap_or_else(|| http::request_origin(req));
    format!("{base}/webhooks/notion/{}", project.webhook_key)
}

fn summary(
    ctx: &AppContext,
    project: &ProjectRow,
    req: &Request,
    last_sync: Option<&SyncRun>,
    items_in_framer: i64,
) -> Value {
    let pipeline = view::pipeline(
        &project.webhook_status,
        project.auto_sync != 0,
        project.paid(),
    );
    json!({
        "id": project.id, "name": project.name, "created_at": project.created_at,
        "webhook": { "status": project.webhook_status, "url": webhook_url(ctx, project, req) },
        "pipeline": pipeline,
        "sync": { "last_sync": last_sync.map(run_view), "items_in_framer": items_in_framer },
    })
}

/// Everything the project page shows.
#[allow(clippy::too_many_lines)] // one flat JSON literal, easier to read whole than split
async fn view(ctx: &AppContext, project: &ProjectRow, req: &Request) -> Result<Value, ApiError> {
    let queue = project_sync::queue_status(ctx, &project.id).await?;
    let pipeline = view::pipeline(
        &project.webhook_status,
        project.auto_sync != 0,
        project.paid(),
    );
    let paused_by_plan = !project.paid() && (project.auto_sync != 0 || project.auto_publish != 0);
    Ok(json!({
        "id": project.id,
        "name": project.name,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
        "plan": project.plan,
        "notion": {
            "database_id": project.notion_database_id,
            "data_source_ids": project.data_source_ids(),
            "token_hint": project.notion_token_hint,
        },
        "framer": {
            "project_url": project.framer_project_url,
            "collection_name": project.framer_collection_name,
            "collection_id": project.framer_collection_id,
            "api_key_hint": project.framer_api_key_hint,
        },
        "mapping": project.mapping.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "slug_property": project.slug_property,
        "publish_filter": project.publish_filter.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "unpublished_mode": project.unpublished_mode,
        "page_body": project.page_body != 0,
        "webhook": {
            "url": webhook_url(ctx, project, req),
            "status": project.webhook_status,
            "token_received_at": project.token_received_at,
            "activated_at": project.activated_at,
            "last_event_at": project.last_event_at,
            "events_received": project.events_received,
            "events_ignored": project.events_ignored,
        },
        "pipeline": pipeline,
        "sync": {
            "auto_sync": project.auto_sync != 0,
            "auto_publish": project.auto_publish != 0,
            "auto_sync_active": project.auto_sync_active(),
            "auto_publish_active": project.auto_publish_active(),
            "paused_by_plan": paused_by_plan,
            "last_sync": last_run(ctx, &project.id).await?.as_ref().map(run_view),
            "items_in_framer": items_in_framer(ctx, &project.id).await?,
            "pending": {
                "events": queue.pending_events,
                "since": queue.pending_since_ms.map(iso_from_ms),
                "alarm_at": queue.alarm_at_ms.map(iso_from_ms),
                "sync_id": queue.queued_sync_id,
            },
            "running": queue.running_sync_id.is_some(),
            "running_sync_id": queue.running_sync_id,
        },
        // The counters above are totals; the stored history behind them goes back this far.
        "retention": Policy::from(&ctx.settings).project_view(),
    }))
}

#[allow(clippy::too_many_lines)] // one assignment per patchable column
async fn update(
    ctx: &AppContext,
    project: &ProjectRow,
    req: &mut Request,
) -> Result<Reply, ApiError> {
    let body: Value = http::read_json(req).await?;
    let input = ProjectInput::parse_patch(&body)?;
    plan_gate(&input, project.paid())?;
    let cipher = ctx.cipher()?;
    let mut sets: Vec<(&str, String)> = Vec::new();
    let mut nulls: Vec<&str> = Vec::new();
    if let Some(v) = &input.name {
        sets.push(("name", v.clone()));
    }
    if let Some(token) = &input.notion_token {
        sets.push((
            "notion_token_enc",
            cipher
                .encrypt(token, &ProjectSecret::NotionToken.context(&project.id))
                .map_err(internal)?,
        ));
        sets.push(("notion_token_hint", secrets::hint(token)));
    }
    if let Some(db_id) = &input.notion_database_id {
        if *db_id != project.notion_database_id {
            // Another database: forget what was synced from the old one's data sources.
            sets.push(("notion_database_id", db_id.clone()));
            sets.push(("notion_data_source_ids", "[]".to_owned()));
        }
    }
    if let Some(v) = &input.framer_project_url {
        sets.push(("framer_project_url", v.clone()));
    }
    if let Some(key) = &input.framer_api_key {
        sets.push((
            "framer_api_key_enc",
            cipher
                .encrypt(key, &ProjectSecret::FramerApiKey.context(&project.id))
                .map_err(internal)?,
        ));
        sets.push(("framer_api_key_hint", secrets::hint(key)));
    }
    if let Some(v) = &input.framer_collection_name {
        if *v != project.framer_collection_name {
            sets.push(("framer_collection_name", v.clone()));
            nulls.push("framer_collection_id");
        }
    }
    let mut nullable = |column: &'static str, value: Option<Option<String>>| match value {
        Some(Some(v)) => sets.push((column, v)),
        Some(None) => nulls.push(column),
        None => {}
    };
    nullable(
        "mapping",
        input.mapping.clone().map(|m| m.map(|v| v.to_string())),
    );
    nullable("slug_property", input.slug_property.clone());
    nullable(
        "publish_filter",
        input
            .publish_filter
            .clone()
            .map(|f| f.map(|f| serde_json::to_string(&f).unwrap_or_default())),
    );
    if let Some(mode) = input.unpublished_mode {
        sets.push(("unpublished_mode", mode.as_str().to_owned()));
    }
    for (column, value) in [
        ("page_body", input.page_body),
        ("auto_sync", input.auto_sync),
        ("auto_publish", input.auto_publish),
    ] {
        if let Some(v) = value {
            sets.push((column, if v { "1" } else { "0" }.to_owned()));
        }
    }
    sets.push(("updated_at", iso_from_ms(now_ms())));
    let assignments: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!("{column} = ?{}", i + 2))
        .chain(nulls.iter().map(|c| format!("{c} = NULL")))
        .collect();
    let sql = format!(
        "UPDATE projects SET {} WHERE id = ?1",
        assignments.join(", ")
    );
    let mut args = vec![D1Type::Text(&project.id)];
    args.extend(sets.iter().map(|(_, v)| D1Type::Text(v)));
    db::run(&ctx.db, &sql, &args).await?;
    if input
        .notion_database_id
        .as_ref()
        .is_some_and(|d| *d != project.notion_database_id)
    {
        db::run(
            &ctx.db,
            "DELETE FROM synced_items WHERE project_id = ?1",
            &[D1Type::Text(&project.id)],
        )
        .await?;
    }
    let fresh = db::project_by_id(&ctx.db, &project.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("project".to_owned()))?;
    Ok(Reply::json(
        200,
        &json!({ "project": view(ctx, &fresh, req).await? }),
    ))
}

/// Deleting stops the project's queued work first, then removes its rows and stored secrets.
async fn delete(ctx: &AppContext, project: &ProjectRow) -> Result<Reply, ApiError> {
    project_sync::forget(ctx, &project.id).await?;
    db::run(
        &ctx.db,
        "DELETE FROM projects WHERE id = ?1",
        &[D1Type::Text(&project.id)],
    )
    .await?;
    Ok(Reply::json(200, &json!({ "deleted": project.id })))
}

async fn refresh_token(ctx: &AppContext, project: &ProjectRow) -> Result<Reply, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        n: i64,
    }
    let decrypt = |enc: &str| {
        ctx.cipher()?
            .decrypt(enc, &ProjectSecret::VerificationToken.context(&project.id))
            .map_err(internal)
    };
    if let Some(enc) = &project.verification_token_enc {
        return Ok(Reply::json(
            200,
            &json!({ "token": decrypt(enc)?, "status": project.webhook_status, "received_at": project.token_received_at }),
        ));
    }
    // A token may have reached the shared URL: this project may claim it only when it is the
    // one project waiting for verification, or it could take someone else's subscription.
    let waiting: Option<Row> = db::first(
        &ctx.db,
        "SELECT COUNT(*) AS n FROM webhooks WHERE verification_token_enc IS NULL",
        &[],
    )
    .await?;
    if waiting.map_or(0, |r| r.n) == 1 {
        match webhook::take_pending_token(ctx).await? {
            webhook::PendingClaim::Token(token) => {
                webhook::save_token(ctx, &project.id, &token, true).await?;
                return Ok(Reply::json(
                    200,
                    &json!({ "token": token, "status": "token_received", "received_at": iso_from_ms(now_ms()), "claimed_from_shared_url": true }),
                ));
            }
            webhook::PendingClaim::Ambiguous => {
                return Err(ApiError::Conflict("several verification tokens reached the shared URL; create the Notion subscription with this project's own webhook URL instead".to_owned()));
            }
            webhook::PendingClaim::None => {}
        }
    }
    Ok(Reply::json(
        200,
        &json!({
            "token": null,
            "status": project.webhook_status,
            "message": "No verification token has arrived yet. In your Notion integration's Webhooks tab, create a subscription with this project's webhook URL; Notion then sends the token here. Press Refresh token again afterwards.",
        }),
    ))
}

async fn confirm(ctx: &AppContext, project: &ProjectRow) -> Result<Reply, ApiError> {
    if project.verification_token_enc.is_none() {
        return Err(ApiError::Unprocessable {
            code: "no_verification_token",
            message: "Notion has not sent a verification token for this project yet: create the subscription in Notion with this project's webhook URL first".to_owned(),
        });
    }
    let now = iso_from_ms(now_ms());
    db::run(
        &ctx.db,
        "UPDATE webhooks SET status = 'active', activated_at = COALESCE(activated_at, ?1) WHERE project_id = ?2",
        &[D1Type::Text(&now), D1Type::Text(&project.id)],
    )
    .await?;
    Ok(Reply::json(200, &json!({ "status": "active" })))
}

async fn sync_now(ctx: &AppContext, project: &ProjectRow) -> Result<Reply, ApiError> {
    let ticket = project_sync::request_sync(ctx, &project.id, Trigger::Manual, true).await?;
    let status = if ticket.already_running {
        "running"
    } else {
        "queued"
    };
    Ok(Reply::json(
        202,
        &json!({ "sync_id": ticket.sync_id, "status": status, "already_running": ticket.already_running }),
    ))
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    started_at: String,
    id: String,
}

async fn history(ctx: &AppContext, project: &ProjectRow, req: &Request) -> Result<Reply, ApiError> {
    let url = req.url().map_err(internal)?;
    let mut limit = 20usize;
    let mut cursor: Option<Cursor> = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::validation(
                            "limit",
                            "`limit` must be a whole number from 1 to 100",
                        )
                    })?;
            }
            "cursor" => {
                let decoded = URL_SAFE_NO_PAD
                    .decode(value.as_bytes())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                cursor = Some(decoded.ok_or_else(|| {
                    ApiError::validation("cursor", "`cursor` is not one this API returned")
                })?);
            }
            _ => {}
        }
    }
    let (after_started, after_id) = cursor.as_ref().map_or(("\u{10FFFF}", ""), |c| {
        (c.started_at.as_str(), c.id.as_str())
    });
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM sync_runs WHERE project_id = ?1 AND (started_at < ?2 OR (started_at = ?2 AND id < ?3)) \
         ORDER BY started_at DESC, id DESC LIMIT ?4"
    );
    let fetch = i32::try_from(limit + 1).unwrap_or(101);
    let mut runs: Vec<SyncRun> = db::all(
        &ctx.db,
        &sql,
        &[
            D1Type::Text(&project.id),
            D1Type::Text(after_started),
            D1Type::Text(if cursor.is_some() {
                after_id
            } else {
                "\u{10FFFF}"
            }),
            D1Type::Integer(fetch),
        ],
    )
    .await?;
    let next = if runs.len() > limit {
        runs.truncate(limit);
        runs.last().map(|r| {
            URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&Cursor {
                    started_at: r.started_at.clone(),
                    id: r.id.clone(),
                })
                .unwrap_or_default(),
            )
        })
    } else {
        None
    };
    Ok(Reply::json(
        200,
        &json!({
            "syncs": runs.iter().map(run_view).collect::<Vec<_>>(),
            "next_cursor": next,
            "retention": Policy::from(&ctx.settings).history_view(),
        }),
    ))
}
