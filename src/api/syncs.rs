//! The sync controls of a project: "Sync now" and the run history.

use super::Owned;
use crate::fault::RuntimeResult;
use crate::http::Reply;
use crate::project_sync;
use crate::store::sync_runs::{self, SyncRun};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::object::RunsRequest;
use notion_framer_core::sync::queue::Trigger;
use notion_framer_core::sync::retention::Policy;
use notion_framer_core::util::time::iso_from_ms;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::Request;

/// A run as the API shows it.
pub fn run_view(run: &SyncRun) -> Value {
    json!({
        "id": run.id, "trigger": run.trigger, "scope": run.scope, "status": run.status,
        "started_at": run.started_at, "finished_at": run.finished_at, "events": run.events,
        "counts": { "added": run.added, "updated": run.updated, "removed": run.removed, "unchanged": run.unchanged, "skipped": run.skipped },
        "calls": { "notion": run.notion_calls, "framer": run.framer_calls, "bytes_sent_to_framer": run.bytes_sent },
        "published": run.published != 0,
        "warnings": serde_json::from_str::<Value>(&run.warnings).unwrap_or_else(|_| json!([])),
        "error": run.error_code.as_ref().map(|code| json!({ "code": code, "message": run.error_message })),
        "steps": run.steps,
        "progress": {
            "phase": run.phase, "rows_read": run.rows_read, "items_written": run.items_written, "rows_total": run.rows_total,
        },
        "skipped_rows": serde_json::from_str::<Value>(&run.skipped_rows).unwrap_or_else(|_| json!([])),
        "removals_held": run.removals_held,
        "held_removals": held_view(run),
    })
}

/// The removals the deletion guard held in a run: how many, why, and the first items with
/// their Notion links; null when the run held nothing.
fn held_view(run: &SyncRun) -> Value {
    let Some(held) = run.held.as_deref() else {
        return Value::Null;
    };
    let held: Value = serde_json::from_str(held).unwrap_or_else(|_| json!({}));
    json!({ "count": run.removals_held, "reason": held["reason"], "items": held["items"] })
}

/// How far the run in flight got (`sync.progress` of the project), from its record. The queue
/// names the run before its first step writes the record: until then it is reading.
pub fn progress_view(sync_id: &str, run: Option<&SyncRun>, running_since_ms: Option<i64>) -> Value {
    match run {
        Some(run) => json!({
            "sync_id": run.id, "phase": run.phase, "rows_read": run.rows_read, "items_written": run.items_written,
            "rows_total": run.rows_total, "steps": run.steps, "started_at": run.started_at,
        }),
        None => json!({
            "sync_id": sync_id, "phase": "reading", "rows_read": 0, "items_written": 0,
            "rows_total": null, "steps": 0, "started_at": running_since_ms.map(iso_from_ms),
        }),
    }
}

pub async fn sync_now(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let ticket =
        project_sync::request_sync(owned.ctx, &owned.project.id, Trigger::Manual, true).await?;
    let status = if ticket.already_running {
        "running"
    } else {
        "queued"
    };
    Ok(owned.reply(
        202,
        &json!({ "sync_id": ticket.sync_id, "status": status, "already_running": ticket.already_running }),
    ))
}

/// Where the next page starts, opaque to clients.
#[derive(Serialize, Deserialize)]
struct Cursor {
    started_at: String,
    id: String,
}

pub async fn history(owned: &Owned<'_>, req: &Request) -> Result<Reply, ApiError> {
    let url = req.url().fault()?;
    let mut limit = 20usize;
    let mut cursor: Option<Cursor> = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::validation(
                            "limit",
                            "`limit` must be a whole number from 1 to 100",
                        )
                    })?;
            }
            "cursor" => {
                let decoded = URL_SAFE_NO_PAD
                    .decode(value.as_bytes())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                cursor = Some(decoded.ok_or_else(|| {
                    ApiError::validation("cursor", "`cursor` is not one this API returned")
                })?);
            }
            _ => {}
        }
    }
    let after = cursor.as_ref().map(|c| sync_runs::After {
        started_at: &c.started_at,
        id: &c.id,
    });
    let mut runs = history_page(owned, after.as_ref(), limit + 1).await?;
    let next = if runs.len() > limit {
        runs.truncate(limit);
        runs.last()
            .map(|r| {
                serde_json::to_vec(&Cursor {
                    started_at: r.started_at.clone(),
                    id: r.id.clone(),
                })
            })
            .transpose()?
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
    } else {
        None
    };
    Ok(owned.reply(
        200,
        &json!({
            "syncs": runs.iter().map(run_view).collect::<Vec<_>>(),
            "next_cursor": next,
            "retention": Policy::from(&owned.ctx.settings).history_view(),
        }),
    ))
}

