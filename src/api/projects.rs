//! Projects: create, list, read (with everything the project page shows), update and delete.

use super::{removals, syncs, Caller, Owned};
use crate::context::{now_ms, AppContext};
use crate::http::{self, Reply};
use crate::notion_api::NotionClient;
use crate::project_sync;
use crate::schema;
use crate::store::{self, projects, sync_runs::SyncRun};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::input::{ProjectInput, SiblingsInput, UnpublishedMode};
use notion_framer_core::api::siblings::{plan_siblings, SiblingPlan};
use notion_framer_core::api::view;
use notion_framer_core::project::Project;
use notion_framer_core::sync::object::RunsRequest;
use notion_framer_core::sync::retention::Policy;
use notion_framer_core::sync::site;
use notion_framer_core::util::secrets::{self, Cipher, ProjectSecret};
use notion_framer_core::util::time::iso_from_ms;
use serde_json::{json, Value};
use worker::Request;

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

/// A credential as stored: encrypted under the project's context, with its hint.
fn stored_secret(
    cipher: &Cipher,
    secret: &str,
    which: ProjectSecret,
    project_id: &str,
) -> Result<projects::StoredSecret, ApiError> {
    Ok(projects::StoredSecret {
        enc: cipher.encrypt(secret, &which.context(project_id))?,
        hint: secrets::hint(secret),
    })
}

pub async fn create(caller: &Caller<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let ctx = caller.ctx;
    let body: Value = http::read_json(req).await?;
    let input = ProjectInput::parse_create(&body)?;
    let paid = caller.account.paid();
    plan_gate(&input, paid)?;
    let id = secrets::random_id()?;
    let webhook_key = secrets::random_token("whk_")?;
    let cipher = ctx.cipher()?;
    let notion_token = input.notion_token.clone().unwrap_or_default();
    let framer_key = input.framer_api_key.clone().unwrap_or_default();
    let given_id = input.notion_database_id.clone().unwrap_or_default();
    let framer_project_url = input.framer_project_url.clone().unwrap_or_default();
    let (database_id, data_source_id, plan) = notion_side(
        ctx,
        &input,
        &caller.account.id,
        &given_id,
        &framer_project_url,
    )
    .await?;
    let notion_secret = stored_secret(&cipher, &notion_token, ProjectSecret::NotionToken, &id)?;
    let framer = stored_secret(&cipher, &framer_key, ProjectSecret::FramerApiKey, &id)?;
    let now = iso_from_ms(now_ms());
    let mapping = input.mapping.clone().flatten().map(|m| m.to_json());
    let filter = stored_filter(ctx, &input, &database_id, data_source_id.as_deref()).await?;
    let slug = input.slug_property.clone().flatten();
    let unpublished_mode = input.unpublished_mode.unwrap_or(UnpublishedMode::Remove);
    let page_body = input.page_body.unwrap_or(false);
    let auto_sync = input.auto_sync.unwrap_or(paid);
    let auto_publish = input.auto_publish.unwrap_or(false);
    projects::create(
        &ctx.db,
        &projects::NewProject {
            id: &id,
            account_id: &caller.account.id,
            name: input.name.as_deref().unwrap_or_default(),
            notion_token_enc: &notion_secret.enc,
            notion_token_hint: &notion_secret.hint,
            notion_database_id: &database_id,
            notion_data_source_id: data_source_id.as_deref(),
            framer_project_url: &framer_project_url,
            framer_api_key_enc: &framer.enc,
            framer_api_key_hint: &framer.hint,
            framer_collection_name: input.framer_collection_name.as_deref().unwrap_or_default(),
            mapping: mapping.as_deref(),
            slug_property: slug.as_deref(),
            publish_filter: filter.as_deref(),
            unpublished_mode,
            page_body,
            auto_sync,
            auto_publish,
            webhook_key: &webhook_key,
            now: &now,
        },
    )
    .await?;
    if let Some(guard) = &input.deletion_guard {
        let update = projects::ProjectUpdate {
            deletion_guard: guard.enabled,
            deletion_guard_percent: guard.percent,
            updated_at: now.clone(),
            ..projects::ProjectUpdate::default()
        };
        projects::update(&ctx.db, &id, &update).await?;
    }
    let template = SiblingTemplate {
        account_id: &caller.account.id,
        notion_token: &notion_token,
        framer_key: &framer_key,
        framer_project_url: &framer_project_url,
        unpublished_mode,
        page_body,
        auto_sync,
        auto_publish,
    };
    let siblings = match &plan {
        Some(plan) => create_siblings(ctx, &template, plan).await?,
        None => (Vec::new(), Vec::new()),
    };
    let project = projects::by_id(&ctx.db, &id)
        .await?
        .ok_or_else(|| ApiError::internal("projects", "project vanished after insert"))?;
    Ok(Reply::json(
        201,
        &json!({
            "project": view(ctx, &project, req).await?,
            "siblings": siblings.0,
            "already_synced": siblings.1,
        }),
    ))
}

