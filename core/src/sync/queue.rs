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
    /// The sync run id promised to a "Sync now" caller, reused for the run that serves it:
    /// set while a click waits for its run, which then starts at once.
    pub sync_id: Option<String>,
    /// Failed runs of this batch in a row, and the earliest time an automatic retry may start
    /// (a click does not wait for it).
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub retry_at_ms: Option<i64>,
    /// The owner reviewed the removals the deletion guard held and asked for them: the run
    /// removes those it still finds gone from Notion.
    #[serde(default)]
    pub release_held: bool,
    /// When the first of those failed runs ended.
    #[serde(default)]
    pub failing_since_ms: Option<i64>,
    /// Retries stopped (the failures lasted `RetryPolicy::give_up_after_ms`): the batch waits,
    /// with no alarm, for the next event, a click or the catch-up cron.
    #[serde(default)]
    pub parked: bool,
    /// When the alarm is due to run this batch; `None` from versions that did not store it
    /// (due at once).
    #[serde(default)]
    pub run_at_ms: Option<i64>,
    /// Pages another project asked this one to read again (their references changed): read
    /// by id by the next run, whatever its trigger. Kept while the batch is empty (auto-sync
    /// off), for the next run there is.
    #[serde(default)]
    pub refresh_pages: BTreeSet<String>,
}

/// How failed runs are retried: exponential backoff with jitter from `base_ms`, each wait at
/// most `cap_ms`, and no automatic retry once the failures have lasted `give_up_after_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: i64,
    pub cap_ms: i64,
    pub give_up_after_ms: i64,
}

/// The longest wait between two retries: the catch-up cron's period.
pub const RETRY_CAP_MS: i64 = 15 * 60 * 1000;

impl RetryPolicy {
    pub fn new(base_ms: i64, give_up_after_ms: i64) -> Self {
        Self {
            base_ms,
            cap_ms: RETRY_CAP_MS,
            give_up_after_ms,
        }
    }

    /// The longest wait after `failures` failed runs in a row: `base`, `2 base`, `4 base` ...
    /// capped.
    pub fn ceiling_ms(&self, failures: u32) -> i64 {
        self.base_ms
            .saturating_mul(1i64 << failures.saturating_sub(1).min(30))
            .min(self.cap_ms)
    }

    /// The wait after `failures` failed runs: between half the ceiling and the ceiling,
    /// `jitter` (uniform over `u16`) choosing where, so that projects failing together (one
    /// Notion outage) do not retry in step, and no retry ever comes sooner than half its
    /// ceiling.
    pub fn delay_ms(&self, failures: u32, jitter: u16) -> i64 {
        let ceiling = self.ceiling_ms(failures);
        let half = ceiling / 2;
        half + (ceiling - half) * i64::from(jitter) / i64::from(u16::MAX)
    }
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

