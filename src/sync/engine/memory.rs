//! In-memory ports for the engine's tests: a Notion database of pages, a Framer collection that
//! refuses what a test says, D1 records and the object's staging, all inspectable.

use super::budget::Budget;
use super::failure::StepError;
use super::job::{HeldItem, Job, RowState, StagedRow, StoredItem};
use super::ports::{FramerSink, NotionSource, Records, RemovalCounts, RemovalSet, RunEnd, Staging};
use crate::framer::wire::{Asset, Call};
use crate::notion::error::NotionError;
use crate::notion::page_html::BlockNode;
use crate::notion::protocol::QueryWindow;
use crate::sync::mapping::{Mapping, SyncedCollections};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A data source of simple pages (title + URL property), paged like Notion (100 per page).
pub struct MemNotion {
    pub pages: Vec<Value>,
    pub budget: Rc<Budget>,
    pub calls: usize,
    /// Calls per kind, over the whole test (shared across steps).
    pub log: Rc<RefCell<Vec<String>>>,
    /// Pages deleted after the query listed them: their bodies answer 404.
    pub bodies_gone: BTreeSet<String>,
    /// Every query answer says Notion stopped at its result cap.
    pub capped: bool,
}

pub fn page(n: usize, url: &str) -> Value {
    json!({
        "object": "page",
        "id": format!("00000000-0000-4000-8000-{n:012}"),
        "created_time": format!("2026-01-01T00:00:{:02}.000Z", n % 60),
        "last_edited_time": "2026-11-30T10:00:00.000Z",
        "url": format!("https://www.notion.so/{n}"),
        "properties": {
            "Name": {"id": "title", "type": "title", "title": [{"type": "text", "plain_text": format!("Row {n}"), "text": {"content": format!("Row {n}")}}]},
            "Link": {"id": "u%3Ar", "type": "url", "url": url},
        }
    })
}

/// A page whose "Cover" files property holds a Notion-hosted file (signed like Notion's).
pub fn page_with_file(n: usize, path: &str, signature: &str) -> Value {
    let mut page = page(n, "https://example.com");
    page["properties"]["Cover"] = json!({"id": "c%3Av", "type": "files", "files": [{
        "name": "c.png", "type": "file",
        "file": {"url": format!("https://prod-files-secure.s3.us-west-2.amazonaws.com/{path}?X-Amz-Signature={signature}"),
                 "expiry_time": "2026-12-01T13:00:00.000Z"}
    }]});
    page
}

pub fn data_source() -> Value {
    json!({
        "object": "data_source",
        "id": "11111111-2222-4333-8444-555555555555",
        "properties": {
            "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
            "Link": {"id": "u%3Ar", "name": "Link", "type": "url", "url": {}},
            "Cover": {"id": "c%3Av", "name": "Cover", "type": "files", "files": {}},
        }
    })
}

impl MemNotion {
    fn spend(&mut self, what: &str) -> Result<(), StepError> {
        super::tests::maybe_crash();
        if !self.budget.take() {
            return Err(NotionError::StepBudgetSpent.into());
        }
        self.calls += 1;
        self.log.borrow_mut().push(what.to_owned());
        Ok(())
    }
}

impl NotionSource for MemNotion {
    async fn database(&mut self, _id: &str) -> Result<Value, StepError> {
        self.spend("database")?;
        Ok(
            json!({"object": "database", "data_sources": [{"id": "11111111-2222-4333-8444-555555555555"}]}),
        )
    }

    async fn data_source(&mut self, _id: &str) -> Result<Value, StepError> {
        self.spend("data_source")?;
        Ok(data_source())
    }

    async fn query(
        &mut self,
        _ds: &str,
        _window: &QueryWindow,
        cursor: Option<&str>,
    ) -> Result<Value, StepError> {
        self.spend("query")?;
        let start: usize = cursor.map_or(0, |c| c.parse().unwrap_or(0));
        let end = (start + 100).min(self.pages.len());
        let more = end < self.pages.len();
        let mut answer = json!({
            "object": "list",
            "results": self.pages[start..end],
            "has_more": more,
            "next_cursor": if more { Value::String(end.to_string()) } else { Value::Null },
        });
        if self.capped && !more {
            answer["request_status"] =
                json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"});
        }
        Ok(answer)
    }

