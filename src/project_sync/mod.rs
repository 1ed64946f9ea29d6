//! The per-project Durable Object: it keeps the ledger of webhook deliveries (dedupe by event
//! id, copied to D1 in batches), coalesces relevant events into one pending batch, keeps the
//! alarm `DEBOUNCE_SECONDS` ahead of the latest event (capped by the max wait), and runs the sync
//! when the alarm fires. One object per project, named by the project id; each project syncs
//! exactly one Notion database.

mod client;
mod ledger_copy;

use ledger_copy::{flush, log_copy_failure};

pub use client::{
    cancel_run, forget, holds, ingest, queue_status, request_refresh, request_release,
    request_sync, runs,
};

use super::context::{now_ms, text_binding, AppContext};
use super::store::run_history::RunHistory;
use super::store::staging::SqlStaging;
use super::store::sync_runs::After;
use super::{alerts, store, sync};
use crate::fault::{OurResult, RuntimeResult};
use notion_framer_core::api::log_line::LogLine;
use notion_framer_core::sync::engine::budget::{self, Budget};
use notion_framer_core::sync::engine::failure::StepError;
use notion_framer_core::sync::engine::job::Job;
use notion_framer_core::sync::engine::ports::{Adoption, Legacy, Staging};
use notion_framer_core::sync::engine::step::StepOutcome;
use notion_framer_core::sync::ledger::{self, Outcome};
use notion_framer_core::sync::object::{
    self, Admission, CancelRequest, Checkpoint, Holds, HoldsRequest, IngestReply, IngestRequest,
    NextRun, ObjectRoute, QueueStatus, RefreshRequest, RunsRequest, SyncAsk, SyncRequest,
    SyncTicket,
};
use notion_framer_core::sync::queue::{self, AfterRun, Pending, RetryPolicy, Trigger, Window};
use notion_framer_core::util::secrets;
use notion_framer_core::util::settings::Settings;
use notion_framer_core::util::time::iso_from_ms;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use worker::{
    durable_object, Delay, DurableObject, Env, Request, Response, Result, ScheduledTime,
    SqlStorage, State, Storage,
};

const PENDING: &str = "pending";
const IN_FLIGHT: &str = "in_flight";
const PROJECT_ID: &str = "project_id";
/// When an open alert incident of the project falls due (a retryable failure that has lasted
/// `ALERT_RETRYABLE_AFTER_SECONDS`): the alarm checks it then, whether or not a run is due.
const ALERT_CHECK_AT: &str = "alert_check_at";
/// What the work before a step leaves the step (subrequests, D1 queries): a unit, its
/// checkpoint, and a close with the alert bookkeeping after it.
const STEP_KEEPS: (u32, u32) = (
    5,
    budget::UNIT_D1 + budget::CHECKPOINT_D1 + budget::CLOSE_D1 + alerts::AFTER_RUN_D1,
);

/// The batch a run of the version before stepped syncs was working on: read once, to close its
/// record and give its work back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InFlight {
    batch: Pending,
    sync_id: String,
    started_at_ms: i64,
}

#[durable_object]
pub struct ProjectSync {
    state: State,
    env: Env,
    /// The ledger table exists in this object's SQLite (checked once per instance).
    ledger_ready: Cell<bool>,
    /// The project id is stored (checked once per instance).
    project_known: Cell<bool>,
    /// The project was deleted and this object emptied: it stores nothing any more.
    forgotten: Cell<bool>,
    /// The debounce and retry settings, read from the environment once per instance.
    timing: Cell<Option<(Window, RetryPolicy)>>,
    /// A copy of the ledger to D1 is under way; new rows join it instead of starting another.
    flushing: Rc<Cell<bool>>,
    /// The owner changed the project's database or collection while a step ran: the step
    /// stops between units and closes its run as cancelled.
    cancel_requested: Rc<Cell<bool>>,
}