/// A create's publish filter, checked against the schema, as stored.
async fn stored_filter(
    ctx: &AppContext,
    input: &ProjectInput,
    database_id: &str,
    data_source_id: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(filter) = input.publish_filter.clone().flatten() else {
        return Ok(None);
    };
    let token = input.notion_token.clone().unwrap_or_default();
    let filter = schema::checked_filter(ctx, token, database_id, data_source_id, &filter).await?;
    Ok(Some(serde_json::to_string(&filter)?))
}

/// The Notion half of a create: the database (the id may be a database's or a data source's,
/// Notion shows both) and, with siblings, the plan checked against the graph. Without siblings
/// a Notion that cannot be read now keeps the id as given, as before: the first run says why.
async fn notion_side(
    ctx: &AppContext,
    input: &ProjectInput,
    account_id: &str,
    given_id: &str,
    framer_project_url: &str,
) -> Result<(String, Option<String>, Option<SiblingPlan>), ApiError> {
    let notion_token = input.notion_token.clone().unwrap_or_default();
    let resolved = if input.siblings.is_empty() {
        let mut once = NotionClient::single_attempt(ctx, notion_token.clone());
        schema::resolve(&mut once, given_id).await.ok()
    } else {
        let mut notion = NotionClient::for_api(ctx, notion_token.clone());
        Some(schema::resolve(&mut notion, given_id).await?)
    };
    let Some(resolved) = resolved else {
        return Ok((given_id.to_owned(), None, None));
    };
    if input.siblings.is_empty() {
        return Ok((resolved.database_id, resolved.data_source_id, None));
    }
    let site = store::projects::site_members(&ctx.db, account_id, framer_project_url).await?;
    let mut notion = NotionClient::for_api(ctx, notion_token);
    let offer = schema::offer(&mut notion, &resolved).await?;
    let taken: Vec<String> = site
        .iter()
        .map(|m| m.collection_name.clone())
        .chain(input.framer_collection_name.clone())
        .collect();
    let plan = plan_siblings(&offer, &input.siblings, &site, taken)?;
    // With siblings, the project syncs the source the graph was read from, named, so that no
    // sibling of the same database ever syncs the same one.
    Ok((resolved.database_id, Some(plan.chosen.clone()), Some(plan)))
}

/// `POST /projects/{id}/siblings`: more data sources of the project's graph (a database's new
/// data source, a relation's target) as projects of its site, with its credentials and settings.
pub async fn add_siblings(owned: &Owned<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    let body: Value = http::read_json(req).await?;
    let ticked = SiblingsInput::parse(&body)?;
    let cipher = ctx.cipher()?;
    let notion_token = cipher.decrypt(
        &project.notion_token_enc,
        &ProjectSecret::NotionToken.context(&project.id),
    )?;
    let framer_key = cipher.decrypt(
        &project.framer_api_key_enc,
        &ProjectSecret::FramerApiKey.context(&project.id),
    )?;
    let mut notion = NotionClient::for_api(ctx, notion_token.clone());
    let resolved = schema::Resolved {
        database_id: project.notion_database_id.clone(),
        data_source_id: project.notion_data_source_id.clone(),
        database: notion.database(&project.notion_database_id).await?,
    };
    let offer = schema::offer(&mut notion, &resolved).await?;
    let site = store::projects::site_of(&ctx.db, &project.id).await?;
    let taken = site.iter().map(|m| m.collection_name.clone()).collect();
    let plan = plan_siblings(&offer, &ticked, &site, taken)?;
    let account_id = store::projects::account_of(&ctx.db, &project.id).await?;
    let template = SiblingTemplate {
        account_id: &account_id,
        notion_token: &notion_token,
        framer_key: &framer_key,
        framer_project_url: &project.framer_project_url,
        unpublished_mode: project.unpublished_mode,
        page_body: project.page_body,
        auto_sync: project.auto_sync,
        auto_publish: project.auto_publish,
    };
    let (created, already) = create_siblings(ctx, &template, &plan).await?;
    store::offered_sources::forget(&ctx.db, &project.id, &plan.ids()).await?;
    Ok(owned.reply(
        201,
        &json!({ "siblings": created, "already_synced": already }),
    ))
}

