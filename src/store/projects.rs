//! `projects`: each project's Notion and Framer settings (credentials encrypted), read joined
//! with the account's plan and the project's `webhooks` row and typed once as a `Project`.

use super::sync_runs::{self, SyncRun};
use super::{d1, webhooks};
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::input::UnpublishedMode;
use notion_framer_core::notion::ids;
use notion_framer_core::project::{Project, ProjectRow};
use notion_framer_core::sync::mapping::{Mapping, SyncedCollections};
use notion_framer_core::sync::site::SiteMember;
use serde::Deserialize;
use std::collections::BTreeMap;
use worker::{D1PreparedStatement, D1Type};

const PROJECT_SELECT: &str = "SELECT p.*, a.plan AS plan, w.status AS webhook_status, \
    w.verification_token_enc, w.token_received_at, w.activated_at, w.last_event_at, \
    w.events_received, w.events_ignored, w.via_shared_url, \
    w.pending_token_enc, w.pending_token_received_at, w.next_webhook_key, w.next_key_verified_at \
    FROM projects p JOIN accounts a ON a.id = p.account_id JOIN webhooks w ON w.project_id = p.id";

async fn one(db: &Db, filter: &str, args: &[D1Type<'_>]) -> Result<Option<Project>, ApiError> {
    let row: Option<ProjectRow> =
        d1::first(db, &format!("{PROJECT_SELECT} {filter}"), args).await?;
    Ok(row.map(Project::try_from).transpose()?)
}

async fn many(db: &Db, filter: &str, args: &[D1Type<'_>]) -> Result<Vec<Project>, ApiError> {
    let rows: Vec<ProjectRow> = d1::all(db, &format!("{PROJECT_SELECT} {filter}"), args).await?;
    Ok(rows
        .into_iter()
        .map(Project::try_from)
        .collect::<Result<_, _>>()?)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Project>, ApiError> {
    one(db, "WHERE p.id = ?1", &[D1Type::Text(id)]).await
}

/// The project `id` if it belongs to the account (another account's project does not exist).
/// Whether a project with this id exists (without reading it).
pub async fn exists(db: &Db, id: &str) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        found: i64,
    }
    let row: Option<Row> = d1::first(
        db,
        "SELECT EXISTS (SELECT 1 FROM projects WHERE id = ?1) AS found",
        &[D1Type::Text(id)],
    )
    .await?;
    Ok(row.is_some_and(|r| r.found != 0))
}

pub async fn of_account(db: &Db, account_id: &str, id: &str) -> Result<Option<Project>, ApiError> {
    one(
        db,
        "WHERE p.id = ?1 AND p.account_id = ?2",
        &[D1Type::Text(id), D1Type::Text(account_id)],
    )
    .await
}

/// The account's projects and the newest run of each, in one round trip (a batch of two
/// statements: one query as D1 counts them).
pub async fn list_of_account(
    db: &Db,
    account_id: &str,
) -> Result<(Vec<Project>, Vec<SyncRun>), ApiError> {
    let statements = vec![
        d1::stmt(
            db,
            &format!("{PROJECT_SELECT} WHERE p.account_id = ?1 ORDER BY p.created_at, p.id"),
            &[D1Type::Text(account_id)],
        )?,
        sync_runs::latest_of_account(db, account_id)?,
    ];
    let results = d1::batch_results(db, statements).await?;
    let (Some(projects), Some(runs)) = (results.first(), results.get(1)) else {
        return Err(ApiError::internal(
            "projects",
            "a batch of two answered fewer",
        ));
    };
    let projects = d1::rows::<ProjectRow>(projects)?
        .into_iter()
        .map(Project::try_from)
        .collect::<Result<_, _>>()?;
    Ok((projects, d1::rows::<SyncRun>(runs)?))
}

/// The project behind a webhook key: its current one, or the rotated one not yet confirmed.
pub async fn by_webhook_key(db: &Db, key: &str) -> Result<Option<Project>, ApiError> {
    one(
        db,
        "WHERE p.webhook_key = ?1 OR w.next_webhook_key = ?1",
        &[D1Type::Text(key)],
    )
    .await
}

/// The confirmed rotation: the rotated key becomes the project's only one (a statement for
/// `webhooks::confirm`'s batch, before the rotated key is cleared there).
pub fn promote_next_webhook_key(db: &Db, id: &str) -> Result<D1PreparedStatement, ApiError> {
    d1::stmt(
        db,
        "UPDATE projects SET webhook_key = (SELECT next_webhook_key FROM webhooks WHERE project_id = ?1) \
         WHERE id = ?1 AND EXISTS (SELECT 1 FROM webhooks WHERE project_id = ?1 AND next_webhook_key IS NOT NULL)",
        &[D1Type::Text(id)],
    )
}

/// Projects an event on the shared URL may belong to: connected to one of `refs` (database or
/// data source ids), or whose token was claimed from the shared URL.
pub async fn for_shared_event(db: &Db, refs: &[String]) -> Result<Vec<Project>, ApiError> {
    let refs_json = serde_json::to_string(refs)?;
    many(
        db,
        "WHERE w.verification_token_enc IS NOT NULL AND (w.via_shared_url = 1 \
         OR p.notion_database_id IN (SELECT value FROM json_each(?1)) \
         OR EXISTS (SELECT 1 FROM json_each(p.notion_data_source_ids) ds \
                    WHERE ds.value IN (SELECT value FROM json_each(?1)))) \
         ORDER BY w.via_shared_url DESC, p.created_at",
        &[D1Type::Text(&refs_json)],
    )
    .await
}

/// Projects whose catch-up sync is due: auto-sync on, plan paid, no success since `?1`.
const CATCH_UP_DUE: &str = "WHERE p.auto_sync = 1 AND a.plan = 'paid' \
     AND COALESCE(p.last_success_started_at, '') < ?1";

/// Up to `limit` projects whose catch-up sync is due (no success since `before`), the least
/// recently served by the cron first, and how many are due in all; one D1 round trip.
pub async fn due_for_catch_up(
    db: &Db,
    before: &str,
    limit: usize,
) -> Result<(Vec<Project>, usize), ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let turn = "(SELECT t.served_at FROM catch_up_turns t WHERE t.project_id = p.id)";
    let list = d1::stmt(
        db,
        &format!(
            "{PROJECT_SELECT} {CATCH_UP_DUE} ORDER BY {turn} IS NOT NULL, {turn}, p.id LIMIT ?2"
        ),
        &[D1Type::Text(before), d1::int(limit)],
    )?;
    let count = d1::stmt(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM projects p JOIN accounts a ON a.id = p.account_id {CATCH_UP_DUE}"
        ),
        &[D1Type::Text(before)],
    )?;
    let results = d1::batch_results(db, vec![list, count]).await?;
    let (Some(list), Some(count)) = (results.first(), results.get(1)) else {
        return Ok((Vec::new(), 0));
    };
    let projects = d1::rows::<ProjectRow>(list)?
        .into_iter()
        .map(Project::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let due = d1::rows::<Count>(count)?
        .first()
        .map_or(0, |c| usize::try_from(c.n).unwrap_or(0));
    let due = due.max(projects.len());
    Ok((projects, due))
}