impl DurableObject for ProjectSync {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            ledger_ready: Cell::new(false),
            project_known: Cell::new(false),
            forgotten: Cell::new(false),
            timing: Cell::new(None),
            flushing: Rc::new(Cell::new(false)),
            cancel_requested: Rc::new(Cell::new(false)),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Some(route) = ObjectRoute::parse(&req.path()) else {
            return Response::error("no such object route", 404);
        };
        let outcome = match route {
            ObjectRoute::Ingest => match req.json::<IngestRequest>().await {
                Ok(body) => self.on_ingest(body).await,
                Err(e) => Err(worker::Error::RustError(format!("bad ingest request: {e}"))),
            },
            ObjectRoute::Sync => match req.json::<SyncRequest>().await {
                Ok(body) => self.on_sync_request(body).await,
                Err(e) => Err(worker::Error::RustError(format!("bad sync request: {e}"))),
            },
            ObjectRoute::Status => self.status().await.and_then(|s| Response::from_json(&s)),
            ObjectRoute::Forget => self.forget().await,
            ObjectRoute::Refresh => match req.json::<RefreshRequest>().await {
                Ok(body) => self.on_refresh(body).await,
                Err(e) => Err(worker::Error::RustError(format!(
                    "bad refresh request: {e}"
                ))),
            },
            ObjectRoute::Holds => match req.json::<HoldsRequest>().await {
                Ok(body) => self.held(&body).await,
                Err(e) => Err(worker::Error::RustError(format!("bad holds request: {e}"))),
            },
            ObjectRoute::Runs => match req.json::<RunsRequest>().await {
                Ok(body) => self.runs(&body),
                Err(e) => Err(worker::Error::RustError(format!("bad runs request: {e}"))),
            },
            ObjectRoute::Cancel => match req.json::<CancelRequest>().await {
                Ok(body) => self.on_cancel(&body),
                Err(e) => Err(worker::Error::RustError(format!("bad cancel request: {e}"))),
            },
        };
        outcome.or_else(|e| Response::error(e.to_string(), 500))
    }

    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let Some(project_id) = storage.get::<String>(PROJECT_ID).await? else {
            return Response::ok("no project");
        };
        let ctx = AppContext::new(self.env.clone()).or_runtime()?;
        // Everything this invocation does takes from one budget, the step's: Cloudflare counts
        // subrequests and D1 queries per invocation, not per step.
        let budget = sync::invocation_budget(&ctx);
        // The alarm is also the backstop for ledger rows the background copy did not get to.
        if let Err(e) = flush(&ctx, &self.ledger()?, &project_id, &budget, STEP_KEEPS.1).await {
            log_copy_failure(&project_id, &e);
        }
        let deliver = self.check_alerts(&ctx, &budget, &project_id).await?;
        let staging = self.staging()?;
        let Some(mut job) = self.job_to_run(&ctx, &budget, &staging).await? else {
            if deliver {
                // No step follows: the deliveries may use the whole budget.
                self.deliver_due(&ctx, &budget, (0, 0), &project_id).await?;
            }
            self.rearm().await?;
            return Response::ok("nothing due");
        };
        if deliver {
            // Before the step, not beside it, and leaving it its share.
            self.deliver_due(&ctx, &budget, STEP_KEEPS, &project_id)
                .await?;
        }
        // The step cannot start without its project: this read may use the checkpoint's reserve.
        budget.take_d1_closing();
        let Some(project) = store::projects::by_id(&ctx.db, &project_id)
            .await
            .or_runtime()?
        else {
            // Deleted while work was queued: nothing to do, nothing to record.
            let _ = staging.clear();
            return Response::ok("project deleted");
        };
        if job.steps == 0 && job.trigger() == Trigger::Webhook && !project.auto_sync_active() {
            // Auto-sync was turned off (or the plan lost it) after these events were queued.
            let _ = staging.clear();
            self.rearm().await?;
            return Response::ok("auto-sync off");
        }
        self.cancel_requested.set(false);
        let cancel = self.cancel_requested.clone();
        let history = self.history()?;
        let outcome = sync::step(
            &ctx,
            &project,
            &staging,
            &history,
            &mut job,
            &budget,
            &move || cancel.get(),
        )
        .await;
        self.cancel_requested.set(false);
        if self.forgotten.get() {
            // Deleted while the step waited on Notion or Framer: write nothing back.
            return Response::ok("project deleted");
        }
        if !matches!(outcome, StepOutcome::Continue) && !job.refresh_next.is_empty() {
            // Rows of this project that referenced items the run added: the next run reads
            // them again (a relation of the data source to itself).
            let pages = std::mem::take(&mut job.refresh_next).into_iter().collect();
            self.queue_refresh(pages, project.auto_sync_active())
                .await?;
        }
        match outcome {
            StepOutcome::Continue => {
                // The next step starts in a new invocation with a fresh budget: at once, or
                // after a pause while the run waits for related projects' runs.
                storage.set_alarm(at(job.next_step_at(now_ms()))).await?;
                return Response::ok("step done");
            }
            StepOutcome::Failed(failure) if failure.retryable => {
                let pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
                let (window, policy) = self.timing()?;
                let jitter =
                    u16::from_le_bytes(secrets::random_bytes::<2>().map_err(|e| step_secret(&e))?);
                if let AfterRun::Retry { pending, .. } =
                    queue::after_run(pending, Some(job.batch), now_ms(), window, policy, jitter)
                {
                    storage.put(PENDING, &pending).await?;
                }
            }
            // Done; or retrying cannot help (bad token, missing database): the run records
            // why, and the next event, "Sync now" or the catch-up cron tries again. A cancelled
            // run (the project now syncs another database or collection) leaves the next run,
            // full, to whatever comes next.
            StepOutcome::Succeeded | StepOutcome::Failed(_) | StepOutcome::Cancelled => {}
        }
        // A retryable failure that is not worth an alert yet gets its check on time.
        self.note_alert_check(&ctx, &budget, &project_id).await;
        self.rearm().await?;
        // Alerts the run queued go out now, after it, without holding up the next run, with
        // what the step left of this invocation's budget.
        self.deliver_alerts_in_background(&project_id, budget);
        Response::ok("run finished")
    }
}

