//! A sync run as a resumable job: everything a step needs to continue where the last one
//! stopped. The job is checkpointed in the Durable Object's SQLite after every unit of work,
//! beside the staged rows, so a restart or eviction costs at most the unit in progress.

use crate::framer::cms::Item;
use crate::notion::protocol::QueryWindow;
use crate::notion::schema::Schema;
use crate::sync::guard::{HoldReason, Verdict};
use crate::sync::mapping::Mapping;
use crate::sync::queue::{Pending, Trigger};
use crate::sync::references::Refreshes;
use crate::sync::row::RowOptions;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Skipped rows listed on a run's record; past this they are only counted.
pub const MAX_SKIPPED_LISTED: usize = 100;
/// Warnings kept on the record (of every kind: rows, slugs, schema); past this they are only
/// counted.
pub const MAX_ROW_WARNINGS: usize = 20;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Resolving the data source, the mapping, the collection and what Framer holds.
    Starting,
    /// Reading rows (and bodies) from Notion and writing them to Framer as they come.
    Reading,
    /// Taking out of Framer what Notion no longer has.
    Removing,
    /// Publishing the site.
    Publishing,
}

/// What a run did, for its record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunStats {
    pub full: bool,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub notion_calls: usize,
    pub framer_calls: usize,
    pub bytes_sent: usize,
    pub published: bool,
    pub warnings: Vec<String>,
    /// Removals the deletion guard held for the owner to review (nothing of them was removed).
    #[serde(default)]
    pub removals_held: usize,
    #[serde(default)]
    pub held_reason: Option<HoldReason>,
    /// The first held items, for the record and the alert.
    #[serde(default)]
    pub held_items: Vec<HeldItem>,
}

/// An item the guard kept in Framer although Notion no longer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldItem {
    pub page_id: String,
    pub title: String,
    pub url: String,
}

/// A row that did not reach Framer, as the owner needs it to fix the row in Notion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRow {
    pub page_id: String,
    pub title: String,
    /// The page in Notion.
    pub url: String,
    /// The Notion property at fault, when known.
    pub property: Option<String>,
    pub reason: String,
}

/// The checkpoint of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub sync_id: String,
    pub batch: Pending,
    pub started_at_ms: i64,
    /// Steps taken so far (the one running included).
    pub steps: u32,
    pub phase: Phase,
    pub stats: RunStats,
    pub skipped_rows: Vec<SkippedRow>,
    pub rows_read: usize,
    pub items_written: usize,
    /// Rows this run handles, once reading is done.
    pub rows_total: Option<usize>,
    /// Set once the data source, mapping and collection are resolved (end of `Starting`).
    pub setup: Option<Setup>,
    pub read: ReadCursor,
    /// Pages of an incremental batch to read again by id, still to do: reported deleted (gone
    /// if Notion no longer shows them), or asked for by a project that references them.
    pub gone_to_check: Vec<String>,
    /// When the next Notion request may go out (the pacer carries over between steps).
    pub notion_next_at_ms: u64,
    /// Block types that page bodies had and the renderer skipped.
    pub blocks_not_rendered: BTreeSet<String>,
    /// Row warnings seen (only the first [`MAX_ROW_WARNINGS`] are kept).
    pub row_warnings: usize,
    /// Next staging sequence number: rows are written in the order Notion returned them.
    pub next_seq: u64,
    /// Files uploaded to Framer (attempts, failed ones included).
    #[serde(default)]
    pub uploads: usize,
    /// The project's settings as the run found them at its start: one run never mixes two.
    #[serde(default)]
    pub settings: Option<RunSettings>,
    /// What the deletion guard decided, once reading is over.
    #[serde(default)]
    pub removal: Option<RemovalPlan>,
    /// The items Framer holds for the project by the object's record, counted when the run
    /// ends: D1's project row keeps the figure for the dashboard.
    #[serde(default)]
    pub items_in_framer: Option<usize>,
    /// The run is over but its close did not fit the step's D1 budget: the next step closes it
    /// first, with this ending.
    #[serde(default)]
    pub closing: Option<Closing>,
    /// Where reading the rest of a relation stands (the first row in `Relations`).
    #[serde(default)]
    pub relation_read: Option<RelationRead>,
    /// Rows of other projects to read again, by project: they reference items this run added
    /// (and had to leave them out), or their relation changed on this side. Sent before the
    /// run publishes, one call per project.
    #[serde(default)]
    pub refresh_owed: Refreshes,
    /// This project's own rows to read again in its next run (a relation of the data source to
    /// itself): the object queues them once the run is over.
    #[serde(default)]
    pub refresh_next: BTreeSet<String>,
    /// When the run first had nothing left to do but rows that wait for other projects' runs
    /// (their references point at items those runs may still add): rows wait at most
    /// [`TARGETS_WAIT_MAX_MS`] from then.
    #[serde(default)]
    pub waiting_since_ms: Option<i64>,
    /// Whether the run is waiting so now: the next step comes after a pause
    /// ([`Job::next_step_at`]) and the run is not "running" for other projects' rows.
    #[serde(default)]
    pub waiting: bool,
}