/// Records that the cron queued these projects' catch-up syncs at `now` (their turn is over).
pub async fn served_catch_up(db: &Db, ids: &[String], now: &str) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(ids)?;
    d1::run(
        db,
        "INSERT INTO catch_up_turns (project_id, served_at) \
         SELECT value, ?2 FROM json_each(?1) WHERE value IN (SELECT id FROM projects) \
         ON CONFLICT (project_id) DO UPDATE SET served_at = excluded.served_at",
        &[D1Type::Text(&ids), D1Type::Text(now)],
    )
    .await
    .map(|_| ())
}

/// A project about to be created; secrets arrive encrypted, JSON settings as text.
pub struct NewProject<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub name: &'a str,
    pub notion_token_enc: &'a str,
    pub notion_token_hint: &'a str,
    pub notion_database_id: &'a str,
    /// Known at creation when the request named a data source, or for a sibling project.
    pub notion_data_source_id: Option<&'a str>,
    pub framer_project_url: &'a str,
    pub framer_api_key_enc: &'a str,
    pub framer_api_key_hint: &'a str,
    pub framer_collection_name: &'a str,
    pub mapping: Option<&'a str>,
    pub slug_property: Option<&'a str>,
    pub publish_filter: Option<&'a str>,
    pub unpublished_mode: UnpublishedMode,
    pub page_body: bool,
    pub auto_sync: bool,
    pub auto_publish: bool,
    pub webhook_key: &'a str,
    pub now: &'a str,
}