/// What a sibling copies from the project it comes with.
struct SiblingTemplate<'a> {
    account_id: &'a str,
    notion_token: &'a str,
    framer_key: &'a str,
    framer_project_url: &'a str,
    unpublished_mode: UnpublishedMode,
    page_body: bool,
    auto_sync: bool,
    auto_publish: bool,
}

/// Creates the planned siblings (every check is done: nothing here refuses the request).
async fn create_siblings(
    ctx: &AppContext,
    template: &SiblingTemplate<'_>,
    plan: &SiblingPlan,
) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let cipher = ctx.cipher()?;
    let now = iso_from_ms(now_ms());
    let mut created = Vec::new();
    for sibling in &plan.create {
        let id = secrets::random_id()?;
        let webhook_key = secrets::random_token("whk_")?;
        let notion = stored_secret(
            &cipher,
            template.notion_token,
            ProjectSecret::NotionToken,
            &id,
        )?;
        let framer = stored_secret(
            &cipher,
            template.framer_key,
            ProjectSecret::FramerApiKey,
            &id,
        )?;
        projects::create(
            &ctx.db,
            &projects::NewProject {
                id: &id,
                account_id: template.account_id,
                name: &sibling.name,
                notion_token_enc: &notion.enc,
                notion_token_hint: &notion.hint,
                notion_database_id: &sibling.database_id,
                notion_data_source_id: Some(&sibling.data_source_id),
                framer_project_url: template.framer_project_url,
                framer_api_key_enc: &framer.enc,
                framer_api_key_hint: &framer.hint,
                framer_collection_name: &sibling.name,
                mapping: None,
                slug_property: None,
                publish_filter: None,
                unpublished_mode: template.unpublished_mode,
                page_body: template.page_body,
                auto_sync: template.auto_sync,
                auto_publish: template.auto_publish,
                webhook_key: &webhook_key,
                now: &now,
            },
        )
        .await?;
        created.push(json!({
            "id": id, "name": sibling.name, "data_source_id": sibling.data_source_id,
            "database_id": sibling.database_id, "collection_name": sibling.name,
        }));
    }
    let already = plan
        .already
        .iter()
        .map(|(ds, project)| json!({"data_source_id": ds, "project_id": project}))
        .collect();
    Ok((created, already))
}

/// The project list: one D1 round trip whatever the number of projects.
pub async fn list(caller: &Caller<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (ctx, account_id) = (caller.ctx, &caller.account.id);
    let (projects, last_runs) = projects::list_of_account(&ctx.db, account_id).await?;
    let projects: Vec<Value> = projects
        .iter()
        .map(|project| {
            let last = last_runs.iter().find(|r| r.project_id == project.id);
            summary(ctx, project, req, last)
        })
        .collect();
    Ok(Reply::json(200, &json!({ "projects": projects })))
}

pub async fn get(owned: &Owned<'_>, req: &Request) -> Result<Reply, ApiError> {
    let project = view(owned.ctx, &owned.project, req).await?;
    Ok(owned.reply(200, &json!({ "project": project })))
}

/// The webhook URL of a key, on PUBLIC_BASE_URL or the origin the request came to.
pub fn webhook_url(ctx: &AppContext, key: &str, req: &Request) -> String {
    let base = ctx
        .settings
        .public_base_url
        .clone()
        .unwrap_or_else(|| http::request_origin(req));
    format!("{base}/webhooks/notion/{key}")
}

fn pipeline(project: &Project) -> view::Pipeline {
    view::pipeline(
        project.webhook.status.as_str(),
        project.auto_sync,
        project.paid(),
    )
}

fn summary(
    ctx: &AppContext,
    project: &Project,
    req: &Request,
    last_sync: Option<&SyncRun>,
) -> Value {
    json!({
        "id": project.id, "name": project.name, "created_at": project.created_at,
        "webhook": { "status": project.webhook.status.as_str(), "url": webhook_url(ctx, &project.webhook_key, req) },
        "pipeline": pipeline(project),
        "sync": { "last_sync": last_sync.map(syncs::run_view), "items_in_framer": project.items_in_framer },
    })
}

