//! The headless sync engine (Notion -> Framer): reads the database, maps rows to items, plans
//! the writes against what D1 believes Framer holds, writes them, and records each accepted
//! batch. The pure decisions live in `crate::sync` (plan, mapping, row, slug, reconcile) and
//! `crate::framer::cms`.

use super::context::{now_ms, AppContext};
use super::framer_socket::{self, FramerSocket};
use super::notion_api::NotionClient;
use super::store::synced_items::{AcceptedItem, SyncedItem};
use super::store::{self, projects};
use super::sync::SyncFailure;
use crate::api::input::UnpublishedMode;
use crate::api::project::Project;
use crate::framer::cms::{self, FieldDef, FieldType, FieldValue, Item};
use crate::framer::error::FramerError;
use crate::framer::wire::Call;
use crate::notion::page_html;
use crate::notion::protocol;
use crate::notion::schema::{parse_schema, Schema};
use crate::sync::mapping::{self, Mapping};
use crate::sync::plan::{self, RunScope, ScopeInputs};
use crate::sync::queue::Pending;
use crate::sync::reconcile::{self, ItemState, Plan, Scope};
use crate::sync::row::{describe_skip, map_page, MappedRow};
use crate::sync::slug::{self, SlugInput};
use crate::util::secrets::ProjectSecret;
use crate::util::time::{iso_from_ms, ms_from_iso};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Framer field that holds the rendered page body when the project asks for it. No mapped
/// field can have this id: sanitised Notion ids put two hex digits after every `_`.
pub const BODY_FIELD_ID: &str = "page_body";
const BODY_FIELD_NAME: &str = "Page content";
/// Items per `addManagedCollectionItems2` call, and the size budget of one call.
const BATCH_ITEMS: usize = 100;
const BATCH_BYTES: usize = 512 * 1024;
/// Row warnings kept on the record; past this they are only counted.
const MAX_ROW_WARNINGS: usize = 20;

/// What a run did, for its record.
#[derive(Debug, Clone, Default)]
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
}

/// One mapped row.
struct Candidate {
    row: MappedRow,
    /// The body was not re-fetched (row unchanged since last sync): trust the stored hash.
    body_pending: bool,
}

/// Everything read from Notion and planned locally, before Framer is contacted.
struct Prepared {
    scope: RunScope,
    fields: Vec<FieldDef>,
    items: Vec<Item>,
    candidates: Vec<Candidate>,
    stored: BTreeMap<String, SyncedItem>,
    removed: BTreeSet<String>,
}

/// An item on its way to Framer with what D1 records once Framer accepted it.
struct Outgoing {
    item: Item,
    slug_source: String,
    last_edited_time: String,
}

pub async fn sync(
    ctx: &AppContext,
    project: &Project,
    batch: &Pending,
    stats: &mut RunStats,
) -> Result<(), SyncFailure> {
    let cipher = ctx.cipher()?;
    let secret = |stored: &str, which: ProjectSecret| {
        cipher.decrypt(stored, &which.context(&project.id)).map_err(|e| SyncFailure {
            code: "secrets_unreadable".into(),
            message: format!("the stored {} cannot be decrypted ({e}); enter it again in the project settings", which.name()),
            retryable: false,
            fault: None,
        })
    };
    let notion_token = secret(&project.notion_token_enc, ProjectSecret::NotionToken)?;
    let framer_key = secret(&project.framer_api_key_enc, ProjectSecret::FramerApiKey)?;
    let mut notion = NotionClient::new(&ctx.settings, notion_token);
    let mut run = Run {
        ctx,
        project,
        batch,
        stats,
    };
    let outcome = run.execute(&mut notion, &framer_key).await;
    run.stats.notion_calls = notion.calls;
    outcome
}

struct Run<'a> {
    ctx: &'a AppContext,
    project: &'a Project,
    batch: &'a Pending,
    stats: &'a mut RunStats,
}

