//! Retention of the D1 history, so storage grows with the work in flight rather than with the
//! age of the deployment: webhook deliveries are kept `EVENT_HISTORY_DAYS`, sync runs
//! `SYNC_HISTORY_DAYS` (each project always keeps its last [`KEEP_LAST_RUNS`] runs, so a quiet
//! project keeps its history), verification tokens until they expire.
//!
//! The cron prunes in rounds: one round is one D1 batch with one bounded `DELETE` per table that
//! still has rows to remove, and a run stops after [`MAX_ROUNDS`]. One cron run therefore makes
//! at most `MAX_ROUNDS` D1 calls and deletes at most `MAX_ROUNDS` × [`Table::batch_rows`] rows
//! of each table, whatever the backlog; the rest waits for the next run. The counters on the
//! `webhooks` row are totals kept apart from these rows and are never recomputed from them.

use crate::util::settings::Settings;
use crate::util::time::iso_from_ms;
use serde::Serialize;
use serde_json::{json, Map, Value};

const DAY_MS: i64 = 86_400_000;

/// Runs each project keeps whatever their age.
pub const KEEP_LAST_RUNS: u32 = 100;

/// D1 batches one pruning pass may send at most (a cron run gives it `cron::RETENTION_ROUNDS`).
pub const MAX_ROUNDS: u32 = 10;

/// What the cron prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    WebhookEvents,
    SyncRuns,
    PendingVerifications,
}

impl Table {
    pub const ALL: [Table; 3] = [
        Table::WebhookEvents,
        Table::SyncRuns,
        Table::PendingVerifications,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::WebhookEvents => "webhook_events",
            Table::SyncRuns => "sync_runs",
            Table::PendingVerifications => "pending_verifications",
        }
    }

    /// The most rows one `DELETE` removes. At the cron's share of rounds
    /// (`cron::RETENTION_ROUNDS`, 4) a 15-minute cron keeps up with 768,000 events and 192,000
    /// runs a day (`MAX_ROUNDS`, 10, for a run with more to spend: 1.9 million and 480,000),
    /// while one statement holds the database's write lock for milliseconds, not seconds.
    pub fn batch_rows(self) -> u32 {
        match self {
            Table::WebhookEvents => 2_000,
            Table::SyncRuns => 500,
            Table::PendingVerifications => 100,
        }
    }

    fn index(self) -> usize {
        match self {
            Table::WebhookEvents => 0,
            Table::SyncRuns => 1,
            Table::PendingVerifications => 2,
        }
    }
}

/// How far back the history goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub event_history_days: u32,
    pub sync_history_days: u32,
}

impl From<&Settings> for Policy {
    fn from(settings: &Settings) -> Self {
        Self {
            event_history_days: settings.event_history_days,
            sync_history_days: settings.sync_history_days,
        }
    }
}

/// The timestamps older rows are removed before, in the `iso_from_ms` form the rows store (so
/// text order is time order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoffs {
    /// `webhook_events.received_at` before this goes.
    pub events_before: String,
    /// `sync_runs.started_at` before this goes, unless the run is one of its project's last.
    pub runs_before: String,
    /// `pending_verifications.expires_at` before this goes.
    pub expired_before: String,
}

impl Policy {
    pub fn cutoffs(&self, now_ms: i64) -> Cutoffs {
        Cutoffs {
            events_before: iso_from_ms(now_ms - i64::from(self.event_history_days) * DAY_MS),
            runs_before: iso_from_ms(now_ms - i64::from(self.sync_history_days) * DAY_MS),
            expired_before: iso_from_ms(now_ms),
        }
    }

    /// How far back a project's history goes, as the project document shows it.
    pub fn project_view(&self) -> Value {
        json!({
            "event_history_days": self.event_history_days,
            "sync_history_days": self.sync_history_days,
            "keeps_last_runs": KEEP_LAST_RUNS,
        })
    }

