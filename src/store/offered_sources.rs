//! `offered_data_sources`: data sources a project's database gained (`data_source.created`),
//! offered on the project page until added as sibling projects.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::D1Type;

/// Records the offer once (a retried event changes nothing).
pub async fn offer(
    db: &Db,
    project_id: &str,
    data_source_id: &str,
    at: &str,
) -> Result<(), ApiError> {
    d1::run(
        db,
        "INSERT OR IGNORE INTO offered_data_sources (project_id, data_source_id, offered_at) VALUES (?1, ?2, ?3)",
        &[
            D1Type::Text(project_id),
            D1Type::Text(data_source_id),
            D1Type::Text(at),
        ],
    )
    .await?;
    Ok(())
}

/// The project's offers, oldest first: `(data source, offered at)`.
pub async fn of_project(db: &Db, project_id: &str) -> Result<Vec<(String, String)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        data_source_id: String,
        offered_at: String,
    }
    let rows: Vec<Row> = d1::all(
        db,
        "SELECT data_source_id, offered_at FROM offered_data_sources WHERE project_id = ?1 \
         ORDER BY offered_at, data_source_id",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.data_source_id, r.offered_at))
        .collect())
}

/// Offers taken up (the data sources now have projects).
pub async fn forget(db: &Db, project_id: &str, ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    d1::run(
        db,
        "DELETE FROM offered_data_sources WHERE project_id = ?1 \
         AND data_source_id IN (SELECT value FROM json_each(?2))",
        &[
            D1Type::Text(project_id),
            D1Type::Text(&serde_json::to_string(ids)?),
        ],
    )
    .await?;
    Ok(())
}
