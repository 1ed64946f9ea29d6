//! The project's Durable Object SQLite as the sync uses it: the record of what Framer holds
//! (kept across runs, read and written a row at a time), and the run in progress: the job's
//! checkpoint, the rows staged between Notion and Framer and Framer's item ids. A step loads at
//! most one batch of rows; everything else stays on disk.

use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::engine::failure::StepError;
use notion_framer_core::sync::engine::job::{Job, RowState, StagedRow, StoredAsset, StoredItem};
use notion_framer_core::sync::engine::ports::{
    Adoption, Legacy, RemovalCounts, RemovalSet, Staging,
};
use notion_framer_core::sync::engine::staging_sql::{self as q, state_name};
use notion_framer_core::sync::slug::Holder;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use worker::{SqlCursor, SqlStorage, SqlStorageValue};

/// The staging tables of one object.
pub struct SqlStaging {
    sql: SqlStorage,
    /// Rows written so far through this handle (SQLite's count, as Cloudflare bills them).
    rows_written: Cell<usize>,
    /// The setup row as last read or written: a checkpoint writes it again only when changed.
    setup_written: RefCell<Option<String>>,
}

fn fault(e: impl std::fmt::Display) -> StepError {
    ApiError::internal("object storage", e.to_string()).into()
}

impl SqlStaging {
    /// The tables, created when missing.
    pub fn open(sql: SqlStorage) -> Result<Self, StepError> {
        for statement in q::TABLES {
            sql.exec(statement, None).map_err(fault)?;
        }
        Ok(Self {
            sql,
            rows_written: Cell::new(0),
            setup_written: RefCell::new(None),
        })
    }