/// Everything the project page shows.
async fn view(ctx: &AppContext, project: &Project, req: &Request) -> Result<Value, ApiError> {
    let queue = project_sync::queue_status(ctx, &project.id).await?;
    let last_sync = store::sync_runs::latest_for(&ctx.db, &project.id).await?;
    let progress = in_flight(
        ctx,
        &project.id,
        queue.running_sync_id.as_deref(),
        queue.running_since_ms,
        last_sync.as_ref(),
    )
    .await?;
    let items_in_framer = project.items_in_framer;
    let health = alert_health(ctx, &project.id).await?;
    let removals = removals_view(ctx, &project.id, last_sync.as_ref()).await?;
    let webhook = &project.webhook;
    let site_members = store::projects::site_of(&ctx.db, &project.id).await?;
    let offers = store::offered_sources::of_project(&ctx.db, &project.id).await?;
    let offered: Vec<Value> = site::open_offers(&offers, &site_members)
        .iter()
        .map(|(ds, at)| json!({"data_source_id": ds, "offered_at": at}))
        .collect();
    Ok(json!({
        "id": project.id,
        "name": project.name,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
        "plan": project.plan.as_str(),
        "notion": {
            "database_id": project.notion_database_id,
            "data_source_id": project.notion_data_source_id,
            "data_source_ids": project.notion_data_source_ids,
            "token_hint": project.notion_token_hint,
        },
        "framer": {
            "project_url": project.framer_project_url,
            "collection_name": project.framer_collection_name,
            "collection_id": project.framer_collection_id,
            "api_key_hint": project.framer_api_key_hint,
        },
        "mapping": project.mapping.as_ref().map(|m| &m.json),
        "slug_property": project.slug_property,
        "publish_filter": project.publish_filter,
        "unpublished_mode": project.unpublished_mode.as_str(),
        "page_body": project.page_body,
        "deletion_guard": {
            "enabled": project.deletion_guard.enabled,
            "percent": project.deletion_guard.percent,
            "effective_percent": project.deletion_guard.percent.unwrap_or(ctx.settings.deletion_guard_percent),
            "min_items": ctx.settings.deletion_guard_min_items,
        },
        "removals": removals,
        // The projects syncing into the same Framer project, and each one's relations.
        "site": {"projects": site::view(&site_members, &project.id)},
        // Data sources the database gained (`data_source.created`), to add with POST .../siblings.
        "offered_data_sources": offered,
        "webhook": {
            "url": webhook_url(ctx, &project.webhook_key, req),
            "status": webhook.status.as_str(),
            "token_received_at": webhook.token_received_at,
            // A newer verification token waits for "I've verified in Notion".
            "replacement_pending": webhook.pending_token_enc.is_some(),
            "new_token_received_at": webhook.pending_token_received_at,
            // A rotated URL, answering beside `url` until confirmed.
            "next_url": webhook.next_webhook_key.as_deref().map(|key| webhook_url(ctx, key, req)),
            "next_url_verified_at": webhook.next_key_verified_at,
            "activated_at": webhook.activated_at,
            "last_event_at": webhook.last_event_at,
            "events_received": webhook.events_received,
            "events_ignored": webhook.events_ignored,
        },
        "pipeline": pipeline(project),
        "sync": {
            "auto_sync": project.auto_sync,
            "auto_publish": project.auto_publish,
            "auto_sync_active": project.auto_sync_active(),
            "auto_publish_active": project.auto_publish_active(),
            "paused_by_plan": project.paused_by_plan(),
            "last_sync": last_sync.as_ref().map(syncs::run_view),
            "items_in_framer": items_in_framer,
            // Removals the deletion guard holds for review (listed under `removals.held`).
            "removals_held": removals["held"]["count"],
            "pending": {
                "events": queue.pending_events,
                "since": queue.pending_since_ms.map(iso_from_ms),
                "alarm_at": queue.alarm_at_ms.map(iso_from_ms),
                "sync_id": queue.queued_sync_id,
            },
            "retry": retry_view(ctx, &queue),
            "running": queue.running_sync_id.is_some(),
            "running_sync_id": queue.running_sync_id,
            "progress": progress,
        },
        // The counters above are totals; the stored history behind them goes back this far.
        "retention": Policy::from(&ctx.settings).project_view(),
        "freshness": health["freshness"],
        "incidents": health["incidents"],
    }))
}

