//! `synced_items`: the record of what Framer holds, per Notion page, as versions before the
//! object kept it (migration 0009). Nothing writes it any more: each project's object adopts
//! its rows on its next run (`legacy_items`), then drops them; until then it answers for them.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::D1Type;

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

/// Up to `limit` of the project's items with a page id after `after`, by page id (its object
/// adopts them a chunk at a time).
pub async fn page_of(
    db: &Db,
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

/// Drops the project's rows (its object holds them now).
pub async fn forget_all(db: &Db, project_id: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM synced_items WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(())
}

/// The project now syncs another database: whatever D1 still holds of its record goes, and the
/// dashboard's count with it (the object forgets its own record).
pub async fn forget_project(db: &Db, project_id: &str) -> Result<(), ApiError> {
    let statements = vec![
        d1::stmt(
            db,
            "DELETE FROM synced_items WHERE project_id = ?1",
            &[D1Type::Text(project_id)],
        )?,
        d1::stmt(
            db,
            "UPDATE projects SET items_in_framer = 0 WHERE id = ?1",
            &[D1Type::Text(project_id)],
        )?,
    ];
    d1::batch(db, statements).await
}