/// Rows wait at most this long, once nothing else is left, for other projects' runs to add
/// the items they reference; then they are written with the references that exist (the rest
/// follow when those items are added, as for any reference left out).
pub const TARGETS_WAIT_MAX_MS: i64 = 120_000;

/// How a run that is over ends, kept until its record is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Closing {
    Succeeded,
    Failed {
        code: String,
        message: String,
        retryable: bool,
    },
}

/// A relation read in pages: the row, the field, and the cursor of the next page. The ids read
/// so far are in the staged row's item, written with this checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationRead {
    pub page_id: String,
    pub field_id: String,
    pub cursor: String,
}

/// The project's settings a run works with, read once when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// The project's settings version: the run's own writes to the project (mapping cases,
    /// ids it resolved) apply only while nobody saved the project since.
    pub config_version: i64,
    pub database_id: String,
    /// The data source the project was set to sync when the run started, when it was set
    /// (a first run chooses and stores one itself).
    #[serde(default)]
    pub data_source_id: Option<String>,
    pub collection_name: String,
    pub row_options: RowOptionsSnapshot,
    /// Rows the filter holds back become drafts (else they are removed).
    pub keep_drafts: bool,
    pub page_body: bool,
    pub auto_publish: bool,
    pub guard: crate::sync::guard::GuardPolicy,
}

/// [`RowOptions`] as the checkpoint stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowOptionsSnapshot {
    pub slug_property: Option<String>,
    pub filter_property: Option<String>,
    /// `None`: a checkbox filter; `Some(values)`: a status filter (option ids, then names).
    pub filter_values: Option<Vec<String>>,
}

impl RowOptionsSnapshot {
    pub fn from_options(options: &RowOptions) -> Self {
        use crate::sync::row::PublishKind;
        let filter = options.publish_filter.as_ref();
        Self {
            slug_property: options.slug_property.clone(),
            filter_property: filter.map(|f| f.property_id.clone()),
            filter_values: filter.and_then(|f| match &f.kind {
                PublishKind::Checkbox => None,
                PublishKind::StatusIn(values) => Some(values.clone()),
            }),
        }
    }

    pub fn options(&self) -> RowOptions {
        use crate::sync::row::{PublishFilter, PublishKind};
        RowOptions {
            slug_property: self.slug_property.clone(),
            publish_filter: self
                .filter_property
                .clone()
                .map(|property_id| PublishFilter {
                    property_id,
                    kind: self
                        .filter_values
                        .clone()
                        .map_or(PublishKind::Checkbox, PublishKind::StatusIn),
                }),
        }
    }
}

/// The guard's decision for this run's removals, and how far recording a hold got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalPlan {
    pub verdict: GuardVerdict,
    /// The owner asked for the reviewed removals ("Remove them"): those go whatever the verdict.
    pub release: bool,
    /// Held items recorded so far (by page id), when the verdict holds.
    pub recorded_after: Option<String>,
    pub recorded_all: bool,
}

/// [`Verdict`] as the checkpoint stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardVerdict {
    Proceed,
    Hold(HoldReason),
}

