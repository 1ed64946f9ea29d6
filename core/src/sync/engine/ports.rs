//! The engine's view of the outside: Notion (a source of pages), Framer (a sink of items), D1
//! (the records the dashboard reads) and the Durable Object's SQLite (the record of what Framer
//! holds, the checkpoint and the staged rows). the Worker crate (`src/`) implements them over the runtime; the tests implement them in
//! memory. Every method that makes a subrequest or a D1 query takes it from the step's budget
//! first (`Records`: the run record's progress, a close and the last full sync time may use
//! the checkpoint's reserve, every other method only what units may take).

// The engine runs on one thread (wasm, or a test's executor) and never needs Send futures.
#![allow(async_fn_in_trait)]

use super::failure::StepError;
use super::job::{HeldItem, Job, RowState, StagedRow, StoredAsset, StoredItem};
use crate::framer::wire::Call;
use crate::notion::page_html::BlockNode;
use crate::notion::protocol::QueryWindow;
use crate::sync::mapping::{Mapping, SyncedCollections};
use crate::sync::object::Holds;
use crate::sync::site::SiteMember;
use crate::sync::slug::Holder;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Notion's REST API, paced and retried by the implementation.
pub trait NotionSource {
    async fn database(&mut self, id: &str) -> Result<Value, StepError>;
    async fn data_source(&mut self, id: &str) -> Result<Value, StepError>;
    /// One page of a data source query (the raw answer).
    async fn query(
        &mut self,
        data_source_id: &str,
        window: &QueryWindow,
        cursor: Option<&str>,
    ) -> Result<Value, StepError>;
    /// A page by id; `None` when Notion no longer has it for this integration.
    async fn page(&mut self, id: &str) -> Result<Option<Value>, StepError>;
    /// A page's blocks with their children; `None` when Notion no longer has the page for
    /// this integration (deleted after the query saw it).
    async fn block_tree(&mut self, page_id: &str) -> Result<Option<Vec<BlockNode>>, StepError>;
    /// One page (up to 100 items) of a page's property items, the raw answer: the whole of a
    /// relation that query rows cut at 25. `None` when Notion no longer has the page.
    async fn property_items(
        &mut self,
        page_id: &str,
        property_id: &str,
        cursor: Option<&str>,
    ) -> Result<Option<Value>, StepError>;
    /// Requests sent so far (retries included).
    fn calls(&self) -> usize;
    /// When the next request may go out, to carry the pacing over to the next step.
    fn next_request_at_ms(&self) -> u64;
}

/// Framer's Server API over one connection, opened on first use.
pub trait FramerSink {
    async fn call(&mut self, call: Call) -> Result<Value, StepError>;
    /// Method calls and bytes sent so far.
    fn counters(&self) -> (usize, usize);
}