/// An absolute alarm time (a bare i64 would be read as an offset from now).
fn at(epoch_ms: i64) -> ScheduledTime {
    #[allow(clippy::cast_precision_loss)]
    ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        epoch_ms as f64,
    )))
}

impl ProjectSync {
    fn staging(&self) -> Result<SqlStaging> {
        SqlStaging::open(self.state.storage().sql()).map_err(step_error)
    }

    fn history(&self) -> Result<RunHistory> {
        RunHistory::open(self.state.storage().sql()).or_runtime()
    }

    /// The run to continue (its checkpoint), or a new one for the pending batch once it is due
    /// ([`object::next_run`] decides). A checkpoint that cannot be read (written by another
    /// version) is dropped and its work owed; so is a batch an older version left in flight,
    /// whose record is closed as interrupted.
    async fn job_to_run(
        &self,
        ctx: &AppContext,
        budget: &Budget,
        staging: &SqlStaging,
    ) -> Result<Option<Job>> {
        let storage = self.state.storage();
        let pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        let checkpoint = match staging.load_job() {
            Ok(Some(job)) => Checkpoint::Job(Box::new(job)),
            Ok(None) => Checkpoint::None,
            Err(_) => {
                staging.clear().map_err(step_error)?;
                Checkpoint::Unreadable
            }
        };
        let lost = match storage.get::<InFlight>(IN_FLIGHT).await? {
            Some(lost) if !matches!(checkpoint, Checkpoint::Job(_)) => {
                let now = iso_from_ms(now_ms());
                budget.take_d1_closing();
                store::sync_runs::close_interrupted(&ctx.db, &lost.sync_id, &now)
                    .await
                    .or_runtime()?;
                storage.delete(IN_FLIGHT).await?;
                Some(lost.batch)
            }
            _ => None,
        };
        let new_id = secrets::random_id().or_runtime()?;
        match object::next_run(checkpoint, pending, lost, now_ms(), || new_id) {
            NextRun::Resume(job) => Ok(Some(*job)),
            NextRun::Wait(pending) => {
                if !pending.is_empty() {
                    storage.put(PENDING, &pending).await?;
                }
                Ok(None)
            }
            NextRun::Start(job) => {
                // Stored before the batch is dropped: a crash in between runs the batch twice,
                // never zero times.
                staging.save_job(&job).map_err(step_error)?;
                storage.delete(PENDING).await?;
                Ok(Some(*job))
            }
        }
    }