impl From<Verdict> for GuardVerdict {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Proceed => Self::Proceed,
            Verdict::Hold(reason) => Self::Hold(reason),
        }
    }
}

/// What `Starting` resolved, fixed for the rest of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    pub data_source_id: String,
    pub schema: Schema,
    pub mapping: Mapping,
    pub collection_id: String,
    /// The fields last set on (or found in) the collection, as sent.
    pub fields_json: String,
    /// The body field was just added to the collection: every row needs its body.
    pub body_field_new: bool,
    /// Framer's item ids were staged (full runs), so missing items can be re-sent.
    pub framer_ids_known: bool,
    /// The project syncing each collection references point into (this one's included, for
    /// a relation of the data source to itself): collection id -> project id.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
}

/// Where reading stands: the query window, the cursor in it, and the newest `created_time`
/// seen in it (where the next window starts when Notion caps this one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadCursor {
    pub window: QueryWindow,
    pub cursor: Option<String>,
    pub window_newest: Option<String>,
    pub window_new_rows: usize,
    pub done: bool,
}

impl Job {
    /// The phase as the record and the API show it: reading (Notion, with writes as rows are
    /// ready), waiting (for related projects' runs to add what rows reference), writing (what
    /// is left once Notion is read: last batches, removals), publishing.
    pub fn public_phase(&self) -> &'static str {
        if self.waiting {
            return "waiting";
        }
        match self.phase {
            Phase::Starting => "reading",
            Phase::Reading if !self.read.done => "reading",
            Phase::Reading | Phase::Removing => "writing",
            Phase::Publishing => "publishing",
        }
    }

    /// When the next step should start: at once, or, while the run waits for other projects'
    /// runs, after a pause that grows with the wait (1 s at first, at most 8 s), so that a
    /// long wait costs few invocations.
    pub fn next_step_at(&self, now_ms: i64) -> i64 {
        match (self.waiting, self.waiting_since_ms) {
            (true, Some(since)) => now_ms + ((now_ms - since) / 2).clamp(1_000, 8_000),
            _ => now_ms,
        }
    }

    pub fn new(batch: Pending, sync_id: String, now_ms: i64) -> Self {
        let gone_to_check = batch
            .gone_pages
            .union(&batch.refresh_pages)
            .cloned()
            .collect();
        Self {
            sync_id,
            batch,
            started_at_ms: now_ms,
            steps: 0,
            phase: Phase::Starting,
            stats: RunStats::default(),
            skipped_rows: Vec::new(),
            rows_read: 0,
            items_written: 0,
            rows_total: None,
            setup: None,
            read: ReadCursor::default(),
            gone_to_check,
            notion_next_at_ms: 0,
            blocks_not_rendered: BTreeSet::new(),
            row_warnings: 0,
            next_seq: 0,
            uploads: 0,
            settings: None,
            removal: None,
            items_in_framer: None,
            closing: None,
            relation_read: None,
            refresh_owed: Refreshes::new(),
            refresh_next: BTreeSet::new(),
            waiting_since_ms: None,
            waiting: false,
        }
    }

    pub fn trigger(&self) -> Trigger {
        self.batch.trigger.unwrap_or(Trigger::Webhook)
    }

    /// Records a row that could not be written; the record lists the first ones.
    pub fn skip(&mut self, row: SkippedRow) {
        self.stats.skipped += 1;
        if self.skipped_rows.len() < MAX_SKIPPED_LISTED {
            self.skipped_rows.push(row);
        }
    }

    /// The settings the run started with (every unit after `Starting` has them).
    pub fn settings(&self) -> &RunSettings {
        self.settings
            .as_ref()
            .unwrap_or_else(|| unreachable!("settings are set before any unit that reads them"))
    }

    /// Keeps the first warnings of the run and counts the rest (every warning goes through here,
    /// so that no run record grows with the database).
    pub fn row_warning(&mut self, warning: String) {
        self.row_warnings += 1;
        if self.row_warnings <= MAX_ROW_WARNINGS {
            self.stats.warnings.push(warning);
        }
    }

    /// The warnings as the record shows them once the run is over.
    pub fn closing_warnings(&mut self) {
        if self.row_warnings > MAX_ROW_WARNINGS {
            self.stats.warnings.push(format!(
                "... and {} more warnings",
                self.row_warnings - MAX_ROW_WARNINGS
            ));
        }
        if !self.blocks_not_rendered.is_empty() {
            let list: Vec<&str> = self
                .blocks_not_rendered
                .iter()
                .map(String::as_str)
                .collect();
            self.stats.warnings.push(format!(
                "page content: blocks not rendered: {}",
                list.join(", ")
            ));
        }
    }
}