    /// Adds one event's effect to the batch (and wakes a batch whose retries stopped).
    pub fn record_event(&mut self, effect: &Effect, now_ms: i64) {
        self.start_if_empty(now_ms, Trigger::Webhook);
        self.parked = false;
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

    /// Adds pages another project asked for. With `run` (auto-sync on) they make a batch like a
    /// webhook event does, under the same debounce; without, they wait for the next run.
    pub fn record_refresh(
        &mut self,
        pages: impl IntoIterator<Item = String>,
        run: bool,
        now_ms: i64,
    ) {
        if run {
            self.start_if_empty(now_ms, Trigger::Webhook);
            self.parked = false;
        }
        self.refresh_pages.extend(pages);
        if self.refresh_pages.len() > MAX_TRACKED_PAGES {
            // As with events: past this many pages a full run is the cheaper read.
            self.refresh_pages.clear();
            if run {
                self.full = true;
            }
        }
    }

    /// Adds a request that is not a webhook event (manual "Sync now", the catch-up schedule),
    /// which wakes a batch whose retries stopped.
    pub fn record_request(&mut self, trigger: Trigger, full: bool, now_ms: i64) {
        self.start_if_empty(now_ms, trigger);
        self.parked = false;
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
                refresh_pages: std::mem::take(&mut self.refresh_pages),
                ..Pending::default()
            };
        }
    }

    /// When the alarm should fire after an event or request at `now_ms`, `None` while retries
    /// are stopped. A click waiting for its run ("Sync now") does not wait; anything else
    /// waits for the debounce and for the backoff of earlier failures, however many events
    /// arrive meanwhile.
    pub fn alarm_at(&self, now_ms: i64, window: Window) -> Option<i64> {
        if self.is_empty() {
            return None;
        }
        if self.sync_id.is_some() {
            return Some(now_ms);
        }
        if self.parked {
            return None;
        }
        Some(
            (now_ms + window.debounce_ms)
                .min(self.first_at_ms + window.max_wait_ms)
                .max(now_ms)
                .max(self.retry_at_ms.unwrap_or(i64::MIN)),
        )
    }

    /// Computes `alarm_at` and keeps it as the time the batch is due.
    pub fn schedule(&mut self, now_ms: i64, window: Window) -> Option<i64> {
        self.run_at_ms = self.alarm_at(now_ms, window);
        self.run_at_ms
    }

    /// When the batch is due to run: `None` when nothing is pending or retries stopped (and
    /// no click waits). A batch stored by an earlier version, without the time, is due at once.
    pub fn due_at(&self) -> Option<i64> {
        if self.is_empty() || (self.parked && self.sync_id.is_none()) {
            return None;
        }
        Some(self.run_at_ms.unwrap_or(i64::MIN))
    }

    /// Whether an alarm at `now_ms` should start this batch (an alarm can also fire for an
    /// alert check or a ledger copy before the batch is due).
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.due_at().is_some_and(|at| at <= now_ms)
    }

    /// Notes a failed run of this batch: the next automatic attempt waits out the backoff,
    /// and once the failures have lasted the policy's bound, retries stop.
    pub fn record_failure(&mut self, now_ms: i64, policy: RetryPolicy, jitter: u16) {
        self.failures = self.failures.saturating_add(1);
        let since = *self.failing_since_ms.get_or_insert(now_ms);
        self.retry_at_ms = Some(now_ms + policy.delay_ms(self.failures, jitter));
        self.parked = now_ms - since >= policy.give_up_after_ms;
    }

    /// Folds a batch that could not be synced back into the one that arrived meanwhile.
    pub fn merge(&mut self, earlier: Pending) {
        if earlier.is_empty() {
            self.refresh_pages.extend(earlier.refresh_pages);
            return;
        }
        if self.is_empty() {
            let refresh = std::mem::take(&mut self.refresh_pages);
            *self = earlier;
            self.refresh_pages.extend(refresh);
            return;
        }
        self.refresh_pages.extend(earlier.refresh_pages);
        self.first_at_ms = self.first_at_ms.min(earlier.first_at_ms);
        self.events = self.events.saturating_add(earlier.events);
        self.changed_pages.extend(earlier.changed_pages);
        self.gone_pages.extend(earlier.gone_pages);
        self.full |= earlier.full;
        self.release_held |= earlier.release_held;
        self.failures = self.failures.max(earlier.failures);
        self.retry_at_ms = self.retry_at_ms.max(earlier.retry_at_ms);
        self.failing_since_ms = match (self.failing_since_ms, earlier.failing_since_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.parked &= earlier.parked;
        self.run_at_ms = self.run_at_ms.min(earlier.run_at_ms);
        if earlier.trigger == Some(Trigger::Manual) {
            self.trigger = Some(Trigger::Manual);
            self.sync_id = earlier.sync_id.or(self.sync_id.take());
        }
    }
}