impl Run<'_> {
    async fn execute(
        &mut self,
        notion: &mut NotionClient,
        framer_key: &str,
    ) -> Result<(), SyncFailure> {
        let prepared = self.read_notion(notion).await?;
        let ws = framer_socket::open(
            &self.ctx.settings.framer_server_url,
            &self.project.framer_project_url,
            framer_key,
        )
        .await?;
        let mut socket = match FramerSocket::start(&ws).await {
            Ok(socket) => socket,
            Err(e) => {
                let _ = ws.close(Some(1000), Some("handshake failed"));
                return Err(e.into());
            }
        };
        let outcome = self.write_framer(notion, &mut socket, prepared).await;
        let (calls, bytes) = socket.disconnect().await;
        self.stats.framer_calls = calls;
        self.stats.bytes_sent = bytes;
        outcome
    }

    async fn read_notion(&mut self, notion: &mut NotionClient) -> Result<Prepared, SyncFailure> {
        let scope = self.choose_scope(now_ms()).await?;
        self.stats.full = scope == RunScope::Full;
        let data_source = self.data_source(notion).await?;
        let mut schema = parse_schema(&data_source).map_err(|e| SyncFailure {
            code: "notion_not_a_database".into(),
            message: format!(
                "the connected Notion id is not a database this integration can read: {e}"
            ),
            retryable: false,
            fault: None,
        })?;
        let ds_id = data_source
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let edited_since = match &scope {
            RunScope::Full => None,
            RunScope::Incremental { edited_since } => Some(edited_since.as_str()),
        };
        let mut pages = notion.query_all(&ds_id, edited_since).await?;
        let mut removed = self.recheck_gone_pages(notion, &mut pages).await?;
        schema.learn_formula_results(&pages);
        let mut mapping = self.reconcile_mapping(&schema).await?;
        let stored = self.stored_items().await?;
        let mut candidates = self.map_rows(&pages, &mapping, &schema);
        let rows: Vec<MappedRow> = candidates.iter().map(|c| c.row.clone()).collect();
        if mapping.learn_cases(&rows) > 0 {
            self.save_mapping(&mapping).await?;
        }
        self.apply_publish_filter(&mut candidates, &mut removed);
        if self.project.page_body {
            self.fetch_bodies(notion, &mut candidates, &stored).await?;
        }
        let items = self.assign_slugs(&candidates, &stored, &removed);
        let mut fields = mapping::field_defs(&mapping, &schema);
        if self.project.page_body {
            fields.push(FieldDef::new(
                BODY_FIELD_ID,
                BODY_FIELD_NAME,
                FieldType::FormattedText,
            ));
        }
        Ok(Prepared {
            scope,
            fields,
            items,
            candidates,
            stored,
            removed,
        })
    }

    async fn write_framer(
        &mut self,
        notion: &mut NotionClient,
        framer: &mut FramerSocket<'_>,
        prepared: Prepared,
    ) -> Result<(), SyncFailure> {
        let Prepared {
            scope,
            fields,
            mut items,
            mut candidates,
            stored,
            removed,
        } = prepared;
        let full = scope == RunScope::Full;
        let collection_id = find_collection(framer, self.project).await?;
        if self.project.framer_collection_id.as_deref() != Some(collection_id.as_str()) {
            projects::set_collection_id(&self.ctx.db, &self.project.id, &collection_id).await?;
        }
        if ensure_fields(framer, &collection_id, &fields).await? {
            // The body field is new in Framer: no stored hash covers a body yet.
            fetch_pending_bodies(notion, &mut items, &mut candidates).await?;
        }
        let framer_ids = if full {
            Some(item_ids(framer, &collection_id).await?)
        } else {
            None
        };
        let desired = desired_states(&items, &candidates, &stored);
        let stored_hashes: BTreeMap<String, String> = stored
            .values()
            .map(|s| (s.page_id.clone(), s.content_hash.clone()))
            .collect();
        let plan_scope = if full {
            Scope::Full
        } else {
            Scope::Incremental { removed }
        };
        let plan = reconcile::plan(&desired, &stored_hashes, &plan_scope, framer_ids.as_ref());
        let outgoing = self.outgoing(notion, &plan, items, &mut candidates).await?;
        self.write(framer, &collection_id, &plan, outgoing).await?;
        if !plan.is_empty() && self.project.auto_publish_active() {
            self.publish(framer).await?;
        }
        if full {
            let now = iso_from_ms(now_ms());
            projects::set_last_full_sync_at(&self.ctx.db, &self.project.id, &now).await?;
        }
        Ok(())
    }

    async fn choose_scope(&self, now: i64) -> Result<RunScope, SyncFailure> {
        let last_success =
            store::sync_runs::last_success_started_at(&self.ctx.db, &self.project.id).await?;
        Ok(plan::choose_scope(ScopeInputs {
            requested_full: self.batch.full,
            last_success_started_ms: last_success.as_deref().and_then(ms_from_iso),
            last_full_ms: self
                .project
                .last_full_sync_at
                .as_deref()
                .and_then(ms_from_iso),
            now_ms: now,
            full_interval_ms: self.ctx.settings.full_reconcile_interval_ms,
        }))
    }

    /// The database's (first) data source with its schema. The ids are re-resolved on full
    /// runs and remembered, so that webhook events naming the data source find the project.
    async fn data_source(&mut self, notion: &mut NotionClient) -> Result<Value, SyncFailure> {
        let mut ids = self.project.notion_data_source_ids.clone();
        if ids.is_empty() || self.stats.full {
            let database = notion.database(&self.project.notion_database_id).await?;
            let fresh = protocol::data_source_ids(&database);
            if fresh != ids {
                projects::set_data_source_ids(&self.ctx.db, &self.project.id, &fresh).await?;
            }
            ids = fresh;
        }
        let Some(first) = ids.first() else {
            return Err(SyncFailure {
                code: "notion_database_empty".into(),
                message: "the Notion database has no data source to read; check that the id is a database, not a page".into(),
                retryable: false,
                fault: None,
            });
        };
        if ids.len() > 1 {
            self.stats.warnings.push(format!(
                "the database has {} data sources; only the first ({first}) is synced",
                ids.len()
            ));
        }
        Ok(notion.data_source(first).await?)
    }

    /// Pages reported deleted are fetched again: those really gone are removed, those restored
    /// (or only moved) are synced like any changed row.
    async fn recheck_gone_pages(
        &self,
        notion: &mut NotionClient,
        pages: &mut Vec<Value>,
    ) -> Result<BTreeSet<String>, SyncFailure> {
        let mut gone = BTreeSet::new();
        if self.stats.full {
            return Ok(gone);
        }
        let known: BTreeSet<String> = pages.iter().filter_map(page_id).collect();
        for raw in &self.batch.gone_pages {
            let Some(id) = crate::notion::ids::normalize(raw).ok() else {
                continue;
            };
            if known.contains(&id) {
                continue;
            }
            match notion.page(&id).await? {
                Some(page) if !protocol::page_is_gone(&page) => pages.push(page),
                _ => {
                    gone.insert(id);
                }
            }
        }
        Ok(gone)
    }

    async fn reconcile_mapping(&mut self, schema: &Schema) -> Result<Mapping, SyncFailure> {
        let stored = match self.project.mapping.as_ref().map(|m| &m.parsed) {
            None => None,
            Some(Ok(mapping)) => Some(mapping),
            Some(Err(e)) => {
                self.stats.warnings.push(format!(
                    "the stored mapping could not be read ({e}); the default mapping was used"
                ));
                None
            }
        };
        let synced = projects::synced_collections(&self.ctx.db, self.project).await?;
        let (mapping, changes) = mapping::reconcile_schema(schema, stored, &synced);
        if stored.is_some() {
            self.stats
                .warnings
                .extend(changes.iter().map(|c| format!("schema: {c}")));
        }
        if stored != Some(&mapping) {
            self.save_mapping(&mapping).await?;
        }
        Ok(mapping)
    }

    async fn save_mapping(&self, mapping: &Mapping) -> Result<(), SyncFailure> {
        Ok(projects::set_mapping(&self.ctx.db, &self.project.id, mapping).await?)
    }

    async fn stored_items(&self) -> Result<BTreeMap<String, SyncedItem>, SyncFailure> {
        let rows = store::synced_items::of_project(&self.ctx.db, &self.project.id).await?;
        Ok(rows.into_iter().map(|r| (r.page_id.clone(), r)).collect())
    }

    fn map_rows(&mut self, pages: &[Value], mapping: &Mapping, schema: &Schema) -> Vec<Candidate> {
        let options = plan::row_options(
            self.project.slug_property.as_deref(),
            self.project.publish_filter.as_ref(),
        );
        let mut warnings = Vec::new();
        let mut candidates = Vec::with_capacity(pages.len());
        for page in pages {
            match map_page(page, mapping, schema, &options) {
                Ok(row) => {
                    warnings.extend(
                        row.warnings
                            .iter()
                            .map(|w| format!("row {}: {w}", row.page_id)),
                    );
                    candidates.push(Candidate {
                        row,
                        body_pending: false,
                    });
                }
                Err(e) => {
                    self.stats.skipped += 1;
                    warnings.push(format!("a row was skipped: {}", describe_skip(page, &e)));
                }
            }
        }
        let total = warnings.len();
        self.stats
            .warnings
            .extend(warnings.into_iter().take(MAX_ROW_WARNINGS));
        if total > MAX_ROW_WARNINGS {
            self.stats.warnings.push(format!(
                "... and {} more row warnings",
                total - MAX_ROW_WARNINGS
            ));
        }
        candidates
    }

    /// Rows the filter holds back are removed, unless the project keeps them as drafts.
    fn apply_publish_filter(
        &self,
        candidates: &mut Vec<Candidate>,
        removed: &mut BTreeSet<String>,
    ) {
        if self.project.unpublished_mode == UnpublishedMode::Draft {
            return;
        }
        candidates.retain(|c| {
            if !c.row.publish {
                removed.insert(c.row.page_id.clone());
            }
            c.row.publish
        });
    }

    async fn fetch_bodies(
        &mut self,
        notion: &mut NotionClient,
        candidates: &mut [Candidate],
        stored: &BTreeMap<String, SyncedItem>,
    ) -> Result<(), SyncFailure> {
        let mut skipped_types = BTreeSet::new();
        for candidate in candidates.iter_mut() {
            let previous = stored
                .get(&candidate.row.page_id)
                .and_then(|s| s.last_edited_time.as_deref());
            if !plan::body_needed(previous, &candidate.row.last_edited_time) {
                candidate.body_pending = true;
                continue;
            }
            let blocks = notion.block_tree(&candidate.row.page_id).await?;
            let (html, skipped) = page_html::render_blocks_with_report(&blocks);
            skipped_types.extend(skipped);
            candidate
                .row
                .field_data
                .insert(BODY_FIELD_ID.into(), FieldValue::FormattedText(html));
        }
        if !skipped_types.is_empty() {
            let list: Vec<String> = skipped_types.into_iter().collect();
            self.stats.warnings.push(format!(
                "page content: blocks not rendered: {}",
                list.join(", ")
            ));
        }
        Ok(())
    }

    /// Slugs for this run's rows. On incremental runs the rows already in Framer that this run
    /// does not touch take part with their current slugs, so a changed row cannot take one.
    fn assign_slugs(
        &mut self,
        candidates: &[Candidate],
        stored: &BTreeMap<String, SyncedItem>,
        removed: &BTreeSet<String>,
    ) -> Vec<Item> {
        let wanted: BTreeSet<&str> = candidates.iter().map(|c| c.row.page_id.as_str()).collect();
        let previous = |s: &SyncedItem| Some((s.slug.clone(), s.slug_source.clone()));
        let mut inputs: Vec<SlugInput> = candidates
            .iter()
            .map(|c| SlugInput {
                page_id: c.row.page_id.clone(),
                source: c.row.slug_source.clone(),
                previous: stored.get(&c.row.page_id).and_then(previous),
            })
            .collect();
        if !self.stats.full {
            let untouched = stored
                .values()
                .filter(|s| !wanted.contains(s.page_id.as_str()) && !removed.contains(&s.page_id));
            inputs.extend(untouched.map(|s| SlugInput {
                page_id: s.page_id.clone(),
                source: s.slug_source.clone(),
                previous: previous(s),
            }));
        }
        let assignment = slug::assign_slugs(&inputs);
        self.stats
            .warnings
            .extend(plan::duplicate_slug_warnings(&assignment.duplicates));
        candidates
            .iter()
            .zip(assignment.slugs)
            .map(|(c, slug)| c.row.to_item(slug))
            .collect()
    }

    /// The items the plan upserts, with bodies fetched for unchanged rows Framer lost.
    async fn outgoing(
        &mut self,
        notion: &mut NotionClient,
        plan: &Plan,
        items: Vec<Item>,
        candidates: &mut [Candidate],
    ) -> Result<Vec<Outgoing>, SyncFailure> {
        let upserts: BTreeSet<&String> = plan.upserts().collect();
        let mut by_id = BTreeMap::new();
        for (mut item, candidate) in items.into_iter().zip(candidates.iter_mut()) {
            if !upserts.contains(&item.id) {
                continue;
            }
            if candidate.body_pending {
                let blocks = notion.block_tree(&item.id).await?;
                item.field_data.insert(
                    BODY_FIELD_ID.into(),
                    FieldValue::FormattedText(page_html::render_blocks(&blocks)),
                );
            }
            let outgoing = Outgoing {
                slug_source: candidate.row.slug_source.clone(),
                last_edited_time: candidate.row.last_edited_time.clone(),
                item,
            };
            by_id.insert(outgoing.item.id.clone(), outgoing);
        }
        Ok(plan.upserts().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Sends upserts in batches and then removals. D1 learns of each batch only after Framer
    /// accepted it, so an interrupted run leaves no hash that hides a change.
    async fn write(
        &mut self,
        framer: &mut FramerSocket<'_>,
        collection_id: &str,
        plan: &Plan,
        outgoing: Vec<Outgoing>,
    ) -> Result<(), SyncFailure> {
        let batches = reconcile::batches(
            outgoing,
            |o| o.item.to_wire().to_string().len(),
            BATCH_ITEMS,
            BATCH_BYTES,
        );
        for batch in batches {
            let items: Vec<Value> = batch.iter().map(|o| o.item.to_wire()).collect();
            framer
                .call(Call::AddItems {
                    collection_id: collection_id.to_owned(),
                    items,
                })
                .await?;
            record_items(self.ctx, &self.project.id, &batch).await?;
        }
        if !plan.remove.is_empty() {
            framer
                .call(Call::RemoveItems {
                    collection_id: collection_id.to_owned(),
                    ids: plan.remove.clone(),
                })
                .await?;
            store::synced_items::forget(&self.ctx.db, &self.project.id, &plan.remove).await?;
        }
        self.stats.added = plan.add.len();
        self.stats.updated = plan.update.len();
        self.stats.removed = plan.remove.len();
        self.stats.unchanged = plan.unchanged;
        Ok(())
    }

    async fn publish(&mut self, framer: &mut FramerSocket<'_>) -> Result<(), SyncFailure> {
        let published = framer.call(Call::Publish).await?;
        let deployment_id = published
            .pointer("/deployment/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        framer.call(Call::Deploy { deployment_id }).await?;
        self.stats.published = true;
        Ok(())
    }
}

/// The hash Framer should end up with per wanted page. Rows whose body was not re-fetched
/// keep their stored hash: their content is unchanged by definition.
fn desired_states(
    items: &[Item],
    candidates: &[Candidate],
    stored: &BTreeMap<String, SyncedItem>,
) -> BTreeMap<String, ItemState> {
    items
        .iter()
        .zip(candidates)
        .map(|(item, candidate)| {
            let kept = stored
                .get(&item.id)
                .filter(|s| candidate.body_pending && s.slug == item.slug);
            let hash = kept.map_or_else(|| cms::content_hash(item), |s| s.content_hash.clone());
            (
                item.id.clone(),
                ItemState {
                    hash,
                    slug: item.slug.clone(),
                },
            )
        })
        .collect()
}

/// The managed collection of the project (by stored id, else by name), created when missing.
async fn find_collection(
    framer: &mut FramerSocket<'_>,
    project: &Project,
) -> Result<String, SyncFailure> {
    let name = project.framer_collection_name.as_str();
    let managed = framer.call(Call::GetManagedCollections).await?;
    let by_id = project.framer_collection_id.as_deref();
    let found = list(&managed)
        .find(|c| by_id.is_some_and(|id| c["id"] == id))
        .or_else(|| list(&managed).find(|c| c["name"] == name));
    if let Some(id) = found.and_then(|c| c["id"].as_str()) {
        return Ok(id.to_owned());
    }
    // Collections of other integrations are not listed; creating one with the same name is
    // refused, and that refusal is the only sign of them.
    let created = match framer
        .call(Call::CreateManagedCollection {
            name: name.to_owned(),
        })
        .await
    {
        Ok(created) => created,
        Err(FramerError::Method { message, .. }) if message.contains("already exists") => {
            return Err(SyncFailure {
                code: "framer_collection_managed_elsewhere".into(),
                message: format!(
                    "the Framer collection \"{name}\" exists but is managed by another plugin or by hand; choose another \
                     collection name in the project settings, or delete or rename that collection in Framer"
                ),
                retryable: false,
                fault: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    created["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SyncFailure {
            code: "framer_unexpected_answer".into(),
            message: "Framer created the collection but did not return its id; the sync will retry"
                .into(),
            retryable: true,
            fault: None,
        })
}

fn list(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
}

/// Sets the collection's fields when they differ; returns whether the body field was added.
async fn ensure_fields(
    framer: &mut FramerSocket<'_>,
    collection_id: &str,
    wanted: &[FieldDef],
) -> Result<bool, SyncFailure> {
    let current = framer
        .call(Call::GetFields {
            collection_id: collection_id.to_owned(),
        })
        .await?;
    let current = cms::fields_from_wire(&current).unwrap_or_default();
    if current == wanted {
        return Ok(false);
    }
    let has_body = |fields: &[FieldDef]| fields.iter().any(|f| f.id == BODY_FIELD_ID);
    let fields = Value::Array(wanted.iter().map(FieldDef::to_wire).collect());
    framer
        .call(Call::SetFields {
            collection_id: collection_id.to_owned(),
            fields,
        })
        .await?;
    Ok(has_body(wanted) && !has_body(&current))
}

/// Fetches the bodies skipped because their rows were unchanged.
async fn fetch_pending_bodies(
    notion: &mut NotionClient,
    items: &mut [Item],
    candidates: &mut [Candidate],
) -> Result<(), SyncFailure> {
    for (item, candidate) in items.iter_mut().zip(candidates.iter_mut()) {
        if !candidate.body_pending {
            continue;
        }
        let blocks = notion.block_tree(&item.id).await?;
        let html = FieldValue::FormattedText(page_html::render_blocks(&blocks));
        item.field_data.insert(BODY_FIELD_ID.into(), html);
        candidate.body_pending = false;
    }
    Ok(())
}

async fn item_ids(
    framer: &mut FramerSocket<'_>,
    collection_id: &str,
) -> Result<BTreeSet<String>, SyncFailure> {
    let ids = framer
        .call(Call::GetItemIds {
            collection_id: collection_id.to_owned(),
        })
        .await?;
    Ok(list(&ids)
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect())
}

/// Records a batch Framer accepted: from now on D1 believes Framer holds these items.
async fn record_items(
    ctx: &AppContext,
    project_id: &str,
    batch: &[Outgoing],
) -> Result<(), SyncFailure> {
    let now = iso_from_ms(now_ms());
    let hashes: Vec<String> = batch.iter().map(|o| cms::content_hash(&o.item)).collect();
    let accepted: Vec<AcceptedItem> = batch
        .iter()
        .zip(&hashes)
        .map(|(o, hash)| AcceptedItem {
            page_id: &o.item.id,
            slug: &o.item.slug,
            slug_source: &o.slug_source,
            content_hash: hash,
            last_edited_time: &o.last_edited_time,
        })
        .collect();
    Ok(store::synced_items::record(&ctx.db, project_id, &accepted, &now).await?)
}

fn page_id(page: &Value) -> Option<String> {
    let raw = page.get("id")?.as_str()?;
    crate::notion::ids::normalize(raw).ok()
}