/// Stores the project and its webhook row together.
pub async fn create(db: &Db, p: &NewProject<'_>) -> Result<(), ApiError> {
    let insert = d1::stmt(
        db,
        "INSERT INTO projects (id, account_id, name, notion_token_enc, notion_token_hint, notion_database_id, \
         framer_project_url, framer_api_key_enc, framer_api_key_hint, framer_collection_name, mapping, slug_property, \
         publish_filter, unpublished_mode, page_body, auto_sync, auto_publish, webhook_key, created_at, updated_at, \
         notion_data_source_id, notion_data_source_ids) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19, ?20, \
         CASE WHEN ?20 IS NULL THEN '[]' ELSE json_array(?20) END)",
        &[
            D1Type::Text(p.id),
            D1Type::Text(p.account_id),
            D1Type::Text(p.name),
            D1Type::Text(p.notion_token_enc),
            D1Type::Text(p.notion_token_hint),
            D1Type::Text(p.notion_database_id),
            D1Type::Text(p.framer_project_url),
            D1Type::Text(p.framer_api_key_enc),
            D1Type::Text(p.framer_api_key_hint),
            D1Type::Text(p.framer_collection_name),
            d1::opt(p.mapping),
            d1::opt(p.slug_property),
            d1::opt(p.publish_filter),
            D1Type::Text(p.unpublished_mode.as_str()),
            D1Type::Integer(i32::from(p.page_body)),
            D1Type::Integer(i32::from(p.auto_sync)),
            D1Type::Integer(i32::from(p.auto_publish)),
            D1Type::Text(p.webhook_key),
            D1Type::Text(p.now),
            d1::opt(p.notion_data_source_id),
        ],
    )?;
    d1::batch(db, vec![insert, webhooks::insert(db, p.id)?]).await
}

/// A secret as stored: the ciphertext and the hint the API shows.
pub struct StoredSecret {
    pub enc: String,
    pub hint: String,
}

/// A PATCH: `None` leaves a column as it is; for nullable columns `Some(None)` clears it.
#[derive(Default)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub notion_token: Option<StoredSecret>,
    /// Another database: the data sources resolved for the old one are forgotten.
    pub notion_database_id: Option<String>,
    /// Another data source (of the new database, or of the same one): the one to sync.
    pub notion_data_source_id: Option<String>,
    pub framer_project_url: Option<String>,
    pub framer_api_key: Option<StoredSecret>,
    /// Another collection: the id found for the old one is forgotten.
    pub framer_collection_name: Option<String>,
    pub mapping: Option<Option<String>>,
    pub slug_property: Option<Option<String>>,
    pub publish_filter: Option<Option<String>>,
    pub unpublished_mode: Option<UnpublishedMode>,
    pub page_body: Option<bool>,
    pub auto_sync: Option<bool>,
    pub auto_publish: Option<bool>,
    pub deletion_guard: Option<bool>,
    /// `Some(None)`: back to the operator's default.
    pub deletion_guard_percent: Option<Option<u32>>,
    pub updated_at: String,
}

enum Value {
    Text(String),
    Flag(bool),
    Int(i32),
    Null,
    /// `config_version + 1`: every saved change makes the runs' own writes stand down.
    NextVersion,
}

