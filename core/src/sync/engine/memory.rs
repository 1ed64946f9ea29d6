//! In-memory ports for the engine's tests: a Notion database of pages, a Framer collection that
//! refuses what a test says, D1 records and the object's staging, all inspectable.

use super::budget::Budget;
use super::failure::StepError;
use super::job::{HeldItem, Job, RowState, StagedRow, StoredAsset, StoredItem};
use super::ports::{
    Adoption, FramerSink, Legacy, NotionSource, Records, RemovalCounts, RemovalSet, RunEnd, Staging,
};
use super::staging_sql::{self as q, state_name};
use crate::framer::wire::{self, Call, ClientMessage};
use crate::notion::error::NotionError;
use crate::notion::page_html::BlockNode;
use crate::notion::protocol::QueryWindow;
use crate::sync::mapping::{Mapping, SyncedCollections};
use crate::sync::object::Holds;
use crate::sync::site::SiteMember;
use crate::sync::slug::Holder;
use crate::util::time::ms_from_iso;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A data source of simple pages (title + URL property), queried like Notion: the query window
/// filters by `last_edited_time` and `created_time`, results come oldest first by creation, 100
/// per page, and a window stops at `result_cap` results (Notion's is 10,000) with
/// `query_result_limit_reached`.
pub struct MemNotion {
    pub pages: Vec<Value>,
    pub budget: Rc<Budget>,
    pub calls: usize,
    /// Calls per kind, over the whole test (shared across steps).
    pub log: Rc<RefCell<Vec<String>>>,
    pub result_cap: usize,
    /// Pages deleted after the query listed them: their bodies answer 404.
    pub bodies_gone: BTreeSet<String>,
    /// The data source's schema as `data_source` answers it.
    pub schema: Value,
}

/// Notion's result cap per query.
pub const NOTION_RESULT_CAP: usize = 10_000;

fn at_ms(page: &Value, field: &str) -> i64 {
    page[field].as_str().and_then(ms_from_iso).unwrap_or(0)
}

/// The pages a query window selects, oldest first by creation (stable for equal instants).
fn in_window<'a>(pages: &'a [Value], window: &QueryWindow) -> Vec<&'a Value> {
    let since = window.edited_since.as_deref().and_then(ms_from_iso);
    let from = window.created_from.as_deref().and_then(ms_from_iso);
    let mut selected: Vec<&Value> = pages
        .iter()
        .filter(|p| since.is_none_or(|s| at_ms(p, "last_edited_time") >= s))
        .filter(|p| from.is_none_or(|f| at_ms(p, "created_time") >= f))
        .collect();
    selected.sort_by_key(|p| at_ms(p, "created_time"));
    selected
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
            "Cover": {"id": "c%3Av", "type": "files", "files": []},
            "Tags": {"id": "t%3Ag", "type": "relation", "relation": [], "has_more": false},
        }
    })
}

/// The data source the pages' "Tags" relation points into.
pub const TAGS_DATA_SOURCE: &str = "22222222-2222-4222-8222-222222222222";

