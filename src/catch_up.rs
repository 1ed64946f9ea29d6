//! The cron trigger: Notion aims for at-most-once delivery, so projects with auto-sync on whose
//! last successful sync is older than CATCH_UP_INTERVAL_SECONDS get a sync anyway. It also
//! checks freshness (edits Notion has that no webhook event announced: the subscription is
//! paused or lost; alert once, sync anyway), raises alerts whose grace period ended (the
//! backstop of each project's own timed check), delivers alerts whose earlier attempts failed,
//! and encrypts alert destination URLs stored in plaintext by earlier versions. Each run does
//! a bounded amount of each (`notion_framer_core::sync::cron`), within Free's 50 subrequests and
//! D1 queries per invocation together, and its log line says what it left for the next run.

use super::context::{now_ms, AppContext};
use super::notion_api::NotionClient;
use super::{alerts, project_sync, store};
use notion_framer_core::alerts::freshness::{self, Inputs, Verdict};
use notion_framer_core::alerts::incident::{Kind, Observation};
use notion_framer_core::alerts::notice::{self, ProjectRef};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::log_line::LogLine;
use notion_framer_core::project::Project;
use notion_framer_core::sync::cron::{self, CronRun};
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::sync::queue::Trigger;
use notion_framer_core::util::secrets::ProjectSecret;
use notion_framer_core::util::time::{iso_from_ms, ms_from_iso};
use std::rc::Rc;
use store::freshness_checks::FreshnessRow;
use worker::{console_log, Env};

