//! One step of a sync run: units of work (resolve, read a page of rows, fetch one body, write one
//! batch, remove a chunk, publish) until the run is done or the step's budget is spent. The job
//! is checkpointed after every unit, so a step that is cut short loses at most one unit.
//!
//! Framer writes happen as soon as a batch of rows is ready, between Notion reads: the Notion
//! pacer waits out the rest of its interval after a write, so writes cost no extra time.

use super::budget::{Budget, CLOSE_D1};
use super::failure::{StepError, SyncFailure};
use super::job::{
    notion_url, Closing, GuardVerdict, HeldItem, Job, Phase, RelationRead, RemovalPlan,
    RowOptionsSnapshot, RowState, RunSettings, Setup, SkippedRow, StagedRow, StoredAsset,
    StoredItem, WriteKind, RETRY_HASH_PREFIX, TARGETS_WAIT_MAX_MS,
};
use super::ports::{
    Adoption, FramerSink, Legacy, NotionSource, Records, RemovalSet, RunEnd, Staging,
};
use super::rows::{self, RowFacts, BODY_FIELD_ID, BODY_FIELD_NAME};
use crate::framer::cms::{self, FieldDef, FieldType, FieldValue};
use crate::framer::wire::{Asset, Call};
use crate::notion::ids;
use crate::notion::page_html;
use crate::notion::protocol::{self, QueryPage};
use crate::notion::schema::{parse_schema, Schema};
use crate::project::Project;
use crate::project::UnpublishedMode;
use crate::sync::assets::{self, AssetRef, NotionFiles};
use crate::sync::guard::{self, GuardPolicy, Removals, HELD_LISTED};
use crate::sync::mapping::{self, Mapping};
use crate::sync::object::Holds;
use crate::sync::plan::{self, RunScope, ScopeInputs};
use crate::sync::publish_filter::{self, FilterProblem};
use crate::sync::reconcile;
use crate::sync::references;
use crate::sync::row::{map_page, result_title, MappedRow};
use crate::sync::site::{self, SiteMember};
use crate::sync::slug::{self, SlugInput};
use crate::util::time::ms_from_iso;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Items per `addManagedCollectionItems2` call, and the size budget of one call.
pub const BATCH_ITEMS: usize = 100;
pub const BATCH_BYTES: usize = 512 * 1024;
/// Items adopted from D1's record of the version before per unit, and ids per
/// `removeManagedCollectionItems` call.
const ADOPT_CHUNK: usize = 1_000;
/// Subrequests a query page may take beside the targets' `/holds`: the request, a retry and an
/// ask of the token's shared pacer.
const QUERY_SUBREQUESTS: u32 = 3;
const REMOVE_CHUNK: usize = 1_000;

/// How a step ended.
#[derive(Debug, Clone)]
pub enum StepOutcome {
    /// Checkpointed; the next step continues at once.
    Continue,
    Succeeded,
    Failed(SyncFailure),
    /// The project's database or collection changed while the run was in flight: its record
    /// is closed as cancelled and nothing more is written for it.
    Cancelled,
}

/// What a step did, for its log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Rows read from Notion or written to Framer during the step.
    pub rows: usize,
    /// The most rows held in memory at once.
    pub rows_held_max: usize,
    pub notion_calls: usize,
    pub framer_calls: usize,
}

/// One step's worth of everything a run touches.
pub struct Engine<'a, N, F, R, S> {
    pub project: &'a Project,
    pub notion: N,
    pub framer: F,
    pub records: &'a R,
    pub staging: &'a S,
    pub budget: &'a Budget,
    pub clock: &'a dyn Fn() -> i64,
    pub full_interval_ms: i64,
    /// The operator's deletion guard (`DELETION_GUARD_PERCENT`, `DELETION_GUARD_MIN_ITEMS`).
    pub guard: GuardPolicy,
    /// Whether the owner changed the project's database or collection while this step ran:
    /// checked between units, so the run stops writing for what the project no longer syncs.
    pub cancelled: &'a dyn Fn() -> bool,
    /// D1 queries the Worker makes in the same invocation once a run is closed (its alert
    /// bookkeeping): a run is closed only in a step that can still afford them.
    pub after_close_d1: u32,
    pub report: StepReport,
}

/// Held removals recorded per unit (one D1 call; pages held before are left as they are).
const HOLD_CHUNK: usize = 500;

