//! `alert_incidents`: the open incidents, one per project and kind (the dedupe of alerts).

use super::d1;
use crate::store::d1::Db;
use notion_framer_core::alerts::incident::{Incident, Kind};
use notion_framer_core::api::error::ApiError;
use serde::Deserialize;
use serde_json::Value;
use worker::D1Type;

const COLUMNS: &str = "kind, opened_at_ms, alerted, summary, alert_due_at_ms, detail";

#[derive(Debug, Clone, Deserialize)]
struct IncidentRow {
    kind: String,
    opened_at_ms: i64,
    alerted: i64,
    summary: String,
    alert_due_at_ms: Option<i64>,
    detail: Option<String>,
}

impl IncidentRow {
    fn typed(self) -> Option<Incident> {
        Some(Incident {
            kind: Kind::parse(&self.kind)?,
            opened_at_ms: self.opened_at_ms,
            alerted: self.alerted != 0,
            summary: self.summary,
            due_at_ms: self.alert_due_at_ms,
            detail: self
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or(Value::Null),
        })
    }
}

pub async fn open(db: &Db, project_id: &str, kind: Kind) -> Result<Option<Incident>, ApiError> {
    let row: Option<IncidentRow> = d1::first(
        db,
        &format!("SELECT {COLUMNS} FROM alert_incidents WHERE project_id = ?1 AND kind = ?2"),
        &[D1Type::Text(project_id), D1Type::Text(kind.as_str())],
    )
    .await?;
    Ok(row.and_then(IncidentRow::typed))
}

pub async fn of_project(db: &Db, project_id: &str) -> Result<Vec<Incident>, ApiError> {
    let rows: Vec<IncidentRow> = d1::all(
        db,
        &format!(
            "SELECT {COLUMNS} FROM alert_incidents WHERE project_id = ?1 ORDER BY opened_at_ms"
        ),
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(rows.into_iter().filter_map(IncidentRow::typed).collect())
}

/// An incident whose alert fell due, with its project's name for the message.
#[derive(Debug, Clone)]
pub struct DueIncident {
    pub project_id: String,
    pub project_name: String,
    pub incident: Incident,
}

/// Up to `limit` open incidents not alerted yet whose grace period ended by `now_ms` (all
/// projects', or one's).
pub async fn due(
    db: &Db,
    project_id: Option<&str>,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<DueIncident>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        project_id: String,
        project_name: String,
        kind: String,
        opened_at_ms: i64,
        alerted: i64,
        summary: String,
        alert_due_at_ms: Option<i64>,
        detail: Option<String>,
    }
    let rows: Vec<Row> = d1::all(
        db,
        "SELECT i.project_id, p.name AS project_name, i.kind, i.opened_at_ms, i.alerted, i.summary, \
         i.alert_due_at_ms, i.detail FROM alert_incidents i JOIN projects p ON p.id = i.project_id \
         WHERE i.alerted = 0 AND i.alert_due_at_ms <= ?1 AND (?2 IS NULL OR i.project_id = ?2) \
         ORDER BY i.alert_due_at_ms LIMIT ?3",
        &[d1::ms(now_ms), d1::opt(project_id), d1::int(limit)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let incident = IncidentRow {
                kind: r.kind,
                opened_at_ms: r.opened_at_ms,
                alerted: r.alerted,
                summary: r.summary,
                alert_due_at_ms: r.alert_due_at_ms,
                detail: r.detail,
            }
            .typed()?;
            Some(DueIncident {
                project_id: r.project_id,
                project_name: r.project_name,
                incident,
            })
        })
        .collect())
}

/// The earliest time an open incident of the project falls due for its alert.
pub async fn next_due(db: &Db, project_id: &str) -> Result<Option<i64>, ApiError> {
    #[derive(Deserialize)]
    struct Next {
        at: Option<i64>,
    }
    let row: Option<Next> = d1::first(
        db,
        "SELECT MIN(alert_due_at_ms) AS at FROM alert_incidents WHERE project_id = ?1 AND alerted = 0",
        &[D1Type::Text(project_id)],
    )
    .await?;
    Ok(row.and_then(|r| r.at))
}

/// Stores the incident as observed. `alerted` never goes back to 0 here: a concurrent check
/// (the cron, the project's alarm) may have raised the alert meanwhile.
pub async fn save(db: &Db, project_id: &str, incident: &Incident) -> Result<(), ApiError> {
    let detail = (!incident.detail.is_null()).then(|| incident.detail.to_string());
    d1::run(
        db,
        "INSERT INTO alert_incidents (project_id, kind, opened_at_ms, alerted, summary, alert_due_at_ms, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (project_id, kind) DO UPDATE SET opened_at_ms = excluded.opened_at_ms, \
         alerted = MAX(alerted, excluded.alerted), summary = excluded.summary, \
         alert_due_at_ms = CASE WHEN MAX(alerted, excluded.alerted) = 1 THEN NULL ELSE excluded.alert_due_at_ms END, \
         detail = excluded.detail",
        &[
            D1Type::Text(project_id),
            D1Type::Text(incident.kind.as_str()),
            d1::ms(incident.opened_at_ms),
            D1Type::Integer(i32::from(incident.alerted)),
            D1Type::Text(&incident.summary),
            incident.due_at_ms.map_or(D1Type::Null, d1::ms),
            d1::opt(detail.as_deref()),
        ],
    )
    .await
    .map(|_| ())
}

/// Marks the incident alerted; true only for the one caller that changed it (the others
/// found it alerted already and send nothing).
pub async fn claim_alert(db: &Db, project_id: &str, kind: Kind) -> Result<bool, ApiError> {
    let changed = d1::run(
        db,
        "UPDATE alert_incidents SET alerted = 1, alert_due_at_ms = NULL \
         WHERE project_id = ?1 AND kind = ?2 AND alerted = 0",
        &[D1Type::Text(project_id), D1Type::Text(kind.as_str())],
    )
    .await?;
    Ok(changed > 0)
}

pub async fn close(db: &Db, project_id: &str, kind: Kind) -> Result<(), ApiError> {
    d1::run(
        db,
        "DELETE FROM alert_incidents WHERE project_id = ?1 AND kind = ?2",
        &[D1Type::Text(project_id), D1Type::Text(kind.as_str())],
    )
    .await
    .map(|_| ())
}