    /// How far back the sync history goes, as a page of it shows it.
    pub fn history_view(&self) -> Value {
        json!({
            "sync_history_days": self.sync_history_days,
            "keeps_last_runs": KEEP_LAST_RUNS,
        })
    }
}

/// One round of a cron run: a `DELETE` for each of `tables`, and, in the last round the run may
/// make, a check for each of whether rows past the retention remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub tables: Vec<Table>,
    pub probe: bool,
}

/// What one round did: rows each table's `DELETE` removed and, when probed, whether more
/// remain (both in the order of the round's tables), and what D1 says the batch cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundResult {
    pub removed: Vec<u64>,
    pub more_left: Option<Vec<bool>>,
    pub rows_read: u64,
    pub rows_written: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Rows may remain: the table's last `DELETE` filled its batch (or none ran yet).
    Open,
    /// Nothing past the retention is left.
    Clear,
    /// The run's budget is spent and rows remain for the next run.
    Backlog,
}

/// One cron run's pruning: which round comes next, and the totals for its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// The rounds this run may make (at most [`MAX_ROUNDS`]).
    max_rounds: u32,
    rounds: u32,
    removed: [u64; 3],
    progress: [Progress; 3],
    rows_read: u64,
    rows_written: u64,
}

impl Default for Pass {
    fn default() -> Self {
        Self {
            max_rounds: MAX_ROUNDS,
            rounds: 0,
            removed: [0; 3],
            progress: [Progress::Open; 3],
            rows_read: 0,
            rows_written: 0,
        }
    }
}

impl Pass {
    /// A pass of at most `max_rounds` rounds (at least one, at most [`MAX_ROUNDS`]): what the
    /// cron run's budget leaves for pruning.
    pub fn limited(max_rounds: u32) -> Self {
        Self {
            max_rounds: max_rounds.clamp(1, MAX_ROUNDS),
            ..Self::default()
        }
    }

    /// The next round, or `None` when every table is clear or the budget is spent.
    pub fn next_round(&self) -> Option<Round> {
        if self.rounds >= self.max_rounds {
            return None;
        }
        let tables: Vec<Table> = Table::ALL
            .into_iter()
            .filter(|t| self.progress[t.index()] == Progress::Open)
            .collect();
        (!tables.is_empty()).then(|| Round {
            tables,
            probe: self.rounds + 1 == self.max_rounds,
        })
    }

    /// Takes in what `round` did. A `DELETE` that removed less than its batch left nothing
    /// behind (it selects every row past the retention, oldest first, up to the batch).
    pub fn record(&mut self, round: &Round, result: &RoundResult) {
        self.rounds += 1;
        self.rows_read += result.rows_read;
        self.rows_written += result.rows_written;
        for (i, table) in round.tables.iter().enumerate() {
            let removed = result.removed.get(i).copied().unwrap_or(0);
            self.removed[table.index()] += removed;
            let more = match &result.more_left {
                Some(probed) => probed.get(i).copied().unwrap_or(true),
                None => removed >= u64::from(table.batch_rows()),
            };
            self.progress[table.index()] = match (more, round.probe) {
                (false, _) => Progress::Clear,
                (true, true) => Progress::Backlog,
                (true, false) => Progress::Open,
            };
        }
    }

    pub fn removed(&self, table: Table) -> u64 {
        self.removed[table.index()]
    }

    /// Whether rows past the retention remain for a later run (true as well for a table the
    /// run could not finish checking, e.g. after a failed D1 call).
    pub fn more_left(&self, table: Table) -> bool {
        self.progress[table.index()] != Progress::Clear
    }

