//! The cron trigger: Notion aims for at-most-once delivery, so projects with auto-sync on whose
//! last successful sync is older than CATCH_UP_INTERVAL_SECONDS get a sync anyway. It also
//! checks freshness (edits Notion has that no webhook event announced: the subscription is
//! paused or lost; alert once, sync anyway), raises alerts whose grace period ended (the
//! backstop of each project's own timed check), delivers alerts whose earlier attempts failed,
//! and encrypts alert destination URLs stored in plaintext by earlier versions.

use super::context::{now_ms, AppContext};
use super::notion_api::NotionClient;
use super::{alerts, project_sync, store};
use notion_framer_core::alerts::freshness::{self, Inputs, Verdict};
use notion_framer_core::alerts::incident::{Kind, Observation};
use notion_framer_core::alerts::notice::{self, ProjectRef};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::log_line::LogLine;
use notion_framer_core::project::Project;
use notion_framer_core::sync::queue::Trigger;
use notion_framer_core::util::secrets::ProjectSecret;
use notion_framer_core::util::time::{iso_from_ms, ms_from_iso};
use store::freshness_checks::FreshnessRow;
use worker::{console_log, Env};

/// Projects one cron run checks for freshness at most (one Notion query and a few D1 queries
/// each); the least recently checked go first.
const FRESHNESS_CHECKS_PER_RUN: usize = 25;
/// Destination rows one cron run encrypts at most (rows from before URLs were encrypted).
const URL_SEALS_PER_RUN: usize = 50;
/// Delivered or abandoned alerts are kept this long for inspection, then deleted.
const OUTBOX_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;

pub async fn run(env: &Env) {
    let started = now_ms();
    let mut line = LogLine {
        kind: "scheduled",
        ..LogLine::default()
    };
    match scheduled_work(env).await {
        Ok(note) => line.note = Some(note),
        Err(e) => {
            line.error_code = Some(e.code().to_owned());
            line.detail = e.fault().cloned();
        }
    }
    line.duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    console_log!("{}", line.to_json());
}

async fn scheduled_work(env: &Env) -> Result<String, ApiError> {
    let ctx = AppContext::new(env.clone())?;
    let queued = queue_due_projects(&ctx).await?;
    let (checked, stale) = check_freshness(&ctx).await?;
    let sealed = alerts::seal_plaintext_urls(&ctx, URL_SEALS_PER_RUN).await?;
    let overdue = alerts::raise_due(&ctx, None, now_ms()).await?;
    let pass = alerts::deliver_due(&ctx, None).await?;
    store::alert_outbox::prune_settled(&ctx.db, now_ms() - OUTBOX_RETENTION_MS).await?;
    Ok(format!(
        "{queued} catch-up syncs queued; freshness: {checked} checked, {stale} with unannounced edits; \
         alerts: {overdue} raised on time, {} delivered, {} retrying, {} dropped; \
         {sealed} destination URLs encrypted",
        pass.delivered, pass.retrying, pass.dropped
    ))
}

async fn queue_due_projects(ctx: &AppContext) -> Result<usize, ApiError> {
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
        match project_sync::request_sync(ctx, &project.id, Trigger::Schedule, full_due).await {
            // Deleted since the list was read: nothing to catch up.
            Ok(_) | Err(notion_framer_core::api::error::ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(due.len())
}

/// Checks every auto-sync project with an active subscription; a project Notion cannot be
/// asked about (token revoked, say) is skipped here: its failing syncs raise their own alert.
async fn check_freshness(ctx: &AppContext) -> Result<(usize, usize), ApiError> {
    let projects = store::projects::for_freshness_check(&ctx.db, FRESHNESS_CHECKS_PER_RUN).await?;
    let mut stale = 0;
    for project in &projects {
        match check_project(ctx, project).await {
            Ok(true) => stale += 1,
            Ok(false) => {}
            Err(e) => alerts::log_failure(Some(&project.id), "freshness check failed", &e),
        }
    }
    Ok((projects.len(), stale))
}

/// One project's check: true when it found unannounced edits (and queued a sync).
async fn check_project(ctx: &AppContext, project: &Project) -> Result<bool, ApiError> {
    let token = ctx.cipher()?.decrypt(
        &project.notion_token_enc,
        &ProjectSecret::NotionToken.context(&project.id),
    )?;
    let mut notion = NotionClient::new(&ctx.settings, token);
    let mut latest: Option<String> = None;
    for data_source in &project.notion_data_source_ids {
        let Ok(edit) = notion.latest_edit(data_source).await else {
            return Ok(false);
        };
        if edit.as_deref().and_then(ms_from_iso) > latest.as_deref().and_then(ms_from_iso) {
            latest = edit;
        }
    }
    let now = now_ms();
    let webhook = &project.webhook;
    let verdict = freshness::check(&Inputs {
        latest_edit_ms: latest.as_deref().and_then(ms_from_iso),
        last_event_ms: webhook.last_event_at.as_deref().and_then(ms_from_iso),
        activated_ms: webhook.activated_at.as_deref().and_then(ms_from_iso),
        now_ms: now,
        max_wait_ms: ctx.settings.max_wait_ms,
    });
    let about = ProjectRef {
        id: project.id.clone(),
        name: project.name.clone(),
    };
    let warning = notice::unannounced(
        &about,
        latest.as_deref().unwrap_or_default(),
        webhook.last_event_at.as_deref(),
    );
    let is_stale = matches!(verdict, Verdict::Unannounced { .. });
    let observed = if is_stale {
        Observation::Present {
            summary: warning.summary(),
            alert_after_ms: 0,
            detail: serde_json::Value::Null,
        }
    } else {
        Observation::Absent
    };
    alerts::observe(ctx, &about, Kind::Unannounced, observed, now, |_| {
        warning.clone()
    })
    .await?;
    let row = FreshnessRow {
        checked_at: iso_from_ms(now),
        latest_edit_at: latest,
        stale: i64::from(is_stale),
        warning: is_stale.then(|| format!("{}: {}", warning.title, warning.summary())),
    };
    store::freshness_checks::save(&ctx.db, &project.id, &row).await?;
    if is_stale {
        // Sync anyway: the edits are real even if nobody announced them.
        project_sync::request_sync(ctx, &project.id, Trigger::Schedule, false).await?;
    }
    Ok(is_stale)
}
