//! The per-database debounce: what is pending and when the alarm should fire.
//!
//! Every event pushes the alarm to `now + debounce`, but never past `first pending + max wait`,
//! so a database edited non-stop still syncs. The state is small and serialisable: the Durable
//! Object stores it before acknowledging an event, so nothing accepted is lost.

use crate::notion::event::Effect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Past this many individual pages, a pending batch is reconciled as a whole instead.
pub const MAX_TRACKED_PAGES: usize = 500;

/// Why a sync was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Webhook,
    Manual,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Manual => "manual",
            Self::Schedule => "schedule",
        }
    }
}

/// Work accumulated since the last sync started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Pending {
    /// When the first event of this batch arrived (ms since the epoch).
    pub first_at_ms: i64,
    pub events: u32,
    pub changed_pages: BTreeSet<String>,
    pub gone_pages: BTreeSet<String>,
    /// Reconcile everything (schema change, database-wide event, too many pages, manual run).
    pub full: bool,
    /// The strongest trigger seen: a manual request outranks webhooks and the schedule.
    pub trigger: Option<Trigger>,
    /// The sync run id promised to a "Sync now" caller, reused for the run that serves it.
    pub sync_id: Option<String>,
    /// Failed runs of this batch in a row, and the earliest time the next may start.
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub retry_at_ms: Option<i64>,
    /// The owner reviewed the removals the deletion guard held and asked for them: the run
    /// removes those it still finds gone from Notion.
    #[serde(default)]
    pub release_held: bool,
}

/// Backoff after `failures` failed runs in a row: 2 s, 4 s, 8 s ... capped at 15 minutes (the
/// catch-up cron's period), without a limit on attempts, so a batch never loses its alarm.
pub fn retry_backoff_ms(failures: u32) -> i64 {
    const FIRST_MS: i64 = 2_000;
    const CAP_MS: i64 = 15 * 60 * 1000;
    FIRST_MS
        .saturating_mul(1i64 << failures.saturating_sub(1).min(20))
        .min(CAP_MS)
}

/// Durations that shape the debounce, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub debounce_ms: i64,
    pub max_wait_ms: i64,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.trigger.is_none()
    }

    /// Adds one event's effect to the batch.
    pub fn record_event(&mut self, effect: &Effect, now_ms: i64) {
        self.start_if_empty(now_ms, Trigger::Webhook);
        self.events = self.events.saturating_add(1);
        match effect {
            Effect::PageChanged { page_id } => {
                self.changed_pages.insert(page_id.clone());
            }
            Effect::PageGone { page_id } => {
                self.gone_pages.insert(page_id.clone());
            }
            Effect::Everything => self.full = true,
        }
        if self.changed_pages.len() + self.gone_pages.len() > MAX_TRACKED_PAGES {
            self.full = true;
            self.changed_pages.clear();
            self.gone_pages.clear();
        }
    }

    /// Adds a request that is not a webhook event (manual "Sync now", the catch-up schedule).
    pub fn record_request(&mut self, trigger: Trigger, full: bool, now_ms: i64) {
        self.start_if_empty(now_ms, trigger);
        if trigger == Trigger::Manual || self.trigger == Some(Trigger::Schedule) {
            self.trigger = Some(trigger);
        }
        self.full |= full;
    }

    fn start_if_empty(&mut self, now_ms: i64, trigger: Trigger) {
        if self.is_empty() {
            *self = Pending {
                first_at_ms: now_ms,
                trigger: Some(trigger),
                ..Pending::default()
            };
        }
    }

    /// When the alarm should fire after an event at `now_ms`. A batch whose last run failed
    /// waits out its backoff, however many events arrive meanwhile; "Sync now" does not wait.
    pub fn alarm_at(&self, now_ms: i64, window: Window) -> i64 {
        if self.trigger == Some(Trigger::Manual) {
            return now_ms;
        }
        (now_ms + window.debounce_ms)
            .min(self.first_at_ms + window.max_wait_ms)
            .max(now_ms)
            .max(self.retry_at_ms.unwrap_or(i64::MIN))
    }

    /// Notes a failed run of this batch and sets when the next may start.
    pub fn record_failure(&mut self, now_ms: i64) {
        self.failures = self.failures.saturating_add(1);
        self.retry_at_ms = Some(now_ms + retry_backoff_ms(self.failures));
    }

    /// Folds a batch that could not be synced back into the one that arrived meanwhile.
    pub fn merge(&mut self, earlier: Pending) {
        if earlier.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = earlier;
            return;
        }
        self.first_at_ms = self.first_at_ms.min(earlier.first_at_ms);
        self.events = self.events.saturating_add(earlier.events);
        self.changed_pages.extend(earlier.changed_pages);
        self.gone_pages.extend(earlier.gone_pages);
        self.full |= earlier.full;
        self.release_held |= earlier.release_held;
        self.failures = self.failures.max(earlier.failures);
        self.retry_at_ms = self.retry_at_ms.max(earlier.retry_at_ms);
        if earlier.trigger == Some(Trigger::Manual) {
            self.trigger = Some(Trigger::Manual);
            self.sync_id = earlier.sync_id.or(self.sync_id.take());
        }
    }
}

