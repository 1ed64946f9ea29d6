//! The runtime side of a sync step: the engine's ports over Notion (fetch), Framer (one
//! WebSocket per step, opened on first use), D1 and the object's SQLite, and one log line per
//! step. What the step does is `notion_framer_core::sync::engine`'s.

use super::alerts;
use super::context::{now_ms, AppContext};
use super::framer_socket::{self, FramerSocket};
use super::notion_api::NotionClient;
use super::notion_rate::SharedPacer;
use super::store;
use super::store::projects::CollectionSibling;
use super::store::run_history::{self, RunHistory};
use super::store::staging::SqlStaging;
use super::store::sync_runs::{self, Release, SyncRun};
use notion_framer_core::alerts::notice::ProjectRef;
use notion_framer_core::api::error::{ApiError, Fault};
use notion_framer_core::framer::wire::Call;
use notion_framer_core::notion::error::NotionError;
use notion_framer_core::notion::page_html::BlockNode;
use notion_framer_core::notion::protocol::QueryWindow;
use notion_framer_core::project::Project;
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::sync::engine::failure::{StepError, SyncFailure};
use notion_framer_core::sync::engine::job::HeldItem;
use notion_framer_core::sync::engine::job::{Job, StoredAsset, StoredItem};
use notion_framer_core::sync::engine::ports::{FramerSink, NotionSource, Records, RunEnd};
use notion_framer_core::sync::engine::step::{Engine, StepOutcome, StepReport};
use notion_framer_core::sync::guard::GuardPolicy;
use notion_framer_core::sync::mapping::{Mapping, SyncedCollections};
use notion_framer_core::sync::object::Holds;
use notion_framer_core::sync::retention::{Policy, KEEP_LAST_RUNS};
use notion_framer_core::sync::site::SiteMember;
use notion_framer_core::util::secrets::ProjectSecret;
use notion_framer_core::util::time::iso_from_ms;
use serde_json::Value;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use worker::{console_log, WebSocket};

/// The budget of one alarm invocation: `SYNC_STEP_SUBREQUESTS` subrequests,
/// `SYNC_STEP_D1_QUERIES` D1 queries and `SYNC_STEP_SECONDS` from now. Everything the
/// invocation does takes from it: the ledger copy and the reads before the step, the step, the
/// run's alert bookkeeping and the deliveries after it.
pub fn invocation_budget(ctx: &AppContext) -> Rc<Budget> {
    Rc::new(Budget::new(
        ctx.settings.sync_step_subrequests,
        ctx.settings.sync_step_d1_queries,
        now_ms(),
        ctx.settings.sync_step_ms,
    ))
}