/// Up to `limit` runs of the project, newest first, after the cursor: the object's history of
/// finished runs merged with D1's rows (the run in flight, the newest finished one, and what is
/// left there of the history of versions before), each run once.
async fn history_page(
    owned: &Owned<'_>,
    after: Option<&sync_runs::After<'_>>,
    limit: usize,
) -> Result<Vec<SyncRun>, ApiError> {
    let (ctx, project_id) = (owned.ctx, owned.project.id.as_str());
    let mut runs = sync_runs::page(&ctx.db, project_id, after, limit).await?;
    let request = RunsRequest {
        id: None,
        after: after.map(|a| (a.started_at.to_owned(), a.id.to_owned())),
        limit,
    };
    for run in project_sync::runs(ctx, project_id, &request).await? {
        if !runs.iter().any(|r| r.id == run.id) {
            runs.push(run);
        }
    }
    runs.sort_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
    runs.truncate(limit);
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::{progress_view, run_view, SyncRun};
    use serde_json::json;

    fn run() -> SyncRun {
        SyncRun {
            id: "s1".into(),
            project_id: "p1".into(),
            trigger: "manual".into(),
            scope: "full".into(),
            status: "running".into(),
            started_at: "2026-11-01T12:00:00.000Z".into(),
            finished_at: None,
            events: 0,
            added: 0,
            updated: 0,
            removed: 0,
            unchanged: 0,
            skipped: 1,
            notion_calls: 3,
            framer_calls: 1,
            bytes_sent: 0,
            published: 0,
            warnings: "[]".into(),
            error_code: None,
            error_message: None,
            phase: Some("reading".into()),
            rows_read: 200,
            items_written: 100,
            rows_total: None,
            steps: 3,
            skipped_rows: r#"[{"page_id":"a","title":"Bad","url":"https://www.notion.so/a","property":"Cover","reason":"Invalid URL"}]"#.into(),
            removals_held: 0,
            held: None,
        }
    }

    #[test]
    fn progress_of_a_recorded_run_comes_from_its_record() {
        assert_eq!(
            progress_view("s1", Some(&run()), Some(0)),
            json!({
                "sync_id": "s1", "phase": "reading", "rows_read": 200, "items_written": 100,
                "rows_total": null, "steps": 3, "started_at": "2026-11-01T12:00:00.000Z",
            })
        );
    }

    #[test]
    fn a_run_without_a_record_yet_is_reading_since_the_queue_named_it() {
        assert_eq!(
            progress_view("s2", None, Some(1_793_534_400_000)),
            json!({
                "sync_id": "s2", "phase": "reading", "rows_read": 0, "items_written": 0,
                "rows_total": null, "steps": 0, "started_at": "2026-11-01T12:00:00.000Z",
            })
        );
    }

    #[test]
    fn the_run_view_lists_steps_progress_and_skipped_rows() {
        let view = run_view(&run());
        assert_eq!(view["steps"], 3);
        assert_eq!(
            view["progress"],
            json!({ "phase": "reading", "rows_read": 200, "items_written": 100, "rows_total": null })
        );
        assert_eq!(view["counts"]["skipped"], 1);
        assert_eq!(view["skipped_rows"][0]["property"], "Cover");
        let broken = SyncRun {
            skipped_rows: "not json".into(),
            ..run()
        };
        assert_eq!(run_view(&broken)["skipped_rows"], json!([]));
    }
}
