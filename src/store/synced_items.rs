//! `synced_items`: what the Worker believes Framer holds, per Notion page (slug, content hash,
//! last edit). A row is written only after Framer accepted the item.

use super::d1;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement, D1Type};

/// What D1 remembers of one item sent to Framer.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncedItem {
    pub page_id: String,
    pub slug: String,
    pub slug_source: String,
    pub content_hash: String,
    pub last_edited_time: Option<String>,
    pub fields_hash: Option<String>,
}

/// An item Framer just accepted.
pub struct AcceptedItem<'a> {
    pub page_id: &'a str,
    pub slug: &'a str,
    pub slug_source: &'a str,
    pub content_hash: &'a str,
    pub last_edited_time: &'a str,
    pub fields_hash: Option<&'a str>,
}

/// Up to `limit` of the project's items with a page id after `after`, by page id (a run copies
/// them into its object a chunk at a time).
pub async fn page_of(
    db: &D1Database,
    project_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<SyncedItem>, ApiError> {
    d1::all(
        db,
        "SELECT page_id, slug, slug_source, content_hash, last_edited_time, fields_hash FROM synced_items \
         WHERE project_id = ?1 AND page_id > ?2 ORDER BY page_id LIMIT ?3",
        &[
            D1Type::Text(project_id),
            D1Type::Text(after.unwrap_or("")),
            d1::int(limit),
        ],
    )
    .await
}

pub async fn count_for(db: &D1Database, project_id: &str) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        n: i64,
    }
    let row: Option<Row> = d1::first(
        db,
        "SELECT COUNT(*) AS n FROM synced_items WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(row.map_or(0, |r| r.n))
}

/// Whether Framer holds an item of the project for this page.
pub async fn holds(db: &D1Database, project_id: &str, page_id: &str) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        found: i64,
    }
    let row: Option<Row> = d1::first(
        db,
        "SELECT EXISTS (SELECT 1 FROM synced_items WHERE project_id = ?1 AND page_id = ?2) AS found",
        &[D1Type::Text(project_id), D1Type::Text(page_id)],
    )
    .await?;
    Ok(row.is_some_and(|r| r.found != 0))
}

/// `(project id, items)` for each of the account's projects that has items.
pub async fn counts_of_account(
    db: &D1Database,
    account_id: &str,
) -> Result<Vec<(String, i64)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        project_id: String,
        n: i64,
    }
    let rows: Vec<Row> = d1::all(
        db,
        "SELECT project_id, COUNT(*) AS n FROM synced_items \
         WHERE project_id IN (SELECT id FROM projects WHERE account_id = ?1) GROUP BY project_id",
        &[D1Type::Text(account_id)],
    )
    .await?;
    Ok(rows.into_iter().map(|r| (r.project_id, r.n)).collect())
}

/// Records a batch Framer accepted, in one atomic round trip.
pub async fn record(
    db: &D1Database,
    project_id: &str,
    items: &[AcceptedItem<'_>],
    now: &str,
) -> Result<(), ApiError> {
    let statements = items
        .iter()
        .map(|item| {
            d1::stmt(
                db,
                "INSERT INTO synced_items (project_id, page_id, slug, slug_source, content_hash, last_edited_time, synced_at, fields_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(project_id, page_id) DO UPDATE SET slug = excluded.slug, \
                 slug_source = excluded.slug_source, content_hash = excluded.content_hash, \
                 last_edited_time = excluded.last_edited_time, synced_at = excluded.synced_at, fields_hash = excluded.fields_hash",
                &[
                    D1Type::Text(project_id),
                    D1Type::Text(item.page_id),
                    D1Type::Text(item.slug),
                    D1Type::Text(item.slug_source),
                    D1Type::Text(item.content_hash),
                    D1Type::Text(item.last_edited_time),
                    D1Type::Text(now),
                    d1::opt(item.fields_hash),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    d1::batch(db, statements).await
}

/// Forgets the items Framer removed.
pub fn forget(
    db: &D1Database,
    project_id: &str,
    page_ids: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    d1::delete_pages(db, "synced_items", project_id, page_ids)
}

/// Forgets every item of the project (it now syncs another database).
pub async fn forget_all(db: &D1Database, project_id: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM synced_items WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(())
}