/// D1: the project and its run record.
pub trait Records {
    async fn last_success_started_ms(&self) -> Result<Option<i64>, StepError>;
    async fn synced_collections(&self) -> Result<SyncedCollections, StepError>;
    /// The projects of the site (this one included).
    async fn site(&self) -> Result<Vec<SiteMember>, StepError>;
    /// Records the collection this run created for another project of the site, unless that
    /// project has one already (`false` then).
    async fn adopt_collection_id(
        &self,
        project_id: &str,
        collection_id: &str,
    ) -> Result<bool, StepError>;
    async fn set_data_source_ids(&self, ids: &[String]) -> Result<(), StepError>;
    /// The writes a run makes to its project are compare-and-swaps on the settings version it
    /// started from: `false` when the owner saved the project meanwhile (their change wins).
    async fn set_data_source_id(&self, id: &str, version: i64) -> Result<bool, StepError>;
    async fn set_collection_id(&self, id: &str, version: i64) -> Result<bool, StepError>;
    async fn set_mapping(&self, mapping: &Mapping, version: i64) -> Result<bool, StepError>;
    async fn set_last_full_sync_at(&self, at_ms: i64) -> Result<(), StepError>;
    /// Up to `limit` of the items the version before recorded in D1 (`synced_items`), with a
    /// page id after `after`, by page id: read once, when the object adopts them.
    async fn legacy_items(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, StepError>;
    /// D1's copy goes once the object holds all of it.
    async fn drop_legacy_items(&self) -> Result<(), StepError>;
    /// Up to `limit` of the assets the version before recorded in D1 (`assets`), with a key
    /// after `after`, by key: read once, when the object adopts them.
    async fn legacy_assets(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredAsset>, StepError>;
    /// D1's copy goes once the object holds all of it.
    async fn drop_legacy_assets(&self) -> Result<(), StepError>;
    /// Removals the guard held earlier: `(page_id, kept)`, kept when the owner chose
    /// "Keep them".
    async fn reviewed_removals(&self) -> Result<Vec<(String, bool)>, StepError>;
    /// Records removals held by this run for the owner to review.
    async fn hold(&self, sync_id: &str, items: &[HeldItem]) -> Result<(), StepError>;
    /// Drops reviews of pages that Notion shows again.
    async fn forget_reviewed(&self, page_ids: &[String]) -> Result<(), StepError>;
    /// Pages taken out of Framer: their reviews and what they left out of their references
    /// go, in one round trip.
    async fn forget_removed(&self, page_ids: &[String]) -> Result<(), StepError>;
    /// The project syncing each collection of the same Framer project that references may
    /// point into (other projects of the account): collection id -> project id.
    async fn reference_targets(&self) -> Result<BTreeMap<String, String>, StepError>;
    /// Which of `page_ids` the collection of `project_id` holds (a reference is written only to
    /// those), and whether a run there may still add others. (What Framer holds is in the
    /// target project's object: one call to it.)
    async fn held_by_target(
        &self,
        project_id: &str,
        page_ids: &[String],
    ) -> Result<Holds, StepError>;
    /// Replaces what each listed row of this project had to leave out of its references:
    /// `(row page id, [(target project id, target page id)])`, an empty list clearing it.
    async fn remember_dangling(
        &self,
        rows: &[(String, Vec<(String, String)>)],
    ) -> Result<(), StepError>;
    /// Rows (of any project, this one's included) that left out some of `page_ids` of this
    /// project: `(project id, row page id)`.
    async fn referrers(&self, page_ids: &[String]) -> Result<Vec<(String, String)>, StepError>;
    /// Asks another project's object to read `page_ids` again in its next run (one subrequest,
    /// taken from the step's budget by the caller). A project that no longer exists is no error.
    async fn request_refresh(&self, project_id: &str, page_ids: &[String])
        -> Result<(), StepError>;
    /// The run's record: created (closing any other run of the project left "running") on the
    /// first step, updated after every step, closed at the end.
    async fn run_started(&self, job: &Job) -> Result<(), StepError>;
    async fn run_progress(&self, job: &Job) -> Result<(), StepError>;
    async fn run_finished(&self, job: &Job, end: RunEnd<'_>, at_ms: i64) -> Result<(), StepError>;
}

/// How a run's record is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd<'a> {
    Succeeded,
    Failed {
        code: &'a str,
        message: &'a str,
    },
    /// The project's database or collection changed while it ran.
    Cancelled {
        message: &'a str,
    },
}

pub use crate::sync::reconcile::{RemovalCounts, RemovalSet};

/// What versions before kept in D1 and the object now holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// `synced_items`: what Framer holds.
    Items,
    /// `assets`: the files re-hosted in Framer.
    Assets,
}

impl Legacy {
    pub const ALL: [Self; 2] = [Self::Items, Self::Assets];
}

/// How far the object has adopted a record that D1 kept before.
/// Until it is `Done`, D1's rows are the record; every step adopts what is left before any
/// other unit, and D1's rows are dropped once all are in the object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Adoption {
    /// Rows with a page id after this one are still to copy (`None`: from the start).
    After(Option<String>),
    Done,
}

