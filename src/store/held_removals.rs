//! `held_removals`: removals the deletion guard held for the owner's review ('held'), and those
//! the owner chose to keep in Framer ('kept'). A run reads them into its staging, records what
//! it holds, and drops the reviews of pages it removed or that Notion shows again.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::engine::job::HeldItem;
use serde::Deserialize;
use worker::{D1PreparedStatement, D1Type};

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
pub async fn of_project(db: &Db, project_id: &str) -> Result<Vec<(String, bool)>, ApiError> {
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

/// How many removals are held and how many kept, in one query.
pub async fn counts(db: &Db, project_id: &str) -> Result<(i64, i64), ApiError> {
    #[derive(Deserialize)]
    struct Counts {
        held: i64,
        kept: i64,
    }
    let counts: Option<Counts> = d1::first(
        db,
        "SELECT COALESCE(SUM(state = 'held'), 0) AS held, COALESCE(SUM(state = 'kept'), 0) AS kept \
         FROM held_removals WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(counts.map_or((0, 0), |c| (c.held, c.kept)))
}

/// The first `limit` items in `state`, for the project page.
pub async fn listed(
    db: &Db,
    project_id: &str,
    state: &str,
    limit: usize,
) -> Result<Vec<Reviewed>, ApiError> {
    d1::all(
        db,
        "SELECT page_id, title, sync_id, held_at FROM held_removals \
         WHERE project_id = ?1 AND state = ?2 ORDER BY title, page_id LIMIT ?3",
        &[
            D1Type::Text(project_id),
            D1Type::Text(state),
            d1::int(limit),
        ],
    )
    .await
}

/// Records held removals; a page already reviewed keeps its review.
pub async fn hold(
    db: &Db,
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
pub fn forget(
    db: &Db,
    project_id: &str,
    page_ids: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    d1::delete_pages(db, "held_removals", project_id, page_ids)
}

/// "Keep them": the held removals become kept; returns how many.
pub async fn keep_held(db: &Db, project_id: &str) -> Result<usize, ApiError> {
    d1::run(
        db,
        "UPDATE held_removals SET state = 'kept' WHERE project_id = ?1 AND state = 'held'",
        &[D1Type::Text(project_id)],
    )
    .await
}
