//! D1 access: a few generic helpers and the queries, each named for what it answers.

use crate::api::error::ApiError;
use crate::sync::ledger::{self, EventRecord};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::{console_error, D1Database, D1PreparedStatement, D1Type};

pub fn stmt(
    db: &D1Database,
    sql: &str,
    args: &[D1Type<'_>],
) -> Result<D1PreparedStatement, ApiError> {
    db.prepare(sql)
        .bind_refs(args)
        .map_err(|e| failure("bind", &e))
}

pub async fn all<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[D1Type<'_>],
) -> Result<Vec<T>, ApiError> {
    let result = stmt(db, sql, args)?
        .all()
        .await
        .map_err(|e| failure("query", &e))?;
    result.results::<T>().map_err(|e| failure("decode", &e))
}

pub async fn first<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[D1Type<'_>],
) -> Result<Option<T>, ApiError> {
    stmt(db, sql, args)?
        .first::<T>(None)
        .await
        .map_err(|e| failure("query", &e))
}

/// Runs a write and returns how many rows it changed.
pub async fn run(db: &D1Database, sql: &str, args: &[D1Type<'_>]) -> Result<usize, ApiError> {
    let result = stmt(db, sql, args)?
        .run()
        .await
        .map_err(|e| failure("write", &e))?;
    Ok(result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0))
}

/// Runs statements atomically (D1 batches are transactions).
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<(), ApiError> {
    batch_changes(db, statements).await.map(|_| ())
}

/// Like [`batch`], returning how many rows each statement changed.
pub async fn batch_changes(
    db: &D1Database,
    statements: Vec<D1PreparedStatement>,
) -> Result<Vec<usize>, ApiError> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let results = db
        .batch(statements)
        .await
        .map_err(|e| failure("batch", &e))?;
    Ok(results
        .iter()
        .map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
        .collect())
}

fn failure(what: &str, e: &worker::Error) -> ApiError {
    console_error!(
        "{}",
        serde_json::json!({"kind": "d1_error", "op": what, "detail": e.to_string()})
    );
    ApiError::Internal("the database did not answer; try again".to_owned())
}

/// Text of an optional value for binding: `NULL` when absent.
pub fn opt(value: Option<&str>) -> D1Type<'_> {
    value.map_or(D1Type::Null, D1Type::Text)
}

/// The newest applied migration, as wrangler records it.
pub async fn schema_version(db: &D1Database) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = first(
        db,
        "SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1",
        &[],
    )
    .await?;
    Ok(row.map(|r| r.name))
}

/// A project with everything the webhook, the sync and the status page read.
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub notion_token_enc: String,
    pub notion_token_hint: String,
    pub notion_database_id: String,
    pub notion_data_source_ids: String,
    pub framer_project_url: String,
    pub framer_api_key_enc: String,
    pub framer_api_key_hint: String,
    pub framer_collection_name: String,
    pub framer_collection_id: Option<String>,
    pub mapping: Option<String>,
    pub slug_property: Option<String>,
    pub publish_filter: Option<String>,
    pub unpublished_mode: String,
    pub page_body: i64,
    pub auto_sync: i64,
    pub auto_publish: i64,
    pub webhook_key: String,
    pub last_full_sync_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub plan: String,
    pub webhook_status: String,
    pub verification_token_enc: Option<String>,
    pub token_received_at: Option<String>,
    pub activated_at: Option<String>,
    pub last_event_at: Option<String>,
    pub events_received: i64,
    pub events_ignored: i64,
}

impl ProjectRow {
    pub fn data_source_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.notion_data_source_ids).unwrap_or_default()
    }

    pub fn paid(&self) -> bool {
        self.plan == "paid"
    }

    /// Auto-sync runs only when the project wants it and the plan allows it.
    pub fn auto_sync_active(&self) -> bool {
        self.auto_sync != 0 && self.paid()
    }

    pub fn auto_publish_active(&self) -> bool {
        self.auto_publish != 0 && self.paid()
    }
}

const PROJECT_SELECT: &str = "SELECT p.*, a.plan AS plan, w.status AS webhook_status, \
    w.verification_token_enc, w.token_received_at, w.activated_at, w.last_event_at, \
    w.events_received, w.events_ignored, w.via_shared_url \
    FROM projects p JOIN accounts a ON a.id = p.account_id JOIN webhooks w ON w.project_id = p.id";

pub async fn project_by_id(db: &D1Database, id: &str) -> Result<Option<ProjectRow>, ApiError> {
    first(
        db,
        &format!("{PROJECT_SELECT} WHERE p.id = ?1"),
        &[D1Type::Text(id)],
    )
    .await
}

pub async fn project_of_account(
    db: &D1Database,
    account_id: &str,
    id: &str,
) -> Result<ProjectRow, ApiError> {
    let sql = format!("{PROJECT_SELECT} WHERE p.id = ?1 AND p.account_id = ?2");
    first(db, &sql, &[D1Type::Text(id), D1Type::Text(account_id)])
        .await?
        .ok_or_else(|| ApiError::NotFound("project".to_owned()))
}

pub async fn projects_of_account(
    db: &D1Database,
    account_id: &str,
) -> Result<Vec<ProjectRow>, ApiError> {
    let sql = format!("{PROJECT_SELECT} WHERE p.account_id = ?1 ORDER BY p.created_at, p.id");
    all(db, &sql, &[D1Type::Text(account_id)]).await
}

