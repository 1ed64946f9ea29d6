//! `d1_migrations`: wrangler's record of the applied migrations.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;

/// The newest applied migration.
pub async fn latest(db: &Db) -> Result<Option<String>, ApiError> {
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
