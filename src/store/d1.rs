//! The generic D1 helpers every table module uses: bind, read rows, write, and run a batch
//! atomically. A D1 failure becomes an internal error whose detail names the step that failed.
//! Every D1 query goes through them, on a [`Db`], which counts the rows they wrote.

use crate::fault;
use notion_framer_core::api::error::ApiError;
use serde::de::DeserializeOwned;
use std::cell::Cell;
use worker::{D1Database, D1PreparedStatement, D1Result, D1Type};

/// The D1 binding and the rows written through this handle (D1's `meta.rows_written` of each
/// answer: what D1 bills, indexes included). Each invocation makes its own handle
/// (`AppContext::new`), so a sync step's line counts that invocation's writes and never a
/// concurrent request's. The binding is reachable only through this module's functions, so
/// no query escapes the count.
pub struct Db {
    binding: D1Database,
    rows_written: Cell<usize>,
}

impl Db {
    pub fn new(binding: D1Database) -> Self {
        Self {
            binding,
            rows_written: Cell::new(0),
        }
    }

    /// Rows D1 reported written by the queries made through this handle so far.
    pub fn rows_written(&self) -> usize {
        self.rows_written.get()
    }

    fn count(&self, result: &D1Result) {
        let written = result
            .meta()
            .ok()
            .flatten()
            .and_then(|m| m.rows_written)
            .unwrap_or(0);
        self.rows_written.set(self.rows_written.get() + written);
    }
}

pub fn stmt(db: &Db, sql: &str, args: &[D1Type<'_>]) -> Result<D1PreparedStatement, ApiError> {
    db.binding
        .prepare(sql)
        .bind_refs(args)
        .map_err(failed("d1 bind"))
}

pub async fn all<T: DeserializeOwned>(
    db: &Db,
    sql: &str,
    args: &[D1Type<'_>],
) -> Result<Vec<T>, ApiError> {
    let result = stmt(db, sql, args)?
        .all()
        .await
        .map_err(failed("d1 query"))?;
    db.count(&result);
    result.results::<T>().map_err(failed("d1 decode"))
}

/// The first row. Asked with `all()`, whose answer carries the meta that D1's `first()` drops
/// (D1 runs the same statement and sends every row either way: `first()` adds no `LIMIT`).
pub async fn first<T: DeserializeOwned>(
    db: &Db,
    sql: &str,
    args: &[D1Type<'_>],
) -> Result<Option<T>, ApiError> {
    Ok(all::<T>(db, sql, args).await?.into_iter().next())
}

/// Runs a write and returns how many rows it changed.
pub async fn run(db: &Db, sql: &str, args: &[D1Type<'_>]) -> Result<usize, ApiError> {
    let result = stmt(db, sql, args)?
        .run()
        .await
        .map_err(failed("d1 write"))?;
    db.count(&result);
    Ok(result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0))
}

/// Page ids bound per statement (as one JSON parameter).
const PAGE_IDS_PER_STATEMENT: usize = 500;

/// `DELETE FROM <table>` of the project's rows for these page ids, 500 ids per statement.
/// `table` is one of the store's literals, never input.
pub fn delete_pages(
    db: &Db,
    table: &'static str,
    project_id: &str,
    page_ids: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let sql = format!(
        "DELETE FROM {table} WHERE project_id = ?1 AND page_id IN (SELECT value FROM json_each(?2))"
    );
    page_ids
        .chunks(PAGE_IDS_PER_STATEMENT)
        .map(|chunk| {
            let ids = serde_json::to_string(chunk)?;
            stmt(db, &sql, &[D1Type::Text(project_id), D1Type::Text(&ids)])
        })
        .collect()
}

/// Runs statements atomically (D1 batches are transactions).
pub async fn batch(db: &Db, statements: Vec<D1PreparedStatement>) -> Result<(), ApiError> {
    batch_results(db, statements).await?;
    Ok(())
}

/// Runs statements atomically and returns each one's result (rows and meta), in order.
pub async fn batch_results(
    db: &Db,
    statements: Vec<D1PreparedStatement>,
) -> Result<Vec<D1Result>, ApiError> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let results = db
        .binding
        .batch(statements)
        .await
        .map_err(failed("d1 batch"))?;
    for result in &results {
        db.count(result);
    }
    Ok(results)
}

/// The rows of one result of [`batch_results`].
pub fn rows<T: DeserializeOwned>(result: &D1Result) -> Result<Vec<T>, ApiError> {
    result.results::<T>().map_err(failed("d1 decode"))
}

/// A bounded delete for the retention: the rows that `select` (`SELECT rowid FROM <table> ...`
/// ending in `LIMIT ?n`, its last parameter) names, at most `limit` of them.
pub fn delete_selected(
    db: &Db,
    table: &str,
    select: &str,
    mut args: Vec<D1Type<'_>>,
    limit: usize,
) -> Result<D1PreparedStatement, ApiError> {
    args.push(int(limit));
    stmt(
        db,
        &format!("DELETE FROM {table} WHERE rowid IN ({select})"),
        &args,
    )
}

/// `more` = 1 when `select` (as for [`delete_selected`]) still names a row.
pub fn any_selected(
    db: &Db,
    select: &str,
    mut args: Vec<D1Type<'_>>,
) -> Result<D1PreparedStatement, ApiError> {
    args.push(int(1));
    stmt(db, &format!("SELECT EXISTS ({select}) AS more"), &args)
}

/// A D1 failure as an internal error whose detail names the step (`origin`).
fn failed(origin: &'static str) -> impl Fn(worker::Error) -> ApiError {
    move |e| ApiError::internal(origin, fault::detail(&e))
}

/// Text of an optional value for binding: `NULL` when absent.
pub fn opt(value: Option<&str>) -> D1Type<'_> {
    value.map_or(D1Type::Null, D1Type::Text)
}

/// A count or flag for binding; counts past `i32::MAX` are stored as `i32::MAX`.
pub fn int(value: usize) -> D1Type<'static> {
    D1Type::Integer(i32::try_from(value).unwrap_or(i32::MAX))
}

/// Milliseconds since the epoch for binding: a JS number holds them exactly (D1 has no BigInt).
pub fn ms(value: i64) -> D1Type<'static> {
    #[allow(clippy::cast_precision_loss)]
    D1Type::Real(value as f64)
}