/// The object's SQLite: the checkpoint and the staged rows of the run in progress.
pub trait Staging {
    fn load_job(&self) -> Result<Option<Job>, StepError>;
    fn save_job(&self, job: &Job) -> Result<(), StepError>;
    /// Drops the job and everything staged for it.
    fn clear(&self) -> Result<(), StepError>;
    /// Whether the page was staged this run.
    fn contains(&self, page_id: &str) -> Result<bool, StepError>;
    /// Inserts or replaces rows by page id.
    fn put_rows(&self, rows: &[StagedRow]) -> Result<(), StepError>;
    /// The first `limit` rows in `state`, in staging order.
    fn rows_in(&self, state: RowState, limit: usize) -> Result<Vec<StagedRow>, StepError>;
    fn count_in(&self, state: RowState) -> Result<usize, StepError>;
    /// What holds `slug` for a page other than `page_id`, the strongest holder first: a row
    /// staged this run given it, a row waiting for it, or the stored slug of a page whose item
    /// Framer still has with it. While reading (`final_` false) a stored slug counts until its
    /// page's row was written or removed; once reading and removing are over (`final_`), until
    /// it is clear the row will not be written (skipped, or still to remove).
    fn slug_holder(
        &self,
        slug: &str,
        page_id: &str,
        final_: bool,
    ) -> Result<Option<Holder>, StepError>;
    /// The record of what Framer holds, kept across runs: items Framer accepted, by page id.
    fn record_items(&self, items: &[StoredItem]) -> Result<(), StepError>;
    fn stored(&self, page_id: &str) -> Result<Option<StoredItem>, StepError>;
    /// Items taken out of Framer (their two-way relations go with them).
    fn forget_items(&self, page_ids: &[String]) -> Result<(), StepError>;
    /// The two-way relations last seen of these rows: `(row page id, field id, related ids)`.
    fn previous_relations(
        &self,
        page_ids: &[String],
    ) -> Result<Vec<(String, String, Vec<String>)>, StepError>;
    /// Replaces the two-way relations of these rows: `(row page id, field id, related ids)`.
    fn remember_relations(&self, values: &[(String, String, Vec<String>)])
        -> Result<(), StepError>;
    fn item_count(&self) -> Result<usize, StepError>;
    /// The assets already uploaded for these file keys: key -> asset URL.
    fn assets(&self, keys: &[String]) -> Result<BTreeMap<String, String>, StepError>;
    /// Remembers uploads Framer answered (a key uploaded again gets the new asset).
    fn record_assets(&self, assets: &[StoredAsset]) -> Result<(), StepError>;
    /// How far the record D1 kept before was adopted.
    fn adoption(&self, of: Legacy) -> Result<Adoption, StepError>;
    fn set_adoption(&self, of: Legacy, adoption: &Adoption) -> Result<(), StepError>;
    fn put_framer_ids(&self, ids: &[String]) -> Result<(), StepError>;
    fn in_framer(&self, page_id: &str) -> Result<bool, StepError>;
    /// Up to `limit` pages of `set` to take out of Framer, by page id after `after`, with a
    /// title: rows in `Remove` that D1 or Framer has and, when `full`, every stored or Framer
    /// page that was not staged at all.
    fn removals(
        &self,
        full: bool,
        set: RemovalSet,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StepError>;
    fn removal_counts(&self, full: bool) -> Result<RemovalCounts, StepError>;
    /// Which of these pages the record holds.
    fn held_among(&self, page_ids: &[String]) -> Result<BTreeSet<String>, StepError>;
    /// The removals reviewed earlier: `(page_id, kept)`.
    fn put_reviewed(&self, reviewed: &[(String, bool)]) -> Result<(), StepError>;
    /// Reviewed pages that are no removal any more: staged as rows Framer keeps (Notion shows
    /// them again) and, on full runs, any that is not a removal candidate at all.
    fn reviewed_moot(&self, full: bool) -> Result<Vec<String>, StepError>;
}
