//! `freshness_checks`: the cron's last freshness check per project, for the page.

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use serde::{Deserialize, Serialize};
use worker::D1Type;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FreshnessRow {
    pub checked_at: String,
    pub latest_edit_at: Option<String>,
    pub stale: i64,
    pub warning: Option<String>,
}

pub async fn of_project(db: &Db, project_id: &str) -> Result<Option<FreshnessRow>, ApiError> {
    d1::first(
        db,
        "SELECT checked_at, latest_edit_at, stale, warning FROM freshness_checks WHERE project_id = ?1",
        &[D1Type::Text(project_id)],
    )
    .await
}

pub async fn save(db: &Db, project_id: &str, row: &FreshnessRow) -> Result<(), ApiError> {
    d1::run(
        db,
        "INSERT INTO freshness_checks (project_id, checked_at, latest_edit_at, stale, warning) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (project_id) DO UPDATE SET checked_at = excluded.checked_at, \
         latest_edit_at = excluded.latest_edit_at, stale = excluded.stale, warning = excluded.warning",
        &[
            D1Type::Text(project_id),
            D1Type::Text(&row.checked_at),
            d1::opt(row.latest_edit_at.as_deref()),
            D1Type::Integer(i32::from(row.stale != 0)),
            d1::opt(row.warning.as_deref()),
        ],
    )
    .await
    .map(|_| ())
}