/// Runs one step of `job` for `project` within `budget` and logs it.
pub async fn step(
    ctx: &AppContext,
    project: &Project,
    staging: &SqlStaging,
    history: &RunHistory,
    job: &mut Job,
    budget: &Rc<Budget>,
    cancelled: &dyn Fn() -> bool,
) -> StepOutcome {
    let started = now_ms();
    let written_before = staging.rows_written();
    let (notion_token, framer_key) = match secrets(ctx, project) {
        Ok(secrets) => secrets,
        Err(failure) => {
            let records = D1Records::new(ctx, project, history, budget.clone());
            let _ = records.run_started(job).await;
            let end = RunEnd::Failed {
                code: &failure.code,
                message: &failure.message,
            };
            let _ = records.run_finished(job, end, now_ms()).await;
            let _ = notion_framer_core::sync::engine::ports::Staging::clear(staging);
            return StepOutcome::Failed(failure);
        }
    };
    let socket_cell = OnceCell::new();
    let shared_pacer = match SharedPacer::new(&ctx.env, &notion_token, &project.id) {
        Ok(pacer) => Some(pacer),
        Err(e) => {
            console_log!(
                "{}",
                serde_json::json!({
                    "kind": "notion_pacer",
                    "project_id": project.id,
                    "note": "no shared pacer binding (NOTION_RATE): this step paces itself",
                    "detail": e.to_string(),
                })
            );
            None
        }
    };
    let notion = StepNotion(NotionClient::for_step(
        &ctx.settings,
        notion_token,
        budget.clone(),
        job.notion_next_at_ms,
        shared_pacer,
    ));
    let framer = StepFramer {
        ctx,
        project,
        key: framer_key,
        budget: budget.clone(),
        cell: &socket_cell,
        socket: None,
        closed: (0, 0),
    };
    let records = D1Records::new(ctx, project, history, budget.clone());
    let clock = now_ms;
    let mut engine = Engine {
        project,
        notion,
        framer,
        records: &records,
        staging,
        budget,
        clock: &clock,
        full_interval_ms: ctx.settings.full_reconcile_interval_ms,
        guard: GuardPolicy {
            enabled: true,
            percent: ctx.settings.deletion_guard_percent,
            min_items: ctx.settings.deletion_guard_min_items,
        },
        cancelled,
        after_close_d1: alerts::AFTER_RUN_D1,
        report: StepReport::default(),
    };
    let outcome = engine.step(job).await;
    // A step followed at once by the next gives its unused slots back with that step's first
    // ask; only a run that ends or waits hands them back now (one subrequest).
    if !matches!(outcome, StepOutcome::Continue) || job.waiting {
        engine.notion.0.release().await;
    }
    engine.framer.disconnect().await;
    let report = engine.report;
    if !matches!(outcome, StepOutcome::Continue | StepOutcome::Cancelled) {
        after_run(ctx, project, job, &outcome, budget).await;
    }
    // After the run's alert bookkeeping, so that the last step's line holds all the D1 work
    // of its run.
    let usage = StepUsage {
        pacer_asks: engine.notion.0.pacer_asks,
        object_rows_written: staging.rows_written() - written_before,
        d1_rows_written: ctx.db.rows_written(),
        started,
    };
    log_step(project, job, &report, budget, &usage, &outcome);
    outcome
}

fn secrets(ctx: &AppContext, project: &Project) -> Result<(String, String), SyncFailure> {
    let cipher = ctx.cipher().map_err(SyncFailure::from)?;
    let secret = |stored: &str, which: ProjectSecret| {
        cipher
            .decrypt(stored, &which.context(&project.id))
            .map_err(|e| secret_unreadable(which, e))
    };
    Ok((
        secret(&project.notion_token_enc, ProjectSecret::NotionToken)?,
        secret(&project.framer_api_key_enc, ProjectSecret::FramerApiKey)?,
    ))
}

/// A stored secret that does not decrypt: the owner reads which one and what to do; what the
/// cipher said goes to the step's log line only.
fn secret_unreadable(which: ProjectSecret, e: impl std::fmt::Display) -> SyncFailure {
    SyncFailure {
        fault: Some(Fault::new("secrets", e)),
        ..SyncFailure::permanent(
            "secrets_unreadable",
            format!(
                "the stored {} cannot be decrypted; enter it again in the project settings",
                which.name()
            ),
        )
    }
}

/// Alerts the finished run owes, queued only: delivery happens after it.
async fn after_run(
    ctx: &AppContext,
    project: &Project,
    job: &Job,
    outcome: &StepOutcome,
    budget: &Budget,
) {
    let about = ProjectRef {
        id: project.id.clone(),
        name: project.name.clone(),
    };
    let result = match outcome {
        StepOutcome::Failed(f) => Err(f.clone()),
        _ => Ok(()),
    };
    if let Err(e) = alerts::after_run(ctx, &about, &result, job, budget).await {
        alerts::log_failure(
            Some(&project.id),
            "alert bookkeeping after a run failed",
            &e,
        );
    }
}

/// What a step spent of the platform's limited resources, for its log line.
struct StepUsage {
    /// Rows written to the object's SQLite (billed as Durable Object rows written).
    object_rows_written: usize,
    /// Rows D1 reported written by the invocation so far (billed as D1 rows written), like
    /// `d1_queries`: the ledger tally and reads before the step included.
    d1_rows_written: usize,
    /// Grants asked of the token's shared pacer (subrequests too).
    pacer_asks: u32,
    started: i64,
}

