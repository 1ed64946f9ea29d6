//! In-memory ports for the engine's tests: a Notion database of pages, a Framer collection that
//! refuses what a test says, D1 records and the object's staging, all inspectable.

use super::budget::Budget;
use super::failure::StepError;
use super::job::{Job, RowState, StagedRow, StoredItem};
use super::ports::{FramerSink, NotionSource, Records, Staging};
use super::staging_sql::{self as q, state_name};
use crate::framer::wire::{Asset, Call};
use crate::notion::error::NotionError;
use crate::notion::page_html::BlockNode;
use crate::notion::protocol::QueryWindow;
use crate::sync::mapping::{Mapping, SyncedCollections};
use crate::sync::slug::Holder;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A data source of simple pages (title + URL property), paged like Notion (100 per page).
pub struct MemNotion {
    pub pages: Vec<Value>,
    pub budget: Rc<Budget>,
    pub calls: usize,
    /// Calls per kind, over the whole test (shared across steps).
    pub log: Rc<RefCell<Vec<String>>>,
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
        Ok(json!({
            "object": "list",
            "results": self.pages[start..end],
            "has_more": more,
            "next_cursor": if more { Value::String(end.to_string()) } else { Value::Null },
        }))
    }

    async fn page(&mut self, id: &str) -> Result<Option<Value>, StepError> {
        self.spend("page")?;
        Ok(self.pages.iter().find(|p| p["id"] == id).cloned())
    }

    async fn block_tree(&mut self, page_id: &str) -> Result<Vec<BlockNode>, StepError> {
        self.spend("blocks")?;
        Ok(vec![BlockNode {
            block: json!({"object": "block", "id": "b", "type": "paragraph", "has_children": false,
                "paragraph": {"rich_text": [{"type": "text", "plain_text": format!("Body of {page_id}"), "text": {"content": format!("Body of {page_id}")}, "annotations": {}}]}}),
            children: Vec::new(),
        }])
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
    async fn set_collection_id(&self, _id: &str) -> Result<(), StepError> {
        Ok(())
    }
    async fn set_mapping(&self, _mapping: &Mapping) -> Result<(), StepError> {
        Ok(())
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
    async fn run_finished(
        &self,
        job: &Job,
        failure: Option<(&str, &str)>,
        at_ms: i64,
    ) -> Result<(), StepError> {
        let status = if failure.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        self.runs
            .borrow_mut()
            .insert(job.sync_id.clone(), (status.into(), job.clone()));
        if failure.is_none() {
            *self.last_success_ms.borrow_mut() = Some(at_ms);
        }
        Ok(())
    }
}

/// The object's SQLite: an embedded SQLite running the very statements of
/// [`super::staging_sql`] that `edge/store/staging.rs` runs on the Durable Object's storage.
pub struct MemStaging {
    pub db: rusqlite::Connection,
    /// The most rows any one `rows_in` call returned.
    pub largest_load: RefCell<usize>,
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
        }
    }
}

fn sql_fault(e: impl std::fmt::Display) -> StepError {
    crate::api::error::ApiError::internal("object storage", e.to_string()).into()
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

impl Staging for MemStaging {
    fn load_job(&self) -> Result<Option<Job>, StepError> {
        Ok(parse(self.texts(q::LOAD_JOB, [])?)?.pop())
    }
    fn save_job(&self, job: &Job) -> Result<(), StepError> {
        self.db
            .execute(q::SAVE_JOB, [to_json(job)])
            .map(drop)
            .map_err(sql_fault)
    }
    fn clear(&self) -> Result<(), StepError> {
        for statement in q::CLEAR {
            self.db.execute(statement, []).map_err(sql_fault)?;
        }
        Ok(())
    }
    fn contains(&self, page_id: &str) -> Result<bool, StepError> {
        self.exists(q::CONTAINS, [page_id])
    }
    fn put_rows(&self, rows: &[StagedRow]) -> Result<(), StepError> {
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
    }
    fn rows_in(&self, state: RowState, limit: usize) -> Result<Vec<StagedRow>, StepError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<StagedRow> =
            parse(self.texts(q::ROWS_IN, rusqlite::params![state_name(state), limit])?)?;
        let mut largest = self.largest_load.borrow_mut();
        *largest = (*largest).max(rows.len());
        Ok(rows)
    }
    fn count_in(&self, state: RowState) -> Result<usize, StepError> {
        let n: i64 = self
            .db
            .query_row(q::COUNT_IN, [state_name(state)], |row| row.get(0))
            .map_err(sql_fault)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
    fn slug_holder(
        &self,
        slug: &str,
        page_id: &str,
        final_: bool,
    ) -> Result<Option<Holder>, StepError> {
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
    }
    fn put_stored(&self, items: &[StoredItem]) -> Result<(), StepError> {
        for item in items {
            self.db
                .execute(
                    q::PUT_STORED,
                    rusqlite::params![item.page_id, item.slug, to_json(item)],
                )
                .map_err(sql_fault)?;
        }
        Ok(())
    }
    fn stored(&self, page_id: &str) -> Result<Option<StoredItem>, StepError> {
        Ok(parse(self.texts(q::STORED, [page_id])?)?.pop())
    }
    fn put_framer_ids(&self, ids: &[String]) -> Result<(), StepError> {
        for chunk in ids.chunks(500) {
            self.db
                .execute(q::PUT_FRAMER_IDS, [to_json(&chunk)])
                .map_err(sql_fault)?;
        }
        Ok(())
    }
    fn in_framer(&self, page_id: &str) -> Result<bool, StepError> {
        self.exists(q::IN_FRAMER, [page_id])
    }
    fn removals(&self, full: bool, limit: usize) -> Result<Vec<String>, StepError> {
        let query = if full {
            q::REMOVALS_FULL
        } else {
            q::REMOVALS_INCREMENTAL
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.texts(query, [limit])
    }
}
