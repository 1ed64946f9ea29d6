//! `assets`: the Notion-hosted files already re-hosted in Framer, per project, under their
//! stable key (`sync::assets::asset_key`). A row is recorded only after Framer answered the
//! upload, so a remembered asset always exists in Framer.

use super::d1;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::framer::wire::Asset;
use serde::Deserialize;
use worker::{D1Database, D1Type};

/// Keys per lookup statement. The keys travel as one JSON parameter (D1 binds at most 100
/// parameters per statement), chunked so that no parameter grows past a few hundred KB.
const KEYS_PER_LOOKUP: usize = 500;

/// An asset Framer hosts for one of the project's Notion files.
#[derive(Debug, Clone, Deserialize)]
pub struct KnownAsset {
    pub file_key: String,
    pub asset_url: String,
}

/// An upload Framer just answered: the file's key and the asset it became.
pub struct Uploaded<'a> {
    pub file_key: &'a str,
    pub asset: &'a Asset,
}

/// The remembered assets among `keys` (any number of keys, one D1 round trip).
pub async fn lookup(
    db: &D1Database,
    project_id: &str,
    keys: &[String],
) -> Result<Vec<KnownAsset>, ApiError> {
    let statements = keys
        .chunks(KEYS_PER_LOOKUP)
        .map(|chunk| {
            let keys = serde_json::to_string(chunk)?;
            d1::stmt(
                db,
                "SELECT file_key, asset_url FROM assets \
                 WHERE project_id = ?1 AND file_key IN (SELECT value FROM json_each(?2))",
                &[D1Type::Text(project_id), D1Type::Text(&keys)],
            )
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut known = Vec::new();
    for result in d1::batch_results(db, statements).await? {
        known.extend(d1::rows::<KnownAsset>(&result)?);
    }
    Ok(known)
}

/// Remembers uploads in one atomic round trip; a key uploaded again gets the new asset.
pub async fn record(
    db: &D1Database,
    project_id: &str,
    uploads: &[Uploaded<'_>],
    now: &str,
) -> Result<(), ApiError> {
    let statements = uploads
        .iter()
        .map(|upload| {
            d1::stmt(
                db,
                "INSERT INTO assets (project_id, file_key, kind, asset_id, asset_url, uploaded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(project_id, file_key) DO UPDATE SET \
                 kind = excluded.kind, asset_id = excluded.asset_id, asset_url = excluded.asset_url, \
                 uploaded_at = excluded.uploaded_at",
                &[
                    D1Type::Text(project_id),
                    D1Type::Text(upload.file_key),
                    D1Type::Text(upload.asset.kind.as_str()),
                    D1Type::Text(&upload.asset.id),
                    D1Type::Text(&upload.asset.url),
                    D1Type::Text(now),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    d1::batch(db, statements).await
}