    fn timing(&self) -> Result<(Window, RetryPolicy)> {
        if let Some(timing) = self.timing.get() {
            return Ok(timing);
        }
        let settings = Settings::from_lookup(|name| text_binding(&self.env, name)).or_runtime()?;
        let timing = (
            Window {
                debounce_ms: settings.debounce_ms,
                max_wait_ms: settings.max_wait_ms,
            },
            RetryPolicy::new(settings.sync_retry_base_ms, settings.sync_retry_for_ms),
        );
        self.timing.set(Some(timing));
        Ok(timing)
    }

    fn window(&self) -> Result<Window> {
        Ok(self.timing()?.0)
    }

    /// Raises the project's alerts that fell due (a retryable failure lasting past its grace
    /// period) when the alarm fired for them; true when the alarm is due for deliveries (those
    /// raised, and what an earlier invocation's budget left undelivered).
    async fn check_alerts(
        &self,
        ctx: &AppContext,
        budget: &Budget,
        project_id: &str,
    ) -> Result<bool> {
        let storage = self.state.storage();
        let Some(check_at) = storage.get::<i64>(ALERT_CHECK_AT).await? else {
            return Ok(false);
        };
        if check_at > now_ms() {
            return Ok(false);
        }
        storage.delete(ALERT_CHECK_AT).await?;
        if let Err(e) = alerts::raise_due(ctx, budget, Some(project_id), now_ms()).await {
            alerts::log_failure(Some(project_id), "timed alert check failed", &e);
        }
        Ok(true)
    }

    /// Delivers the project's due alerts now, leaving `keep` of the budget; what is left over
    /// gets the next alarm (at once when nothing else is due sooner).
    async fn deliver_due(
        &self,
        ctx: &AppContext,
        budget: &Budget,
        keep: (u32, u32),
        project_id: &str,
    ) -> Result<()> {
        match alerts::deliver_due(ctx, budget, keep, Some(project_id)).await {
            Ok(pass) => {
                log_invocation(project_id, budget, &pass);
                if pass.left {
                    self.state.storage().put(ALERT_CHECK_AT, now_ms()).await?;
                }
            }
            Err(e) => alerts::log_failure(Some(project_id), "timed alert delivery failed", &e),
        }
        Ok(())
    }

    /// After a run: remembers when the project's open incident falls due for an alert, if one
    /// waits for its grace period; the alarm comes then.
    async fn note_alert_check(&self, ctx: &AppContext, budget: &Budget, project_id: &str) {
        let storage = self.state.storage();
        let stored = match alerts::next_due(ctx, budget, project_id).await {
            Ok(Some(due)) => storage.put(ALERT_CHECK_AT, due).await,
            Ok(None) => storage.delete(ALERT_CHECK_AT).await.map(|_| ()),
            Err(e) => {
                alerts::log_failure(Some(project_id), "reading the open incidents failed", &e);
                Ok(())
            }
        };
        if let Err(e) = stored.fault() {
            alerts::log_failure(Some(project_id), "storing the alert check failed", &e);
        }
    }

    /// Records a delivery in the ledger (the dedupe), queues its effect when it is the first
    /// delivery and auto-sync may run, and answers once both are stored: nothing acknowledged
    /// to Notion is lost. The copy to D1 continues after the answer.
    async fn on_ingest(&self, mut body: IngestRequest) -> Result<Response> {
        if !self.adopt(&body.project_id).await? {
            return project_gone();
        }
        if let Some(page_id) = &body.moved_page {
            let page = std::slice::from_ref(page_id);
            if !self.held_among(&body.project_id, page).await?.is_empty() {
                body.moved_page_held();
            }
        }
        let storage = self.state.storage();
        let first_delivery = store::ledger::remember(&self.ledger()?, &body.record)?;
        let outcome = Outcome::decide(first_delivery, body.effect.is_some(), body.auto_sync);
        if let (Some(effect), Outcome::Queued) = (&body.effect, outcome) {
            let now = now_ms();
            let mut pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
            pending.record_event(effect, now);
            pending.schedule(now, self.window()?);
            storage.put(PENDING, &pending).await?;
            self.arm(&pending).await?;
        }
        if first_delivery && !self.flushing.get() {
            // Once per copy started, not per event: rows arriving during a copy join it, and
            // the alarm picks up whatever a failed or interrupted copy leaves.
            ensure_alarm(&storage).await?;
            self.flush_in_background(&body.project_id)?;
        }
        Response::from_json(&IngestReply { outcome })
    }