fn log_step(
    project: &Project,
    job: &Job,
    report: &StepReport,
    budget: &Budget,
    usage: &StepUsage,
    outcome: &StepOutcome,
) {
    let (outcome, failure) = match outcome {
        StepOutcome::Continue => ("continue", None),
        StepOutcome::Succeeded => ("succeeded", None),
        StepOutcome::Failed(f) => ("failed", Some(f)),
        StepOutcome::Cancelled => ("cancelled", None),
    };
    let line = StepLine {
        kind: "sync_step",
        project_id: &project.id,
        sync_id: &job.sync_id,
        step: job.steps,
        phase: job.public_phase(),
        subrequests: budget.used(),
        d1_queries: budget.d1_used(),
        object_rows_written: usage.object_rows_written,
        d1_rows_written: usage.d1_rows_written,
        notion_calls: report.notion_calls,
        pacer_asks: usage.pacer_asks,
        framer_calls: report.framer_calls,
        rows: report.rows,
        rows_held_max: report.rows_held_max,
        rows_read: job.rows_read,
        items_written: job.items_written,
        elapsed_ms: now_ms() - usage.started,
        outcome,
        error_code: failure.map(|f| f.code.as_str()),
        detail: failure.and_then(|f| f.fault.as_ref()),
    };
    let line = serde_json::to_string(&line).unwrap_or_default();
    console_log!("{line}");
}

/// One step's log line, `kind` first like every line of ours.
#[derive(serde::Serialize)]
struct StepLine<'a> {
    kind: &'static str,
    project_id: &'a str,
    sync_id: &'a str,
    step: u32,
    phase: &'static str,
    /// Subrequests, D1 queries and D1 rows written of the invocation so far (the ledger tally
    /// and reads before the step and, in a run's last step, its alert bookkeeping included;
    /// the deliveries and the next alert check come after this line).
    subrequests: u32,
    d1_queries: u32,
    d1_rows_written: usize,
    object_rows_written: usize,
    notion_calls: usize,
    /// Of `subrequests`, the asks of the token's shared pacer.
    pacer_asks: u32,
    framer_calls: usize,
    rows: usize,
    rows_held_max: usize,
    rows_read: usize,
    items_written: usize,
    elapsed_ms: i64,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a Fault>,
}

/// Notion over fetch, paced, retried and budgeted by the client.
struct StepNotion(NotionClient);

impl NotionSource for StepNotion {
    async fn database(&mut self, id: &str) -> Result<Value, StepError> {
        Ok(self.0.database(id).await?)
    }

    async fn data_source(&mut self, id: &str) -> Result<Value, StepError> {
        Ok(self.0.data_source(id).await?)
    }

    async fn query(
        &mut self,
        data_source_id: &str,
        window: &QueryWindow,
        cursor: Option<&str>,
    ) -> Result<Value, StepError> {
        Ok(self.0.query_page(data_source_id, window, cursor).await?)
    }

    async fn page(&mut self, id: &str) -> Result<Option<Value>, StepError> {
        Ok(self.0.page(id).await?)
    }