/// What the object does once a run is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRun {
    /// Nothing owed by the run: re-arm for whatever arrived meanwhile.
    Rearm,
    /// The run failed in a way a retry may fix: its batch joins what arrived meanwhile and the
    /// alarm waits out the backoff (ours, not the runtime's, which gives up after six tries).
    Retry { pending: Pending, alarm_at_ms: i64 },
}

/// Decides what follows a finished run: `failed_batch` is the run's batch when it failed
/// retryably, `pending` what arrived while it ran.
pub fn after_run(
    pending: Pending,
    failed_batch: Option<Pending>,
    now_ms: i64,
    window: Window,
) -> AfterRun {
    let Some(mut batch) = failed_batch else {
        return AfterRun::Rearm;
    };
    let mut pending = pending;
    // The retry is a new run: a "Sync now" caller already saw this run's record.
    batch.sync_id = None;
    pending.merge(batch);
    pending.record_failure(now_ms);
    let alarm_at_ms = pending.alarm_at(now_ms, window);
    AfterRun::Retry {
        pending,
        alarm_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window {
        debounce_ms: 10_000,
        max_wait_ms: 60_000,
    };

    fn changed(id: &str) -> Effect {
        Effect::PageChanged { page_id: id.into() }
    }

    #[test]
    fn each_event_pushes_the_alarm_until_the_max_wait() {
        let mut p = Pending::default();
        p.record_event(&changed("a"), 1_000);
        assert_eq!(p.alarm_at(1_000, W), 11_000);
        p.record_event(&changed("b"), 9_000);
        assert_eq!(p.alarm_at(9_000, W), 19_000);
        p.record_event(&changed("a"), 55_000);
        assert_eq!(
            p.alarm_at(55_000, W),
            61_000,
            "capped at first event + max wait"
        );
        assert_eq!(p.alarm_at(70_000, W), 70_000, "never in the past");
        assert_eq!(p.events, 3);
        assert_eq!(p.changed_pages.len(), 2);
        assert_eq!(p.first_at_ms, 1_000);
    }

    #[test]
    fn manual_requests_fire_now_and_win_the_trigger() {
        let mut p = Pending::default();
        p.record_event(&changed("a"), 1_000);
        p.record_request(Trigger::Manual, true, 2_000);
        assert_eq!(p.trigger, Some(Trigger::Manual));
        assert!(p.full);
        assert_eq!(p.alarm_at(2_000, W), 2_000);
        p.record_event(&changed("b"), 3_000);
        assert_eq!(
            p.trigger,
            Some(Trigger::Manual),
            "a later event does not demote it"
        );
    }

    #[test]
    fn failed_batches_back_off_and_events_do_not_hurry_them() {
        assert_eq!(
            (1..=5).map(retry_backoff_ms).collect::<Vec<_>>(),
            vec![2_000, 4_000, 8_000, 16_000, 32_000]
        );
        assert_eq!(retry_backoff_ms(30), 900_000);
        assert_eq!(retry_backoff_ms(u32::MAX), 900_000);
        let mut failed = Pending::default();
        failed.record_event(&changed("a"), 0);
        failed.record_failure(100_000);
        failed.record_failure(100_000);
        assert_eq!(failed.retry_at_ms, Some(104_000));
        let mut pending = Pending::default();
        pending.record_event(&changed("b"), 101_000);
        pending.merge(failed);
        assert_eq!(pending.failures, 2);
        assert_eq!(
            pending.alarm_at(101_000, W),
            104_000,
            "the first event is old, but the backoff holds"
        );
        assert_eq!(pending.alarm_at(110_000, W), 110_000);
        pending.record_request(Trigger::Manual, true, 102_000);
        assert_eq!(
            pending.alarm_at(102_000, W),
            102_000,
            "Sync now does not wait"
        );
    }

    #[test]
    fn a_failed_run_gives_its_batch_back_with_a_growing_backoff() {
        assert_eq!(after_run(Pending::default(), None, 0, W), AfterRun::Rearm);
        let mut batch = Pending::default();
        batch.record_request(Trigger::Manual, true, 1_000);
        batch.sync_id = Some("run-1".into());
        let mut arrived = Pending::default();
        arrived.record_event(&changed("b"), 2_000);
        let AfterRun::Retry {
            pending,
            alarm_at_ms,
        } = after_run(arrived, Some(batch), 3_000, W)
        else {
            panic!("a failed batch is retried");
        };
        assert_eq!(pending.failures, 1);
        assert!(pending.full && pending.changed_pages.contains("b"));
        assert_eq!(pending.sync_id, None, "the retry gets a record of its own");
        assert_eq!(alarm_at_ms, 3_000, "a manual batch does not wait");
        let mut webhook = Pending::default();
        webhook.record_event(&changed("a"), 0);
        webhook.failures = 3;
        let AfterRun::Retry { alarm_at_ms, .. } =
            after_run(Pending::default(), Some(webhook), 100_000, W)
        else {
            panic!("retried");
        };
        assert_eq!(alarm_at_ms, 100_000 + retry_backoff_ms(4));
    }

    #[test]
    fn too_many_pages_become_a_full_reconcile() {
        let mut p = Pending::default();
        for i in 0..=MAX_TRACKED_PAGES {
            p.record_event(&changed(&i.to_string()), 0);
        }
        assert!(p.full);
        assert!(p.changed_pages.is_empty());
        assert_eq!(p.events as usize, MAX_TRACKED_PAGES + 1);
    }

    #[test]
    fn merge_keeps_everything_from_both_batches() {
        let mut failed = Pending::default();
        failed.record_request(Trigger::Manual, true, 1_000);
        failed.sync_id = Some("run-1".into());
        failed.record_event(
            &Effect::PageGone {
                page_id: "x".into(),
            },
            1_500,
        );
        let mut newer = Pending::default();
        newer.record_event(&changed("y"), 5_000);
        newer.merge(failed);
        assert_eq!(newer.first_at_ms, 1_000);
        assert_eq!(newer.events, 2);
        assert!(newer.full);
        assert_eq!(newer.trigger, Some(Trigger::Manual));
        assert_eq!(newer.sync_id.as_deref(), Some("run-1"));
        assert!(newer.gone_pages.contains("x") && newer.changed_pages.contains("y"));
        let mut empty = Pending::default();
        empty.merge(newer.clone());
        assert_eq!(empty, newer);
    }
}
