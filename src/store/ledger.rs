//! `events`, in each project's Durable Object SQLite: the ledger of deliveries (the event id is
//! the dedupe), with a flag for rows already copied to D1's `webhook_events`.

use notion_framer_core::sync::ledger::EventRecord;
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

/// The oldest `limit` rows not yet copied to D1.
pub fn unflushed(sql: &SqlStorage, limit: i64) -> Result<Vec<EventRecord>> {
    sql.exec(
        "SELECT event_id, type AS kind, entity_id, attempt_number, relevant, received_at_ms \
         FROM events WHERE flushed = 0 ORDER BY received_at_ms LIMIT ?",
        vec![limit.into()],
    )?
    .to_array::<EventRecord>()
}

/// Marks rows as copied to D1.
pub fn mark_flushed(sql: &SqlStorage, chunk: &[EventRecord]) -> Result<()> {
    let ids = serde_json::to_string(&chunk.iter().map(|r| &r.event_id).collect::<Vec<_>>())?;
    sql.exec(
        "UPDATE events SET flushed = 1 WHERE event_id IN (SELECT value FROM json_each(?))",
        vec![ids.into()],
    )?;
    Ok(())
}

/// Drops copied rows received before `cutoff_ms`: past the retention a retry is not expected.
pub fn drop_flushed_before(sql: &SqlStorage, cutoff_ms: i64) -> Result<()> {
    sql.exec(
        "DELETE FROM events WHERE flushed = 1 AND received_at_ms < ?",
        vec![cutoff_ms.into()],
    )?;
    Ok(())
}