    async fn block_tree(&mut self, page_id: &str) -> Result<Option<Vec<BlockNode>>, StepError> {
        match self.0.block_tree(page_id).await {
            Ok(blocks) => Ok(Some(blocks)),
            Err(NotionError::NotShared { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn property_items(
        &mut self,
        page_id: &str,
        property_id: &str,
        cursor: Option<&str>,
    ) -> Result<Option<Value>, StepError> {
        Ok(self.0.property_items(page_id, property_id, cursor).await?)
    }

    fn calls(&self) -> usize {
        self.0.calls
    }

    fn next_request_at_ms(&self) -> u64 {
        self.0.next_request_at_ms()
    }
}

/// Framer over one WebSocket, opened (one subrequest) on the step's first call.
struct StepFramer<'a> {
    ctx: &'a AppContext,
    project: &'a Project,
    key: String,
    budget: Rc<Budget>,
    cell: &'a OnceCell<WebSocket>,
    socket: Option<FramerSocket<'a>>,
    /// Counters of the socket once closed.
    closed: (usize, usize),
}

impl StepFramer<'_> {
    async fn disconnect(&mut self) {
        if let Some(socket) = self.socket.take() {
            self.closed = socket.disconnect().await;
        }
    }
}

impl FramerSink for StepFramer<'_> {
    async fn call(&mut self, call: Call) -> Result<Value, StepError> {
        if self.socket.is_none() {
            if !self.budget.take() {
                return Err(StepError::BudgetSpent);
            }
            let ws = framer_socket::open(
                &self.ctx.settings.framer_server_url,
                &self.project.framer_project_url,
                &self.key,
            )
            .await?;
            let _ = self.cell.set(ws);
            let Some(ws) = self.cell.get() else {
                return Err(ApiError::internal("framer socket", "socket cell empty").into());
            };
            match FramerSocket::start(ws).await {
                Ok(socket) => self.socket = Some(socket),
                Err(e) => {
                    let _ = ws.close(Some(1000), Some("handshake failed"));
                    return Err(e.into());
                }
            }
        }
        let socket = self
            .socket
            .as_mut()
            .ok_or_else(|| StepError::from(ApiError::internal("framer socket", "not open")))?;
        Ok(socket.call(call).await?)
    }

    fn counters(&self) -> (usize, usize) {
        self.socket
            .as_ref()
            .map_or(self.closed, |s| (s.calls, s.bytes_sent))
    }
}

/// The project's records for the run: D1 (the catalog: the project, its newest runs), every
/// method one D1 round trip at most (a batch included, see `budget::batch_queries`), taken from
/// the step's budget first; and the run history in the project's object.
struct D1Records<'a> {
    ctx: &'a AppContext,
    project: &'a Project,
    budget: Rc<Budget>,
    history: &'a RunHistory,
    /// [`Self::collection_siblings`], once read.
    siblings: RefCell<Option<Vec<CollectionSibling>>>,
}

impl<'a> D1Records<'a> {
    fn new(
        ctx: &'a AppContext,
        project: &'a Project,
        history: &'a RunHistory,
        budget: Rc<Budget>,
    ) -> Self {
        Self {
            ctx,
            project,
            budget,
            history,
            siblings: RefCell::default(),
        }
    }

    /// The account's other projects with a collection in the same Framer project, read once
    /// per step (the mapping and the reference targets both come from it).
    async fn collection_siblings(&self) -> Result<Vec<CollectionSibling>, StepError> {
        if let Some(rows) = self.siblings.borrow().clone() {
            return Ok(rows);
        }
        self.query()?;
        let rows = store::projects::collection_siblings(&self.ctx.db, self.project).await?;
        *self.siblings.borrow_mut() = Some(rows.clone());
        Ok(rows)
    }

    /// One query for a unit of work: refused when only the checkpoint's reserve is left.
    fn query(&self) -> Result<(), StepError> {
        if self.budget.take_d1() {
            Ok(())
        } else {
            Err(StepError::BudgetSpent)
        }
    }

    /// One query of a checkpoint or a close, which may use the reserve.
    fn closing_query(&self) -> Result<(), StepError> {
        if self.budget.take_d1_closing() {
            Ok(())
        } else {
            Err(StepError::BudgetSpent)
        }
    }
}