/// A page related to `tags` (page ids) through "Tags", all of them: Notion cuts what it shows.
pub fn page_with_tags(n: usize, tags: &[String]) -> Value {
    let mut page = page(n, "https://example.com");
    let related: Vec<Value> = tags.iter().map(|id| json!({"id": id})).collect();
    page["properties"]["Tags"]["relation"] = Value::Array(related);
    page
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

/// The data source with its "Tags" relation two-way (Notion's `dual_property`).
pub fn data_source_two_way() -> Value {
    let mut ds = data_source();
    ds["properties"]["Tags"]["relation"] = json!({
        "data_source_id": TAGS_DATA_SOURCE, "type": "dual_property",
        "dual_property": {"synced_property_id": "p%3Ao", "synced_property_name": "Posts"}});
    ds
}

pub fn data_source() -> Value {
    json!({
        "object": "data_source",
        "id": "11111111-2222-4333-8444-555555555555",
        "properties": {
            "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
            "Link": {"id": "u%3Ar", "name": "Link", "type": "url", "url": {}},
            "Cover": {"id": "c%3Av", "name": "Cover", "type": "files", "files": {}},
            "Tags": {"id": "t%3Ag", "name": "Tags", "type": "relation", "relation": {
                "data_source_id": TAGS_DATA_SOURCE, "type": "single_property", "single_property": {}}},
        }
    })
}

/// Related pages a page object carries per relation, as Notion cuts them.
const RELATION_CUT: usize = 25;

/// A page as Notion shows it in a query or a page read: relations cut at 25 with `has_more`.
fn as_notion_shows(page: &Value) -> Value {
    let mut shown = page.clone();
    if let Some(properties) = shown["properties"].as_object_mut() {
        for property in properties.values_mut() {
            let Some(related) = property["relation"].as_array_mut() else {
                continue;
            };
            let more = related.len() > RELATION_CUT;
            related.truncate(RELATION_CUT);
            property["has_more"] = Value::Bool(more);
        }
    }
    shown
}

impl MemNotion {
    fn spend(&mut self, what: &str) -> Result<(), StepError> {
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
        port_call(Port::Notion);
        Ok(
            json!({"object": "database", "data_sources": [{"id": "11111111-2222-4333-8444-555555555555"}]}),
        )
    }

    async fn data_source(&mut self, _id: &str) -> Result<Value, StepError> {
        self.spend("data_source")?;
        port_call(Port::Notion);
        Ok(self.schema.clone())
    }

    async fn query(
        &mut self,
        _ds: &str,
        window: &QueryWindow,
        cursor: Option<&str>,
    ) -> Result<Value, StepError> {
        self.spend("query")?;
        let selected = in_window(&self.pages, window);
        let total = selected.len().min(self.result_cap);
        let start: usize = cursor.map_or(0, |c| c.parse().unwrap_or(0)).min(total);
        let end = (start + 100).min(total);
        let more = end < total;
        let results: Vec<Value> = selected[start..end]
            .iter()
            .map(|p| as_notion_shows(p))
            .collect();
        let mut answer = json!({
            "object": "list",
            "results": results,
            "has_more": more,
            "next_cursor": if more { Value::String(end.to_string()) } else { Value::Null },
        });
        if !more && selected.len() > total {
            answer["request_status"] = json!({"incomplete_reason": "query_result_limit_reached"});
        }
        port_call(Port::Notion);
        Ok(answer)
    }

    async fn page(&mut self, id: &str) -> Result<Option<Value>, StepError> {
        self.spend("page")?;
        port_call(Port::Notion);
        Ok(self
            .pages
            .iter()
            .find(|p| p["id"] == id)
            .map(as_notion_shows))
    }

    async fn property_items(
        &mut self,
        page_id: &str,
        property_id: &str,
        cursor: Option<&str>,
    ) -> Result<Option<Value>, StepError> {
        self.spend("property")?;
        port_call(Port::Notion);
        let Some(page) = self.pages.iter().find(|p| p["id"] == page_id) else {
            return Ok(None);
        };
        let related: Vec<Value> = page["properties"]
            .as_object()
            .and_then(|ps| ps.values().find(|p| p["id"] == property_id))
            .and_then(|p| p["relation"].as_array())
            .cloned()
            .unwrap_or_default();
        let start: usize = cursor
            .map_or(0, |c| c.parse().unwrap_or(0))
            .min(related.len());
        let end = (start + 100).min(related.len());
        let more = end < related.len();
        let results: Vec<Value> = related[start..end]
            .iter()
            .map(|r| json!({"object": "property_item", "id": property_id, "type": "relation", "relation": r}))
            .collect();
        Ok(Some(json!({
            "object": "list",
            "results": results,
            "has_more": more,
            "next_cursor": if more { Value::String(end.to_string()) } else { Value::Null },
            "type": "property_item",
        })))
    }

    async fn block_tree(&mut self, page_id: &str) -> Result<Option<Vec<BlockNode>>, StepError> {
        self.spend("blocks")?;
        port_call(Port::Notion);
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
/// any item is, as Framer does), and so does a slug two items would share after the upsert.
#[derive(Default)]
pub struct FramerState {
    pub items: BTreeMap<String, Value>,
    pub fields: Value,
    pub calls: Vec<String>,
    pub opened: usize,
    /// URLs uploaded; an upload of a URL containing "gone" is refused as Framer does when it
    /// cannot download the file.
    pub uploads: Vec<String>,
    /// `uploadImages` calls answered.
    pub upload_calls: usize,
    /// Deployment ids published, and those deployed.
    pub published: Vec<String>,
    pub deployed: Vec<String>,
    /// Collections created beside the project's own ("col1", "Posts"): `(id, name)`.
    pub collections: Vec<(String, String)>,
}

pub struct MemFramer {
    pub state: Rc<RefCell<FramerState>>,
    pub budget: Rc<Budget>,
    pub open: bool,
    pub refuse: fn(&Value) -> bool,
    /// Calls made and bytes sent on this connection (the frames the real client would write).
    pub calls: usize,
    pub bytes: usize,
}

impl MemFramer {
    pub fn new(
        state: Rc<RefCell<FramerState>>,
        budget: Rc<Budget>,
        refuse: fn(&Value) -> bool,
    ) -> Self {
        Self {
            state,
            budget,
            open: false,
            refuse,
            calls: 0,
            bytes: 0,
        }
    }
}

/// Why Framer refuses a batch, if it does: a refused item, or a slug two items would share
/// once the batch is upserted.
fn refusal(
    items: &BTreeMap<String, Value>,
    batch: &[Value],
    refuse: fn(&Value) -> bool,
) -> Option<String> {
    if let Some(bad) = batch.iter().find(|i| refuse(i)) {
        let field = bad["fieldData"]
            .as_object()
            .and_then(|f| f.keys().find(|k| k.starts_with('u')))
            .cloned()
            .unwrap_or_default();
        return Some(format!(
            "Invalid item ('{}'): fieldData.{field}: invalid URL",
            bad["id"].as_str().unwrap_or("")
        ));
    }
    let mut after = items.clone();
    for item in batch {
        after.insert(item["id"].as_str().unwrap_or("").to_owned(), item.clone());
    }
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, item) in &after {
        let slug = item["slug"].as_str().unwrap_or("");
        if let Some(owner) = owners.insert(slug, id) {
            return Some(format!(
                "Duplicate slug '{slug}' (items '{owner}' and '{id}')"
            ));
        }
    }
    None
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
        let frame = wire::encode(&ClientMessage::Invocation {
            id: self.calls as u64,
            method: call.clone(),
        });
        self.calls += 1;
        self.bytes += frame.len();
        let answer = self.answer(call);
        port_call(Port::Framer);
        answer
    }

    fn counters(&self) -> (usize, usize) {
        (self.calls, self.bytes)
    }
}

impl MemFramer {
    fn answer(&self, call: Call) -> Result<Value, StepError> {
        let mut state = self.state.borrow_mut();
        state.calls.push(call.method_name().to_owned());
        Ok(match call {
            Call::GetManagedCollections => {
                let mut list = vec![json!({"id": "col1", "name": "Posts"})];
                list.extend(
                    state
                        .collections
                        .iter()
                        .map(|(id, name)| json!({"id": id, "name": name})),
                );
                Value::Array(list)
            }
            Call::CreateManagedCollection { name } => {
                if name == "Posts" || state.collections.iter().any(|(_, n)| *n == name) {
                    return Err(StepError::Refused {
                        method: "createManagedCollection",
                        message: format!("A collection named '{name}' already exists"),
                    });
                }
                let id = format!("col{}", state.collections.len() + 2);
                state.collections.push((id.clone(), name.clone()));
                json!({"id": id, "name": name})
            }
            Call::GetFields { .. } => state.fields.clone(),
            Call::SetFields { fields, .. } => {
                state.fields = fields;
                Value::Null
            }
            Call::GetItemIds { .. } => json!(state.items.keys().collect::<Vec<_>>()),
            Call::AddItems { items, .. } => {
                if let Some(message) = refusal(&state.items, &items, self.refuse) {
                    return Err(StepError::Refused {
                        method: "addManagedCollectionItems2",
                        message,
                    });
                }
                for item in items {
                    state
                        .items
                        .insert(item["id"].as_str().unwrap_or("").to_owned(), item);
                }
                Value::Null
            }
            Call::UploadImages(uploads) => {
                if let Some(gone) = uploads.iter().find(|u| u.url.contains("gone")) {
                    // Framer's server downloads every file before it stores any.
                    return Err(StepError::Refused {
                        method: "uploadImages",
                        message: format!(
                            "Could not download the asset from its URL {}: it answered HTTP 403",
                            gone.url
                        ),
                    });
                }
                state.upload_calls += 1;
                let mut assets = Vec::new();
                for upload in uploads {
                    state.uploads.push(upload.url);
                    let n = state.uploads.len();
                    assets.push(json!({"__class": "ImageAsset", "id": format!("img{n}"), "url": format!("https://framerusercontent.com/images/img{n}.png"),
                       "thumbnailUrl": format!("https://framerusercontent.com/images/img{n}.png?scale-down-to=512"), "altText": null, "resolution": "auto"}));
                }
                json!(assets)
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
            Call::Publish => {
                let id = format!("dep{}", state.published.len() + 1);
                state.published.push(id.clone());
                json!({"deployment": {"id": id}, "hostnames": []})
            }
            Call::Deploy { deployment_id } => {
                state.deployed.push(deployment_id);
                json!([])
            }
            other => panic!("unexpected call {}", other.method_name()),
        })
    }
}

/// D1 as the engine sees it: the project's columns the run sets, the run records, what Framer
/// is believed to hold and the assets.
#[derive(Default)]
pub struct MemRecords {
    /// The record of items D1 kept before the object held it (`synced_items`).
    pub legacy: RefCell<BTreeMap<String, StoredItem>>,
    pub runs: RefCell<BTreeMap<String, (String, Job)>>,
    pub last_success_ms: RefCell<Option<i64>>,
    /// The assets D1 kept before the object held them (`assets`), by key.
    pub legacy_assets: RefCell<BTreeMap<String, StoredAsset>>,
    pub data_source_ids: RefCell<Option<Vec<String>>>,
    pub collection_id: RefCell<Option<String>>,
    pub mapping: RefCell<Option<Mapping>>,
    pub last_full_sync_ms: RefCell<Option<i64>>,
    /// Removals held for review: page id -> (kept by the owner, the item as held).
    pub reviewed: RefCell<BTreeMap<String, (bool, HeldItem)>>,
    /// The project's settings version: the run's writes to the project are compare-and-swaps
    /// on it, as D1's `WHERE config_version = ?`.
    pub version: RefCell<i64>,
    /// The budget of the step running: every method is one D1 query taken from it first, as
    /// the Worker's `D1Records` does.
    pub budget: RefCell<Option<Rc<Budget>>>,
    /// The other projects of the site, as D1 holds them; `synced_collections` answers from it.
    pub site: RefCell<Vec<SiteMember>>,
    /// Data sources other projects sync into the same Framer project.
    pub synced: RefCell<SyncedCollections>,
    /// The projects syncing those collections: collection id -> project id.
    pub targets: RefCell<BTreeMap<String, String>>,
    /// What other projects' collections hold, by project id (this project's own is `stored`).
    pub held_elsewhere: RefCell<BTreeMap<String, BTreeSet<String>>>,
    /// Projects whose object answers that a run there may still add items.
    pub running_elsewhere: RefCell<BTreeSet<String>>,
    /// What each row of this project left out of its references: row -> (project, page).
    pub dangling: RefCell<BTreeMap<String, Vec<(String, String)>>>,
    /// Rows of other projects that left out pages of this one: (project, row, target page).
    pub dangling_elsewhere: RefCell<Vec<(String, String, String)>>,
    /// Refresh requests sent to other projects, in order.
    pub refreshes: RefCell<Vec<(String, Vec<String>)>>,
    /// Other projects' objects failing to take a refresh request.
    pub refresh_unavailable: RefCell<bool>,
}

/// The project id of the engine tests' project.
pub const PROJECT_ID: &str = "p1";

impl MemRecords {
    /// One D1 query from the step's budget; `closing` (a checkpoint or a close) may use the
    /// reserve units leave.
    fn d1(&self, closing: bool) -> Result<(), StepError> {
        let Some(budget) = self.budget.borrow().clone() else {
            return Ok(());
        };
        let taken = if closing {
            budget.take_d1_closing()
        } else {
            budget.take_d1()
        };
        if taken {
            Ok(())
        } else {
            Err(StepError::BudgetSpent)
        }
    }

    fn swap(&self, version: i64) -> bool {
        *self.version.borrow() == version
    }
}

impl Records for MemRecords {
    async fn last_success_started_ms(&self) -> Result<Option<i64>, StepError> {
        // The Worker reads it from the project row it already has: no D1 query.
        port_call(Port::Records);
        Ok(*self.last_success_ms.borrow())
    }
    async fn synced_collections(&self) -> Result<SyncedCollections, StepError> {
        self.d1(false)?;
        port_call(Port::Records);
        let mut synced = self.synced.borrow().clone();
        synced.extend(
            self.site
                .borrow()
                .iter()
                .filter_map(|m| Some((m.data_source_id.clone()?, m.collection_id.clone()?))),
        );
        Ok(synced)
    }
    async fn site(&self) -> Result<Vec<SiteMember>, StepError> {
        self.d1(false)?;
        port_call(Port::Records);
        Ok(self.site.borrow().clone())
    }
    async fn adopt_collection_id(
        &self,
        project_id: &str,
        collection_id: &str,
    ) -> Result<bool, StepError> {
        self.d1(false)?;
        let mut site = self.site.borrow_mut();
        let adopted = site
            .iter_mut()
            .find(|m| m.project_id == project_id && m.collection_id.is_none())
            .map(|m| m.collection_id = Some(collection_id.to_owned()))
            .is_some();
        drop(site);
        port_call(Port::Records);
        Ok(adopted)
    }
    async fn set_data_source_ids(&self, ids: &[String]) -> Result<(), StepError> {
        self.d1(false)?;
        *self.data_source_ids.borrow_mut() = Some(ids.to_vec());
        port_call(Port::Records);
        Ok(())
    }
    async fn set_data_source_id(&self, _id: &str, version: i64) -> Result<bool, StepError> {
        self.d1(false)?;
        port_call(Port::Records);
        Ok(self.swap(version))
    }
    async fn set_collection_id(&self, id: &str, version: i64) -> Result<bool, StepError> {
        self.d1(false)?;
        let swapped = self.swap(version);
        if swapped {
            *self.collection_id.borrow_mut() = Some(id.to_owned());
        }
        port_call(Port::Records);
        Ok(swapped)
    }
    async fn set_mapping(&self, mapping: &Mapping, version: i64) -> Result<bool, StepError> {
        self.d1(false)?;
        let swapped = self.swap(version);
        if swapped {
            *self.mapping.borrow_mut() = Some(mapping.clone());
        }
        port_call(Port::Records);
        Ok(swapped)
    }
    async fn set_last_full_sync_at(&self, at_ms: i64) -> Result<(), StepError> {
        self.d1(true)?;
        *self.last_full_sync_ms.borrow_mut() = Some(at_ms);
        port_call(Port::Records);
        Ok(())
    }
    async fn legacy_items(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, StepError> {
        self.d1(false)?;
        let chunk = self
            .legacy
            .borrow()
            .values()
            .filter(|s| after.is_none_or(|a| s.page_id.as_str() > a))
            .take(limit)
            .cloned()
            .collect::<Vec<_>>();
        port_call(Port::Records);
        Ok(chunk)
    }
    async fn drop_legacy_items(&self) -> Result<(), StepError> {
        self.d1(false)?;
        self.legacy.borrow_mut().clear();
        port_call(Port::Records);
        Ok(())
    }
    async fn forget_removed(&self, page_ids: &[String]) -> Result<(), StepError> {
        self.d1(false)?;
        for id in page_ids {
            self.reviewed.borrow_mut().remove(id);
            self.dangling.borrow_mut().remove(id);
        }
        port_call(Port::Records);
        Ok(())
    }
    async fn reviewed_removals(&self) -> Result<Vec<(String, bool)>, StepError> {
        self.d1(false)?;
        port_call(Port::Records);
        Ok(self
            .reviewed
            .borrow()
            .iter()
            .map(|(id, (kept, _))| (id.clone(), *kept))
            .collect())
    }
    async fn hold(&self, _sync_id: &str, items: &[HeldItem]) -> Result<(), StepError> {
        self.d1(false)?;
        {
            let mut reviewed = self.reviewed.borrow_mut();
            for item in items {
                reviewed
                    .entry(item.page_id.clone())
                    .or_insert_with(|| (false, item.clone()));
            }
        }
        port_call(Port::Records);
        Ok(())
    }
    async fn forget_reviewed(&self, page_ids: &[String]) -> Result<(), StepError> {
        self.d1(false)?;
        for id in page_ids {
            self.reviewed.borrow_mut().remove(id);
        }
        port_call(Port::Records);
        Ok(())
    }
    async fn legacy_assets(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredAsset>, StepError> {
        self.d1(false)?;
        let chunk = self
            .legacy_assets
            .borrow()
            .values()
            .filter(|a| after.is_none_or(|after| a.key.as_str() > after))
            .take(limit)
            .cloned()
            .collect::<Vec<_>>();
        port_call(Port::Records);
        Ok(chunk)
    }
    async fn drop_legacy_assets(&self) -> Result<(), StepError> {
        self.d1(false)?;
        self.legacy_assets.borrow_mut().clear();
        port_call(Port::Records);
        Ok(())
    }
    async fn reference_targets(&self) -> Result<BTreeMap<String, String>, StepError> {
        self.d1(false)?;
        port_call(Port::Records);
        Ok(self.targets.borrow().clone())
    }
    async fn held_by_target(
        &self,
        project_id: &str,
        page_ids: &[String],
    ) -> Result<Holds, StepError> {
        // A call to the target project's object: one subrequest, as the Worker's.
        if let Some(budget) = self.budget.borrow().clone() {
            if !budget.take() {
                return Err(StepError::BudgetSpent);
            }
        }
        port_call(Port::Records);
        let held = |id: &String| {
            self.held_elsewhere
                .borrow()
                .get(project_id)
                .is_some_and(|h| h.contains(id))
        };
        Ok(Holds {
            held: page_ids.iter().filter(|id| held(id)).cloned().collect(),
            running: self.running_elsewhere.borrow().contains(project_id),
        })
    }
    async fn remember_dangling(
        &self,
        rows: &[(String, Vec<(String, String)>)],
    ) -> Result<(), StepError> {
        self.d1(false)?;
        let mut dangling = self.dangling.borrow_mut();
        for (row, dropped) in rows {
            if dropped.is_empty() {
                dangling.remove(row);
            } else {
                dangling.insert(row.clone(), dropped.clone());
            }
        }
        port_call(Port::Records);
        Ok(())
    }
    async fn referrers(&self, page_ids: &[String]) -> Result<Vec<(String, String)>, StepError> {
        self.d1(false)?;
        port_call(Port::Records);
        let mut found: BTreeSet<(String, String)> = BTreeSet::new();
        for (row, dropped) in self.dangling.borrow().iter() {
            if dropped
                .iter()
                .any(|(p, id)| p == PROJECT_ID && page_ids.contains(id))
            {
                found.insert((PROJECT_ID.to_owned(), row.clone()));
            }
        }
        for (project, row, target) in self.dangling_elsewhere.borrow().iter() {
            if page_ids.contains(target) {
                found.insert((project.clone(), row.clone()));
            }
        }
        Ok(found.into_iter().collect())
    }
    async fn request_refresh(
        &self,
        project_id: &str,
        page_ids: &[String],
    ) -> Result<(), StepError> {
        port_call(Port::Records);
        if *self.refresh_unavailable.borrow() {
            return Err(super::failure::SyncFailure {
                code: "internal_error".into(),
                message: "sync queue: /refresh answered 500".into(),
                retryable: true,
                fault: None,
            }
            .into());
        }
        self.refreshes
            .borrow_mut()
            .push((project_id.to_owned(), page_ids.to_vec()));
        Ok(())
    }
    async fn run_started(&self, job: &Job) -> Result<(), StepError> {
        self.d1(false)?;
        self.runs
            .borrow_mut()
            .insert(job.sync_id.clone(), ("running".into(), job.clone()));
        port_call(Port::Records);
        Ok(())
    }
    async fn run_progress(&self, job: &Job) -> Result<(), StepError> {
        self.d1(true)?;
        self.runs
            .borrow_mut()
            .insert(job.sync_id.clone(), ("running".into(), job.clone()));
        port_call(Port::Records);
        Ok(())
    }
    async fn run_finished(&self, job: &Job, end: RunEnd<'_>, at_ms: i64) -> Result<(), StepError> {
        self.d1(true)?;
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
        port_call(Port::Records);
        Ok(())
    }
}

/// The object's SQLite: an embedded SQLite running the very statements of
/// [`super::staging_sql`] that the Worker's `src/store/staging.rs` runs on the Durable Object's storage.
///
/// Like the Durable Object's, its writes become durable only when the step next waits on
/// something (a call to Notion, Framer or D1) or ends: writes made without an await between
/// them are one atomic batch. A crash rolls back the batch in progress ([`Self::crashed`]).
pub struct MemStaging {
    pub db: rusqlite::Connection,
    /// The most rows any one `rows_in` call returned.
    pub largest_load: RefCell<usize>,
    /// Every page id `record_items` wrote, in order (a page twice: recorded twice), rolled
    /// back batches included.
    pub recorded: RefCell<Vec<String>>,
    /// `record_assets` calls made.
    pub asset_writes: std::cell::Cell<usize>,
    /// The setup row as last read or written (see `staging_sql::split_job`).
    setup_written: RefCell<Option<String>>,
    /// Checkpoints saved, and how many of them wrote the setup row.
    pub job_writes: std::cell::Cell<usize>,
    pub setup_writes: std::cell::Cell<usize>,
    /// A batch is open, begun after this many awaits.
    batch: std::cell::Cell<Option<u64>>,
}

impl Default for MemStaging {
    fn default() -> Self {
        let db = rusqlite::Connection::open_in_memory().expect("an in-memory SQLite");
        for statement in q::TABLES {
            db.execute(statement, []).expect("the staging tables");
        }
        Self {
            db,
            largest_load: RefCell::new(0),
            recorded: RefCell::new(Vec::new()),
            asset_writes: std::cell::Cell::new(0),
            setup_written: RefCell::new(None),
            job_writes: std::cell::Cell::new(0),
            setup_writes: std::cell::Cell::new(0),
            batch: std::cell::Cell::new(None),
        }
    }
}

fn sql_fault(e: impl std::fmt::Display) -> StepError {
    // What the object's storage failing means for a run, as `api::error` converts it.
    StepError::Failed(super::failure::SyncFailure {
        code: "internal_error".into(),
        message: "something went wrong on our side; the sync will retry".into(),
        retryable: true,
        fault: Some(crate::util::fault::Fault::new("object storage", e)),
    })
}

impl MemStaging {
    fn texts(&self, query: &str, params: impl rusqlite::Params) -> Result<Vec<String>, StepError> {
        let mut statement = self.db.prepare(query).map_err(sql_fault)?;
        let rows = statement
            .query_map(params, |row| row.get::<_, String>(0))
            .map_err(sql_fault)?;
        rows.collect::<Result<_, _>>().map_err(sql_fault)
    }

    fn exists(&self, query: &str, params: impl rusqlite::Params) -> Result<bool, StepError> {
        let mut statement = self.db.prepare(query).map_err(sql_fault)?;
        statement.exists(params).map_err(sql_fault)
    }

    /// Commits the open batch when the step awaited since it began, and opens one.
    fn batch(&self) {
        let awaits = AWAITS.get();
        if self.batch.get().is_some_and(|since| since != awaits) {
            self.db.execute_batch("COMMIT").expect("commit");
            self.batch.set(None);
        }
        if self.batch.get().is_none() {
            self.db.execute_batch("BEGIN").expect("begin");
            self.batch.set(Some(awaits));
        }
    }

    /// The step ended: its last batch is durable.
    pub fn step_ended(&self) {
        if self.batch.take().is_some() {
            self.db.execute_batch("COMMIT").expect("commit");
        }
    }

    /// The runtime died: the batch is durable only if the step awaited since it began (the
    /// Durable Object had written it out), else it is lost.
    pub fn crashed(&self) {
        // A new runtime reads the setup row again.
        *self.setup_written.borrow_mut() = None;
        if let Some(since) = self.batch.take() {
            let end = if since == AWAITS.get() {
                "ROLLBACK"
            } else {
                "COMMIT"
            };
            self.db.execute_batch(end).expect("end of batch");
        }
    }

    /// The whole record of items, by page id.
    pub fn items(&self) -> Vec<StoredItem> {
        parse(
            self.texts("SELECT item FROM items ORDER BY page_id", [])
                .unwrap(),
        )
        .unwrap()
    }

    /// Every asset URL the object remembers, by file key.
    pub fn asset_urls(&self) -> BTreeMap<String, String> {
        let texts = self.texts("SELECT asset FROM assets", []).unwrap();
        parse::<StoredAsset>(texts)
            .unwrap()
            .into_iter()
            .map(|a| (a.key, a.url))
            .collect()
    }

    /// Two-way relation values remembered, of every row.
    pub fn relation_count(&self) -> usize {
        self.texts("SELECT page_id FROM relation_values", [])
            .unwrap()
            .len()
    }

    /// Whether a job is checkpointed.
    pub fn has_job(&self) -> bool {
        self.load_job().unwrap().is_some()
    }
}

fn parse<T: serde::de::DeserializeOwned>(texts: Vec<String>) -> Result<Vec<T>, StepError> {
    texts
        .into_iter()
        .map(|t| serde_json::from_str(&t).map_err(sql_fault))
        .collect()
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("serialisable")
}

// Each body runs in a closure (some return early with `?`), so that the call is counted, and a
// crash point can fire, once it is done whatever it returned.
#[allow(clippy::redundant_closure_call)]
impl Staging for MemStaging {
    fn load_job(&self) -> Result<Option<Job>, StepError> {
        self.batch();
        let result = (|| {
            let Some(row) = self.texts(q::LOAD_JOB, [])?.pop() else {
                return Ok(None);
            };
            let setup = self.texts(q::LOAD_SETUP, [])?.pop();
            let job = q::join_job(&row, setup.as_deref()).map_err(sql_fault)?;
            *self.setup_written.borrow_mut() = setup;
            Ok(Some(job))
        })();
        port_call(Port::Staging);
        result
    }
    fn save_job(&self, job: &Job) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            let (row, setup) = q::split_job(job).map_err(sql_fault)?;
            self.db.execute(q::SAVE_JOB, [row]).map_err(sql_fault)?;
            self.job_writes.set(self.job_writes.get() + 1);
            if setup.is_some() && *self.setup_written.borrow() != setup {
                self.setup_writes.set(self.setup_writes.get() + 1);
                self.db
                    .execute(q::SAVE_SETUP, [setup.clone().unwrap_or_default()])
                    .map_err(sql_fault)?;
                *self.setup_written.borrow_mut() = setup;
            }
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn clear(&self) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for statement in q::CLEAR {
                self.db.execute(statement, []).map_err(sql_fault)?;
            }
            *self.setup_written.borrow_mut() = None;
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn contains(&self, page_id: &str) -> Result<bool, StepError> {
        let result = (|| self.exists(q::CONTAINS, [page_id]))();
        port_call(Port::Staging);
        result
    }
    fn put_rows(&self, rows: &[StagedRow]) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for row in rows {
                let seq = i64::try_from(row.seq).unwrap_or(i64::MAX);
                self.db
                    .execute(
                        q::PUT_ROW,
                        rusqlite::params![
                            row.page_id,
                            seq,
                            state_name(row.state),
                            row.slug,
                            to_json(row)
                        ],
                    )
                    .map_err(sql_fault)?;
            }
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn rows_in(&self, state: RowState, limit: usize) -> Result<Vec<StagedRow>, StepError> {
        self.batch();
        let result = (|| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows: Vec<StagedRow> =
                parse(self.texts(q::ROWS_IN, rusqlite::params![state_name(state), limit])?)?;
            let mut largest = self.largest_load.borrow_mut();
            *largest = (*largest).max(rows.len());
            Ok(rows)
        })();
        port_call(Port::Staging);
        result
    }
    fn count_in(&self, state: RowState) -> Result<usize, StepError> {
        self.batch();
        let result = (|| {
            let n: i64 = self
                .db
                .query_row(q::COUNT_IN, [state_name(state)], |row| row.get(0))
                .map_err(sql_fault)?;
            Ok(usize::try_from(n).unwrap_or(0))
        })();
        port_call(Port::Staging);
        result
    }
    fn slug_holder(
        &self,
        slug: &str,
        page_id: &str,
        final_: bool,
    ) -> Result<Option<Holder>, StepError> {
        self.batch();
        let result = (|| {
            let query = if final_ {
                q::SLUG_HOLDER_FINAL
            } else {
                q::SLUG_HOLDER_READING
            };
            let mut statement = self.db.prepare(query).map_err(sql_fault)?;
            let mut rows = statement.query([slug, page_id]).map_err(sql_fault)?;
            let first = rows.next().map_err(sql_fault)?;
            Ok(match first {
                Some(row) => q::holder(row.get(0).map_err(sql_fault)?),
                None => None,
            })
        })();
        port_call(Port::Staging);
        result
    }
    fn record_items(&self, items: &[StoredItem]) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for item in items {
                self.db
                    .execute(
                        q::RECORD_ITEM,
                        rusqlite::params![item.page_id, item.slug, to_json(item)],
                    )
                    .map_err(sql_fault)?;
                self.recorded.borrow_mut().push(item.page_id.clone());
            }
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn stored(&self, page_id: &str) -> Result<Option<StoredItem>, StepError> {
        self.batch();
        let result = (|| Ok(parse(self.texts(q::STORED, [page_id])?)?.pop()))();
        port_call(Port::Staging);
        result
    }
    fn forget_items(&self, page_ids: &[String]) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            self.db
                .execute(q::FORGET_ITEMS, [to_json(&page_ids)])
                .map_err(sql_fault)?;
            self.db
                .execute(q::FORGET_RELATIONS, [to_json(&page_ids)])
                .map(drop)
                .map_err(sql_fault)
        })();
        port_call(Port::Staging);
        result
    }
    fn previous_relations(
        &self,
        page_ids: &[String],
    ) -> Result<Vec<(String, String, Vec<String>)>, StepError> {
        self.batch();
        let result = (|| parse(self.texts(q::PREVIOUS_RELATIONS, [to_json(&page_ids)])?))();
        port_call(Port::Staging);
        result
    }
    fn remember_relations(
        &self,
        values: &[(String, String, Vec<String>)],
    ) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for (page, field, ids) in values {
                self.db
                    .execute(
                        q::REMEMBER_RELATION,
                        rusqlite::params![page, field, to_json(ids)],
                    )
                    .map_err(sql_fault)?;
            }
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn item_count(&self) -> Result<usize, StepError> {
        self.batch();
        let result = (|| {
            let n: i64 = self
                .db
                .query_row(q::COUNT_ITEMS, [], |row| row.get(0))
                .map_err(sql_fault)?;
            Ok(usize::try_from(n).unwrap_or(0))
        })();
        port_call(Port::Staging);
        result
    }
    fn assets(&self, keys: &[String]) -> Result<BTreeMap<String, String>, StepError> {
        self.batch();
        let result = (|| {
            let mut statement = self.db.prepare(q::ASSETS_AMONG).map_err(sql_fault)?;
            let rows = statement
                .query_map([to_json(&keys)], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(sql_fault)?;
            let mut known = BTreeMap::new();
            for row in rows {
                let (key, asset) = row.map_err(sql_fault)?;
                let asset: StoredAsset = serde_json::from_str(&asset).map_err(sql_fault)?;
                known.insert(key, asset.url);
            }
            Ok(known)
        })();
        port_call(Port::Staging);
        result
    }
    fn record_assets(&self, assets: &[StoredAsset]) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for asset in assets {
                self.db
                    .execute(q::RECORD_ASSET, [asset.key.clone(), to_json(asset)])
                    .map_err(sql_fault)?;
            }
            self.asset_writes.set(self.asset_writes.get() + 1);
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn adoption(&self, of: Legacy) -> Result<Adoption, StepError> {
        self.batch();
        let result = (|| {
            let stored = self.texts(q::META, [q::adoption_key(of)])?.pop();
            Ok(match stored {
                Some(text) => serde_json::from_str(&text).map_err(sql_fault)?,
                None => Adoption::After(None),
            })
        })();
        port_call(Port::Staging);
        result
    }
    fn set_adoption(&self, of: Legacy, adoption: &Adoption) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            self.db
                .execute(q::SET_META, [q::adoption_key(of), &to_json(adoption)])
                .map(drop)
                .map_err(sql_fault)
        })();
        port_call(Port::Staging);
        result
    }
    fn put_framer_ids(&self, ids: &[String]) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for chunk in ids.chunks(500) {
                self.db
                    .execute(q::PUT_FRAMER_IDS, [to_json(&chunk)])
                    .map_err(sql_fault)?;
            }
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn in_framer(&self, page_id: &str) -> Result<bool, StepError> {
        let result = (|| self.exists(q::IN_FRAMER, [page_id]))();
        port_call(Port::Staging);
        result
    }
    fn removals(
        &self,
        full: bool,
        set: RemovalSet,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StepError> {
        self.batch();
        let result = (|| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut statement = self
                .db
                .prepare(&q::removals(full, set))
                .map_err(sql_fault)?;
            let rows = statement
                .query_map(rusqlite::params![after.unwrap_or(""), limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(sql_fault)?;
            rows.collect::<Result<_, _>>().map_err(sql_fault)
        })();
        port_call(Port::Staging);
        result
    }
    fn removal_counts(&self, full: bool) -> Result<RemovalCounts, StepError> {
        self.batch();
        let result = (|| {
            let count = |n: i64| usize::try_from(n).unwrap_or(0);
            self.db
                .query_row(&q::removal_counts(full), [], |row| {
                    Ok(RemovalCounts {
                        known: count(row.get(0)?),
                        unreviewed: count(row.get(1)?),
                        held: count(row.get(2)?),
                        kept: count(row.get(3)?),
                    })
                })
                .map_err(sql_fault)
        })();
        port_call(Port::Staging);
        result
    }
    fn put_reviewed(&self, reviewed: &[(String, bool)]) -> Result<(), StepError> {
        self.batch();
        let result = (|| {
            for chunk in reviewed.chunks(500) {
                let rows: Vec<(&str, i64)> = chunk
                    .iter()
                    .map(|(id, kept)| (id.as_str(), i64::from(*kept)))
                    .collect();
                self.db
                    .execute(q::PUT_REVIEWED, [to_json(&rows)])
                    .map_err(sql_fault)?;
            }
            Ok(())
        })();
        port_call(Port::Staging);
        result
    }
    fn held_among(&self, page_ids: &[String]) -> Result<BTreeSet<String>, StepError> {
        self.batch();
        let result = (|| {
            Ok(self
                .texts(q::HELD_AMONG, [to_json(&page_ids)])?
                .into_iter()
                .collect())
        })();
        port_call(Port::Staging);
        result
    }
    fn reviewed_moot(&self, full: bool) -> Result<Vec<String>, StepError> {
        self.batch();
        let result = (|| self.texts(q::reviewed_moot(full), []))();
        port_call(Port::Staging);
        result
    }
}

/// The four ports, for crash points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Notion,
    Framer,
    Records,
    Staging,
}