    /// The run's one log line: rows removed and whether more is left, per table.
    pub fn log_line(&self, duration_ms: u64, error_code: Option<&str>) -> String {
        let per_table = |f: &dyn Fn(Table) -> Value| -> Map<String, Value> {
            Table::ALL
                .into_iter()
                .map(|t| (t.name().to_owned(), f(t)))
                .collect()
        };
        let line = LogLine {
            kind: "retention",
            removed: per_table(&|t| json!(self.removed(t))),
            more_left: per_table(&|t| json!(self.more_left(t))),
            d1_calls: self.rounds,
            rows_read: self.rows_read,
            rows_written: self.rows_written,
            duration_ms,
            error_code,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// Field order is the order in the log: `kind` first, like every other line the Worker writes.
#[derive(Serialize)]
struct LogLine<'a> {
    kind: &'static str,
    removed: Map<String, Value>,
    more_left: Map<String, Value>,
    d1_calls: u32,
    rows_read: u64,
    rows_written: u64,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::ms_from_iso;
    use proptest::prelude::*;

    const POLICY: Policy = Policy {
        event_history_days: 30,
        sync_history_days: 90,
    };

    fn full(table: Table) -> u64 {
        u64::from(table.batch_rows())
    }

    /// Runs a pass against tables holding `backlog` rows past the retention.
    fn drain(backlog: [u64; 3]) -> (Pass, Vec<Round>) {
        let mut left = backlog;
        let mut pass = Pass::default();
        let mut rounds = Vec::new();
        while let Some(round) = pass.next_round() {
            let removed: Vec<u64> = round
                .tables
                .iter()
                .map(|t| {
                    let n = left[t.index()].min(full(*t));
                    left[t.index()] -= n;
                    n
                })
                .collect();
            let more_left = round
                .probe
                .then(|| round.tables.iter().map(|t| left[t.index()] > 0).collect());
            pass.record(
                &round,
                &RoundResult {
                    removed,
                    more_left,
                    rows_read: 1,
                    rows_written: 2,
                },
            );
            rounds.push(round);
        }
        (pass, rounds)
    }

    #[test]
    fn cutoffs_are_the_retention_before_now() {
        let now = ms_from_iso("2026-05-31T12:00:00.000Z").unwrap();
        let c = POLICY.cutoffs(now);
        assert_eq!(c.events_before, "2026-05-01T12:00:00.000Z");
        assert_eq!(c.runs_before, "2026-03-02T12:00:00.000Z");
        assert_eq!(c.expired_before, "2026-05-31T12:00:00.000Z");
    }

    #[test]
    fn the_policy_from_settings_and_as_the_api_shows_it() {
        let settings =
            Settings::from_lookup(|name| (name == "SYNC_HISTORY_DAYS").then(|| "14".to_owned()))
                .unwrap();
        let policy = Policy::from(&settings);
        assert_eq!(
            policy,
            Policy {
                event_history_days: 30,
                sync_history_days: 14
            }
        );
        assert_eq!(
            policy.project_view(),
            json!({"event_history_days": 30, "sync_history_days": 14, "keeps_last_runs": 100})
        );
        assert_eq!(
            policy.history_view(),
            json!({"sync_history_days": 14, "keeps_last_runs": 100})
        );
    }

    #[test]
    fn nothing_to_remove_takes_one_round() {
        let (pass, rounds) = drain([0, 0, 0]);
        assert_eq!(rounds.len(), 1);
        assert_eq!(rounds[0].tables, Table::ALL.to_vec());
        assert!(!rounds[0].probe);
        assert!(Table::ALL.into_iter().all(|t| !pass.more_left(t)));
    }

    #[test]
    fn a_full_batch_asks_for_another_round_of_that_table_only() {
        let (pass, rounds) = drain([full(Table::WebhookEvents) + 1, 3, 0]);
        assert_eq!(rounds.len(), 2);
        assert_eq!(rounds[1].tables, vec![Table::WebhookEvents]);
        assert_eq!(pass.removed(Table::WebhookEvents), 2_001);
        assert_eq!(pass.removed(Table::SyncRuns), 3);
        assert!(!pass.more_left(Table::WebhookEvents));
    }

    #[test]
    fn a_backlog_past_the_budget_is_left_for_the_next_run_and_said_so() {
        let budget = u64::from(MAX_ROUNDS) * full(Table::WebhookEvents);
        let (pass, rounds) = drain([budget + 5, 0, 0]);
        assert_eq!(rounds.len(), MAX_ROUNDS as usize);
        assert!(rounds.last().unwrap().probe);
        assert!(rounds[..rounds.len() - 1].iter().all(|r| !r.probe));
        assert_eq!(pass.removed(Table::WebhookEvents), budget);
        assert!(pass.more_left(Table::WebhookEvents));
        assert!(!pass.more_left(Table::SyncRuns));
        // Exactly the budget: the last round's check says nothing is left.
        let (exact, _) = drain([budget, 0, 0]);
        assert!(!exact.more_left(Table::WebhookEvents));
    }

    #[test]
    fn a_failed_round_leaves_the_unchecked_tables_open() {
        let mut pass = Pass::default();
        let round = pass.next_round().unwrap();
        pass.record(
            &round,
            &RoundResult {
                removed: vec![full(Table::WebhookEvents), 0, 0],
                ..RoundResult::default()
            },
        );
        // The next round's D1 call fails: the run stops here.
        assert!(pass.more_left(Table::WebhookEvents));
        assert!(!pass.more_left(Table::SyncRuns));
        let line: Value = serde_json::from_str(&pass.log_line(12, Some("internal"))).unwrap();
        assert_eq!(line["error_code"], "internal");
        assert_eq!(line["more_left"]["webhook_events"], true);
    }

    #[test]
    fn the_log_line_counts_rows_per_table_and_d1_calls() {
        let (pass, _) = drain([2_500, 501, 7]);
        let text = pass.log_line(40, None);
        assert!(text.starts_with(r#"{"kind":"retention","#), "{text}");
        let line: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            line,
            json!({
                "kind": "retention",
                "removed": {"webhook_events": 2_500, "sync_runs": 501, "pending_verifications": 7},
                "more_left": {"webhook_events": false, "sync_runs": false, "pending_verifications": false},
                "d1_calls": 2, "rows_read": 2, "rows_written": 4, "duration_ms": 40,
            })
        );
    }

    #[test]
    fn a_limited_pass_makes_at_most_its_rounds_and_probes_in_its_last() {
        let mut pass = Pass::limited(2);
        let mut rounds = 0;
        while let Some(round) = pass.next_round() {
            rounds += 1;
            assert_eq!(round.probe, rounds == 2);
            let removed = round.tables.iter().map(|t| full(*t)).collect();
            let more_left = round.probe.then(|| vec![true; round.tables.len()]);
            pass.record(
                &round,
                &RoundResult {
                    removed,
                    more_left,
                    ..RoundResult::default()
                },
            );
        }
        assert_eq!(rounds, 2);
        assert!(pass.more_left(Table::WebhookEvents));
        assert_eq!(Pass::limited(0).max_rounds, 1);
        assert_eq!(Pass::limited(99).max_rounds, MAX_ROUNDS);
    }

    proptest! {
        /// Whatever the backlog: at most MAX_ROUNDS D1 calls and one batch per table per
        /// call, nothing removed that was not there, and everything removed when it fits.
        #[test]
        fn one_run_is_bounded_whatever_the_backlog(
            events in 0u64..40_000, runs in 0u64..8_000, pending in 0u64..1_500
        ) {
            let backlog = [events, runs, pending];
            let (pass, rounds) = drain(backlog);
            prop_assert!(rounds.len() <= MAX_ROUNDS as usize);
            for table in Table::ALL {
                let budget = u64::from(MAX_ROUNDS) * full(table);
                let expected = backlog[table.index()].min(budget);
                prop_assert_eq!(pass.removed(table), expected);
                prop_assert_eq!(pass.more_left(table), backlog[table.index()] > budget);
            }
        }
    }
}