    fn all<T: DeserializeOwned>(
        &self,
        query: &str,
        args: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, StepError> {
        let cursor = self.sql.exec(query, Some(args)).map_err(fault)?;
        let rows = cursor.to_array::<T>().map_err(fault)?;
        self.count_written(&cursor);
        Ok(rows)
    }

    fn run(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<(), StepError> {
        let cursor = self.sql.exec(query, Some(args)).map_err(fault)?;
        // Consumed, so that its count of rows written is final.
        cursor.to_array::<serde_json::Value>().map_err(fault)?;
        self.count_written(&cursor);
        Ok(())
    }

    fn count_written(&self, cursor: &SqlCursor) {
        self.rows_written
            .set(self.rows_written.get() + cursor.rows_written());
    }

    /// Rows written through this handle so far.
    pub fn rows_written(&self) -> usize {
        self.rows_written.get()
    }

    /// The project now syncs another database: its record of items is about nothing any
    /// more, and nothing is left to adopt (the Worker drops D1's copy).
    pub fn clear_items(&self) -> Result<(), StepError> {
        self.run(q::CLEAR_ITEMS, vec![])?;
        self.run(q::CLEAR_RELATIONS, vec![])?;
        self.set_adoption(Legacy::Items, &Adoption::Done)
    }

    fn count(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<usize, StepError> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let rows = self.all::<Count>(query, args)?;
        Ok(rows
            .first()
            .map_or(0, |c| usize::try_from(c.n).unwrap_or(0)))
    }

    fn exists(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<bool, StepError> {
        #[derive(Deserialize)]
        struct One {
            #[allow(dead_code)]
            x: i64,
        }
        Ok(!self.all::<One>(query, args)?.is_empty())
    }
}

#[derive(Deserialize)]
struct Text {
    t: String,
}

fn parse<T: DeserializeOwned>(rows: Vec<Text>) -> Result<Vec<T>, StepError> {
    rows.into_iter()
        .map(|r| serde_json::from_str(&r.t).map_err(fault))
        .collect()
}

fn json(value: &impl serde::Serialize) -> Result<SqlStorageValue, StepError> {
    Ok(serde_json::to_string(value).map_err(fault)?.into())
}

impl Staging for SqlStaging {
    fn load_job(&self) -> Result<Option<Job>, StepError> {
        let Some(row) = self.all::<Text>(q::LOAD_JOB, vec![])?.pop() else {
            return Ok(None);
        };
        let setup = self.all::<Text>(q::LOAD_SETUP, vec![])?.pop().map(|r| r.t);
        let job = q::join_job(&row.t, setup.as_deref()).map_err(fault)?;
        *self.setup_written.borrow_mut() = setup;
        Ok(Some(job))
    }

    fn save_job(&self, job: &Job) -> Result<(), StepError> {
        let (row, setup) = q::split_job(job).map_err(fault)?;
        self.run(q::SAVE_JOB, vec![row.into()])?;
        if setup.is_some() && *self.setup_written.borrow() != setup {
            self.run(
                q::SAVE_SETUP,
                vec![setup.clone().unwrap_or_default().into()],
            )?;
            *self.setup_written.borrow_mut() = setup;
        }
        Ok(())
    }

    fn clear(&self) -> Result<(), StepError> {
        for statement in q::CLEAR {
            self.run(statement, vec![])?;
        }
        *self.setup_written.borrow_mut() = None;
        Ok(())
    }

    fn contains(&self, page_id: &str) -> Result<bool, StepError> {
        self.exists(q::CONTAINS, vec![page_id.into()])
    }

    fn put_rows(&self, rows: &[StagedRow]) -> Result<(), StepError> {
        for row in rows {
            let seq = i64::try_from(row.seq).unwrap_or(i64::MAX);
            self.run(
                q::PUT_ROW,
                vec![
                    row.page_id.clone().into(),
                    seq.into(),
                    state_name(row.state).into(),
                    row.slug.clone().into(),
                    json(row)?,
                ],
            )?;
        }
        Ok(())
    }

    fn rows_in(&self, state: RowState, limit: usize) -> Result<Vec<StagedRow>, StepError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        parse(self.all::<Text>(q::ROWS_IN, vec![state_name(state).into(), limit.into()])?)
    }

    fn count_in(&self, state: RowState) -> Result<usize, StepError> {
        self.count(q::COUNT_IN, vec![state_name(state).into()])
    }

    fn slug_holder(
        &self,
        slug: &str,
        page_id: &str,
        final_: bool,
    ) -> Result<Option<Holder>, StepError> {
        #[derive(Deserialize)]
        struct Held {
            x: i64,
        }
        let query = if final_ {
            q::SLUG_HOLDER_FINAL
        } else {
            q::SLUG_HOLDER_READING
        };
        let held = self.all::<Held>(query, vec![slug.into(), page_id.into()])?;
        Ok(held.first().and_then(|h| q::holder(h.x)))
    }

    fn record_items(&self, items: &[StoredItem]) -> Result<(), StepError> {
        for item in items {
            self.run(
                q::RECORD_ITEM,
                vec![
                    item.page_id.clone().into(),
                    item.slug.clone().into(),
                    json(item)?,
                ],
            )?;
        }
        Ok(())
    }

    fn stored(&self, page_id: &str) -> Result<Option<StoredItem>, StepError> {
        let rows = self.all::<Text>(q::STORED, vec![page_id.into()])?;
        Ok(parse(rows)?.pop())
    }

    fn forget_items(&self, page_ids: &[String]) -> Result<(), StepError> {
        for chunk in page_ids.chunks(500) {
            self.run(q::FORGET_ITEMS, vec![json(&chunk)?])?;
            self.run(q::FORGET_RELATIONS, vec![json(&chunk)?])?;
        }
        Ok(())
    }

    fn previous_relations(
        &self,
        page_ids: &[String],
    ) -> Result<Vec<(String, String, Vec<String>)>, StepError> {
        let mut found = Vec::new();
        for chunk in page_ids.chunks(500) {
            found.extend(parse(
                self.all::<Text>(q::PREVIOUS_RELATIONS, vec![json(&chunk)?])?,
            )?);
        }
        Ok(found)
    }

    fn remember_relations(
        &self,
        values: &[(String, String, Vec<String>)],
    ) -> Result<(), StepError> {
        for (page, field, ids) in values {
            self.run(
                q::REMEMBER_RELATION,
                vec![page.clone().into(), field.clone().into(), json(ids)?],
            )?;
        }
        Ok(())
    }

    fn item_count(&self) -> Result<usize, StepError> {
        self.count(q::COUNT_ITEMS, vec![])
    }

    fn assets(&self, keys: &[String]) -> Result<BTreeMap<String, String>, StepError> {
        #[derive(Deserialize)]
        struct Known {
            file_key: String,
            asset: String,
        }
        let mut known = BTreeMap::new();
        for chunk in keys.chunks(500) {
            for row in self.all::<Known>(q::ASSETS_AMONG, vec![json(&chunk)?])? {
                let asset: StoredAsset = serde_json::from_str(&row.asset).map_err(fault)?;
                known.insert(row.file_key, asset.url);
            }
        }
        Ok(known)
    }

    fn record_assets(&self, assets: &[StoredAsset]) -> Result<(), StepError> {
        for asset in assets {
            self.run(
                q::RECORD_ASSET,
                vec![asset.key.clone().into(), json(asset)?],
            )?;
        }
        Ok(())
    }

    fn adoption(&self, of: Legacy) -> Result<Adoption, StepError> {
        let rows = self.all::<Text>(q::META, vec![q::adoption_key(of).into()])?;
        Ok(parse(rows)?.pop().unwrap_or(Adoption::After(None)))
    }

    fn set_adoption(&self, of: Legacy, adoption: &Adoption) -> Result<(), StepError> {
        self.run(
            q::SET_META,
            vec![q::adoption_key(of).into(), json(adoption)?],
        )
    }

    fn put_framer_ids(&self, ids: &[String]) -> Result<(), StepError> {
        for chunk in ids.chunks(500) {
            self.run(q::PUT_FRAMER_IDS, vec![json(&chunk)?])?;
        }
        Ok(())
    }

    fn in_framer(&self, page_id: &str) -> Result<bool, StepError> {
        self.exists(q::IN_FRAMER, vec![page_id.into()])
    }

    fn removals(
        &self,
        full: bool,
        set: RemovalSet,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StepError> {
        #[derive(Deserialize)]
        struct Candidate {
            id: String,
            title: String,
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let args = vec![after.unwrap_or("").into(), limit.into()];
        Ok(self
            .all::<Candidate>(&q::removals(full, set), args)?
            .into_iter()
            .map(|c| (c.id, c.title))
            .collect())
    }

    fn removal_counts(&self, full: bool) -> Result<RemovalCounts, StepError> {
        #[derive(Deserialize)]
        struct Counts {
            known: i64,
            unreviewed: i64,
            held: i64,
            kept: i64,
        }
        let counts = self.all::<Counts>(&q::removal_counts(full), vec![])?;
        let count = |n: i64| usize::try_from(n).unwrap_or(0);
        Ok(counts
            .first()
            .map_or_else(RemovalCounts::default, |c| RemovalCounts {
                known: count(c.known),
                unreviewed: count(c.unreviewed),
                held: count(c.held),
                kept: count(c.kept),
            }))
    }

    fn put_reviewed(&self, reviewed: &[(String, bool)]) -> Result<(), StepError> {
        for chunk in reviewed.chunks(500) {
            let rows: Vec<(&str, i64)> = chunk
                .iter()
                .map(|(id, kept)| (id.as_str(), i64::from(*kept)))
                .collect();
            self.run(q::PUT_REVIEWED, vec![json(&rows)?])?;
        }
        Ok(())
    }

    fn held_among(&self, page_ids: &[String]) -> Result<BTreeSet<String>, StepError> {
        let mut held = BTreeSet::new();
        for chunk in page_ids.chunks(500) {
            let rows = self.all::<Text>(q::HELD_AMONG, vec![json(&chunk)?])?;
            held.extend(rows.into_iter().map(|r| r.t));
        }
        Ok(held)
    }

    fn reviewed_moot(&self, full: bool) -> Result<Vec<String>, StepError> {
        Ok(self
            .all::<Text>(q::reviewed_moot(full), vec![])?
            .into_iter()
            .map(|r| r.t)
            .collect())
    }
}