    /// The run history asks nothing of D1 and changes nothing: a deleted project's emptied
    /// object answers no runs.
    fn runs(&self, body: &RunsRequest) -> Result<Response> {
        if self.forgotten.get() {
            return project_gone();
        }
        let history = self.history()?;
        let runs = if let Some(id) = &body.id {
            history.by_id(id).or_runtime()?.into_iter().collect()
        } else {
            let after = body
                .after
                .as_ref()
                .map(|(started_at, id)| After { started_at, id });
            history.page(after.as_ref(), body.limit).or_runtime()?
        };
        Response::from_json(&runs)
    }

    /// Which of the pages Framer holds for this project (the object's record, or D1's until
    /// the object adopted it), and whether a run here may still add others.
    async fn held(&self, body: &HoldsRequest) -> Result<Response> {
        if self.forgotten.get() {
            return project_gone();
        }
        let storage = self.state.storage();
        let project_id = storage.get::<String>(PROJECT_ID).await?;
        let held = self
            .held_among(&project_id.unwrap_or_default(), &body.page_ids)
            .await?;
        let job = self.staging()?.load_job().ok().flatten();
        let pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        let running = object::runs_for_holds(job.as_ref(), &pending, now_ms());
        Response::from_json(&Holds { held, running })
    }

    /// Which of the pages Framer holds for the project: the object's record, or D1's until the
    /// object adopted it.
    async fn held_among(
        &self,
        project_id: &str,
        page_ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>> {
        let staging = self.staging()?;
        if staging.adoption(Legacy::Items).map_err(step_error)? == Adoption::Done {
            return staging.held_among(page_ids).map_err(step_error);
        }
        let ctx = AppContext::new(self.env.clone()).or_runtime()?;
        store::references::held_by(&ctx.db, project_id, page_ids)
            .await
            .or_runtime()
    }

    fn on_cancel(&self, body: &CancelRequest) -> Result<Response> {
        // Only a step under way can see it; between steps the next one compares the project's
        // settings with the run's own.
        self.cancel_requested.set(true);
        if body.forget_items {
            self.staging()?.clear_items().map_err(step_error)?;
        }
        Response::ok("cancel requested")
    }

    /// The ledger table, created on first use.
    fn ledger(&self) -> Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.ledger_ready.get() {
            store::ledger::create(&sql)?;
            self.ledger_ready.set(true);
        }
        Ok(sql)
    }

    /// Copies new ledger rows to D1 after the answer; rows arriving meanwhile join the copy
    /// under way, so under load one D1 round trip carries many events.
    fn flush_in_background(&self, project_id: &str) -> Result<()> {
        if self.flushing.replace(true) {
            return Ok(());
        }
        let (sql, flushing) = (self.ledger()?, self.flushing.clone());
        let project_id = project_id.to_owned();
        // This invocation's own budget (the request that stored the event made one D1 query
        // at most); what does not fit is copied by the alarm set when the rows arrived.
        let ctx = AppContext::new(self.env.clone()).or_runtime()?;
        let budget = sync::invocation_budget(&ctx);
        self.state.wait_until(async move {
            Delay::from(Duration::from_millis(ledger::FLUSH_DELAY_MS)).await;
            if let Err(e) = flush(&ctx, &sql, &project_id, &budget, 0).await {
                // The rows stay unflushed; the alarm set when they arrived copies them later.
                log_copy_failure(&project_id, &e);
            }
            flushing.set(false);
        });
        Ok(())
    }