/// The object's one alarm serves both the batch and the timed alert check: the earlier of the two.
pub fn next_alarm(batch_due_at: Option<i64>, alert_check_at: Option<i64>) -> Option<i64> {
    match (batch_due_at, alert_check_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What the object does once a run is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRun {
    /// Nothing owed by the run: re-arm for whatever arrived meanwhile.
    Rearm,
    /// The run failed in a way a retry may fix: its batch joins what arrived meanwhile and the
    /// alarm waits out the backoff (ours, not the runtime's, which gives up after six tries);
    /// `alarm_at_ms` is `None` once retries stopped.
    Retry {
        pending: Pending,
        alarm_at_ms: Option<i64>,
    },
}

/// Decides what follows a finished run: `failed_batch` is the run's batch when it failed
/// retryably, `pending` what arrived while it ran. The failure counts for the backoff whatever
/// started the run: a click that failed does not make the next attempt immediate (only a
/// click that arrived while the run was failing does).
pub fn after_run(
    pending: Pending,
    failed_batch: Option<Pending>,
    now_ms: i64,
    window: Window,
    policy: RetryPolicy,
    jitter: u16,
) -> AfterRun {
    let Some(mut batch) = failed_batch else {
        return AfterRun::Rearm;
    };
    let mut pending = pending;
    // Events that arrived during the run still get their debounce; the retry alone does not.
    let arrived_events = pending.events > 0;
    // The retry is a new run: a "Sync now" caller already saw this run's record.
    batch.sync_id = None;
    pending.merge(batch);
    pending.record_failure(now_ms, policy, jitter);
    let alarm_at_ms = if arrived_events {
        pending.schedule(now_ms, window)
    } else {
        pending.run_at_ms = match pending.alarm_at(now_ms, window) {
            Some(_) if pending.sync_id.is_some() => Some(now_ms),
            Some(_) => pending.retry_at_ms,
            None => None,
        };
        pending.run_at_ms
    };
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
    fn refreshed_pages_start_a_debounced_batch_or_wait_for_the_next_run() {
        let mut on = Pending::default();
        on.record_refresh(["a".to_owned()], true, 1_000);
        assert_eq!(on.trigger, Some(Trigger::Webhook));
        assert_eq!(
            on.schedule(1_000, W),
            Some(11_000),
            "debounced like an event"
        );
        assert!(on.refresh_pages.contains("a"));

        let mut off = Pending::default();
        off.record_refresh(["b".to_owned()], false, 1_000);
        assert!(
            off.is_empty() && off.due_at().is_none(),
            "no run of its own"
        );
        off.record_request(Trigger::Manual, false, 2_000);
        assert!(off.refresh_pages.contains("b"), "the next run reads it");

        let mut failed = Pending::default();
        failed.record_refresh(["c".to_owned()], false, 0);
        let mut earlier = Pending::default();
        earlier.record_event(&changed("x"), 0);
        earlier.refresh_pages.insert("d".into());
        failed.merge(earlier);
        assert_eq!(
            failed
                .refresh_pages
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["c", "d"]
        );

        let mut many = Pending::default();
        many.record_refresh((0..=MAX_TRACKED_PAGES).map(|n| n.to_string()), true, 0);
        assert!(many.full && many.refresh_pages.is_empty());
    }

    /// The production policy: 5 s, doubling, at most 15 min between attempts, for an hour.
    const P: RetryPolicy = RetryPolicy {
        base_ms: 5_000,
        cap_ms: RETRY_CAP_MS,
        give_up_after_ms: 3_600_000,
    };
    const MID: u16 = u16::MAX / 2;

    #[test]
    fn each_event_pushes_the_alarm_until_the_max_wait() {
        let mut p = Pending::default();
        assert_eq!(p.alarm_at(0, W), None, "nothing pending, no alarm");
        p.record_event(&changed("a"), 1_000);
        assert_eq!(p.alarm_at(1_000, W), Some(11_000));
        p.record_event(&changed("b"), 9_000);
        assert_eq!(p.alarm_at(9_000, W), Some(19_000));
        p.record_event(&changed("a"), 55_000);
        assert_eq!(
            p.alarm_at(55_000, W),
            Some(61_000),
            "capped at first event + max wait"
        );
        assert_eq!(p.alarm_at(70_000, W), Some(70_000), "never in the past");
        assert_eq!(p.events, 3);
        assert_eq!(p.changed_pages.len(), 2);
        assert_eq!(p.first_at_ms, 1_000);
    }

    #[test]
    fn a_waiting_click_fires_now_and_wins_the_trigger() {
        let mut p = Pending::default();
        p.record_event(&changed("a"), 1_000);
        p.record_request(Trigger::Manual, true, 2_000);
        p.sync_id = Some("run-1".into());
        assert_eq!(p.trigger, Some(Trigger::Manual));
        assert!(p.full);
        assert_eq!(p.schedule(2_000, W), Some(2_000));
        assert!(p.is_due(2_000));
        p.record_event(&changed("b"), 3_000);
        assert_eq!(
            p.trigger,
            Some(Trigger::Manual),
            "a later event does not demote it"
        );
    }

    #[test]
    fn the_backoff_doubles_from_a_few_seconds_with_jitter_and_is_capped() {
        let ceilings: Vec<i64> = (1..=9).map(|n| P.ceiling_ms(n)).collect();
        assert_eq!(
            ceilings,
            vec![5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 900_000]
        );
        assert_eq!(P.ceiling_ms(u32::MAX), RETRY_CAP_MS);
        for failures in [1, 4, 12, u32::MAX] {
            let ceiling = P.ceiling_ms(failures);
            assert_eq!(
                P.delay_ms(failures, 0),
                ceiling / 2,
                "never sooner than half"
            );
            assert_eq!(
                P.delay_ms(failures, u16::MAX),
                ceiling,
                "never later than the ceiling"
            );
            let mid = P.delay_ms(failures, MID);
            assert!(ceiling / 2 < mid && mid < ceiling, "{mid}");
        }
        assert!(P.delay_ms(40, u16::MAX) <= RETRY_CAP_MS);
    }

    #[test]
    fn failed_batches_back_off_and_events_do_not_hurry_them() {
        let mut failed = Pending::default();
        failed.record_event(&changed("a"), 0);
        failed.record_failure(100_000, P, u16::MAX);
        failed.record_failure(100_000, P, u16::MAX);
        assert_eq!(failed.retry_at_ms, Some(110_000));
        assert_eq!(failed.failing_since_ms, Some(100_000));
        let mut pending = Pending::default();
        pending.record_event(&changed("b"), 101_000);
        pending.merge(failed);
        assert_eq!(pending.failures, 2);
        assert_eq!(pending.failing_since_ms, Some(100_000));
        assert_eq!(
            pending.schedule(101_000, W),
            Some(110_000),
            "the first event is old, but the backoff holds"
        );
        assert!(!pending.is_due(109_999) && pending.is_due(110_000));
        assert_eq!(pending.alarm_at(120_000, W), Some(120_000));
    }

    #[test]
    fn a_click_while_a_retry_waits_runs_at_once_but_its_failure_backs_off() {
        // A webhook batch failed three times; its retry waits.
        let mut waiting = Pending::default();
        waiting.record_event(&changed("a"), 0);
        for _ in 0..3 {
            waiting.record_failure(1_000, P, u16::MAX);
        }
        assert_eq!(waiting.retry_at_ms, Some(21_000));
        waiting.record_request(Trigger::Manual, true, 2_000);
        waiting.sync_id = Some("click".into());
        assert_eq!(
            waiting.schedule(2_000, W),
            Some(2_000),
            "the click runs now"
        );
        // Its run fails: the next attempt is the fourth retry's backoff, not now.
        let AfterRun::Retry {
            pending,
            alarm_at_ms,
        } = after_run(Pending::default(), Some(waiting), 3_000, W, P, u16::MAX)
        else {
            panic!("a failed batch is retried");
        };
        assert_eq!(pending.failures, 4);
        assert_eq!(pending.sync_id, None, "the retry gets a record of its own");
        assert_eq!(pending.trigger, Some(Trigger::Manual));
        assert_eq!(alarm_at_ms, Some(3_000 + 40_000));
        assert!(!pending.is_due(3_000));
        // A click that arrived while the run was failing still runs at once.
        let mut clicked = Pending::default();
        clicked.record_request(Trigger::Manual, true, 2_500);
        clicked.sync_id = Some("second click".into());
        let AfterRun::Retry { alarm_at_ms, .. } =
            after_run(clicked, Some(pending), 50_000, W, P, u16::MAX)
        else {
            panic!("retried");
        };
        assert_eq!(alarm_at_ms, Some(50_000));
    }

    #[test]
    fn a_failed_run_gives_its_batch_back_with_a_growing_backoff() {
        assert_eq!(
            after_run(Pending::default(), None, 0, W, P, 0),
            AfterRun::Rearm
        );
        let mut batch = Pending::default();
        batch.record_request(Trigger::Manual, true, 1_000);
        batch.sync_id = Some("run-1".into());
        let mut arrived = Pending::default();
        arrived.record_event(&changed("b"), 2_000);
        let AfterRun::Retry {
            pending,
            alarm_at_ms,
        } = after_run(arrived, Some(batch), 3_000, W, P, 0)
        else {
            panic!("a failed batch is retried");
        };
        assert_eq!(pending.failures, 1);
        assert!(pending.full && pending.changed_pages.contains("b"));
        assert_eq!(pending.sync_id, None, "the retry gets a record of its own");
        assert_eq!(
            alarm_at_ms,
            Some(3_000 + 10_000),
            "not now: the event that arrived meanwhile gets its debounce"
        );
        let mut alone = Pending::default();
        alone.record_request(Trigger::Manual, true, 1_000);
        alone.sync_id = Some("run-2".into());
        let AfterRun::Retry { alarm_at_ms, .. } =
            after_run(Pending::default(), Some(alone), 3_000, W, P, 0)
        else {
            panic!("retried");
        };
        assert_eq!(
            alarm_at_ms,
            Some(3_000 + 2_500),
            "a manual batch waits out its backoff too"
        );
        let mut webhook = Pending::default();
        webhook.record_event(&changed("a"), 0);
        webhook.failures = 3;
        webhook.failing_since_ms = Some(50_000);
        let AfterRun::Retry { alarm_at_ms, .. } =
            after_run(Pending::default(), Some(webhook), 100_000, W, P, u16::MAX)
        else {
            panic!("retried");
        };
        assert_eq!(alarm_at_ms, Some(100_000 + P.ceiling_ms(4)));
    }

    #[test]
    fn retries_stop_after_the_bound_and_the_next_event_click_or_cron_wakes_the_batch() {
        let mut batch = Pending::default();
        batch.record_event(&changed("a"), 0);
        let mut now = 10_000;
        let mut runs = 1;
        loop {
            let AfterRun::Retry {
                pending,
                alarm_at_ms,
            } = after_run(Pending::default(), Some(batch), now, W, P, MID)
            else {
                panic!("retried");
            };
            batch = pending;
            let Some(next) = alarm_at_ms else { break };
            assert!(next - now <= RETRY_CAP_MS);
            now = next + 16_000; // each run spends ~16 s before it fails
            runs += 1;
        }
        assert!(batch.parked);
        assert!(
            now - 10_000 >= P.give_up_after_ms,
            "retried for the whole bound"
        );
        assert!(now - 10_000 < P.give_up_after_ms + RETRY_CAP_MS + 16_000);
        assert!((8..=16).contains(&runs), "{runs} runs in the hour");
        assert!(!batch.is_due(now + 3_600_000), "no alarm of its own");
        assert_eq!(batch.alarm_at(now, W), None);

        // The next event wakes it, still behind the backoff.
        let mut woken = batch.clone();
        woken.record_event(&changed("b"), now + 1_000);
        let at = woken.schedule(now + 1_000, W).expect("armed again");
        assert_eq!(at, batch.retry_at_ms.unwrap().max(now + 1_000 + 10_000));
        // ... and when that run fails too, retries stop again at once.
        let AfterRun::Retry { alarm_at_ms, .. } =
            after_run(Pending::default(), Some(woken), at + 16_000, W, P, MID)
        else {
            panic!("retried");
        };
        assert_eq!(alarm_at_ms, None);

        // The cron's catch-up and a click wake it too; a click does not wait.
        let mut scheduled = batch.clone();
        scheduled.record_request(Trigger::Schedule, false, now);
        assert_eq!(scheduled.trigger, Some(Trigger::Webhook));
        assert!(scheduled.schedule(now, W).is_some());
        let mut clicked = batch.clone();
        clicked.record_request(Trigger::Manual, false, now);
        clicked.sync_id = Some("c".into());
        assert_eq!(clicked.schedule(now, W), Some(now));
    }

    #[test]
    fn one_alarm_serves_the_batch_and_the_alert_check() {
        assert_eq!(next_alarm(None, None), None);
        assert_eq!(next_alarm(Some(5), None), Some(5));
        assert_eq!(next_alarm(None, Some(7)), Some(7));
        assert_eq!(next_alarm(Some(9), Some(7)), Some(7));
        let mut parked = Pending::default();
        parked.record_event(&changed("a"), 0);
        parked.parked = true;
        assert_eq!(parked.due_at(), None);
        parked.sync_id = Some("click".into());
        parked.run_at_ms = Some(3);
        assert_eq!(parked.due_at(), Some(3), "a waiting click is due");
    }

    #[test]
    fn batches_stored_by_earlier_versions_are_due() {
        let old: Pending = serde_json::from_str(
            r#"{"first_at_ms":1,"events":1,"changed_pages":["a"],"gone_pages":[],"full":false,"trigger":"webhook","sync_id":null}"#,
        )
        .unwrap();
        assert!(old.is_due(2) && !old.parked && old.failures == 0);
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