impl ProjectUpdate {
    /// `(column, value)` per changed column, in a fixed order.
    fn assignments(&self) -> Vec<(&'static str, Value)> {
        let mut set = Vec::new();
        let text = |v: &String| Value::Text(v.clone());
        let nullable =
            |v: &Option<String>| v.as_ref().map_or(Value::Null, |v| Value::Text(v.clone()));
        if let Some(v) = &self.name {
            set.push(("name", text(v)));
        }
        if let Some(secret) = &self.notion_token {
            set.push(("notion_token_enc", text(&secret.enc)));
            set.push(("notion_token_hint", text(&secret.hint)));
        }
        if let Some(v) = &self.notion_database_id {
            set.push(("notion_database_id", text(v)));
            set.push(("notion_data_source_ids", Value::Text("[]".to_owned())));
            if self.notion_data_source_id.is_none() {
                set.push(("notion_data_source_id", Value::Null));
            }
        }
        if let Some(v) = &self.notion_data_source_id {
            set.push(("notion_data_source_id", text(v)));
        }
        if let Some(v) = &self.framer_project_url {
            set.push(("framer_project_url", text(v)));
        }
        if let Some(secret) = &self.framer_api_key {
            set.push(("framer_api_key_enc", text(&secret.enc)));
            set.push(("framer_api_key_hint", text(&secret.hint)));
        }
        if let Some(v) = &self.framer_collection_name {
            set.push(("framer_collection_name", text(v)));
            set.push(("framer_collection_id", Value::Null));
        }
        if self.notion_database_id.is_some()
            || self.notion_data_source_id.is_some()
            || self.framer_collection_name.is_some()
        {
            // The run in flight is cancelled at its next step; the next run reads everything.
            set.push(("last_full_sync_at", Value::Null));
        }
        for (column, value) in [
            ("mapping", &self.mapping),
            ("slug_property", &self.slug_property),
            ("publish_filter", &self.publish_filter),
        ] {
            if let Some(v) = value {
                set.push((column, nullable(v)));
            }
        }
        if let Some(mode) = self.unpublished_mode {
            set.push(("unpublished_mode", Value::Text(mode.as_str().to_owned())));
        }
        for (column, value) in [
            ("page_body", self.page_body),
            ("auto_sync", self.auto_sync),
            ("auto_publish", self.auto_publish),
            ("deletion_guard", self.deletion_guard),
        ] {
            if let Some(v) = value {
                set.push((column, Value::Flag(v)));
            }
        }
        if let Some(percent) = self.deletion_guard_percent {
            set.push((
                "deletion_guard_percent",
                percent.map_or(Value::Null, |p| Value::Int(i32::try_from(p).unwrap_or(100))),
            ));
        }
        set.push(("updated_at", text(&self.updated_at)));
        set.push(("config_version", Value::NextVersion));
        set
    }
}

pub async fn update(db: &Db, id: &str, update: &ProjectUpdate) -> Result<(), ApiError> {
    let assignments = update.assignments();
    let mut args = vec![D1Type::Text(id)];
    let mut set = Vec::new();
    for (column, value) in &assignments {
        let bound = match value {
            Value::Text(v) => D1Type::Text(v),
            Value::Flag(v) => D1Type::Integer(i32::from(*v)),
            Value::Int(v) => D1Type::Integer(*v),
            Value::Null => D1Type::Null,
            Value::NextVersion => {
                set.push(format!("{column} = {column} + 1"));
                continue;
            }
        };
        args.push(bound);
        set.push(format!("{column} = ?{}", args.len()));
    }
    // Columns are this file's literals, never input; values are bound.
    let sql = format!("UPDATE projects SET {} WHERE id = ?1", set.join(", "));
    d1::run(db, &sql, &args).await?;
    Ok(())
}

/// Removes the project; its webhook, events, runs and items go with it (ON DELETE CASCADE).
pub async fn delete(db: &Db, id: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM projects WHERE id = ?1",
        &[D1Type::Text(id)],
    )
    .await?;
    Ok(())
}