impl<N: NotionSource, F: FramerSink, R: Records, S: Staging> Engine<'_, N, F, R, S> {
    /// Runs one step of `job`. On `Continue` the job is checkpointed; on `Succeeded` or
    /// `Failed` its record is closed and the staged rows are gone.
    pub async fn step(&mut self, job: &mut Job) -> StepOutcome {
        job.steps += 1;
        if let Some(settings) = &job.settings {
            let other_source = settings
                .data_source_id
                .as_ref()
                .is_some_and(|source| self.project.notion_data_source_id.as_ref() != Some(source));
            if settings.database_id != self.project.notion_database_id
                || other_source
                || settings.collection_name != self.project.framer_collection_name
            {
                return self.cancel(job).await;
            }
        } else if job.setup.is_some() {
            // A checkpoint of a version that did not keep the settings: from now on, these.
            match run_settings(self.project, self.guard) {
                Ok(settings) => job.settings = Some(settings),
                Err(failure) => return self.fail_now(job, failure).await,
            }
        }
        let result = match job.closing.clone() {
            // Closing is all that is left: the step that ended the run could not afford it.
            Some(Closing::Succeeded) => Ok(true),
            Some(Closing::Failed {
                code,
                message,
                retryable,
            }) => Err(StepError::Failed(SyncFailure {
                code,
                message,
                retryable,
                fault: None,
            })),
            None => self.advance(job).await,
        };
        if (self.cancelled)() {
            return self.cancel(job).await;
        }
        job.stats.notion_calls += self.notion.calls();
        let (calls, bytes) = self.framer.counters();
        job.stats.framer_calls += calls;
        job.stats.bytes_sent += bytes;
        job.notion_next_at_ms = self.notion.next_request_at_ms();
        self.report.notion_calls = self.notion.calls();
        self.report.framer_calls = calls;
        let failure = match result {
            Ok(true) => None,
            Ok(false) | Err(StepError::BudgetSpent) => return self.checkpoint(job).await,
            Err(e) => e.into_failure(),
        };
        if !self.budget.affords(0, CLOSE_D1 + self.after_close_d1) {
            // The run is over; its record and alerts wait for the next step's fresh budget.
            job.closing = Some(
                failure
                    .as_ref()
                    .map_or(Closing::Succeeded, |f| Closing::Failed {
                        code: f.code.clone(),
                        message: f.message.clone(),
                        retryable: f.retryable,
                    }),
            );
            return self.checkpoint(job).await;
        }
        match self.close(job, failure.as_ref()).await {
            Ok(()) => failure.map_or(StepOutcome::Succeeded, StepOutcome::Failed),
            Err(e) => {
                StepOutcome::Failed(e.into_failure().unwrap_or_else(SyncFailure::interrupted))
            }
        }
    }

    /// Closes the run as cancelled: the project now syncs another database or collection, and
    /// nothing this run staged is about it any more.
    async fn cancel(&mut self, job: &mut Job) -> StepOutcome {
        let now = (self.clock)();
        let end = RunEnd::Cancelled {
            message: "the project's Notion database or Framer collection changed while this run was in flight; the next run reads everything again",
        };
        let closed = match self.staging.item_count() {
            Ok(n) => {
                job.items_in_framer = Some(n);
                self.records.run_finished(job, end, now).await
            }
            Err(e) => Err(e),
        };
        let closed = match closed {
            Ok(()) => self.staging.clear(),
            Err(e) => Err(e),
        };
        match closed {
            Ok(()) | Err(StepError::BudgetSpent) => StepOutcome::Cancelled,
            Err(e) => {
                StepOutcome::Failed(e.into_failure().unwrap_or_else(SyncFailure::interrupted))
            }
        }
    }

    async fn fail_now(&mut self, job: &mut Job, failure: SyncFailure) -> StepOutcome {
        match self.close(job, Some(&failure)).await {
            Ok(()) => StepOutcome::Failed(failure),
            Err(e) => {
                StepOutcome::Failed(e.into_failure().unwrap_or_else(SyncFailure::interrupted))
            }
        }
    }

    async fn checkpoint(&self, job: &Job) -> StepOutcome {
        let saved = match self.staging.save_job(job) {
            Ok(()) => self.records.run_progress(job).await,
            Err(e) => Err(e),
        };
        match saved {
            Ok(()) | Err(StepError::BudgetSpent) => StepOutcome::Continue,
            Err(e) => {
                StepOutcome::Failed(e.into_failure().unwrap_or_else(SyncFailure::interrupted))
            }
        }
    }

    /// Units until the run is done (`true`) or the budget is spent (`false`).
    async fn advance(&mut self, job: &mut Job) -> Result<bool, StepError> {
        if job.steps == 1 {
            self.records.run_started(job).await?;
        }
        loop {
            if self.budget.spent((self.clock)()) || (self.cancelled)() {
                return Ok(false);
            }
            // Before any other unit, whatever the phase (a run may have been in flight when the
            // version changed): until the object holds the record, it is D1's.
            if let Some((of, after)) = self.adoption_left()? {
                self.adopt(of, after).await?;
                continue;
            }
            match job.phase {
                Phase::Starting => self.start(job).await?,
                Phase::Reading => {
                    if !self.read_unit(job).await? {
                        job.rows_total = Some(job.rows_read);
                        job.phase = Phase::Removing;
                    }
                }
                Phase::Removing => {
                    if !self.remove_unit(job).await? {
                        // Rows that waited for a slug get it now, and are written by reading's
                        // units (with nothing left to read) before the run comes back here.
                        job.phase = if self.settle_slugs(job)? {
                            Phase::Reading
                        } else {
                            Phase::Publishing
                        };
                    }
                }
                Phase::Publishing => {
                    if !self.send_refresh(job).await? {
                        self.publish(job).await?;
                        return Ok(true);
                    }
                }
            }
            self.staging.save_job(job)?;
        }
    }

    /// Resolves what the run works with, reads the first page of rows and stages it.
    async fn start(&mut self, job: &mut Job) -> Result<(), StepError> {
        let now = (self.clock)();
        let mut settings = run_settings(self.project, self.guard)?;
        let scope = plan::choose_scope(ScopeInputs {
            requested_full: job.batch.full,
            last_success_started_ms: self.records.last_success_started_ms().await?,
            last_full_ms: self
                .project
                .last_full_sync_at
                .as_deref()
                .and_then(ms_from_iso),
            now_ms: now,
            full_interval_ms: self.full_interval_ms,
        });
        let full = scope == RunScope::Full;
        let site = self.records.site().await?;
        let (data_source, mut warnings) = self.data_source(full, &site).await?;
        let mut schema = parse_schema(&data_source).map_err(|e| {
            SyncFailure::permanent(
                "notion_not_a_database",
                format!("the connected Notion id is not a database this integration can read: {e}"),
            )
        })?;
        let data_source_id = data_source["id"].as_str().unwrap_or_default().to_owned();
        settings.row_options = self.row_options(&schema)?;
        job.settings = Some(settings);
        job.read.window.edited_since = match &scope {
            RunScope::Full => None,
            RunScope::Incremental { edited_since } => Some(edited_since.clone()),
        };
        let first = self.query(&data_source_id, job).await?;
        // Formula result types are learned from the first page: a formula nobody has a value
        // for there stays text.
        schema.learn_formula_results(&first.pages);
        // Before the mapping: a relation into any project of the site is then a reference
        // field from this run on, even if its target has never run.
        self.site_collections(&site).await?;
        // The collection first: a relation of the data source to itself points into it.
        let collection_id = self.collection(job).await?;
        let mapping = self
            .reconcile_mapping(
                job,
                &schema,
                (&data_source_id, &collection_id),
                &mut warnings,
            )
            .await?;
        let mut targets = self.records.reference_targets().await?;
        targets.insert(collection_id.clone(), self.project.id.clone());
        let wanted = Self::wanted_fields(job.settings().page_body, &mapping, &schema);
        let current = self
            .framer
            .call(Call::GetFields {
                collection_id: collection_id.clone(),
            })
            .await?;
        let current = cms::fields_from_wire(&current).unwrap_or_default();
        let has_body = |fields: &[FieldDef]| fields.iter().any(|f| f.id == BODY_FIELD_ID);
        let body_field_new = has_body(&wanted) && !has_body(&current);
        if current != wanted {
            self.set_fields(&collection_id, &wanted).await?;
        }
        if full {
            let ids = self
                .framer
                .call(Call::GetItemIds {
                    collection_id: collection_id.clone(),
                })
                .await?;
            let ids: Vec<String> = list(&ids)
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            self.staging.put_framer_ids(&ids)?;
        }
        let reviewed = self.records.reviewed_removals().await?;
        self.staging.put_reviewed(&reviewed)?;
        job.stats.full = full;
        for warning in warnings {
            job.row_warning(warning);
        }
        if full {
            job.gone_to_check.clear();
        }
        job.setup = Some(Setup {
            data_source_id,
            schema,
            mapping,
            collection_id,
            fields_json: fields_json(&wanted),
            body_field_new,
            framer_ids_known: full,
            targets,
        });
        job.phase = Phase::Reading;
        self.stage_page(job, first).await
    }

    /// The data source the project syncs: the one stored, else the database's first (then
    /// stored). Full runs list the database's data sources again (webhook events name them);
    /// a stored data source the database no longer lists fails the run rather than read another.
    async fn data_source(
        &mut self,
        full: bool,
        site: &[SiteMember],
    ) -> Result<(Value, Vec<String>), StepError> {
        let mut ids = self.project.notion_data_source_ids.clone();
        let stored = self.project.notion_data_source_id.clone();
        if ids.is_empty() || full || stored.is_none() {
            let database = self
                .notion
                .database(&self.project.notion_database_id)
                .await?;
            let fresh = protocol::data_source_ids(&database);
            if fresh != ids {
                self.records.set_data_source_ids(&fresh).await?;
            }
            ids = fresh;
        }
        let chosen = match stored {
            Some(id) if ids.contains(&id) => id,
            Some(id) => {
                return Err(SyncFailure::permanent(
                    "notion_data_source_gone",
                    format!(
                        "the Notion database no longer has the data source this project syncs ({id}); nothing was removed. \
                         Connect the project to the database again (or to another one) in the project settings"
                    ),
                )
                .into());
            }
            None => {
                let Some(first) = ids.first().cloned() else {
                    return Err(SyncFailure::permanent(
                        "notion_database_empty",
                        "the Notion database has no data source to read; check that the id is a database, not a page",
                    )
                    .into());
                };
                let version = self.project.config_version;
                self.records.set_data_source_id(&first, version).await?;
                first
            }
        };
        let mut warnings = Vec::new();
        // Sources another project of the site syncs need no word; the others may be added.
        let unsynced = site::unsynced_sources(&ids, &chosen, site);
        if !unsynced.is_empty() {
            warnings.push(format!(
                "the database has {} data sources; this project syncs {chosen}; not synced: {}. Add them from the project page \
                 (each syncs into its own collection)",
                ids.len(),
                unsynced.join(", ")
            ));
        }
        let data_source = self.notion.data_source(&chosen).await.map_err(|e| match e {
            StepError::Failed(f) if f.code == "notion_database_not_shared" => {
                SyncFailure::permanent(
                    "notion_data_source_gone",
                    format!(
                        "Notion no longer shows the data source this project syncs ({chosen}) to the integration; nothing was removed. \
                         Share the database with the integration again, or connect the project to another database"
                    ),
                )
                .into()
            }
            other => other,
        })?;
        Ok((data_source, warnings))
    }

    /// The row options of the run: the stored publish filter checked against the schema. A
    /// filter that no longer fits (property deleted or retyped, option gone) or cannot be read
    /// fails the run: every row would count as unpublished and be taken off the site.
    fn row_options(&self, schema: &Schema) -> Result<RowOptionsSnapshot, StepError> {
        let unfit = |detail: String| {
            StepError::from(SyncFailure::permanent(
                "publish_filter_invalid",
                format!(
                    "the publish filter no longer fits the Notion database: {detail}. Nothing was removed or unpublished; \
                     fix or clear the filter in the project settings"
                ),
            ))
        };
        if self.project.publish_filter_error.is_some() {
            return Err(unfit("the stored filter cannot be read".to_owned()));
        }
        let filter = match &self.project.publish_filter {
            None => None,
            Some(filter) => Some(
                publish_filter::resolve(filter, schema)
                    .map_err(|p| unfit(self.name_gone_property(p).to_string()))?,
            ),
        };
        let options = plan::row_options(self.project.slug_property.as_deref(), filter.as_ref());
        Ok(RowOptionsSnapshot::from_options(&options))
    }

    /// A deleted property is no longer in the schema: the stored mapping still knows its name.
    fn name_gone_property(&self, problem: FilterProblem) -> FilterProblem {
        let FilterProblem::UnknownProperty { property } = problem else {
            return problem;
        };
        let name = self
            .project
            .mapping
            .as_ref()
            .and_then(|m| m.mapping())
            .and_then(|m| m.fields.iter().find(|f| f.property_id == property))
            .map_or(property, |f| f.property_name.clone());
        FilterProblem::UnknownProperty { property: name }
    }

    async fn reconcile_mapping(
        &mut self,
        job: &Job,
        schema: &Schema,
        (data_source_id, collection_id): (&str, &str),
        warnings: &mut Vec<String>,
    ) -> Result<Mapping, StepError> {
        let stored = match self.project.mapping.as_ref().map(|m| &m.parsed) {
            None => None,
            Some(Ok(mapping)) => Some(mapping),
            Some(Err(e)) => {
                warnings.push(format!(
                    "the stored mapping could not be read ({e}); the default mapping was used"
                ));
                None
            }
        };
        let mut synced = self.records.synced_collections().await?;
        synced.insert(ids::canonical(data_source_id), collection_id.to_owned());
        let (mapping, changes) = mapping::reconcile_schema(schema, stored, &synced);
        if stored.is_some() {
            warnings.extend(changes.iter().map(|c| format!("schema: {c}")));
        }
        if stored != Some(&mapping) {
            // A mapping the owner saved since the run started wins; this run keeps its own.
            self.records
                .set_mapping(&mapping, job.settings().config_version)
                .await?;
        }
        Ok(mapping)
    }

    /// Makes sure every other project of the site has its collection, creating the missing
    /// ones (by name, as their own first run would) and recording their ids on those projects.
    /// A collection of that name that exists already (made meanwhile by another project's
    /// run, or by its own) is adopted, not duplicated.
    async fn site_collections(&mut self, site: &[SiteMember]) -> Result<(), StepError> {
        let missing = site::collections_missing(site, &self.project.id);
        if missing.is_empty() {
            return Ok(());
        }
        let mut managed = self.framer.call(Call::GetManagedCollections).await?;
        for member in missing {
            let name = member.collection_name.as_str();
            let listed = list(&managed)
                .find(|c| c["name"] == name)
                .map(|found| found["id"].as_str().map(str::to_owned));
            let id = match listed {
                Some(found) => found,
                None => match self
                    .framer
                    .call(Call::CreateManagedCollection {
                        name: name.to_owned(),
                    })
                    .await
                {
                    Ok(created) => created["id"].as_str().map(str::to_owned),
                    Err(StepError::Refused { message, .. })
                        if message.contains("already exists") =>
                    {
                        managed = self.framer.call(Call::GetManagedCollections).await?;
                        // Managed elsewhere when still not listed: that project's own run
                        // reports it in its words; a relation into it stays text meanwhile.
                        list(&managed)
                            .find(|c| c["name"] == name)
                            .and_then(|c| c["id"].as_str().map(str::to_owned))
                    }
                    Err(e) => return Err(e),
                },
            };
            if let Some(id) = id {
                self.records
                    .adopt_collection_id(&member.project_id, &id)
                    .await?;
            }
        }
        Ok(())
    }

    /// The managed collection of the project (by stored id, else by name), created when missing.
    async fn collection(&mut self, job: &Job) -> Result<String, StepError> {
        let name = self.project.framer_collection_name.as_str();
        let managed = self.framer.call(Call::GetManagedCollections).await?;
        let by_id = self.project.framer_collection_id.as_deref();
        let found = list(&managed)
            .find(|c| by_id.is_some_and(|id| c["id"] == id))
            .or_else(|| list(&managed).find(|c| c["name"] == name));
        let id = if let Some(id) = found.and_then(|c| c["id"].as_str()) {
            id.to_owned()
        } else {
            // Collections of other integrations are not listed; creating one with the same
            // name is refused, and that refusal is the only sign of them.
            let created = match self
                .framer
                .call(Call::CreateManagedCollection {
                    name: name.to_owned(),
                })
                .await
            {
                Ok(created) => created,
                Err(StepError::Refused { message, .. }) if message.contains("already exists") => {
                    return Err(SyncFailure::permanent(
                        "framer_collection_managed_elsewhere",
                        format!(
                            "the Framer collection \"{name}\" exists but is managed by another plugin or by hand; choose another \
                             collection name in the project settings, or delete or rename that collection in Framer"
                        ),
                    )
                    .into());
                }
                Err(e) => return Err(e),
            };
            created["id"].as_str().map(str::to_owned).ok_or_else(|| SyncFailure {
                code: "framer_unexpected_answer".into(),
                message: "Framer created the collection but did not return its id; the sync will retry".into(),
                retryable: true,
                fault: None,
            })?
        };
        if by_id != Some(id.as_str()) {
            self.records
                .set_collection_id(&id, job.settings().config_version)
                .await?;
        }
        Ok(id)
    }

    fn wanted_fields(page_body: bool, mapping: &Mapping, schema: &Schema) -> Vec<FieldDef> {
        let mut fields = mapping::field_defs(mapping, schema);
        if page_body {
            fields.push(FieldDef::new(
                BODY_FIELD_ID,
                BODY_FIELD_NAME,
                FieldType::FormattedText,
            ));
        }
        fields
    }

    async fn set_fields(
        &mut self,
        collection_id: &str,
        fields: &[FieldDef],
    ) -> Result<(), StepError> {
        let fields = Value::Array(fields.iter().map(FieldDef::to_wire).collect());
        self.framer
            .call(Call::SetFields {
                collection_id: collection_id.to_owned(),
                fields,
            })
            .await?;
        Ok(())
    }

    /// The first record that D1 kept before and the object has not adopted in full yet, and
    /// where its adoption stands.
    fn adoption_left(&self) -> Result<Option<(Legacy, Option<String>)>, StepError> {
        for of in Legacy::ALL {
            if let Adoption::After(after) = self.staging.adoption(of)? {
                return Ok(Some((of, after)));
            }
        }
        Ok(None)
    }

    /// Copies a chunk of a record that D1 kept before into the object; once it has all of it,
    /// D1's rows are dropped. The object's writes are durable before the next await, so D1's
    /// rows go only once the object holds them.
    async fn adopt(&mut self, of: Legacy, after: Option<String>) -> Result<(), StepError> {
        let after = after.as_deref();
        let (copied, last) = match of {
            Legacy::Items => {
                let chunk = self.records.legacy_items(after, ADOPT_CHUNK).await?;
                self.staging.record_items(&chunk)?;
                (chunk.len(), chunk.last().map(|s| s.page_id.clone()))
            }
            Legacy::Assets => {
                let chunk = self.records.legacy_assets(after, ADOPT_CHUNK).await?;
                if !chunk.is_empty() {
                    self.staging.record_assets(&chunk)?;
                }
                (chunk.len(), chunk.last().map(|a| a.key.clone()))
            }
        };
        if copied == ADOPT_CHUNK {
            return self.staging.set_adoption(of, &Adoption::After(last));
        }
        match of {
            Legacy::Items => self.records.drop_legacy_items().await?,
            Legacy::Assets => self.records.drop_legacy_assets().await?,
        }
        self.staging.set_adoption(of, &Adoption::Done)
    }

    /// One query page of the current window.
    async fn query(&mut self, data_source_id: &str, job: &Job) -> Result<QueryPage, StepError> {
        let answer = self
            .notion
            .query(data_source_id, &job.read.window, job.read.cursor.as_deref())
            .await?;
        let page = protocol::parse_query_page(&answer).map_err(|unexpected| {
            SyncFailure {
                code: "notion_unexpected_result".into(),
                message: format!(
                    "Notion's answer listed a result that is not a complete page ({}); nothing was removed and the sync will retry",
                    if unexpected.id.is_empty() { "without an id" } else { unexpected.id.as_str() }
                ),
                retryable: true,
                fault: None,
            }
        })?;
        self.held(page.pages.len());
        Ok(page)
    }

    fn held(&mut self, rows: usize) {
        self.report.rows_held_max = self.report.rows_held_max.max(rows);
    }

    /// Next unit of the reading phase; false when reading and writing are both done.
    async fn read_unit(&mut self, job: &mut Job) -> Result<bool, StepError> {
        let ready = self.staging.count_in(RowState::Write)?;
        let bodies = self.staging.count_in(RowState::Body)?;
        let relations = self.staging.count_in(RowState::Relations)?;
        let reading_over =
            job.read.done && job.gone_to_check.is_empty() && bodies == 0 && relations == 0;
        if ready >= BATCH_ITEMS || (ready > 0 && reading_over) {
            self.write_batch(job).await?;
            return Ok(true);
        }
        if let Some(row) = self.staging.rows_in(RowState::Relations, 1)?.pop() {
            self.read_relation(job, row).await?;
            return Ok(true);
        }
        if let Some(row) = self.staging.rows_in(RowState::Body, 1)?.pop() {
            self.fetch_body(job, row).await?;
            return Ok(true);
        }
        if !job.read.done {
            let (data_source_id, targets) = job.setup.as_ref().map_or_else(Default::default, |s| {
                (s.data_source_id.clone(), s.targets.len())
            });
            // A page read is staged in the same unit, asking each target's object what it
            // holds and recording what rows left out: a step that cannot afford those after
            // the query would lose the page and read it again. (A fresh step goes on whatever
            // its budget, or a small one would never read.)
            let needs =
                QUERY_SUBREQUESTS.saturating_add(u32::try_from(targets).unwrap_or(u32::MAX));
            if self.notion.calls() > 0 && !self.budget.affords(needs, 2) {
                return Err(StepError::BudgetSpent);
            }
            let page = self.query(&data_source_id, job).await?;
            self.stage_page(job, page).await?;
            return Ok(true);
        }
        if let Some(page_id) = job.gone_to_check.first().cloned() {
            self.recheck_gone(job, &page_id).await?;
            job.gone_to_check.remove(0);
            return Ok(true);
        }
        self.release_waiting(job).await
    }

    /// Once everything else is read, the rows that wait for related projects' runs: those
    /// whose targets' runs are over (or that waited [`TARGETS_WAIT_MAX_MS`]) are decided with
    /// what the targets hold now, a batch at a time. True when some were; false when none
    /// waits. While all of the batch still waits, the step ends (`BudgetSpent`: checkpoint and
    /// continue) with `job.waiting` set, and the object comes back after a pause.
    async fn release_waiting(&mut self, job: &mut Job) -> Result<bool, StepError> {
        let mut rows = self.staging.rows_in(RowState::Targets, BATCH_ITEMS)?;
        let Some(setup) = job.setup.clone().filter(|_| !rows.is_empty()) else {
            job.waiting = false;
            return Ok(false);
        };
        let now = (self.clock)();
        let may_wait = job
            .waiting_since_ms
            .is_none_or(|since| now - since < TARGETS_WAIT_MAX_MS);
        let mut fields: Vec<RowFields<'_>> = rows
            .iter_mut()
            .filter_map(|row| {
                let StagedRow { page_id, item, .. } = row;
                item.as_mut().map(|item| RowFields {
                    page_id: page_id.as_str(),
                    whole: true,
                    fields: &mut item.field_data,
                })
            })
            .collect();
        let waiting = self
            .keep_held_references(job, &setup, &mut fields, may_wait)
            .await?;
        let released: Vec<StagedRow> = rows
            .into_iter()
            .filter(|row| !waiting.contains(&row.page_id))
            .collect();
        if released.is_empty() {
            job.waiting = true;
            job.waiting_since_ms.get_or_insert(now);
            return Err(StepError::BudgetSpent);
        }
        job.waiting = false;
        self.held(released.len());
        for row in released {
            self.decide_whole(job, row)?;
        }
        Ok(true)
    }

    /// Maps and stages one query page, and moves the read cursor past it.
    async fn stage_page(&mut self, job: &mut Job, page: QueryPage) -> Result<(), StepError> {
        let newest = protocol::next_window_start(&page.pages);
        let mut fresh = Vec::with_capacity(page.pages.len());
        for raw in &page.pages {
            let id = raw
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| ids::normalize(id).ok());
            if id
                .as_deref()
                .is_some_and(|id| self.staging.contains(id).unwrap_or(false))
            {
                // Seen in an earlier window: a capped window restarts at its newest instant.
                continue;
            }
            fresh.push(raw);
        }
        let new_rows = fresh.len();
        self.stage_pages(job, &fresh).await?;
        let read = &mut job.read;
        read.window_new_rows += new_rows;
        if newest.is_some() {
            read.window_newest.clone_from(&newest);
        }
        if let Some(next) = page.next_cursor {
            read.cursor = Some(next);
        } else {
            {
                read.cursor = None;
                // Past Notion's result cap, a new window starts at the newest `created_time`;
                // a capped window that brought nothing new cannot be got past this way.
                if !page.capped {
                    read.done = true;
                } else if read.window_new_rows > 0 && read.window_newest.is_some() {
                    read.window.created_from = read.window_newest.take();
                    read.window_new_rows = 0;
                } else {
                    // Ending the read here would take every row past the cap off the site.
                    return Err(SyncFailure {
                        code: "notion_read_stalled".into(),
                        message: "Notion stopped at its 10,000-result limit and the next window brought no new row; \
                                  the read could not be completed, so nothing was removed. The sync will retry"
                            .into(),
                        retryable: true,
                        fault: None,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Maps pages to rows, gives them slugs and decides what each needs.
    async fn stage_pages(&mut self, job: &mut Job, pages: &[&Value]) -> Result<(), StepError> {
        let settings = job.settings().clone();
        let options = settings.row_options.options();
        let Some(setup) = job.setup.as_mut() else {
            return Ok(());
        };
        // Rows and, beside them, each row's title and the file URLs Notion marked in its page.
        let mut mapped: Vec<MappedRow> = Vec::new();
        let mut about: Vec<(String, Vec<String>)> = Vec::new();
        let mut skipped = Vec::new();
        let mut warnings = Vec::new();
        for page in pages {
            let title = result_title(page).unwrap_or_default();
            match map_page(page, &setup.mapping, &setup.schema, &options) {
                Ok(mut row) => {
                    rows::normalise_urls(&mut row, &setup.mapping);
                    warnings.extend(
                        row.warnings
                            .iter()
                            .map(|w| format!("row {}: {w}", row.page_id)),
                    );
                    let files = NotionFiles::from_json(page).urls().cloned().collect();
                    mapped.push(row);
                    about.push((title, files));
                }
                Err(e) => skipped.push(SkippedRow {
                    page_id: page
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    url: page
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    title,
                    property: None,
                    reason: e.to_string(),
                }),
            }
        }
        if setup
            .mapping
            .learn_cases(mapped.iter().flat_map(|r| &r.new_cases))
            > 0
        {
            // Lost when the owner saved the project meanwhile: learned again next run.
            self.records
                .set_mapping(&setup.mapping, settings.config_version)
                .await?;
        }
        let setup = job
            .setup
            .clone()
            .unwrap_or_else(|| unreachable!("checked above"));
        let mut fields: Vec<RowFields<'_>> = mapped
            .iter_mut()
            .map(|r| RowFields {
                page_id: r.page_id.as_str(),
                whole: r.more_relations.is_empty(),
                fields: &mut r.field_data,
            })
            .collect();
        let waiting = self
            .keep_held_references(job, &setup, &mut fields, true)
            .await?;
        for (row, (title, files)) in mapped.iter().zip(about) {
            let waits = waiting.contains(&row.page_id);
            let mut staged = self.stage_row(job, &setup, row, title, waits)?;
            staged.files = files;
            // Slugs are checked against the rows staged before, so stage one at a time.
            self.staging.put_rows(&[staged])?;
        }
        for row in skipped {
            // Kept as "skipped" so a full run does not remove what Framer has for it.
            let id = ids::normalize(&row.page_id).unwrap_or_else(|_| row.page_id.clone());
            let mut marker = StagedRow::marker(next_seq(job), id, RowState::Skipped);
            marker.title.clone_from(&row.title);
            self.staging.put_rows(&[marker])?;
            job.skip(row);
        }
        for w in warnings {
            job.row_warning(w);
        }
        job.rows_read += pages.len();
        self.report.rows += pages.len();
        Ok(())
    }

    fn stage_row(
        &self,
        job: &mut Job,
        setup: &Setup,
        row: &MappedRow,
        title: String,
        waits_for_targets: bool,
    ) -> Result<StagedRow, StepError> {
        let stored = self.staging.stored(&row.page_id)?;
        let input = SlugInput {
            page_id: row.page_id.clone(),
            source: row.slug_source.clone(),
            previous: stored
                .as_ref()
                .map(|s| (s.slug.clone(), s.slug_source.clone())),
        };
        let (slug, waits) = self.choose_slug(job, &input, &title, false)?;
        let in_framer = if setup.framer_ids_known {
            Some(self.staging.in_framer(&row.page_id)?)
        } else {
            None
        };
        let facts = RowFacts {
            stored: stored.as_ref(),
            in_framer,
            page_body: job.settings().page_body,
            body_field_new: setup.body_field_new,
            keep_drafts: job.settings().keep_drafts,
        };
        let mut staged = rows::stage(next_seq(job), row, title, slug, facts);
        if staged.state != RowState::Remove && !row.more_relations.is_empty() {
            // Nothing about the row can be decided on a cut relation: its hash is not the one
            // of the whole (or, written cut by an earlier version, would pass as unchanged).
            // Decided again once the relation is read.
            staged.item = Some(row.to_item(staged.slug.clone()));
            staged.more_relations.clone_from(&row.more_relations);
            staged.slug_waits = waits;
            staged.state = RowState::Relations;
        } else if waits_for_targets && staged.item.is_some() {
            // Its references as Notion has them, left out or not once the targets' runs end.
            staged.item = Some(row.to_item(staged.slug.clone()));
            staged.slug_waits = waits;
            staged.state = RowState::Targets;
        } else if waits && staged.item.is_some() {
            staged.state = RowState::SlugWait;
        }
        if staged.state == RowState::Done {
            job.stats.unchanged += 1;
        }
        Ok(staged)
    }

    /// The slug of one row (see [`slug::choose`]), with whether it waits for it. Slugs are
    /// chosen against the rows staged before, so rows are staged one at a time.
    fn choose_slug(
        &self,
        job: &mut Job,
        input: &SlugInput,
        title: &str,
        final_: bool,
    ) -> Result<(String, bool), StepError> {
        let mut holder_error = None;
        let choice = slug::choose(input, !final_, |candidate| {
            self.staging
                .slug_holder(candidate, &input.page_id, final_)
                .unwrap_or_else(|e| {
                    holder_error = Some(e);
                    Some(slug::Holder::Given)
                })
        });
        if let Some(e) = holder_error {
            return Err(e);
        }
        Ok(match choice {
            slug::Choice::Wait { wanted } => (wanted, true),
            slug::Choice::Slug { slug, suffixed } => {
                if suffixed {
                    job.row_warning(format!(
                        "duplicate_slugs: \"{title}\" ({}) wants a slug another row has; it got \"{slug}\"",
                        input.page_id
                    ));
                }
                (slug, false)
            }
        })
    }

    /// Once reading and removing are over, gives the rows that waited for a slug theirs,
    /// against what holds each slug now; false when none waits. The rows are then written
    /// like any other, together (a swap of two slugs is one batch).
    fn settle_slugs(&mut self, job: &mut Job) -> Result<bool, StepError> {
        let waiting = self.staging.rows_in(RowState::SlugWait, BATCH_ITEMS)?;
        if waiting.is_empty() {
            return Ok(false);
        }
        self.held(waiting.len());
        let setup = job.setup.clone();
        for mut row in waiting {
            let stored = self.staging.stored(&row.page_id)?;
            let input = SlugInput {
                page_id: row.page_id.clone(),
                source: row.slug_source.clone(),
                previous: stored
                    .as_ref()
                    .map(|s| (s.slug.clone(), s.slug_source.clone())),
            };
            let title = row.title.clone();
            let (slug, _) = self.choose_slug(job, &input, &title, true)?;
            let facts = RowFacts {
                stored: stored.as_ref(),
                in_framer: match &setup {
                    Some(s) if s.framer_ids_known => Some(self.staging.in_framer(&row.page_id)?),
                    _ => None,
                },
                page_body: job.settings().page_body,
                body_field_new: setup.as_ref().is_some_and(|s| s.body_field_new),
                keep_drafts: job.settings().keep_drafts,
            };
            rows::give_slug(&mut row, slug, facts);
            if row.state == RowState::Done {
                job.stats.unchanged += 1;
            }
            self.staging.put_rows(&[row])?;
        }
        Ok(true)
    }

    /// Leaves in the rows' reference fields only the items their target collections hold (one
    /// question to each target's object), and remembers per row what was left out, so that the
    /// target's run asks for the row again once it adds those items. With `may_wait`, a row
    /// that misses items of a target whose run may still add them is left as it is and
    /// returned: it waits for that run (`RowState::Targets`) rather than being written twice.
    /// Nothing to do without references.
    async fn keep_held_references(
        &mut self,
        job: &mut Job,
        setup: &Setup,
        rows: &mut [RowFields<'_>],
        may_wait: bool,
    ) -> Result<BTreeSet<String>, StepError> {
        let fields = references::reference_fields(&setup.mapping);
        if fields.is_empty() || rows.is_empty() {
            return Ok(BTreeSet::new());
        }
        self.note_two_way_changes(job, setup, rows)?;
        let mut rows: Vec<(&str, &mut BTreeMap<String, FieldValue>)> = rows
            .iter_mut()
            .map(|r| (r.page_id, &mut *r.fields))
            .collect();
        let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, data) in &rows {
            for (collection, ids) in references::wanted(data, &fields) {
                wanted.entry(collection).or_default().extend(ids);
            }
        }
        let mut held = BTreeMap::new();
        let mut running = BTreeSet::new();
        for (collection, ids) in wanted {
            // A collection no project of the account syncs any more holds nothing we know of.
            let Some(project_id) = setup.targets.get(&collection) else {
                continue;
            };
            let ids: Vec<String> = ids.into_iter().collect();
            // This project's own collection (a relation of the data source to itself) is the
            // object's own record, which this run is writing; another's is asked of its object.
            let holds = if *project_id == self.project.id {
                Holds {
                    held: self.staging.held_among(&ids)?,
                    running: false,
                }
            } else {
                self.records.held_by_target(project_id, &ids).await?
            };
            if holds.running && may_wait {
                running.insert(collection.clone());
            }
            held.insert(collection, holds.held);
        }
        let mut waiting = BTreeSet::new();
        let mut dangling = Vec::with_capacity(rows.len());
        for (page_id, data) in &mut rows {
            if references::waits_for(data, &fields, &held, &running) {
                waiting.insert((*page_id).to_owned());
                continue;
            }
            let dropped = references::keep_held(data, &fields, &held)
                .into_iter()
                .filter_map(|(collection, id)| Some((setup.targets.get(&collection)?.clone(), id)))
                .collect();
            dangling.push(((*page_id).to_owned(), dropped));
        }
        if !dangling.is_empty() {
            self.records.remember_dangling(&dangling).await?;
        }
        Ok(waiting)
    }

    /// Two-way relations: the related pages a row gained or lost since it was last read are
    /// owed a refresh in the project syncing them (Notion changed them without editing them).
    /// Only whole relations count (a cut one is compared once read in full). The refreshes are
    /// checkpointed before the new values are recorded, so a crash in between loses none.
    fn note_two_way_changes(
        &mut self,
        job: &mut Job,
        setup: &Setup,
        rows: &[RowFields<'_>],
    ) -> Result<(), StepError> {
        let two_way = references::two_way_fields(&setup.mapping, &setup.schema);
        if two_way.is_empty() {
            return Ok(());
        }
        let now: Vec<(String, String, Vec<String>)> = rows
            .iter()
            .filter(|r| r.whole)
            .flat_map(|r| {
                two_way.keys().map(|field| {
                    (
                        r.page_id.to_owned(),
                        field.clone(),
                        references::ids_of(r.fields.get(field)),
                    )
                })
            })
            .collect();
        if now.is_empty() {
            return Ok(());
        }
        let pages: BTreeSet<String> = now.iter().map(|(p, _, _)| p.clone()).collect();
        let pages: Vec<String> = pages.into_iter().collect();
        let before: BTreeMap<(String, String), Vec<String>> = self
            .staging
            .previous_relations(&pages)?
            .into_iter()
            .map(|(p, f, ids)| ((p, f), ids))
            .collect();
        let mut changed_rows = Vec::new();
        for (page, field, ids) in now {
            let old = before
                .get(&(page.clone(), field.clone()))
                .map_or(&[][..], Vec::as_slice);
            let changed = references::changed(old, &ids);
            if changed.is_empty() {
                continue;
            }
            if let Some(project) = two_way.get(&field).and_then(|c| setup.targets.get(c)) {
                if *project == self.project.id {
                    job.refresh_next.extend(changed);
                } else {
                    job.refresh_owed
                        .entry(project.clone())
                        .or_default()
                        .extend(changed);
                }
            }
            changed_rows.push((page, field, ids));
        }
        if changed_rows.is_empty() {
            return Ok(());
        }
        // With the job that owes the refreshes: one batch of the object's writes.
        self.staging.remember_relations(&changed_rows)?;
        self.staging.save_job(job)
    }

    /// Sends one project the rows it should read again (one subrequest); false when none is owed.
    async fn send_refresh(&mut self, job: &mut Job) -> Result<bool, StepError> {
        let Some((project_id, pages)) = job.refresh_owed.first_key_value() else {
            return Ok(false);
        };
        let (project_id, pages) = (
            project_id.clone(),
            pages.iter().cloned().collect::<Vec<_>>(),
        );
        if !self.budget.take() {
            return Err(StepError::BudgetSpent);
        }
        match self.records.request_refresh(&project_id, &pages).await {
            Ok(()) => {}
            // The run's own work is done and must not be undone by the other project's object:
            // the rows stay as they are until they are read again (their next edit, the daily
            // full reconcile), and the record says so.
            Err(StepError::Failed(failure)) => job.row_warning(format!(
                "references: project {project_id} could not be asked to read {} row(s) again ({}); they catch up at their next edit or full run",
                pages.len(),
                failure.message
            )),
            Err(e) => return Err(e),
        }
        job.refresh_owed.remove(&project_id);
        Ok(true)
    }

    /// Reads one page (100 related pages) of the first relation of `row` that its query row
    /// cut, one Notion call. The ids read so far live in the row's item and the cursor in the
    /// job, saved together, so a long relation resumes in the next step where it stopped. Once
    /// every cut relation is whole, the row is decided like any other (body, write, unchanged).
    async fn read_relation(&mut self, job: &mut Job, mut row: StagedRow) -> Result<(), StepError> {
        let Some(field_id) = row.more_relations.first().cloned() else {
            return self.relations_read(job, row).await;
        };
        let property_id = job
            .setup
            .as_ref()
            .and_then(|s| s.mapping.fields.iter().find(|f| f.field_id == field_id))
            .map(|f| f.property_id.clone());
        let Some(property_id) = property_id else {
            // The field left the mapping: nothing more to read for it.
            row.more_relations.remove(0);
            return self.staging.put_rows(&[row]);
        };
        let cursor = job
            .relation_read
            .as_ref()
            .filter(|r| r.page_id == row.page_id && r.field_id == field_id)
            .map(|r| r.cursor.clone());
        let Some(answer) = self
            .notion
            .property_items(&row.page_id, &property_id, cursor.as_deref())
            .await?
        else {
            // Notion's 404 does not say whether the page or the property went: the row keeps
            // what the query showed (a page deleted meanwhile is removed by a later run, through
            // the guard; never on this guess).
            job.row_warning(format!(
                "row {}: \"{}\": {}: Notion no longer shows the whole relation; only the related pages the query listed were synced",
                row.page_id,
                row.title,
                job.setup.as_ref().map_or_else(|| field_id.clone(), |s| rows::property_name(&s.mapping, &field_id)),
            ));
            job.relation_read = None;
            row.more_relations.remove(0);
            return self.relation_done(job, row).await;
        };
        let (ids, next) = protocol::parse_relation_items(&answer);
        self.held(1);
        if let Some(FieldValue::MultiCollectionReference(held)) = row
            .item
            .as_mut()
            .and_then(|item| item.field_data.get_mut(&field_id))
        {
            // The first page starts the list again: it repeats the 25 the query row had.
            if cursor.is_none() {
                held.clear();
            }
            held.extend(ids);
        }
        if let Some(cursor) = next {
            job.relation_read = Some(RelationRead {
                page_id: row.page_id.clone(),
                field_id,
                cursor,
            });
            return self.staging.put_rows(&[row]);
        }
        job.relation_read = None;
        row.more_relations.remove(0);
        self.relation_done(job, row).await
    }

    /// One cut relation of `row` is whole. The row and the job are saved before anything else:
    /// deciding the row asks the target's object and D1, which may end the step for lack of
    /// budget, and a read not saved by then would be lost with the step (the next one would
    /// read the relation again from its start). A row saved with no cut relation left is
    /// decided by the next `read_relation`, in this step or the next.
    async fn relation_done(&mut self, job: &mut Job, row: StagedRow) -> Result<(), StepError> {
        self.staging.put_rows(std::slice::from_ref(&row))?;
        self.staging.save_job(job)?;
        if row.more_relations.is_empty() {
            self.relations_read(job, row).await
        } else {
            Ok(())
        }
    }

    /// A row whose relations are whole: it waits for related projects' runs, or is decided.
    async fn relations_read(&mut self, job: &mut Job, mut row: StagedRow) -> Result<(), StepError> {
        if let (Some(setup), Some(item)) = (job.setup.clone(), row.item.as_mut()) {
            let mut fields = [RowFields {
                page_id: row.page_id.as_str(),
                whole: true,
                fields: &mut item.field_data,
            }];
            let waiting = self
                .keep_held_references(job, &setup, &mut fields, true)
                .await?;
            if !waiting.is_empty() {
                row.state = RowState::Targets;
                return self.staging.put_rows(&[row]);
            }
        }
        self.decide_whole(job, row)
    }

    /// A row read whole, its references as the targets hold them: it waits for its slug, or is
    /// decided as if just staged.
    fn decide_whole(&mut self, job: &mut Job, mut row: StagedRow) -> Result<(), StepError> {
        if row.slug_waits {
            row.state = RowState::SlugWait;
            return self.staging.put_rows(&[row]);
        }
        let stored = self.staging.stored(&row.page_id)?;
        let setup = job.setup.as_ref();
        let facts = RowFacts {
            stored: stored.as_ref(),
            in_framer: match setup {
                Some(s) if s.framer_ids_known => Some(self.staging.in_framer(&row.page_id)?),
                _ => None,
            },
            page_body: job.settings().page_body,
            body_field_new: setup.is_some_and(|s| s.body_field_new),
            keep_drafts: true,
        };
        let slug = row.slug.clone();
        rows::give_slug(&mut row, slug, facts);
        if row.state == RowState::Done {
            job.stats.unchanged += 1;
        }
        self.staging.put_rows(&[row])
    }

    /// Fetches one row's body. A body that needs more requests than a whole step may make
    /// would never fit: the row is then written without it, with a warning.
    async fn fetch_body(&mut self, job: &mut Job, mut row: StagedRow) -> Result<(), StepError> {
        let fresh_step = self.notion.calls() == 0;
        let html = match self.notion.block_tree(&row.page_id).await {
            Ok(None) => {
                // Deleted (or unshared) since the query listed it: gone from the source, like
                // any removed row, and only through the deletion guard.
                let mut gone = StagedRow::marker(row.seq, row.page_id, RowState::Remove);
                gone.title = row.title;
                self.held(1);
                return self.staging.put_rows(&[gone]);
            }
            Ok(Some(blocks)) => {
                let mut files = NotionFiles::from_urls(std::mem::take(&mut row.files));
                files.add_blocks(&blocks);
                row.files = files.urls().cloned().collect();
                let (html, skipped) = page_html::render_blocks_with_report(&blocks);
                job.blocks_not_rendered.extend(skipped);
                Some(html)
            }
            Err(StepError::BudgetSpent) if fresh_step => {
                job.row_warning(format!(
                    "row {}: the page content of \"{}\" needs more requests than one step may make (SYNC_STEP_SUBREQUESTS); it was left as it was",
                    row.page_id, row.title
                ));
                None
            }
            Err(e) => return Err(e),
        };
        let fetched = html.is_some();
        if let (Some(item), Some(html)) = (row.item.as_mut(), html) {
            item.field_data
                .insert(BODY_FIELD_ID.into(), FieldValue::FormattedText(html));
        }
        let stored = self.staging.stored(&row.page_id)?;
        let setup = job.setup.as_ref();
        let facts = RowFacts {
            stored: stored.as_ref(),
            in_framer: match setup {
                Some(s) if s.framer_ids_known => Some(self.staging.in_framer(&row.page_id)?),
                _ => None,
            },
            page_body: job.settings().page_body && fetched,
            body_field_new: setup.is_some_and(|s| s.body_field_new),
            keep_drafts: true,
        };
        rows::settle(&mut row, facts, fetched);
        if row.state == RowState::Done {
            job.stats.unchanged += 1;
        }
        self.held(1);
        self.staging.put_rows(&[row])
    }

    /// A page reported deleted is fetched again: gone, it is removed; restored (or only
    /// moved), it is synced like any changed row.
    async fn recheck_gone(&mut self, job: &mut Job, raw_id: &str) -> Result<(), StepError> {
        let Ok(page_id) = ids::normalize(raw_id) else {
            return Ok(());
        };
        if self.staging.contains(&page_id)? {
            return Ok(());
        }
        let data_source_id = job.setup.as_ref().map(|s| s.data_source_id.clone());
        match self.notion.page(&page_id).await? {
            Some(page)
                if !protocol::page_is_gone(&page)
                    && protocol::page_in_data_source(&page, data_source_id.as_deref()) =>
            {
                self.stage_pages(job, &[&page]).await
            }
            _ => self.staging.put_rows(&[StagedRow::marker(
                next_seq(job),
                page_id,
                RowState::Remove,
            )]),
        }
    }

    /// Sends the next batch of ready rows. A batch Framer refuses is split until the refused
    /// rows are found; the others are written, and D1 records each accepted part.
    async fn write_batch(&mut self, job: &mut Job) -> Result<(), StepError> {
        let Some(setup) = job.setup.clone() else {
            return Ok(());
        };
        let ready = self.staging.rows_in(RowState::Write, BATCH_ITEMS)?;
        self.held(ready.len());
        let batch = first_batch(ready);
        let wanted = Self::wanted_fields(job.settings().page_body, &setup.mapping, &setup.schema);
        let wanted_json = fields_json(&wanted);
        if wanted_json != setup.fields_json {
            // The mapping learned enum cases from rows read since the last write.
            self.set_fields(&setup.collection_id, &wanted).await?;
            if let Some(s) = job.setup.as_mut() {
                s.fields_json = wanted_json;
            }
        }
        let sent = self.rehost(job, &setup.mapping, &batch).await?;
        let mut pending = vec![batch];
        while let Some(group) = pending.pop() {
            let items: Vec<Value> = group
                .iter()
                .filter_map(|r| sent.get(&r.page_id).map(|s| s.item.to_wire()))
                .collect();
            let call = Call::AddItems {
                collection_id: setup.collection_id.clone(),
                items,
            };
            match self.framer.call(call).await {
                Ok(_) => self.accepted(job, group, &sent).await?,
                Err(StepError::Refused { message, .. }) if group.len() == 1 => {
                    self.refused(job, &setup.mapping, group, &message)?;
                }
                Err(StepError::Refused { .. }) => {
                    let mut first = group;
                    let second = first.split_off(first.len() / 2);
                    // Popped last-in first-out: the first half goes first, keeping order.
                    pending.push(second);
                    pending.push(first);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Uploads the batch's Notion-hosted files Framer does not have yet and gives each row the
    /// item to send, pointing at the assets (the signed URLs expire, so nothing may point at
    /// them). Files go `UPLOADS_PER_CALL` to an `uploadImages` / `uploadFiles` call over the
    /// open socket (no subrequest: Framer's server downloads them), and D1 learns them all in
    /// one query. A call Framer refuses (it could not download one of its files) is split
    /// until the file is found; a file that cannot be uploaded leaves its row written without
    /// it, with a warning, and the row's stored hash makes the next run retry it.
    async fn rehost(
        &mut self,
        job: &mut Job,
        mapping: &Mapping,
        batch: &[StagedRow],
    ) -> Result<BTreeMap<String, Outgoing>, StepError> {
        let refs: Vec<(usize, AssetRef)> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                Some((i, r.item.as_ref()?, NotionFiles::from_urls(r.files.clone())))
            })
            .flat_map(|(i, item, files)| {
                assets::row_assets(&item.field_data, &files)
                    .into_iter()
                    .map(move |a| (i, a))
            })
            .collect();
        let mut known = if refs.is_empty() {
            BTreeMap::new()
        } else {
            let keys: BTreeSet<String> = refs.iter().map(|(_, r)| r.key.clone()).collect();
            self.staging.assets(&keys.into_iter().collect::<Vec<_>>())?
        };
        let all: Vec<AssetRef> = refs.iter().map(|(_, r)| r.clone()).collect();
        let missing: Vec<AssetRef> = assets::missing_uploads(&all, |k| known.contains_key(k))
            .into_iter()
            .cloned()
            .collect();
        let failed = self.upload(job, &missing, &mut known).await?;
        let mut sent = BTreeMap::new();
        for row in batch {
            let Some(item) = row.item.clone() else {
                continue;
            };
            let hash = cms::content_hash(&item);
            let mut rewritten = item;
            let files = NotionFiles::from_urls(row.files.clone());
            let dropped =
                assets::rewrite_row(&mut rewritten.field_data, &files, |k| known.get(k).cloned());
            for file in &dropped {
                let reason = file
                    .key
                    .as_ref()
                    .and_then(|k| failed.get(k))
                    .map_or("Framer has no copy of it", String::as_str);
                job.row_warning(format!(
                    "row {}: \"{}\": {}: the file {} could not be re-hosted in Framer ({}); the row was written without it and the next run tries again",
                    row.page_id,
                    row.title,
                    rows::property_name(mapping, &file.field_id),
                    file.name.as_deref().unwrap_or("(unnamed)"),
                    truncate(reason, 200),
                ));
            }
            let hash = if dropped.is_empty() {
                hash
            } else {
                format!("{RETRY_HASH_PREFIX}{hash}")
            };
            sent.insert(
                row.page_id.clone(),
                Outgoing {
                    item: rewritten,
                    hash,
                },
            );
        }
        Ok(sent)
    }

    /// Uploads `missing` in batches of one kind, splitting a refused call until the file at
    /// fault is found; `known` learns every asset (D1 too, in one query). Returns the files
    /// that could not be uploaded, with why.
    async fn upload(
        &mut self,
        job: &mut Job,
        missing: &[AssetRef],
        known: &mut BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, StepError> {
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let mut uploaded: Vec<(String, Asset)> = Vec::new();
        let refs: Vec<&AssetRef> = missing.iter().collect();
        let mut pending = assets::upload_batches(&refs, assets::UPLOADS_PER_CALL);
        pending.reverse();
        while let Some(group) = pending.pop() {
            let Some(kind) = group.first().map(|r| r.kind) else {
                continue;
            };
            job.uploads += group.len();
            match self.framer.call(assets::upload_call(&group, None)).await {
                Ok(reply) => match Asset::from_batch_reply(kind, &reply, group.len()) {
                    Ok(answered) => {
                        for (file, asset) in group.iter().zip(answered) {
                            known.insert(file.key.clone(), asset.url.clone());
                            uploaded.push((file.key.clone(), asset));
                        }
                    }
                    Err(e) => {
                        for file in &group {
                            failed.insert(file.key.clone(), e.to_string());
                        }
                    }
                },
                Err(StepError::Refused { message, .. }) if group.len() == 1 => {
                    failed.insert(group[0].key.clone(), message);
                }
                Err(StepError::Refused { .. }) => {
                    // Tried again in halves: the files that download still get their assets.
                    job.uploads -= group.len();
                    let mut first = group;
                    let second = first.split_off(first.len() / 2);
                    pending.push(second);
                    pending.push(first);
                }
                Err(e) => return Err(e),
            }
        }
        let uploaded: Vec<StoredAsset> = uploaded
            .into_iter()
            .map(|(key, asset)| StoredAsset {
                key,
                kind: asset.kind.as_str().to_owned(),
                id: asset.id,
                url: asset.url,
            })
            .collect();
        if !uploaded.is_empty() {
            self.staging.record_assets(&uploaded)?;
        }
        Ok(failed)
    }

    async fn accepted(
        &mut self,
        job: &mut Job,
        rows: Vec<StagedRow>,
        sent: &BTreeMap<String, Outgoing>,
    ) -> Result<(), StepError> {
        let records: Vec<StoredItem> = rows
            .iter()
            .filter_map(|r| {
                let outgoing = sent.get(&r.page_id)?;
                Some(StoredItem {
                    page_id: r.page_id.clone(),
                    slug: r.slug.clone(),
                    slug_source: r.slug_source.clone(),
                    content_hash: outgoing.hash.clone(),
                    last_edited_time: Some(r.last_edited_time.clone()),
                    fields_hash: r.item.as_ref().map(rows::fields_hash),
                })
            })
            .collect();
        // Rows of any project that left out some of these pages now get them: asked before the
        // object's writes below, which then go out together with what to refresh.
        let added: Vec<String> = records.iter().map(|r| r.page_id.clone()).collect();
        for (project_id, page_id) in self.records.referrers(&added).await? {
            if project_id == self.project.id {
                job.refresh_next.insert(page_id);
            } else {
                job.refresh_owed
                    .entry(project_id)
                    .or_default()
                    .insert(page_id);
            }
        }
        // The record, the rows and the counts are one batch of the object's writes: a crash
        // keeps all of them or none, and a batch is never recorded without its rows.
        self.staging.record_items(&records)?;
        let done: Vec<StagedRow> = rows
            .into_iter()
            .map(|mut r| {
                match r.write {
                    Some(WriteKind::Add) => job.stats.added += 1,
                    Some(WriteKind::Update) => job.stats.updated += 1,
                    None => {}
                }
                job.items_written += 1;
                r.state = RowState::Done;
                r.item = None;
                r
            })
            .collect();
        self.report.rows += done.len();
        self.staging.put_rows(&done)?;
        // With the rows, before the next await (the next part of a split batch): the object
        // writes both out together, so a crash never keeps the rows and loses their counts.
        self.staging.save_job(job)
    }

    fn refused(
        &self,
        job: &mut Job,
        mapping: &Mapping,
        rows: Vec<StagedRow>,
        message: &str,
    ) -> Result<(), StepError> {
        let mut kept = Vec::with_capacity(rows.len());
        for mut row in rows {
            let property = row
                .item
                .as_ref()
                .and_then(|item| rows::refused_property(message, item, mapping));
            job.skip(SkippedRow {
                page_id: row.page_id.clone(),
                title: row.title.clone(),
                url: notion_url(&row.page_id),
                property,
                reason: format!("Framer refused the row: {}", truncate(message, 300)),
            });
            row.state = RowState::Skipped;
            row.item = None;
            kept.push(row);
        }
        self.staging.put_rows(&kept)?;
        self.staging.save_job(job)
    }

    /// Removes a chunk of what Framer should no longer have, once the deletion guard has
    /// decided; false when nothing is left.
    async fn remove_unit(&mut self, job: &mut Job) -> Result<bool, StepError> {
        let (full, collection_id) = match &job.setup {
            Some(s) => (s.framer_ids_known, s.collection_id.clone()),
            None => return Ok(false),
        };
        let Some(plan) = job.removal.clone() else {
            self.decide_removals(job, full).await?;
            return Ok(true);
        };
        if let GuardVerdict::Hold(_) = plan.verdict {
            if !plan.recorded_all {
                self.record_held(job, full, &plan).await?;
                return Ok(true);
            }
        }
        let set = match (plan.verdict, plan.release) {
            (GuardVerdict::Proceed, false) => RemovalSet::AllButKept,
            (GuardVerdict::Proceed, true) => RemovalSet::All,
            (GuardVerdict::Hold(_), true) => RemovalSet::Reviewed,
            (GuardVerdict::Hold(_), false) => return Ok(false),
        };
        let ids: Vec<String> = self
            .staging
            .removals(full, set, None, REMOVE_CHUNK)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if ids.is_empty() {
            return Ok(false);
        }
        self.framer
            .call(Call::RemoveItems {
                collection_id,
                ids: ids.clone(),
            })
            .await?;
        // D1 first (the reviews of their removal, what they left out of their references,
        // their two-way relations): the record, the markers and the counts then go in one
        // batch of the object's writes, so a crash before it removes the chunk again and
        // counts it once.
        self.records.forget_removed(&ids).await?;
        self.staging.forget_items(&ids)?;
        let removed: Vec<StagedRow> = ids
            .iter()
            .map(|id| StagedRow::marker(next_seq(job), id.clone(), RowState::Removed))
            .collect();
        job.stats.removed += ids.len();
        self.staging.put_rows(&removed)?;
        Ok(true)
    }

    /// The deletion guard's decision on everything this run would remove. Reviews that no
    /// longer stand are dropped (a full run sees every removal, so any reviewed page that is not
    /// one any more); held pages still to remove keep their rows, so a hold that lasts writes
    /// only what changed.
    async fn decide_removals(&mut self, job: &mut Job, full: bool) -> Result<(), StepError> {
        let release = job.batch.release_held;
        let counts = self.staging.removal_counts(full)?;
        let moot = self.staging.reviewed_moot(full)?;
        if !moot.is_empty() {
            self.records.forget_reviewed(&moot).await?;
        }
        let would_remove = if release {
            counts.unreviewed
        } else {
            counts.unreviewed + counts.held
        };
        let verdict = guard::decide(
            Removals {
                held_in_framer: counts.known,
                would_remove,
                full,
                rows_read: job.rows_read,
            },
            job.settings().guard,
        );
        job.removal = Some(RemovalPlan {
            verdict: verdict.into(),
            release,
            recorded_after: None,
            recorded_all: false,
        });
        if let guard::Verdict::Hold(reason) = verdict {
            job.stats.held_reason = Some(reason);
        }
        Ok(())
    }

    /// Records a chunk of the held removals for the owner's review.
    async fn record_held(
        &mut self,
        job: &mut Job,
        full: bool,
        plan: &RemovalPlan,
    ) -> Result<(), StepError> {
        let set = if plan.release {
            RemovalSet::Unreviewed
        } else {
            RemovalSet::AllButKept
        };
        let chunk = self
            .staging
            .removals(full, set, plan.recorded_after.as_deref(), HOLD_CHUNK)?;
        let items: Vec<HeldItem> = chunk
            .iter()
            .map(|(page_id, title)| HeldItem {
                page_id: page_id.clone(),
                title: title.clone(),
                url: notion_url(page_id),
            })
            .collect();
        if !items.is_empty() {
            self.records.hold(&job.sync_id, &items).await?;
        }
        job.stats.removals_held += items.len();
        let room = HELD_LISTED.saturating_sub(job.stats.held_items.len());
        job.stats
            .held_items
            .extend(items.iter().take(room).cloned());
        if let Some(plan) = job.removal.as_mut() {
            plan.recorded_after = chunk.last().map(|(id, _)| id.clone());
            plan.recorded_all = chunk.len() < HOLD_CHUNK;
        }
        Ok(())
    }

    async fn publish(&mut self, job: &mut Job) -> Result<(), StepError> {
        let changed = job.stats.added + job.stats.updated + job.stats.removed > 0;
        if !changed || !job.settings().auto_publish || job.stats.published {
            return Ok(());
        }
        let published = self.framer.call(Call::Publish).await?;
        let deployment_id = published
            .pointer("/deployment/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.framer.call(Call::Deploy { deployment_id }).await?;
        job.stats.published = true;
        // Checkpointed before the record is closed: a crash there must not publish again.
        self.staging.save_job(job)
    }

    /// Closes the run's record and drops its staged rows.
    async fn close(
        &mut self,
        job: &mut Job,
        failure: Option<&SyncFailure>,
    ) -> Result<(), StepError> {
        let now = (self.clock)();
        job.closing = None;
        job.closing_warnings();
        if failure.is_none() && job.stats.full {
            self.records.set_last_full_sync_at(now).await?;
        }
        let end = failure.map_or(RunEnd::Succeeded, |f| RunEnd::Failed {
            code: &f.code,
            message: &f.message,
        });
        job.items_in_framer = Some(self.staging.item_count()?);
        self.records.run_finished(job, end, now).await?;
        self.staging.clear()
    }
}

/// A row's field values as references are checked: `whole` when no relation of it is cut.
struct RowFields<'a> {
    page_id: &'a str,
    whole: bool,
    fields: &'a mut BTreeMap<String, FieldValue>,
}

/// A row as it goes to Framer: its files pointing at assets, and the hash D1 records once
/// Framer accepted it (of the content as read from Notion, so an unchanged row matches).
struct Outgoing {
    item: cms::Item,
    hash: String,
}

fn next_seq(job: &mut Job) -> u64 {
    job.next_seq += 1;
    job.next_seq
}

/// The ready rows that fit one call, in order (a row larger than the byte budget goes alone).
fn first_batch(ready: Vec<StagedRow>) -> Vec<StagedRow> {
    let size = |r: &StagedRow| r.item.as_ref().map_or(0, |i| i.to_wire().to_string().len());
    reconcile::batches(ready, size, BATCH_ITEMS, BATCH_BYTES)
        .into_iter()
        .next()
        .unwrap_or_default()
}

fn fields_json(fields: &[FieldDef]) -> String {
    Value::Array(fields.iter().map(FieldDef::to_wire).collect()).to_string()
}

fn list(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{cut}…")
}

/// The project's settings as a run starts with them; the publish filter is checked against the
/// schema once it is read (`Engine::row_options`).
pub fn run_settings(project: &Project, guard: GuardPolicy) -> Result<RunSettings, SyncFailure> {
    if project.publish_filter_error.is_some() {
        return Err(SyncFailure::permanent(
            "publish_filter_invalid",
            "the stored publish filter cannot be read; nothing was removed or unpublished. Save the filter again in the project settings",
        ));
    }
    let options = plan::row_options(
        project.slug_property.as_deref(),
        project.publish_filter.as_ref(),
    );
    Ok(RunSettings {
        config_version: project.config_version,
        database_id: project.notion_database_id.clone(),
        data_source_id: project.notion_data_source_id.clone(),
        collection_name: project.framer_collection_name.clone(),
        row_options: RowOptionsSnapshot::from_options(&options),
        keep_drafts: project.unpublished_mode == UnpublishedMode::Draft,
        page_body: project.page_body,
        auto_publish: project.auto_publish_active(),
        guard: project.deletion_guard.policy(guard),
    })
}