/// The project behind a webhook key.
pub async fn project_by_webhook_key(
    db: &D1Database,
    key: &str,
) -> Result<Option<ProjectRow>, ApiError> {
    let sql = format!("{PROJECT_SELECT} WHERE p.webhook_key = ?1");
    first(db, &sql, &[D1Type::Text(key)]).await
}

/// Projects an event on the shared URL may belong to: connected to one of `refs` (database or
/// data source ids), or whose token was claimed from the shared URL.
pub async fn projects_for_shared_event(
    db: &D1Database,
    refs: &[String],
) -> Result<Vec<ProjectRow>, ApiError> {
    let refs_json = serde_json::to_string(refs).unwrap_or_else(|_| "[]".to_owned());
    let sql = format!(
        "{PROJECT_SELECT} WHERE w.verification_token_enc IS NOT NULL AND (w.via_shared_url = 1 \
         OR p.notion_database_id IN (SELECT value FROM json_each(?1)) \
         OR EXISTS (SELECT 1 FROM json_each(p.notion_data_source_ids) ds \
                    WHERE ds.value IN (SELECT value FROM json_each(?1)))) \
         ORDER BY w.via_shared_url DESC, p.created_at"
    );
    all(db, &sql, &[D1Type::Text(&refs_json)]).await
}

/// Copies a chunk of the Durable Object's event ledger into `webhook_events` and moves the
/// webhook's counters, in one round trip. Idempotent: ids already present are skipped and
/// `changes()` (the preceding insert's) counts only the new ones, so a chunk copied twice
/// (a retry after a lost reply) is counted once. Events of a project deleted meanwhile are
/// dropped rather than failing the copy.
pub async fn record_events(
    db: &D1Database,
    project_id: &str,
    chunk: &[EventRecord],
) -> Result<(), ApiError> {
    let Some(latest) = ledger::latest_received_at(chunk) else {
        return Ok(());
    };
    let rows = ledger::d1_rows_json(chunk);
    let insert = |relevant: i32| {
        stmt(
            db,
            "INSERT OR IGNORE INTO webhook_events (event_id, project_id, type, entity_id, relevant, attempt_number, received_at) \
             SELECT json_extract(e.value, '$.event_id'), ?1, json_extract(e.value, '$.kind'), json_extract(e.value, '$.entity_id'), \
                    ?3, json_extract(e.value, '$.attempt_number'), json_extract(e.value, '$.received_at') \
             FROM json_each(?2) e \
             WHERE json_extract(e.value, '$.relevant') = ?3 AND EXISTS (SELECT 1 FROM projects WHERE id = ?1)",
            &[D1Type::Text(project_id), D1Type::Text(&rows), D1Type::Integer(relevant)],
        )
    };
    let count = |ignored: i32| {
        stmt(
            db,
            "UPDATE webhooks SET events_received = events_received + changes(), \
             events_ignored = events_ignored + ?2 * changes(), \
             last_event_at = MAX(COALESCE(last_event_at, ''), ?3), status = 'active', \
             activated_at = COALESCE(activated_at, ?3) \
             WHERE project_id = ?1 AND changes() > 0",
            &[
                D1Type::Text(project_id),
                D1Type::Integer(ignored),
                D1Type::Text(&latest),
            ],
        )
    };
    batch(db, vec![insert(1)?, count(0)?, insert(0)?, count(1)?]).await
}

/// Data sources that the account's other projects sync into collections of the same Framer
/// project: relations into them become collection references (Framer item ids are Notion page
/// ids, so the related page ids are the referenced item ids).
pub async fn synced_collections(
    db: &D1Database,
    project: &ProjectRow,
) -> Result<crate::sync::mapping::SyncedCollections, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        notion_data_source_ids: String,
        framer_collection_id: String,
    }
    let rows: Vec<Row> = all(
        db,
        "SELECT notion_data_source_ids, framer_collection_id FROM projects \
         WHERE account_id = (SELECT account_id FROM projects WHERE id = ?1) AND id != ?1 \
         AND framer_project_url = ?2 AND framer_collection_id IS NOT NULL",
        &[
            D1Type::Text(&project.id),
            D1Type::Text(&project.framer_project_url),
        ],
    )
    .await?;
    let mut synced = crate::sync::mapping::SyncedCollections::new();
    for row in rows {
        let ids: Vec<String> =
            serde_json::from_str(&row.notion_data_source_ids).unwrap_or_default();
        for id in ids {
            synced.insert(
                crate::notion::ids::canonical(&id),
                row.framer_collection_id.clone(),
            );
        }
    }
    Ok(synced)
}

/// Projects whose catch-up sync is due: auto-sync on, plan paid, no success since `before`.
pub async fn projects_due_for_catch_up(
    db: &D1Database,
    before: &str,
) -> Result<Vec<ProjectRow>, ApiError> {
    let sql = format!(
        "{PROJECT_SELECT} WHERE p.auto_sync = 1 AND a.plan = 'paid' AND NOT EXISTS \
         (SELECT 1 FROM sync_runs s WHERE s.project_id = p.id AND s.status = 'succeeded' AND s.started_at >= ?1)"
    );
    all(db, &sql, &[D1Type::Text(before)]).await
}
