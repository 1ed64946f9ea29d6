//! `alert_incidents`: the open incidents, one per project and kind (the dedupe of alerts).

use super::d1;
use crate::alerts::incident::{Incident, Kind};
use crate::api::error::ApiError;
use serde::Deserialize;
use worker::{D1Database, D1Type};

#[derive(Debug, Clone, Deserialize)]
struct IncidentRow {
    kind: String,
    opened_at_ms: i64,
    alerted: i64,
    summary: String,
}

impl IncidentRow {
    fn typed(self) -> Option<Incident> {
        Some(Incident {
            kind: Kind::parse(&self.kind)?,
            opened_at_ms: self.opened_at_ms,
            alerted: self.alerted != 0,
            summary: self.summary,
        })
    }
}

pub async fn open(
    db: &D1Database,
    project_id: &str,
    kind: Kind,
) -> Result<Option<Incident>, ApiError> {
    let row: Option<IncidentRow> = d1::first(
        db,
        "SELECT kind, opened_at_ms, alerted, summary FROM alert_incidents WHERE project_id = ?1 AND kind = ?2",
        &[D1Type::Text(project_id), D1Type::Text(kind.as_str())],
    )
    .await?;
    Ok(row.and_then(IncidentRow::typed))
}

pub async fn of_project(db: &D1Database, project_id: &str) -> Result<Vec<Incident>, ApiError> {
    let rows: Vec<IncidentRow> = d1::all(
        db,
        "SELECT kind, opened_at_ms, alerted, summary FROM alert_incidents WHERE project_id = ?1 ORDER BY opened_at_ms",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(rows.into_iter().filter_map(IncidentRow::typed).collect())
}

pub async fn save(db: &D1Database, project_id: &str, incident: &Incident) -> Result<(), ApiError> {
    d1::run(
        db,
        "INSERT INTO alert_incidents (project_id, kind, opened_at_ms, alerted, summary) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (project_id, kind) DO UPDATE SET opened_at_ms = excluded.opened_at_ms, \
         alerted = excluded.alerted, summary = excluded.summary",
        &[
            D1Type::Text(project_id),
            D1Type::Text(incident.kind.as_str()),
            d1::ms(incident.opened_at_ms),
            D1Type::Integer(i32::from(incident.alerted)),
            D1Type::Text(&incident.summary),
        ],
    )
    .await
    .map(|_| ())
}

pub async fn close(db: &D1Database, project_id: &str, kind: Kind) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM alert_incidents WHERE project_id = ?1 AND kind = ?2",
        &[D1Type::Text(project_id), D1Type::Text(kind.as_str())],
    )
    .await
    .map(|_| ())
}