    /// Delivers the project's due alerts after the answer, within what is left of the
    /// invocation's `budget`; failures stay queued for the cron, and rows the budget left wait
    /// for the next alarm, set at once for them.
    fn deliver_alerts_in_background(&self, project_id: &str, budget: Rc<Budget>) {
        let (env, project_id) = (self.env.clone(), project_id.to_owned());
        let storage = self.state.storage();
        self.state.wait_until(async move {
            let delivered = match AppContext::new(env) {
                Ok(ctx) => alerts::deliver_due(&ctx, &budget, (0, 0), Some(&project_id)).await,
                Err(e) => Err(e),
            };
            if let Ok(pass) = &delivered {
                log_invocation(&project_id, &budget, pass);
            }
            match delivered {
                Ok(pass) if pass.left => {
                    // The next invocation's check sends them with a fresh budget.
                    let now = now_ms();
                    if storage.put(ALERT_CHECK_AT, now).await.is_ok() {
                        let next = storage.get_alarm().await.ok().flatten();
                        if next.is_none_or(|at_ms| at_ms > now) {
                            let _ = storage.set_alarm(at(now)).await;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    alerts::log_failure(Some(&project_id), "alert delivery after a run failed", &e);
                }
            }
        });
    }

    async fn on_sync_request(&self, body: SyncRequest) -> Result<Response> {
        if !self.adopt(&body.project_id).await? {
            return project_gone();
        }
        let storage = self.state.storage();
        let running = self.staging()?.load_job().ok().flatten();
        let mut pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        let ask = SyncAsk {
            trigger: body.trigger,
            full: body.full,
            release_held: body.release_held,
        };
        let in_flight = running
            .as_ref()
            .map(|job| (job.batch.trigger, job.sync_id.as_str()));
        let ticket = match object::admit(in_flight, &pending, ask) {
            Admission::Running { sync_id } => SyncTicket {
                sync_id: Some(sync_id),
                already_running: true,
            },
            Admission::Queued { sync_id } => SyncTicket {
                sync_id,
                already_running: false,
            },
            Admission::Record => {
                let new_id = secrets::random_id().or_runtime()?;
                object::record(&mut pending, ask, now_ms(), self.window()?, || new_id);
                storage.put(PENDING, &pending).await?;
                self.arm(&pending).await?;
                SyncTicket {
                    sync_id: pending.sync_id,
                    already_running: false,
                }
            }
        };
        Response::from_json(&ticket)
    }

    /// Queues pages another project asked for: with auto-sync on they make a batch under the
    /// debounce, like an event; off, they wait in the batch for the next run there is.
    async fn on_refresh(&self, body: RefreshRequest) -> Result<Response> {
        if !self.adopt(&body.project_id).await? {
            return project_gone();
        }
        let ctx = AppContext::new(self.env.clone()).or_runtime()?;
        let auto_sync = store::projects::by_id(&ctx.db, &body.project_id)
            .await
            .or_runtime()?
            .is_some_and(|p| p.auto_sync_active());
        self.queue_refresh(body.page_ids, auto_sync).await?;
        Response::ok("queued")
    }

    async fn queue_refresh(&self, pages: Vec<String>, run: bool) -> Result<()> {
        if pages.is_empty() {
            return Ok(());
        }
        let storage = self.state.storage();
        let now = now_ms();
        let mut pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        pending.record_refresh(pages, run, now);
        pending.schedule(now, self.window()?);
        storage.put(PENDING, &pending).await?;
        self.arm(&pending).await
    }

    /// After a run, re-arm for whatever arrived while it ran (no change is lost), or for ledger
    /// rows that could not be copied to D1 yet.
    async fn rearm(&self) -> Result<()> {
        let storage = self.state.storage();
        let pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        self.arm(&pending).await
    }

    /// Sets the alarm for the earlier of the batch's due time and the alert check; with
    /// neither, for ledger rows still to copy.
    async fn arm(&self, pending: &Pending) -> Result<()> {
        let storage = self.state.storage();
        let alert_check = storage.get::<i64>(ALERT_CHECK_AT).await?;
        match queue::next_alarm(pending.due_at(), alert_check) {
            Some(when) => storage.set_alarm(at(when.max(now_ms()))).await?,
            None if store::ledger::has_unflushed(&self.ledger()?)? => {
                ensure_alarm(&storage).await?;
            }
            None => {}
        }
        Ok(())
    }

    async fn status(&self) -> Result<QueueStatus> {
        let storage = self.state.storage();
        let pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        let running = self.staging()?.load_job().ok().flatten();
        Ok(QueueStatus {
            pending_events: pending.events,
            pending_since_ms: (!pending.is_empty()).then_some(pending.first_at_ms),
            alarm_at_ms: storage.get_alarm().await?,
            queued_sync_id: pending.sync_id.clone(),
            failures: pending.failures,
            failing_since_ms: pending.failing_since_ms,
            next_attempt_at_ms: (pending.failures > 0).then(|| pending.due_at()).flatten(),
            retries_stopped: pending.failures > 0 && pending.due_at().is_none(),
            running_sync_id: running.as_ref().map(|r| r.sync_id.clone()),
            running_since_ms: running.map(|r| r.started_at_ms),
        })
    }

    async fn forget(&self) -> Result<Response> {
        let storage = self.state.storage();
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        self.ledger_ready.set(false);
        self.project_known.set(false);
        self.forgotten.set(true);
        Response::ok("forgotten")
    }

    /// Whether this object may store state for `project_id`, storing the id the first time.
    /// Not after `forget`; and an object that holds nothing yet (a new project, or one deleted
    /// while a request was on its way: another isolate's cached webhook route, the cron's list)
    /// asks D1 once whether the project exists, so a deleted project is never re-created here.
    async fn adopt(&self, project_id: &str) -> Result<bool> {
        if self.forgotten.get() {
            return Ok(false);
        }
        if self.project_known.get() {
            return Ok(true);
        }
        let storage = self.state.storage();
        if storage.get::<String>(PROJECT_ID).await?.is_none() {
            let ctx = AppContext::new(self.env.clone()).or_runtime()?;
            let exists = store::projects::exists(&ctx.db, project_id)
                .await
                .or_runtime()?;
            if !exists || self.forgotten.get() {
                return Ok(false);
            }
            storage.put(PROJECT_ID, project_id).await?;
        }
        self.project_known.set(true);
        Ok(true)
    }
}

/// The alarm invocation's last line, once its deliveries are done: what the whole invocation
/// spent (the step's `sync_step` line comes before the run's alert bookkeeping and deliveries).
fn log_invocation(project_id: &str, budget: &Budget, pass: &alerts::Pass) {
    let line = LogLine {
        kind: "alarm",
        project_id: Some(project_id.to_owned()),
        subrequests: Some(budget.used()),
        d1_queries: Some(budget.d1_used()),
        note: Some(format!(
            "alerts after the step: {} delivered, {} retrying, {} dropped{}",
            pass.delivered,
            pass.retrying,
            pass.dropped,
            if pass.left {
                "; more due, left for the next alarm"
            } else {
                ""
            }
        )),
        ..LogLine::default()
    };
    worker::console_log!("{}", line.to_json());
}

/// A staging failure as the runtime's error (the alarm is then retried by the runtime).
fn step_error(e: StepError) -> worker::Error {
    let detail = match e.into_failure() {
        Some(f) => f.fault.map_or(f.message, |fault| {
            serde_json::to_string(&fault).unwrap_or_default()
        }),
        None => "step budget spent".to_owned(),
    };
    worker::Error::RustError(format!("sync staging: {detail}"))
}

/// The random source failing as the runtime's error.
fn step_secret(e: &secrets::SecretError) -> worker::Error {
    worker::Error::RustError(format!("retry jitter: {e}"))
}

/// What the object answers for a project that no longer exists; the Worker reads it as 404.
fn project_gone() -> Result<Response> {
    Response::error("project deleted", GONE)
}

/// What the object answers for a deleted project; the client reads it as 404.
const GONE: u16 = 410;

/// Makes sure an alarm will come, so ledger rows left behind are copied eventually.
async fn ensure_alarm(storage: &Storage) -> Result<()> {
    if storage.get_alarm().await?.is_none() {
        storage
            .set_alarm(at(now_ms() + ledger::FLUSH_RETRY_MS))
            .await?;
    }
    Ok(())
}