    async fn page(&mut self, id: &str) -> Result<Option<Value>, StepError> {
        self.spend("page")?;
        Ok(self.pages.iter().find(|p| p["id"] == id).cloned())
    }

    async fn block_tree(&mut self, page_id: &str) -> Result<Option<Vec<BlockNode>>, StepError> {
        self.spend("blocks")?;
        if self.bodies_gone.contains(page_id) || !self.pages.iter().any(|p| p["id"] == page_id) {
            return Ok(None);
        }
        Ok(Some(vec![BlockNode {
            block: json!({"object": "block", "id": "b", "type": "paragraph", "has_children": false,
                "paragraph": {"rich_text": [{"type": "text", "plain_text": format!("Body of {page_id}"), "text": {"content": format!("Body of {page_id}")}, "annotations": {}}]}}),
            children: Vec::new(),
        }]))
    }

    fn calls(&self) -> usize {
        self.calls
    }

    fn next_request_at_ms(&self) -> u64 {
        0
    }
}

/// A Framer collection; `refuse` decides which items it refuses (a whole call is refused when
/// any item is, as Framer does).
#[derive(Default)]
pub struct FramerState {
    pub items: BTreeMap<String, Value>,
    pub fields: Value,
    pub calls: Vec<String>,
    pub opened: usize,
    /// URLs uploaded; an upload of a URL containing "gone" is refused as Framer does when it
    /// cannot download the file.
    pub uploads: Vec<String>,
}

pub struct MemFramer {
    pub state: Rc<RefCell<FramerState>>,
    pub budget: Rc<Budget>,
    pub open: bool,
    pub refuse: fn(&Value) -> bool,
}

impl FramerSink for MemFramer {
    async fn call(&mut self, call: Call) -> Result<Value, StepError> {
        if !self.open {
            if !self.budget.take() {
                return Err(StepError::BudgetSpent);
            }
            self.open = true;
            self.state.borrow_mut().opened += 1;
        }
        let mut state = self.state.borrow_mut();
        state.calls.push(call.method_name().to_owned());
        Ok(match call {
            Call::GetManagedCollections => json!([{"id": "col1", "name": "Posts"}]),
            Call::GetFields { .. } => state.fields.clone(),
            Call::SetFields { fields, .. } => {
                state.fields = fields;
                Value::Null
            }
            Call::GetItemIds { .. } => json!(state.items.keys().collect::<Vec<_>>()),
            Call::AddItems { items, .. } => {
                if let Some(bad) = items.iter().find(|i| (self.refuse)(i)) {
                    let field = bad["fieldData"]
                        .as_object()
                        .and_then(|f| f.keys().find(|k| k.starts_with('u')))
                        .cloned()
                        .unwrap_or_default();
                    return Err(StepError::Refused {
                        method: "addManagedCollectionItems2",
                        message: format!(
                            "Invalid item ('{}'): fieldData.{field}: invalid URL",
                            bad["id"].as_str().unwrap_or("")
                        ),
                    });
                }
                for item in items {
                    state
                        .items
                        .insert(item["id"].as_str().unwrap_or("").to_owned(), item);
                }
                Value::Null
            }
            Call::UploadImage(upload) => {
                let url = upload.url.clone();
                if url.contains("gone") {
                    return Err(StepError::Refused {
                        method: "uploadImage",
                        message: "Could not download the asset from its URL: it answered HTTP 403"
                            .into(),
                    });
                }
                state.uploads.push(url);
                let n = state.uploads.len();
                json!({"__class": "ImageAsset", "id": format!("img{n}"), "url": format!("https://framerusercontent.com/images/img{n}.png"),
                       "thumbnailUrl": format!("https://framerusercontent.com/images/img{n}.png?scale-down-to=512"), "altText": null, "resolution": "auto"})
            }
            Call::RemoveItems { ids, .. } => {
                for id in ids {
                    state.items.remove(&id);
                }
                Value::Null
            }
            other => panic!("unexpected call {}", other.method_name()),
        })
    }