impl Records for D1Records<'_> {
    async fn last_success_started_ms(&self) -> Result<Option<i64>, StepError> {
        // Kept on the project row by every successful run's end: no query.
        Ok(self
            .project
            .last_success_started_at
            .as_deref()
            .and_then(notion_framer_core::util::time::ms_from_iso))
    }

    async fn synced_collections(&self) -> Result<SyncedCollections, StepError> {
        let siblings = self.collection_siblings().await?;
        Ok(store::projects::synced_collections(&siblings))
    }

    async fn site(&self) -> Result<Vec<SiteMember>, StepError> {
        self.query()?;
        Ok(store::projects::site_of(&self.ctx.db, &self.project.id).await?)
    }

    async fn adopt_collection_id(
        &self,
        project_id: &str,
        collection_id: &str,
    ) -> Result<bool, StepError> {
        self.query()?;
        Ok(store::projects::adopt_collection_id(&self.ctx.db, project_id, collection_id).await?)
    }

    async fn set_data_source_ids(&self, ids: &[String]) -> Result<(), StepError> {
        self.query()?;
        Ok(store::projects::set_data_source_ids(&self.ctx.db, &self.project.id, ids).await?)
    }

    async fn set_data_source_id(&self, id: &str, version: i64) -> Result<bool, StepError> {
        self.query()?;
        let db = &self.ctx.db;
        Ok(store::projects::set_data_source_id(db, &self.project.id, id, version).await?)
    }

    async fn set_collection_id(&self, id: &str, version: i64) -> Result<bool, StepError> {
        self.query()?;
        let db = &self.ctx.db;
        Ok(store::projects::set_collection_id(db, &self.project.id, id, version).await?)
    }

    async fn set_mapping(&self, mapping: &Mapping, version: i64) -> Result<bool, StepError> {
        self.query()?;
        let db = &self.ctx.db;
        Ok(store::projects::set_mapping(db, &self.project.id, mapping, version).await?)
    }

    async fn set_last_full_sync_at(&self, at_ms: i64) -> Result<(), StepError> {
        self.closing_query()?;
        let at = iso_from_ms(at_ms);
        Ok(store::projects::set_last_full_sync_at(&self.ctx.db, &self.project.id, &at).await?)
    }

    async fn legacy_items(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, StepError> {
        self.query()?;
        let rows =
            store::synced_items::page_of(&self.ctx.db, &self.project.id, after, limit).await?;
        Ok(rows
            .into_iter()
            .map(|r| StoredItem {
                page_id: r.page_id,
                slug: r.slug,
                slug_source: r.slug_source,
                content_hash: r.content_hash,
                last_edited_time: r.last_edited_time,
                fields_hash: r.fields_hash,
            })
            .collect())
    }

    async fn drop_legacy_items(&self) -> Result<(), StepError> {
        self.query()?;
        Ok(store::synced_items::forget_all(&self.ctx.db, &self.project.id).await?)
    }

    async fn forget_removed(&self, page_ids: &[String]) -> Result<(), StepError> {
        self.query()?;
        // Any review of their removal and what they left out of their references go together,
        // in one round trip.
        let (db, id) = (&self.ctx.db, &self.project.id);
        let mut statements = store::held_removals::forget(db, id, page_ids)?;
        statements.extend(store::references::forget(db, id, page_ids)?);
        Ok(store::d1::batch(db, statements).await?)
    }

    async fn reviewed_removals(&self) -> Result<Vec<(String, bool)>, StepError> {
        self.query()?;
        Ok(store::held_removals::of_project(&self.ctx.db, &self.project.id).await?)
    }

    async fn hold(&self, sync_id: &str, items: &[HeldItem]) -> Result<(), StepError> {
        self.query()?;
        let now = iso_from_ms(now_ms());
        let db = &self.ctx.db;
        Ok(store::held_removals::hold(db, &self.project.id, sync_id, items, &now).await?)
    }

    async fn forget_reviewed(&self, page_ids: &[String]) -> Result<(), StepError> {
        self.query()?;
        let statements = store::held_removals::forget(&self.ctx.db, &self.project.id, page_ids)?;
        Ok(store::d1::batch(&self.ctx.db, statements).await?)
    }

    async fn legacy_assets(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredAsset>, StepError> {
        self.query()?;
        Ok(store::assets::page_of(&self.ctx.db, &self.project.id, after, limit).await?)
    }

    async fn drop_legacy_assets(&self) -> Result<(), StepError> {
        self.query()?;
        Ok(store::assets::forget_all(&self.ctx.db, &self.project.id).await?)
    }

    async fn reference_targets(&self) -> Result<BTreeMap<String, String>, StepError> {
        let siblings = self.collection_siblings().await?;
        Ok(store::projects::reference_targets(&siblings))
    }

    async fn held_by_target(
        &self,
        project_id: &str,
        page_ids: &[String],
    ) -> Result<Holds, StepError> {
        // The target's record is in its object: one call to it, a subrequest.
        if !self.budget.take() {
            return Err(StepError::BudgetSpent);
        }
        match crate::project_sync::holds(self.ctx, project_id, page_ids).await {
            Ok(holds) => Ok(holds),
            // Deleted since: its collection holds nothing a reference may point at.
            Err(ApiError::NotFound(_)) => Ok(Holds::default()),
            Err(e) => Err(e.into()),
        }
    }

    async fn remember_dangling(
        &self,
        rows: &[(String, Vec<(String, String)>)],
    ) -> Result<(), StepError> {
        self.query()?;
        Ok(store::references::remember(&self.ctx.db, &self.project.id, rows).await?)
    }

    async fn referrers(&self, page_ids: &[String]) -> Result<Vec<(String, String)>, StepError> {
        self.query()?;
        Ok(store::references::referrers(&self.ctx.db, &self.project.id, page_ids).await?)
    }

    async fn request_refresh(
        &self,
        project_id: &str,
        page_ids: &[String],
    ) -> Result<(), StepError> {
        match crate::project_sync::request_refresh(self.ctx, project_id, page_ids).await {
            // Deleted since: nobody left to tell.
            Ok(()) | Err(ApiError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn run_started(&self, job: &Job) -> Result<(), StepError> {
        self.query()?;
        let now = iso_from_ms(job.started_at_ms);
        Ok(store::sync_runs::start(&self.ctx.db, job, &self.project.id, &now).await?)
    }

    async fn run_progress(&self, job: &Job) -> Result<(), StepError> {
        self.closing_query()?;
        Ok(store::sync_runs::progress(&self.ctx.db, job).await?)
    }

    async fn run_finished(&self, job: &Job, end: RunEnd<'_>, at_ms: i64) -> Result<(), StepError> {
        let (db, project_id) = (&self.ctx.db, self.project.id.as_str());
        let run = SyncRun::finished(job, project_id, end, &iso_from_ms(at_ms))?;
        // Until D1 holds none of the history versions before kept there, each run's end moves
        // a chunk of it (one more query); after, none.
        let legacy = if self.history.legacy_left()? {
            self.closing_query()?;
            Some(sync_runs::legacy_chunk(db, project_id, &run.id, run_history::ADOPT_CHUNK).await?)
        } else {
            None
        };
        // The history first: by the time D1 lets go of a run, the object holds it.
        self.history.record(legacy.as_deref().unwrap_or_default())?;
        self.history.record(std::slice::from_ref(&run))?;
        let policy = Policy::from(&self.ctx.settings);
        let before = policy.cutoffs(at_ms).runs_before;
        self.history.prune(&before, KEEP_LAST_RUNS as usize)?;
        let moved: Vec<String>;
        let release = match &legacy {
            Some(chunk) if chunk.len() == run_history::ADOPT_CHUNK => {
                moved = chunk.iter().map(|r| r.id.clone()).collect();
                Release::These(&moved)
            }
            _ => Release::AllOthers,
        };
        let all_moved = matches!(release, Release::AllOthers);
        self.closing_query()?;
        sync_runs::finish(db, &run, job, release).await?;
        if all_moved && legacy.is_some() {
            self.history.set_legacy_adopted()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notion_framer_core::util::secrets::SecretError;

    #[test]
    fn an_unreadable_secret_names_which_and_keeps_the_cipher_for_the_log() {
        let failure = secret_unreadable(ProjectSecret::FramerApiKey, SecretError::Undecryptable);
        assert_eq!(failure.code, "secrets_unreadable");
        assert!(!failure.retryable);
        assert_eq!(
            failure.message,
            "the stored framer_api_key cannot be decrypted; enter it again in the project settings"
        );
        let cipher = SecretError::Undecryptable.to_string();
        assert!(!failure.message.contains(&cipher), "{}", failure.message);
        let logged = serde_json::to_string(&failure.fault).unwrap();
        assert_eq!(
            logged,
            serde_json::to_string(&format!("secrets: {cipher}")).unwrap()
        );
    }
}
