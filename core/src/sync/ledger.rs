//! The per-project ledger of webhook deliveries, kept by the project's Durable Object: one row
//! per event id, so a retried delivery is recognised there (and never queues a second sync).
//! D1 gets the dashboard's counters only, a numbered tally per batch of rows: the deliveries
//! themselves grow with traffic and would fill the shared database (286 KiB per 1,000 events
//! when they were copied), while each object has room of its own.

use crate::notion::event::Event;
use crate::util::time::iso_from_ms;
use serde::{Deserialize, Serialize};

/// How long the object remembers an event id. Notion retries a delivery for about 24 hours;
/// twice that leaves room for clock skew and slow retries.
pub const RETENTION_MS: i64 = 48 * 3_600_000;

/// The background tally to D1 waits this long first, so under a burst one round trip carries
/// many events (the counters on the dashboard lag by about this much).
pub const FLUSH_DELAY_MS: u64 = 1_000;

/// Rows counted per tally (one D1 round trip each).
pub const FLUSH_CHUNK: usize = 100;

/// When the tally to D1 cannot run right away (or failed), the object's alarm retries it this
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

/// What one batch of ledger rows adds to the webhook's counters in D1. Tallies are numbered
/// per object, one more each time: D1 applies one only when its number is above the last it
/// applied, so a tally sent twice (a retry after a lost reply, the alarm's backstop racing the
/// background one, a late duplicate) counts once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub seq: i64,
    pub event_ids: Vec<String>,
    pub received: usize,
    pub ignored: usize,
    pub latest_received_at_ms: i64,
}

impl Tally {
    /// The tally numbered `seq` of these rows; `None` when there are none.
    pub fn of(seq: i64, rows: &[EventRecord]) -> Option<Self> {
        let latest_received_at_ms = rows.iter().map(|r| r.received_at_ms).max()?;
        Some(Self {
            seq,
            event_ids: rows.iter().map(|r| r.event_id.clone()).collect(),
            received: rows.len(),
            ignored: rows.iter().filter(|r| !r.relevant).count(),
            latest_received_at_ms,
        })
    }

    /// The webhook's "last event" column.
    pub fn latest_received_at(&self) -> String {
        iso_from_ms(self.latest_received_at_ms)
    }
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
        assert!(r.relevant);
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
    fn a_tally_counts_its_rows_the_ignored_ones_and_the_latest_receipt() {
        let relevant = event(r#"{"id":"a","type":"page.created"}"#);
        let other = event(r#"{"id":"b","type":"comment.created"}"#);
        let rows = [
            EventRecord::new(&relevant, true, 2_000),
            EventRecord::new(&other, false, 9_000),
            EventRecord::new(&other, false, 5_000),
        ];
        let tally = Tally::of(7, &rows).unwrap();
        assert_eq!(tally.seq, 7);
        assert_eq!(tally.event_ids, ["a", "b", "b"]);
        assert_eq!((tally.received, tally.ignored), (3, 2));
        assert_eq!(tally.latest_received_at(), "1970-01-01T00:00:09.000Z");
        assert_eq!(Tally::of(8, &[]), None);
    }
}