    fn counters(&self) -> (usize, usize) {
        (0, 0)
    }
}

/// D1 as the engine sees it.
#[derive(Default)]
pub struct MemRecords {
    pub stored: RefCell<BTreeMap<String, StoredItem>>,
    pub runs: RefCell<BTreeMap<String, (String, Job)>>,
    pub last_success_ms: RefCell<Option<i64>>,
    pub assets: RefCell<BTreeMap<String, String>>,
    /// Removals held for review: page id -> (kept by the owner, the item as held).
    pub reviewed: RefCell<BTreeMap<String, (bool, HeldItem)>>,
    /// The project's settings version and the mapping the runs wrote.
    pub version: RefCell<i64>,
    pub mapping: RefCell<Option<Mapping>>,
}

impl MemRecords {
    /// A compare-and-swap on the project's settings version, as D1's `WHERE config_version = ?`.
    fn swap(&self, version: i64) -> bool {
        *self.version.borrow() == version
    }
}

impl Records for MemRecords {
    async fn last_success_started_ms(&self) -> Result<Option<i64>, StepError> {
        Ok(*self.last_success_ms.borrow())
    }
    async fn synced_collections(&self) -> Result<SyncedCollections, StepError> {
        Ok(SyncedCollections::new())
    }
    async fn set_data_source_ids(&self, _ids: &[String]) -> Result<(), StepError> {
        Ok(())
    }
    async fn set_data_source_id(&self, _id: &str, version: i64) -> Result<bool, StepError> {
        Ok(self.swap(version))
    }
    async fn set_collection_id(&self, _id: &str, version: i64) -> Result<bool, StepError> {
        Ok(self.swap(version))
    }
    async fn set_mapping(&self, mapping: &Mapping, version: i64) -> Result<bool, StepError> {
        let swapped = self.swap(version);
        if swapped {
            *self.mapping.borrow_mut() = Some(mapping.clone());
        }
        Ok(swapped)
    }
    async fn set_last_full_sync_at(&self, _at_ms: i64) -> Result<(), StepError> {
        Ok(())
    }
    async fn stored_items(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, StepError> {
        Ok(self
            .stored
            .borrow()
            .values()
            .filter(|s| after.is_none_or(|a| s.page_id.as_str() > a))
            .take(limit)
            .cloned()
            .collect())
    }
    async fn record_accepted(&self, items: &[(StoredItem, String)]) -> Result<(), StepError> {
        for (item, _) in items {
            self.stored
                .borrow_mut()
                .insert(item.page_id.clone(), item.clone());
        }
        Ok(())
    }
    async fn forget(&self, page_ids: &[String]) -> Result<(), StepError> {
        for id in page_ids {
            self.stored.borrow_mut().remove(id);
            self.reviewed.borrow_mut().remove(id);
        }
        Ok(())
    }
    async fn reviewed_removals(&self) -> Result<Vec<(String, bool)>, StepError> {
        Ok(self
            .reviewed
            .borrow()
            .iter()
            .map(|(id, (kept, _))| (id.clone(), *kept))
            .collect())
    }
    async fn clear_held(&self) -> Result<(), StepError> {
        self.reviewed.borrow_mut().retain(|_, (kept, _)| *kept);
        Ok(())
    }
    async fn hold(&self, _sync_id: &str, items: &[HeldItem]) -> Result<(), StepError> {
        let mut reviewed = self.reviewed.borrow_mut();
        for item in items {
            reviewed
                .entry(item.page_id.clone())
                .or_insert_with(|| (false, item.clone()));
        }
        Ok(())
    }
    async fn forget_reviewed(&self, page_ids: &[String]) -> Result<(), StepError> {
        for id in page_ids {
            self.reviewed.borrow_mut().remove(id);
        }
        Ok(())
    }
    async fn assets(&self, keys: &[String]) -> Result<BTreeMap<String, String>, StepError> {
        let known = self.assets.borrow();
        Ok(keys
            .iter()
            .filter_map(|k| Some((k.clone(), known.get(k)?.clone())))
            .collect())
    }
    async fn record_asset(&self, key: &str, asset: &Asset) -> Result<(), StepError> {
        self.assets
            .borrow_mut()
            .insert(key.to_owned(), asset.url.clone());
        Ok(())
    }
    async fn run_started(&self, job: &Job) -> Result<(), StepError> {
        self.runs
            .borrow_mut()
            .insert(job.sync_id.clone(), ("running".into(), job.clone()));
        Ok(())
    }
    async fn run_progress(&self, job: &Job) -> Result<(), StepError> {
        self.runs
            .borrow_mut()
            .insert(job.sync_id.clone(), ("running".into(), job.clone()));
        Ok(())
    }
    async fn run_finished(&self, job: &Job, end: RunEnd<'_>, at_ms: i64) -> Result<(), StepError> {
        let status = match end {
            RunEnd::Succeeded => "succeeded",
            RunEnd::Failed { .. } => "failed",
            RunEnd::Cancelled { .. } => "cancelled",
        };
        self.runs
            .borrow_mut()
            .insert(job.sync_id.clone(), (status.into(), job.clone()));
        if end == RunEnd::Succeeded {
            *self.last_success_ms.borrow_mut() = Some(at_ms);
        }
        Ok(())
    }
}

/// The object's SQLite as maps.
#[derive(Default)]
pub struct MemStaging {
    pub job: RefCell<Option<String>>,
    pub rows: RefCell<BTreeMap<String, StagedRow>>,
    pub stored: RefCell<BTreeMap<String, StoredItem>>,
    pub framer_ids: RefCell<BTreeSet<String>>,
    /// Removals reviewed earlier: page id -> kept.
    pub reviewed: RefCell<BTreeMap<String, bool>>,
    /// The most rows any one `rows_in` call returned.
    pub largest_load: RefCell<usize>,
}

impl Staging for MemStaging {
    fn load_job(&self) -> Result<Option<Job>, StepError> {
        Ok(self
            .job
            .borrow()
            .as_ref()
            .map(|j| serde_json::from_str(j).unwrap()))
    }
    fn save_job(&self, job: &Job) -> Result<(), StepError> {
        *self.job.borrow_mut() = Some(serde_json::to_string(job).unwrap());
        Ok(())
    }
    fn clear(&self) -> Result<(), StepError> {
        *self.job.borrow_mut() = None;
        self.rows.borrow_mut().clear();
        self.stored.borrow_mut().clear();
        self.framer_ids.borrow_mut().clear();
        self.reviewed.borrow_mut().clear();
        Ok(())
    }
    fn contains(&self, page_id: &str) -> Result<bool, StepError> {
        Ok(self.rows.borrow().contains_key(page_id))
    }
    fn put_rows(&self, rows: &[StagedRow]) -> Result<(), StepError> {
        for row in rows {
            self.rows
                .borrow_mut()
                .insert(row.page_id.clone(), row.clone());
        }
        Ok(())
    }
    fn rows_in(&self, state: RowState, limit: usize) -> Result<Vec<StagedRow>, StepError> {
        let mut rows: Vec<StagedRow> = self
            .rows
            .borrow()
            .values()
            .filter(|r| r.state == state)
            .cloned()
            .collect();
        rows.sort_by_key(|r| r.seq);
        rows.truncate(limit);
        let mut largest = self.largest_load.borrow_mut();
        *largest = (*largest).max(rows.len());
        Ok(rows)
    }
    fn count_in(&self, state: RowState) -> Result<usize, StepError> {
        Ok(self
            .rows
            .borrow()
            .values()
            .filter(|r| r.state == state)
            .count())
    }
    fn slug_taken(&self, slug: &str, page_id: &str) -> Result<bool, StepError> {
        Ok(self
            .rows
            .borrow()
            .values()
            .any(|r| r.slug == slug && r.page_id != page_id)
            || self
                .stored
                .borrow()
                .values()
                .any(|s| s.slug == slug && s.page_id != page_id))
    }
    fn put_stored(&self, items: &[StoredItem]) -> Result<(), StepError> {
        for item in items {
            self.stored
                .borrow_mut()
                .insert(item.page_id.clone(), item.clone());
        }
        Ok(())
    }
    fn stored(&self, page_id: &str) -> Result<Option<StoredItem>, StepError> {
        Ok(self.stored.borrow().get(page_id).cloned())
    }
    fn put_framer_ids(&self, ids: &[String]) -> Result<(), StepError> {
        self.framer_ids.borrow_mut().extend(ids.iter().cloned());
        Ok(())
    }
    fn in_framer(&self, page_id: &str) -> Result<bool, StepError> {
        Ok(self.framer_ids.borrow().contains(page_id))
    }
    fn removals(
        &self,
        full: bool,
        set: RemovalSet,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StepError> {
        let reviewed = self.reviewed.borrow();
        Ok(self
            .candidates(full)
            .into_iter()
            .filter(|(id, _)| after.is_none_or(|a| id.as_str() > a))
            .filter(|(id, _)| match set {
                RemovalSet::All => true,
                RemovalSet::AllButKept => reviewed.get(id) != Some(&true),
                RemovalSet::Reviewed => reviewed.contains_key(id),
                RemovalSet::Unreviewed => !reviewed.contains_key(id),
            })
            .take(limit)
            .collect())
    }
    fn removal_counts(&self, full: bool) -> Result<RemovalCounts, StepError> {
        let reviewed = self.reviewed.borrow();
        let mut counts = RemovalCounts {
            known: self.known().len(),
            ..RemovalCounts::default()
        };
        for id in self.candidates(full).keys() {
            match reviewed.get(id) {
                None => counts.unreviewed += 1,
                Some(false) => counts.held += 1,
                Some(true) => counts.kept += 1,
            }
        }
        Ok(counts)
    }
    fn put_reviewed(&self, reviewed: &[(String, bool)]) -> Result<(), StepError> {
        self.reviewed.borrow_mut().extend(reviewed.iter().cloned());
        Ok(())
    }
    fn reviewed_back(&self) -> Result<Vec<String>, StepError> {
        let rows = self.rows.borrow();
        Ok(self
            .reviewed
            .borrow()
            .keys()
            .filter(|id| {
                rows.get(*id)
                    .is_some_and(|r| !matches!(r.state, RowState::Remove | RowState::Removed))
            })
            .cloned()
            .collect())
    }
}

impl MemStaging {
    fn known(&self) -> BTreeSet<String> {
        self.stored
            .borrow()
            .keys()
            .chain(self.framer_ids.borrow().iter())
            .cloned()
            .collect()
    }

    /// The deletion rule: rows marked for removal that Framer has and, on full runs, every page
    /// Framer has that the run did not stage at all; with a title for people.
    fn candidates(&self, full: bool) -> BTreeMap<String, String> {
        let rows = self.rows.borrow();
        let stored = self.stored.borrow();
        let title = |id: &str| {
            rows.get(id)
                .map(|r| r.title.clone())
                .filter(|t| !t.is_empty())
                .or_else(|| stored.get(id).map(|s| s.slug.clone()))
                .unwrap_or_default()
        };
        let known = self.known();
        let mut out: BTreeMap<String, String> = rows
            .values()
            .filter(|r| r.state == RowState::Remove && known.contains(&r.page_id))
            .map(|r| (r.page_id.clone(), title(&r.page_id)))
            .collect();
        if full {
            out.extend(
                known
                    .iter()
                    .filter(|id| !rows.contains_key(*id))
                    .map(|id| (id.clone(), title(id))),
            );
        }
        out
    }
}