/// `column` is one of the setters' literals below.
async fn set(db: &Db, id: &str, column: &'static str, value: &str) -> Result<(), ApiError> {
    let sql = format!("UPDATE projects SET {column} = ?2 WHERE id = ?1");
    d1::run(db, &sql, &[D1Type::Text(id), D1Type::Text(value)]).await?;
    Ok(())
}

/// A run's write to its project, applied only while the project's settings are still the
/// version the run started from (the owner's saves win). `column` is one of this file's literals.
async fn swap(
    db: &Db,
    id: &str,
    column: &'static str,
    value: &str,
    version: i64,
) -> Result<bool, ApiError> {
    let sql = format!("UPDATE projects SET {column} = ?2 WHERE id = ?1 AND config_version = ?3");
    let version = i32::try_from(version).unwrap_or(i32::MAX);
    let changed = d1::run(
        db,
        &sql,
        &[
            D1Type::Text(id),
            D1Type::Text(value),
            D1Type::Integer(version),
        ],
    )
    .await?;
    Ok(changed > 0)
}

/// The Framer collection the sync found or created for the project.
pub async fn set_collection_id(
    db: &Db,
    id: &str,
    collection_id: &str,
    version: i64,
) -> Result<bool, ApiError> {
    swap(db, id, "framer_collection_id", collection_id, version).await
}

/// The data source the project syncs, once the first run chose it.
pub async fn set_data_source_id(
    db: &Db,
    id: &str,
    data_source_id: &str,
    version: i64,
) -> Result<bool, ApiError> {
    swap(db, id, "notion_data_source_id", data_source_id, version).await
}

pub async fn set_last_full_sync_at(db: &Db, id: &str, at: &str) -> Result<(), ApiError> {
    set(db, id, "last_full_sync_at", at).await
}

/// The data sources of the project's database, as the sync resolved them.
pub async fn set_data_source_ids(db: &Db, id: &str, ids: &[String]) -> Result<(), ApiError> {
    set(
        db,
        id,
        "notion_data_source_ids",
        &serde_json::to_string(ids)?,
    )
    .await
}

/// The mapping the sync reconciled with the current schema (or completed with enum cases).
pub async fn set_mapping(
    db: &Db,
    id: &str,
    mapping: &Mapping,
    version: i64,
) -> Result<bool, ApiError> {
    swap(db, id, "mapping", &serde_json::to_string(mapping)?, version).await
}

/// One of the account's other projects with a collection in the same Framer project.
#[derive(Debug, Clone, Deserialize)]
pub struct CollectionSibling {
    pub id: String,
    pub notion_data_source_ids: String,
    pub notion_data_source_id: Option<String>,
    pub framer_collection_id: String,
}

/// The account's other projects with a collection in the same Framer project: what relations
/// may reference (a run reads it once, for its mapping and its reference targets).
pub async fn collection_siblings(
    db: &Db,
    project: &Project,
) -> Result<Vec<CollectionSibling>, ApiError> {
    d1::all(
        db,
        "SELECT id, notion_data_source_ids, notion_data_source_id, framer_collection_id FROM projects \
         WHERE account_id = (SELECT account_id FROM projects WHERE id = ?1) AND id != ?1 \
         AND framer_project_url = ?2 AND framer_collection_id IS NOT NULL",
        &[
            D1Type::Text(&project.id),
            D1Type::Text(&project.framer_project_url),
        ],
    )
    .await
}

/// Data sources that the account's other projects sync into collections of the same Framer
/// project: relations into them become collection references (Framer item ids are Notion page
/// ids, so the related page ids are the referenced item ids).
pub fn synced_collections(siblings: &[CollectionSibling]) -> SyncedCollections {
    let mut synced = SyncedCollections::new();
    for row in siblings {
        // The one it syncs: another data source of the same database may be a sibling's.
        let data_sources: Vec<String> = match &row.notion_data_source_id {
            Some(id) => vec![id.clone()],
            None => serde_json::from_str(&row.notion_data_source_ids).unwrap_or_default(),
        };
        for data_source in data_sources {
            synced.insert(
                ids::canonical(&data_source),
                row.framer_collection_id.clone(),
            );
        }
    }
    synced
}

