//! `assets`: the Notion-hosted files re-hosted in Framer, per project, as versions before the
//! object kept them (migration 0009). Nothing writes it any more: each project's object adopts
//! its rows on its next run (`legacy_assets`), then drops them.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::engine::job::StoredAsset;
use serde::Deserialize;
use worker::D1Type;

/// Up to `limit` of the project's assets with a key after `after`, by key.
pub async fn page_of(
    db: &Db,
    project_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredAsset>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        file_key: String,
        kind: String,
        asset_id: String,
        asset_url: String,
    }
    let rows: Vec<Row> = d1::all(
        db,
        "SELECT file_key, kind, asset_id, asset_url FROM assets \
         WHERE project_id = ?1 AND file_key > ?2 ORDER BY file_key LIMIT ?3",
        &[
            D1Type::Text(project_id),
            D1Type::Text(after.unwrap_or("")),
            d1::int(limit),
        ],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredAsset {
            key: r.file_key,
            kind: r.kind,
            id: r.asset_id,
            url: r.asset_url,
        })
        .collect())
}

/// Drops the project's rows (its object holds them now).
pub async fn forget_all(db: &Db, project_id: &str) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM assets WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(())
}