/// Delivered or abandoned alerts are kept this long for inspection, then deleted.
const OUTBOX_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Wall time one cron run gives its work (Free's cron runs may take 30 s of CPU; the work
/// here mostly waits on D1, Notion and Durable Objects).
const CRON_MS: i64 = 25_000;

/// The budget of one cron run: subrequests and D1 queries together within Free's 50 per
/// invocation (`cron::POOL`), shared by the catch-up and the pruning that follows it.
pub fn budget() -> Rc<Budget> {
    Rc::new(Budget::pooled(cron::POOL, now_ms(), CRON_MS))
}

pub async fn run(env: &Env, budget: &Rc<Budget>) {
    let started = now_ms();
    let mut line = LogLine {
        kind: "scheduled",
        ..LogLine::default()
    };
    let mut run = CronRun::default();
    let outcome = scheduled_work(env, budget, &mut run).await;
    line.note = Some(run.note());
    if let Err(e) = outcome {
        line.error_code = Some(e.code().to_owned());
        line.detail = e.fault().cloned();
    }
    line.duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    line.subrequests = Some(budget.used());
    line.d1_queries = Some(budget.d1_used());
    console_log!("{}", line.to_json());
}

/// The run's stages, each within its share of `budget`: what the alerts stage and the pruning
/// need is held back while the catch-up syncs and freshness checks run, and the pruning's while
/// the alerts stage runs.
async fn scheduled_work(env: &Env, budget: &Rc<Budget>, run: &mut CronRun) -> Result<(), ApiError> {
    let ctx = AppContext::new(env.clone())?;
    budget.hold(cron::HELD_FOR_ALERTS_AND_PRUNING);
    queue_due_projects(&ctx, budget, run).await?;
    check_freshness(&ctx, budget, run).await?;
    budget.hold(cron::HELD_FOR_PRUNING);
    let overdue = alerts::raise_due(&ctx, budget, None, now_ms()).await?;
    run.raised = overdue;
    // What the pruning needs is held back by the budget itself.
    let pass = alerts::deliver_due(&ctx, budget, (0, 0), None).await?;
    (
        run.delivered,
        run.retrying,
        run.dropped,
        run.deliveries_left,
    ) = (pass.delivered, pass.retrying, pass.dropped, pass.left);
    run.sealed = alerts::seal_plaintext_urls(&ctx, budget, cron::SEALS_PER_RUN).await?;
    budget.hold(0);
    if budget.take_d1_closing() {
        store::alert_outbox::prune_settled(&ctx.db, now_ms() - OUTBOX_RETENTION_MS).await?;
    }
    Ok(())
}

/// Queues the catch-up syncs of up to `cron::CATCH_UP_PER_RUN` due projects, the least
/// recently served first, and records their turn; the rest wait for the next runs.
async fn queue_due_projects(
    ctx: &AppContext,
    budget: &Budget,
    run: &mut CronRun,
) -> Result<(), ApiError> {
    let now = now_ms();
    if !budget.affords(1, 2) {
        return Ok(());
    }
    budget.take_d1_closing();
    let (due, total) = store::projects::due_for_catch_up(
        &ctx.db,
        &iso_from_ms(now - ctx.settings.catch_up_interval_ms),
        cron::CATCH_UP_PER_RUN,
    )
    .await?;
    run.catch_up_due = total;
    let mut served = Vec::new();
    for project in &due {
        // The served marks' query stays affordable.
        if !budget.affords(cron::CATCH_UP_COST.0, cron::CATCH_UP_COST.1 + 1) || !budget.take() {
            break;
        }
        let full_due = project
            .last_full_sync_at
            .as_deref()
            .and_then(ms_from_iso)
            .is_none_or(|t| now - t >= ctx.settings.full_reconcile_interval_ms);
        match project_sync::request_sync(ctx, &project.id, Trigger::Schedule, full_due).await {
            // Deleted since the list was read: nothing to catch up.
            Ok(_) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        served.push(project.id.clone());
    }
    run.catch_up_queued = served.len();
    if !served.is_empty() && budget.take_d1_closing() {
        store::projects::served_catch_up(&ctx.db, &served, &iso_from_ms(now)).await?;
    }
    Ok(())
}

/// Checks up to `cron::FRESHNESS_PER_RUN` auto-sync projects with an active subscription, the
/// least recently checked first, each only when its worst case fits the budget; a project
/// Notion cannot be asked about (token revoked, say) is skipped here: its failing syncs raise
/// their own alert.
async fn check_freshness(
    ctx: &AppContext,
    budget: &Rc<Budget>,
    run: &mut CronRun,
) -> Result<(), ApiError> {
    if !budget.affords(cron::FRESHNESS_COST.0, cron::FRESHNESS_COST.1 + 1) {
        return Ok(());
    }
    budget.take_d1_closing();
    let projects = store::projects::for_freshness_check(&ctx.db, cron::FRESHNESS_PER_RUN).await?;
    run.freshness_listed = projects.len();
    for project in &projects {
        if !cron::affords(budget, cron::FRESHNESS_COST) {
            break;
        }
        run.freshness_checked += 1;
        match check_project(ctx, budget, project).await {
            Ok(true) => run.stale += 1,
            Ok(false) => {}
            Err(e) => alerts::log_failure(Some(&project.id), "freshness check failed", &e),
        }
    }
    Ok(())
}

/// One project's check: true when it found unannounced edits (and queued a sync).
async fn check_project(
    ctx: &AppContext,
    budget: &Rc<Budget>,
    project: &Project,
) -> Result<bool, ApiError> {
    let token = ctx.cipher()?.decrypt(
        &project.notion_token_enc,
        &ProjectSecret::NotionToken.context(&project.id),
    )?;
    // Each attempt takes a subrequest from the run's budget (a spent budget fails the query,
    // which skips the project this run). One query per data source: paced locally, as no
    // grant of the token's shared pacer is worth its subrequest here.
    let mut notion = NotionClient::for_step(&ctx.settings, token, budget.clone(), 0, None);
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
    alerts::observe(
        ctx,
        budget,
        &about,
        (Kind::Unannounced, alerts::Current::ToRead),
        observed,
        now,
        |_| warning.clone(),
    )
    .await?;
    let row = FreshnessRow {
        checked_at: iso_from_ms(now),
        latest_edit_at: latest,
        stale: i64::from(is_stale),
        warning: is_stale.then(|| format!("{}: {}", warning.title, warning.summary())),
    };
    budget.take_d1_closing();
    store::freshness_checks::save(&ctx.db, &project.id, &row).await?;
    if is_stale && budget.take() {
        // Sync anyway: the edits are real even if nobody announced them.
        project_sync::request_sync(ctx, &project.id, Trigger::Schedule, false).await?;
    }
    Ok(is_stale)
}
