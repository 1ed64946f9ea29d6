//! The per-project ledger of webhook deliveries, kept by the project's Durable Object: one row
//! per event id, so a retried delivery is recognised there (and never queues a second sync),
//! and copied to D1 in batches for the dashboard's counters and history.

use crate::notion::event::Event;
use crate::util::time::iso_from_ms;
use serde::{Deserialize, Serialize};

/// How long the object remembers an event id. Notion retries a delivery for about 24 hours;
/// twice that leaves room for clock skew and slow retries.
pub const RETENTION_MS: i64 = 48 * 3_600_000;

/// The background copy to D1 waits this long first, so under a burst one round trip carries
/// many events (the counters on the dashboard lag by about this much).
pub const FLUSH_DELAY_MS: u64 = 1_000;

/// Rows copied to D1 per round trip.
pub const FLUSH_CHUNK: usize = 100;

/// When the copy to D1 cannot run right away (or failed), the object's alarm retries it this
/// long after.
pub const FLUSH_RETRY_MS: i64 = 30_000;

/// One authentic delivery, as the object stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event_id: String,
    pub kind: String,
    pub entity_id: Option<String>,
    pub attempt_number: Option<u32>,
    /// The event concerns the project's database (whether or not a sync is queued for it).
    /// SQLite hands it back as 0/1.
    #[serde(deserialize_with = "bool_or_int")]
    pub relevant: bool,
    pub received_at_ms: i64,
}

impl EventRecord {
    pub fn new(event: &Event, relevant: bool, received_at_ms: i64) -> Self {
        Self {
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            entity_id: event.entity.as_ref().map(|e| e.id.clone()),
            attempt_number: event.attempt_number,
            relevant,
            received_at_ms,
        }
    }
}

fn bool_or_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Int(n) => n != 0,
    })
}

/// What the webhook answers for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// This event id was seen before: a retry, acknowledged and not acted on again.
    Duplicate,
    /// Relevant, and a sync is pending for it.
    Queued,
    /// Relevant, but auto-sync is off (or not in the plan): counted only.
    AutoSyncOff,
    /// Not about the project's database, or a type the sync does not act on: counted only.
    Ignored,
}

impl Outcome {
    pub fn decide(first_delivery: bool, relevant: bool, auto_sync: bool) -> Self {
        match (first_delivery, relevant, auto_sync) {
            (false, _, _) => Self::Duplicate,
            (true, true, true) => Self::Queued,
            (true, true, false) => Self::AutoSyncOff,
            (true, false, _) => Self::Ignored,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Queued => "queued",
            Self::AutoSyncOff => "auto_sync_off",
            Self::Ignored => "ignored",
        }
    }
}

/// A D1 row of `webhook_events`, as JSON for one `json_each` insert of a whole chunk.
#[derive(Serialize)]
struct D1Row<'a> {
    event_id: &'a str,
    kind: &'a str,
    entity_id: Option<&'a str>,
    attempt_number: Option<u32>,
    relevant: bool,
    received_at: String,
}

/// The chunk as the JSON array the D1 insert reads with `json_each`.
pub fn d1_rows_json(records: &[EventRecord]) -> String {
    let rows: Vec<D1Row<'_>> = records
        .iter()
        .map(|r| D1Row {
            event_id: &r.event_id,
            kind: &r.kind,
            entity_id: r.entity_id.as_deref(),
            attempt_number: r.attempt_number,
            relevant: r.relevant,
            received_at: iso_from_ms(r.received_at_ms),
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
}

/// The latest receipt time in a chunk, for the webhook's "last event" column.
pub fn latest_received_at(records: &[EventRecord]) -> Option<String> {
    records
        .iter()
        .map(|r| r.received_at_ms)
        .max()
        .map(iso_from_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn outcome_follows_first_delivery_relevance_and_auto_sync() {
        assert_eq!(Outcome::decide(false, true, true), Outcome::Duplicate);
        assert_eq!(Outcome::decide(false, false, false), Outcome::Duplicate);
        assert_eq!(Outcome::decide(true, true, true), Outcome::Queued);
        assert_eq!(Outcome::decide(true, true, false), Outcome::AutoSyncOff);
        assert_eq!(Outcome::decide(true, false, true), Outcome::Ignored);
        assert_eq!(Outcome::decide(true, false, false), Outcome::Ignored);
        assert_eq!(Outcome::AutoSyncOff.as_str(), "auto_sync_off");
    }

    #[test]
    fn records_keep_what_the_dashboard_shows() {
        let e = event(
            r#"{"id":"ev-1","type":"page.created","attempt_number":3,"entity":{"id":"pg-1","type":"page"}}"#,
        );
        let r = EventRecord::new(&e, true, 1_733_443_025_379);
        assert_eq!(r.event_id, "ev-1");
        assert_eq!(r.kind, "page.created");
        assert_eq!(r.entity_id.as_deref(), Some("pg-1"));
        assert_eq!(r.attempt_number, Some(3));
        let json: serde_json::Value = serde_json::from_str(&d1_rows_json(&[r])).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "event_id": "ev-1", "kind": "page.created", "entity_id": "pg-1",
                "attempt_number": 3, "relevant": true, "received_at": "2024-12-05T23:57:05.379Z"
            }])
        );
    }

    #[test]
    fn a_stored_row_reads_back_with_relevance_as_0_or_1() {
        let row = r#"{"event_id":"a","kind":"page.created","entity_id":null,"attempt_number":null,"relevant":1,"received_at_ms":5}"#;
        let record: EventRecord = serde_json::from_str(row).unwrap();
        assert!(record.relevant);
        let record: EventRecord =
            serde_json::from_str(&row.replace(r#""relevant":1"#, r#""relevant":0"#)).unwrap();
        assert!(!record.relevant);
        let record: EventRecord =
            serde_json::from_str(&row.replace(r#""relevant":1"#, r#""relevant":true"#)).unwrap();
        assert!(record.relevant);
    }

    #[test]
    fn latest_receipt_of_a_chunk() {
        let e = event(r#"{"id":"a","type":"comment.created"}"#);
        let chunk = [
            EventRecord::new(&e, false, 2_000),
            EventRecord::new(&e, false, 9_000),
            EventRecord::new(&e, false, 5_000),
        ];
        assert_eq!(
            latest_received_at(&chunk).as_deref(),
            Some("1970-01-01T00:00:09.000Z")
        );
        assert_eq!(latest_received_at(&[]), None);
    }
}
