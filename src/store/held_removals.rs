//! `held_removals`: removals the deletion guard held for the owner's review ('held'), and those
//! the owner chose to keep in Framer ('kept'). A run reads them into its staging, records what
//! it holds, and drops the reviews of pages it removed or that Notion shows again.

use super::d1;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::engine::job::HeldItem;
use serde::Deserialize;
use worker::{D1Database, D1Type};

/// Held ids per statement (bound as one JSON parameter).
const CHUNK: usize = 500;

#[derive(Debug, Clone, Deserialize)]
pub struct Reviewed {
    pub page_id: String,
    pub title: String,
    pub sync_id: String,
    pub held_at: String,
}

/// Every review of the project: `(page_id, kept)`.
pub async fn of_project(
    db: &D1Database,
    project_id: &str,
) -> Result<Vec<(String, bool)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        page_id: String,
        state: String,
    }
    let rows: Vec<Row> = d1::all(
        db,
        "SELECT page_id, state FROM held_removals WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.page_id, r.state == "kept"))
        .collect())
}

/// Counts per state and the first `limit` items in `state`, for the project page.
pub async fn summary(
    db: &D1Database,
    project_id: &str,
    state: &str,
    limit: usize,
) -> Result<(i64, Vec<Reviewed>), ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let count: Option<Count> = d1::first(
        db,
        "SELECT COUNT(*) AS n FROM held_removals WHERE project_id = ?1 AND state = ?2",
        &[D1Type::Text(project_id), D1Type::Text(state)],
    )
    .await?;
    let items = d1::all(
        db,
        "SELECT page_id, title, sync_id, held_at FROM held_removals \
         WHERE project_id = ?1 AND state = ?2 ORDER BY title, page_id LIMIT ?3",
        &[
            D1Type::Text(project_id),
            D1Type::Text(state),
            d1::int(limit),
        ],
    )
    .await?;
    Ok((count.map_or(0, |c| c.n), items))
}

/// Records held removals; a page already reviewed keeps its review.
pub async fn hold(
    db: &D1Database,
    project_id: &str,
    sync_id: &str,
    items: &[HeldItem],
    now: &str,
) -> Result<(), ApiError> {
    let statements = items
        .chunks(CHUNK)
        .map(|chunk| {
            let rows = serde_json::to_string(
                &chunk
                    .iter()
                    .map(|i| serde_json::json!([i.page_id, i.title]))
                    .collect::<Vec<_>>(),
            )?;
            d1::stmt(
                db,
                "INSERT OR IGNORE INTO held_removals (project_id, page_id, title, state, sync_id, held_at) \
                 SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'held', ?2, ?3 FROM json_each(?4)",
                &[
                    D1Type::Text(project_id),
                    D1Type::Text(sync_id),
                    D1Type::Text(now),
                    D1Type::Text(&rows),
                ],
            )
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    d1::batch(db, statements).await
}

/// Drops the reviews of these pages (removed, or shown by Notion again).
pub async fn forget(
    db: &D1Database,
    project_id: &str,
    page_ids: &[String],
) -> Result<(), ApiError> {
    let statements = page_ids
        .chunks(CHUNK)
        .map(|chunk| {
            let ids = serde_json::to_string(chunk)?;
            d1::stmt(
                db,
                "DELETE FROM held_removals WHERE project_id = ?1 AND page_id IN (SELECT value FROM json_each(?2))",
                &[D1Type::Text(project_id), D1Type::Text(&ids)],
            )
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    d1::batch(db, statements).await
}

/// "Keep them": the held removals become kept; returns how many.
pub async fn keep_held(db: &D1Database, project_id: &str) -> Result<usize, ApiError> {
    d1::run(
        db,
        "UPDATE held_removals SET state = 'kept' WHERE project_id = ?1 AND state = 'held'",
        &[D1Type::Text(project_id)],
    )
    .await
}