/// The removals the deletion guard holds for review (with why, from the run that held them)
/// and those the owner chose to keep.
async fn removals_view(
    ctx: &AppContext,
    project_id: &str,
    last_sync: Option<&SyncRun>,
) -> Result<Value, ApiError> {
    let listed = |items: Vec<store::held_removals::Reviewed>| -> Vec<Value> {
        items
            .into_iter()
            .map(|i| json!({"page_id": i.page_id, "title": i.title, "url": notion_framer_core::sync::engine::job::notion_url(&i.page_id), "held_at": i.held_at, "sync_id": i.sync_id}))
            .collect()
    };
    // One query when nothing is held or kept (the usual case); the lists only when there are.
    let (held, kept) = store::held_removals::counts(&ctx.db, project_id).await?;
    let list = |count: i64, state: &'static str| async move {
        if count == 0 {
            return Ok(Vec::new());
        }
        store::held_removals::listed(&ctx.db, project_id, state, removals::LISTED).await
    };
    let held_items = list(held, "held").await?;
    let kept_items = list(kept, "kept").await?;
    // Why: from the record of the run that held them (usually the newest, read already).
    let holder = match held_items.first() {
        None => None,
        Some(first) if last_sync.is_some_and(|r| r.id == first.sync_id) => last_sync.cloned(),
        Some(first) => run_by_id(ctx, project_id, &first.sync_id).await?,
    };
    let reason = holder
        .and_then(|run| serde_json::from_str::<Value>(run.held.as_deref()?).ok())
        .map(|held| held["reason"].clone());
    Ok(json!({
        "held": { "count": held, "reason": reason, "items": listed(held_items) },
        "kept": { "count": kept, "items": listed(kept_items) },
    }))
}

/// A run by id: in D1 when it is in flight or the newest, else in the object's history.
async fn run_by_id(
    ctx: &AppContext,
    project_id: &str,
    sync_id: &str,
) -> Result<Option<SyncRun>, ApiError> {
    if let Some(run) = store::sync_runs::by_id(&ctx.db, project_id, sync_id).await? {
        return Ok(Some(run));
    }
    let request = RunsRequest {
        id: Some(sync_id.to_owned()),
        ..RunsRequest::default()
    };
    Ok(project_sync::runs(ctx, project_id, &request).await?.pop())
}

/// `sync.retry`: null unless the pending work failed; else how many runs failed in a row,
/// since when, when the next attempt is due, and whether retries stopped (then the next
/// event, "Sync now" or the catch-up cron tries again).
fn retry_view(ctx: &AppContext, queue: &notion_framer_core::sync::object::QueueStatus) -> Value {
    if queue.failures == 0 {
        return Value::Null;
    }
    json!({
        "failures": queue.failures,
        "failing_since": queue.failing_since_ms.map(iso_from_ms),
        "next_attempt_at": queue.next_attempt_at_ms.map(iso_from_ms),
        "stopped": queue.retries_stopped,
        "retry_until": queue
            .failing_since_ms
            .map(|since| iso_from_ms(since + ctx.settings.sync_retry_for_ms)),
    })
}

/// `sync.progress`: how far the run in flight got, null when none runs. Its record is almost
/// always the newest run, read already; any other costs one read.
async fn in_flight(
    ctx: &AppContext,
    project_id: &str,
    running_sync_id: Option<&str>,
    running_since_ms: Option<i64>,
    newest: Option<&SyncRun>,
) -> Result<Value, ApiError> {
    let Some(sync_id) = running_sync_id else {
        return Ok(Value::Null);
    };
    let other = match newest {
        Some(run) if run.id == sync_id => None,
        _ => store::sync_runs::by_id(&ctx.db, project_id, sync_id).await?,
    };
    let run = other.as_ref().or(newest.filter(|run| run.id == sync_id));
    Ok(syncs::progress_view(sync_id, run, running_since_ms))
}

/// The cron's last freshness check ("Last checked N min ago" and its warning) and the open
/// alert incidents.
async fn alert_health(ctx: &AppContext, project_id: &str) -> Result<Value, ApiError> {
    let freshness = store::freshness_checks::of_project(&ctx.db, project_id).await?;
    let incidents = store::alert_incidents::of_project(&ctx.db, project_id).await?;
    Ok(json!({
        "freshness": freshness.map(|f| json!({
            "checked_at": f.checked_at,
            "latest_edit_at": f.latest_edit_at,
            "stale": f.stale != 0,
            "warning": f.warning,
        })),
        "incidents": incidents.iter().map(|i| json!({
            "kind": i.kind.as_str(),
            "opened_at": iso_from_ms(i.opened_at_ms),
            "alerted": i.alerted,
            "summary": i.summary,
        })).collect::<Vec<_>>(),
    }))
}