/// A crash point: the runtime dies right after the `n`th call (from 1) of `port` (of any port
/// when `None`), counted over the whole test: the call's effect stands, its answer is lost.
pub type CrashPoint = (Option<Port>, usize);

thread_local! {
    static CALLS: RefCell<Vec<Port>> = const { RefCell::new(Vec::new()) };
    /// Calls the engine awaited (Notion, Framer, D1): where the object's writes go out.
    static AWAITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static CRASH: std::cell::Cell<Option<CrashPoint>> = const { std::cell::Cell::new(None) };
}

/// Called by every port method once its effect is done: counts the call, and dies (a panic,
/// as a runtime killed mid-step) when it is the armed crash point.
pub fn port_call(port: Port) {
    CALLS.with(|c| c.borrow_mut().push(port));
    if port != Port::Staging {
        AWAITS.set(AWAITS.get() + 1);
    }
    if let Some((which, n)) = CRASH
        .get()
        .filter(|(which, _)| which.is_none_or(|w| w == port))
    {
        let count = CALLS.with(|c| {
            c.borrow()
                .iter()
                .filter(|p| which.is_none_or(|w| w == **p))
                .count()
        });
        if count == n {
            CRASH.set(None);
            panic!("runtime killed after call {n} of {which:?}");
        }
    }
}

/// Arms (or, with `None`, disarms) the crash point.
pub fn crash_after(point: Option<CrashPoint>) {
    CRASH.set(point);
}

/// The port calls made so far in this test (since the last [`reset_port_calls`]).
pub fn port_calls() -> Vec<Port> {
    CALLS.with(|c| c.borrow().clone())
}

/// Starts counting port calls from zero (a new world).
pub fn reset_port_calls() {
    CALLS.with(|c| c.borrow_mut().clear());
    CRASH.set(None);
}
