//! `events`, in each project's Durable Object SQLite: the ledger of deliveries (the event id is
//! the dedupe), with a flag for rows already counted in D1 (`flushed`); and `ledger_tally`: the
//! number of the last tally and the one on its way to D1, if any.

use notion_framer_core::sync::ledger::{EventRecord, Tally};
use worker::{Result, SqlStorage, SqlStorageValue};

/// Creates the table and its index when missing.
pub fn create(sql: &SqlStorage) -> Result<()> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, \
         entity_id TEXT, relevant INTEGER NOT NULL, attempt_number INTEGER, \
         received_at_ms INTEGER NOT NULL, flushed INTEGER NOT NULL DEFAULT 0)",
        None,
    )?;
    sql.exec(
        "CREATE INDEX IF NOT EXISTS events_unflushed ON events (flushed, received_at_ms)",
        None,
    )?;
    sql.exec(
        "CREATE TABLE IF NOT EXISTS ledger_tally (id INTEGER PRIMARY KEY CHECK (id = 1), \
         seq INTEGER NOT NULL, pending TEXT)",
        None,
    )?;
    Ok(())
}

/// The tally sent to D1 without an answer yet (it is sent again as it is).
pub fn pending_tally(sql: &SqlStorage) -> Result<Option<Tally>> {
    #[derive(serde::Deserialize)]
    struct Row {
        pending: Option<String>,
    }
    let rows = sql
        .exec("SELECT pending FROM ledger_tally WHERE id = 1", None)?
        .to_array::<Row>()?;
    match rows.into_iter().next().and_then(|r| r.pending) {
        Some(text) => Ok(Some(serde_json::from_str(&text)?)),
        None => Ok(None),
    }
}

/// The next tally: the oldest `limit` rows not counted yet, numbered one above the last tally,
/// stored as pending before it is sent. Synchronous from the read to the write, so two flushes
/// never number the same rows twice.
pub fn begin_tally(sql: &SqlStorage, limit: i64) -> Result<Option<Tally>> {
    #[derive(serde::Deserialize)]
    struct Row {
        seq: i64,
    }
    let rows = unflushed(sql, limit)?;
    let last = sql
        .exec("SELECT seq FROM ledger_tally WHERE id = 1", None)?
        .to_array::<Row>()?
        .first()
        .map_or(0, |r| r.seq);
    let Some(tally) = Tally::of(last + 1, &rows) else {
        return Ok(None);
    };
    sql.exec(
        "INSERT INTO ledger_tally (id, seq, pending) VALUES (1, ?, ?) \
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, pending = excluded.pending",
        vec![tally.seq.into(), serde_json::to_string(&tally)?.into()],
    )?;
    Ok(Some(tally))
}

/// D1 counted the tally: its rows are flushed, and it is no longer pending (unless a newer one
/// took its place meanwhile).
pub fn end_tally(sql: &SqlStorage, tally: &Tally) -> Result<()> {
    let ids = serde_json::to_string(&tally.event_ids)?;
    sql.exec(
        "UPDATE events SET flushed = 1 WHERE event_id IN (SELECT value FROM json_each(?))",
        vec![ids.into()],
    )?;
    sql.exec(
        "UPDATE ledger_tally SET pending = NULL WHERE id = 1 AND seq = ?",
        vec![tally.seq.into()],
    )?;
    Ok(())
}

/// Stores the delivery; false when its event id is already there (a retry).
pub fn remember(sql: &SqlStorage, record: &EventRecord) -> Result<bool> {
    let inserted = sql
        .exec(
            "INSERT OR IGNORE INTO events (event_id, type, entity_id, relevant, attempt_number, received_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING event_id",
            vec![
                record.event_id.clone().into(),
                record.kind.clone().into(),
                record.entity_id.clone().map_or(SqlStorageValue::Null, Into::into),
                i64::from(record.relevant).into(),
                record.attempt_number.map_or(SqlStorageValue::Null, |n| i64::from(n).into()),
                record.received_at_ms.into(),
            ],
        )?
        .raw()
        .collect::<Result<Vec<_>>>()?;
    Ok(inserted.len() == 1)
}

pub fn has_unflushed(sql: &SqlStorage) -> Result<bool> {
    let rows = sql
        .exec("SELECT 1 AS x FROM events WHERE flushed = 0 LIMIT 1", None)?
        .to_array::<serde_json::Value>()?;
    Ok(!rows.is_empty())
}

/// The oldest `limit` rows not counted in D1 yet.
fn unflushed(sql: &SqlStorage, limit: i64) -> Result<Vec<EventRecord>> {
    sql.exec(
        "SELECT event_id, type AS kind, entity_id, attempt_number, relevant, received_at_ms \
         FROM events WHERE flushed = 0 ORDER BY received_at_ms LIMIT ?",
        vec![limit.into()],
    )?
    .to_array::<EventRecord>()
}

/// Drops counted rows received before `cutoff_ms`: past the retention a retry is not expected.
pub fn drop_flushed_before(sql: &SqlStorage, cutoff_ms: i64) -> Result<()> {
    sql.exec(
        "DELETE FROM events WHERE flushed = 1 AND received_at_ms < ?",
        vec![cutoff_ms.into()],
    )?;
    Ok(())
}