/// The project syncing each of those collections: collection id -> project id.
pub fn reference_targets(siblings: &[CollectionSibling]) -> BTreeMap<String, String> {
    siblings
        .iter()
        .map(|r| (r.framer_collection_id.clone(), r.id.clone()))
        .collect()
}

/// The projects of a site: the account's projects that sync into the same Framer project,
/// oldest first.
pub async fn site_members(
    db: &Db,
    account_id: &str,
    framer_project_url: &str,
) -> Result<Vec<SiteMember>, ApiError> {
    members(
        db,
        "account_id = ?1 AND framer_project_url = ?2",
        &[D1Type::Text(account_id), D1Type::Text(framer_project_url)],
    )
    .await
}

/// The site of a project (itself included).
pub async fn site_of(db: &Db, project_id: &str) -> Result<Vec<SiteMember>, ApiError> {
    members(
        db,
        "(account_id, framer_project_url) = \
         (SELECT account_id, framer_project_url FROM projects WHERE id = ?1)",
        &[D1Type::Text(project_id)],
    )
    .await
}

async fn members(db: &Db, filter: &str, args: &[D1Type<'_>]) -> Result<Vec<SiteMember>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        name: String,
        notion_data_source_id: Option<String>,
        framer_collection_name: String,
        framer_collection_id: Option<String>,
        mapping: Option<String>,
    }
    let rows: Vec<Row> = d1::all(
        db,
        &format!(
            "SELECT id, name, notion_data_source_id, framer_collection_name, framer_collection_id, mapping \
             FROM projects WHERE {filter} ORDER BY created_at, id"
        ),
        args,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| SiteMember {
            project_id: row.id,
            name: row.name,
            data_source_id: row.notion_data_source_id.as_deref().map(ids::canonical),
            collection_name: row.framer_collection_name,
            collection_id: row.framer_collection_id,
            // A mapping that cannot be read shows no relations; its own project reports why.
            mapping: row
                .mapping
                .and_then(|m| serde_json::from_str::<Mapping>(&m).ok()),
        })
        .collect())
}

/// The account a project belongs to.
pub async fn account_of(db: &Db, id: &str) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        account_id: String,
    }
    let row: Option<Row> = d1::first(
        db,
        "SELECT account_id FROM projects WHERE id = ?1",
        &[D1Type::Text(id)],
    )
    .await?;
    row.map(|r| r.account_id)
        .ok_or_else(|| ApiError::NotFound("project not found".to_owned()))
}

/// The collection another project of the site created for this one before its first run:
/// recorded only while the project has none, so a collection the project found itself (or
/// another run recorded first) is never replaced.
pub async fn adopt_collection_id(db: &Db, id: &str, collection_id: &str) -> Result<bool, ApiError> {
    let changed = d1::run(
        db,
        "UPDATE projects SET framer_collection_id = ?2 WHERE id = ?1 AND framer_collection_id IS NULL",
        &[D1Type::Text(id), D1Type::Text(collection_id)],
    )
    .await?;
    Ok(changed > 0)
}

/// Projects the freshness check looks at: auto-sync running, webhook subscription active, and
/// synced at least once (so their data sources are known); the `limit` least recently checked,
/// so that one cron run stays within its subrequest budget and every project takes its turn.
pub async fn for_freshness_check(db: &Db, limit: usize) -> Result<Vec<Project>, ApiError> {
    many(
        db,
        "WHERE p.auto_sync = 1 AND a.plan = 'paid' AND w.status = 'active' \
         AND p.notion_data_source_ids != '[]' \
         ORDER BY (SELECT f.checked_at FROM freshness_checks f WHERE f.project_id = p.id) IS NOT NULL, \
         (SELECT f.checked_at FROM freshness_checks f WHERE f.project_id = p.id), p.id LIMIT ?1",
        &[d1::int(limit)],
    )
    .await
}
