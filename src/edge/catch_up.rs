//! The cron trigger: Notion aims for at-most-once delivery, so projects with auto-sync on whose
//! last successful sync is older than CATCH_UP_INTERVAL_SECONDS get a sync anyway.

use super::context::{now_ms, AppContext};
use super::{project_sync, store};
use crate::api::error::ApiError;
use crate::api::log_line::LogLine;
use crate::sync::queue::Trigger;
use crate::util::time::{iso_from_ms, ms_from_iso};
use worker::{console_log, Env};

pub async fn run(env: &Env) {
    let started = now_ms();
    let mut line = LogLine {
        kind: "scheduled",
        ..LogLine::default()
    };
    match queue_due_projects(env).await {
        Ok(n) => line.note = Some(format!("{n} catch-up syncs queued")),
        Err(e) => {
            line.error_code = Some(e.code().to_owned());
            line.detail = e.fault().cloned();
        }
    }
    line.duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    console_log!("{}", line.to_json());
}

async fn queue_due_projects(env: &Env) -> Result<usize, ApiError> {
    let ctx = AppContext::new(env.clone())?;
    let now = now_ms();
    let due = store::projects::due_for_catch_up(
        &ctx.db,
        &iso_from_ms(now - ctx.settings.catch_up_interval_ms),
    )
    .await?;
    for project in &due {
        let full_due = project
            .last_full_sync_at
            .as_deref()
            .and_then(ms_from_iso)
            .is_none_or(|t| now - t >= ctx.settings.full_reconcile_interval_ms);
        match project_sync::request_sync(&ctx, &project.id, Trigger::Schedule, full_due).await {
            // Deleted since the list was read: nothing to catch up.
            Ok(_) | Err(crate::api::error::ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(due.len())
}
