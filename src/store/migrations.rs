//! `d1_migrations`: wrangler's record of the applied migrations.

use super::d1;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use worker::D1Database;

/// The newest applied migration.
pub async fn latest(db: &D1Database) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = d1::first(
        db,
        "SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1",
        &[],
    )
    .await?;
    Ok(row.map(|r| r.name))
}