pub async fn update(owned: &Owned<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    let body: Value = http::read_json(req).await?;
    let input = ProjectInput::parse_patch(&body)?;
    plan_gate(&input, project.paid())?;
    let cipher = ctx.cipher()?;
    let secret = |value: &Option<String>, which| {
        value
            .as_deref()
            .map(|v| stored_secret(&cipher, v, which, &project.id))
            .transpose()
    };
    let token = || match &input.notion_token {
        Some(token) => Ok(token.clone()),
        None => cipher.decrypt(
            &project.notion_token_enc,
            &ProjectSecret::NotionToken.context(&project.id),
        ),
    };
    // `database_id` may name one of the database's data sources (Notion shows both ids): the
    // project then syncs that source of its database. An id Notion cannot read now is kept as
    // given, as on create: the next run says why.
    let (given_database, given_source) = match input.notion_database_id.clone() {
        Some(id) if id != project.notion_database_id => {
            let mut once = NotionClient::single_attempt(ctx, token()?);
            match schema::resolve(&mut once, &id).await {
                Ok(resolved) => (Some(resolved.database_id), resolved.data_source_id),
                Err(_) => (Some(id), None),
            }
        }
        other => (other, None),
    };
    // Another database, or another source of the same one: forget what was synced from the
    // old one, as for a new project.
    let new_database = given_database.filter(|d| *d != project.notion_database_id);
    let new_source = given_source.filter(|s| project.notion_data_source_id.as_ref() != Some(s));
    let update = projects::ProjectUpdate {
        name: input.name.clone(),
        notion_token: secret(&input.notion_token, ProjectSecret::NotionToken)?,
        notion_database_id: new_database.clone(),
        notion_data_source_id: new_source.clone(),
        framer_project_url: input.framer_project_url.clone(),
        framer_api_key: secret(&input.framer_api_key, ProjectSecret::FramerApiKey)?,
        framer_collection_name: input
            .framer_collection_name
            .clone()
            .filter(|c| *c != project.framer_collection_name),
        mapping: input.mapping.clone().map(|m| m.map(|m| m.to_json())),
        slug_property: input.slug_property.clone(),
        publish_filter: match input.publish_filter.clone() {
            None => None,
            Some(None) => Some(None),
            Some(Some(filter)) => {
                let database_id = new_database
                    .as_deref()
                    .unwrap_or(&project.notion_database_id);
                let data_source_id = match (&new_source, &new_database) {
                    (Some(source), _) => Some(source.as_str()),
                    (None, Some(_)) => None,
                    (None, None) => project.notion_data_source_id.as_deref(),
                };
                let filter =
                    schema::checked_filter(ctx, token()?, database_id, data_source_id, &filter)
                        .await?;
                Some(Some(serde_json::to_string(&filter)?))
            }
        },
        unpublished_mode: input.unpublished_mode,
        page_body: input.page_body,
        auto_sync: input.auto_sync,
        auto_publish: input.auto_publish,
        deletion_guard: input.deletion_guard.as_ref().and_then(|g| g.enabled),
        deletion_guard_percent: input.deletion_guard.as_ref().and_then(|g| g.percent),
        updated_at: iso_from_ms(now_ms()),
    };
    projects::update(&ctx.db, &project.id, &update).await?;
    let new_notion = new_database.is_some() || new_source.is_some();
    if new_notion {
        store::synced_items::forget_project(&ctx.db, &project.id).await?;
    }
    if new_notion || update.framer_collection_name.is_some() {
        project_sync::cancel_run(ctx, &project.id, new_notion).await?;
    }
    let fresh = projects::by_id(&ctx.db, &project.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("project".to_owned()))?;
    Ok(owned.reply(200, &json!({ "project": view(ctx, &fresh, req).await? })))
}

/// Deleting stops the project's queued work first, then removes its rows and stored secrets.
pub async fn delete(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    project_sync::forget(owned.ctx, &owned.project.id).await?;
    projects::delete(&owned.ctx.db, &owned.project.id).await?;
    Ok(owned.reply(200, &json!({ "deleted": owned.project.id })))
}