/// What a staged row waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// A relation of it has more related pages than the query row carried (25): the rest is
    /// read page by page before anything else is decided about the row.
    Relations,
    /// It references pages a related project's run in flight may still add: it is written
    /// once that run is over (or has kept it waiting too long), with every reference it can.
    Targets,
    /// Its page body must be fetched.
    Body,
    /// The slug it wants is on the Framer item of another page that may still give it up this
    /// run (renamed or removed): it chooses its slug again once reading and removing are over.
    SlugWait,
    /// Ready to be sent to Framer.
    Write,
    /// In Framer as wanted (written this run, or unchanged).
    Done,
    /// Could not be mapped or was refused: Framer keeps what it had.
    Skipped,
    /// To be taken out of Framer (deleted in Notion, or held back by the publish filter).
    Remove,
    /// Taken out of Framer this run.
    Removed,
}

/// Whether a write adds an item D1 never recorded or updates one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Add,
    Update,
}

/// A row between Notion and Framer, kept in the object's SQLite, not in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedRow {
    pub seq: u64,
    pub page_id: String,
    pub state: RowState,
    pub title: String,
    pub slug_source: String,
    pub last_edited_time: String,
    /// The slug given to the row ("" when it has none: skipped or removed rows).
    pub slug: String,
    /// The item as it will be sent (dropped once the row is done).
    pub item: Option<Item>,
    pub write: Option<WriteKind>,
    /// URLs Notion marked as its own files in the page (and body): uploaded to Framer before
    /// the row is written.
    #[serde(default)]
    pub files: Vec<String>,
    /// Multi-reference fields (Framer field ids) still to read in full (state `Relations`).
    #[serde(default)]
    pub more_relations: Vec<String>,
    /// The slug it wants is held by another page (see `SlugWait`): once its relations are read,
    /// it waits for it.
    #[serde(default)]
    pub slug_waits: bool,
}

impl StagedRow {
    /// A row that only marks a page's state (skipped, to remove, removed): no content.
    pub fn marker(seq: u64, page_id: String, state: RowState) -> Self {
        Self {
            seq,
            page_id,
            state,
            title: String::new(),
            slug_source: String::new(),
            last_edited_time: String::new(),
            slug: String::new(),
            item: None,
            write: None,
            files: Vec::new(),
            more_relations: Vec::new(),
            slug_waits: false,
        }
    }
}

/// Prefix of the stored hash of a row written without some of its files (an upload failed):
/// it matches no content, so the next run writes the row again and retries the upload.
pub const RETRY_HASH_PREFIX: &str = "retry:";

/// A Notion file re-hosted in Framer, under the file's stable key
/// ([`crate::sync::assets::asset_key`]): recorded once Framer answered its upload, so a
/// remembered asset always exists in Framer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAsset {
    pub key: String,
    /// `image` or `file`.
    pub kind: String,
    pub id: String,
    pub url: String,
}

/// What the object's record says Framer holds for one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredItem {
    pub page_id: String,
    pub slug: String,
    pub slug_source: String,
    pub content_hash: String,
    pub last_edited_time: Option<String>,
    /// Hash of the item without its page body: with bodies on, a row whose body is not fetched
    /// again (not edited since) is still written when its properties changed.
    #[serde(default)]
    pub fields_hash: Option<String>,
}

/// The Notion page of a row, for people.
pub fn notion_url(page_id: &str) -> String {
    format!("https://www.notion.so/{}", page_id.replace('-', ""))
}
