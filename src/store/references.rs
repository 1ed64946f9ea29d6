//! References between projects: which pages a target project's collection holds by the record
//! of versions before (D1's `synced_items`, until the target's object adopts it; after, the
//! object answers), and `dangling_references`, what each row had to leave out of its
//! references.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use std::collections::BTreeSet;
use worker::{D1PreparedStatement, D1Type};

/// Ids per statement: json_each keeps one bound parameter whatever the count.
const IDS_PER_QUERY: usize = 500;

/// Which of `page_ids` the collection of `project_id` holds, as D1 records it (`synced_items`:
/// written only once Framer accepted the item).
pub async fn held_by(
    db: &Db,
    project_id: &str,
    page_ids: &[String],
) -> Result<BTreeSet<String>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        page_id: String,
    }
    let mut held = BTreeSet::new();
    for chunk in page_ids.chunks(IDS_PER_QUERY) {
        let ids = serde_json::to_string(chunk)?;
        let rows: Vec<Row> = d1::all(
            db,
            "SELECT page_id FROM synced_items WHERE project_id = ?1 \
             AND page_id IN (SELECT value FROM json_each(?2))",
            &[D1Type::Text(project_id), D1Type::Text(&ids)],
        )
        .await?;
        held.extend(rows.into_iter().map(|r| r.page_id));
    }
    Ok(held)
}

/// Replaces the left-out references of each listed row, in one batch.
pub async fn remember(
    db: &Db,
    project_id: &str,
    rows: &[(String, Vec<(String, String)>)],
) -> Result<(), ApiError> {
    let row_ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    let mut statements = forget(db, project_id, &row_ids)?;
    for (row, dropped) in rows {
        for (target_project, target_page) in dropped {
            statements.push(d1::stmt(
                db,
                "INSERT OR IGNORE INTO dangling_references \
                 (project_id, page_id, target_project_id, target_page_id) VALUES (?1, ?2, ?3, ?4)",
                &[
                    D1Type::Text(project_id),
                    D1Type::Text(row),
                    D1Type::Text(target_project),
                    D1Type::Text(target_page),
                ],
            )?);
        }
    }
    d1::batch(db, statements).await
}

/// Drops what these rows of the project remembered (read again, or removed).
pub fn forget(
    db: &Db,
    project_id: &str,
    page_ids: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    d1::delete_pages(db, "dangling_references", project_id, page_ids)
}

/// Rows that left out some of `page_ids` of `target_project_id`: `(project id, row page id)`.
pub async fn referrers(
    db: &Db,
    target_project_id: &str,
    page_ids: &[String],
) -> Result<Vec<(String, String)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        project_id: String,
        page_id: String,
    }
    let mut found = BTreeSet::new();
    for chunk in page_ids.chunks(IDS_PER_QUERY) {
        let ids = serde_json::to_string(chunk)?;
        let rows: Vec<Row> = d1::all(
            db,
            "SELECT DISTINCT project_id, page_id FROM dangling_references \
             WHERE target_project_id = ?1 AND target_page_id IN (SELECT value FROM json_each(?2))",
            &[D1Type::Text(target_project_id), D1Type::Text(&ids)],
        )
        .await?;
        found.extend(rows.into_iter().map(|r| (r.project_id, r.page_id)));
    }
    Ok(found.into_iter().collect())
}
