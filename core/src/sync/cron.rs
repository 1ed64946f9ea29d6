//! How much one cron run does. A cron run is one Worker invocation: on Workers Free it may make
//! 50 subrequests (developers.cloudflare.com/workers/platform/limits, "Subrequests") and 50 D1
//! queries (developers.cloudflare.com/d1/platform/limits, "Queries per Worker invocation"),
//! and D1 queries are read as subrequests there. So the run spends both from one pool of
//! [`POOL`] (a [`Budget::pooled`]) and every piece of work is bounded: catch-up syncs queued,
//! freshness checks, alerts raised and delivered, destination URLs sealed, pruning rounds. Each
//! stage keeps what the later ones need ([`Budget::hold`]), so a backlog in one never starves
//! the others; what a run leaves is served by the next, least recently served first, and the
//! run's log line says how much it left.

use crate::sync::engine::budget::Budget;

/// Subrequests and D1 queries one cron run spends at most, together.
pub const POOL: u32 = 50;
/// Catch-up syncs one run queues at most (one subrequest to the project's Durable Object each).
pub const CATCH_UP_PER_RUN: usize = 10;
/// Freshness checks one run makes at most.
pub const FRESHNESS_PER_RUN: usize = 3;
/// Plaintext destination URLs one run seals at most.
pub const SEALS_PER_RUN: usize = 3;
/// Pruning rounds (one D1 batch each) one run makes at most.
pub const RETENTION_ROUNDS: u32 = 4;

/// What the alerts stage and the pruning keep for themselves while the catch-up and freshness
/// stages run: one alert raised (3 queries and the list), one delivery (a POST and 6 queries,
/// and the list), the delivered alerts pruned, and [`RETENTION_ROUNDS`].
pub const HELD_FOR_ALERTS_AND_PRUNING: u32 = 4 + 8 + HELD_FOR_PRUNING;
/// What the pruning keeps while the alerts stage runs: the outbox and the rounds.
pub const HELD_FOR_PRUNING: u32 = 1 + RETENTION_ROUNDS;

/// The most one catch-up sync costs: its Durable Object request.
pub const CATCH_UP_COST: (u32, u32) = (1, 0);
/// The most one freshness check costs: the Notion query (one attempt per data source; two
/// counted), the sync it may queue; the incident read, saved, claimed, the destinations read,
/// the alert queued, and the check saved.
pub const FRESHNESS_COST: (u32, u32) = (3, 6);

/// Whether `budget` affords `cost` (subrequests, D1 queries).
pub fn affords(budget: &Budget, cost: (u32, u32)) -> bool {
    budget.affords(cost.0, cost.1)
}

/// What one cron run did and what it left, for its log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CronRun {
    /// Projects due for a catch-up sync, and how many were queued.
    pub catch_up_due: usize,
    pub catch_up_queued: usize,
    /// Projects due for a freshness check (at most what was listed), checked, found stale.
    pub freshness_listed: usize,
    pub freshness_checked: usize,
    pub stale: usize,
    pub raised: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub dropped: usize,
    /// Due alerts the budget left undelivered.
    pub deliveries_left: bool,
    pub sealed: usize,
}

impl CronRun {
    /// The catch-up syncs left for the next runs.
    pub fn catch_up_left(&self) -> usize {
        self.catch_up_due.saturating_sub(self.catch_up_queued)
    }

    /// The note of the cron's log line: what it did, then what it left for the next run.
    pub fn note(&self) -> String {
        let mut left = Vec::new();
        if self.catch_up_left() > 0 {
            left.push(format!("{} catch-up syncs", self.catch_up_left()));
        }
        if self.freshness_checked < self.freshness_listed {
            left.push(format!(
                "{} freshness checks",
                self.freshness_listed - self.freshness_checked
            ));
        }
        if self.deliveries_left {
            left.push("alert deliveries".to_owned());
        }
        format!(
            "{} of {} catch-up syncs queued; freshness: {} checked, {} with unannounced edits; \
             alerts: {} raised on time, {} delivered, {} retrying, {} dropped; \
             {} destination URLs encrypted; left for the next run: {}",
            self.catch_up_queued,
            self.catch_up_due,
            self.freshness_checked,
            self.stale,
            self.raised,
            self.delivered,
            self.retrying,
            self.dropped,
            self.sealed,
            if left.is_empty() {
                "nothing".to_owned()
            } else {
                left.join(", ")
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's stages against a backlog: catch-up syncs, freshness checks and deliveries all
    /// due, each taking its worst case from the pool.
    fn run(due: usize, fresh: usize, deliveries: usize) -> (CronRun, Budget) {
        let budget = Budget::pooled(POOL, 0, 60_000);
        let mut run = CronRun {
            catch_up_due: due,
            freshness_listed: fresh.min(FRESHNESS_PER_RUN),
            ..CronRun::default()
        };
        budget.hold(HELD_FOR_ALERTS_AND_PRUNING);
        assert!(budget.take_d1_closing(), "the list of due projects");
        while run.catch_up_queued < due.min(CATCH_UP_PER_RUN) && affords(&budget, CATCH_UP_COST) {
            assert!(budget.take());
            run.catch_up_queued += 1;
        }
        assert!(budget.take_d1_closing(), "the served marks");
        assert!(budget.take_d1_closing(), "the freshness list");
        while run.freshness_checked < run.freshness_listed && affords(&budget, FRESHNESS_COST) {
            (0..FRESHNESS_COST.0).for_each(|_| assert!(budget.take()));
            (0..FRESHNESS_COST.1).for_each(|_| assert!(budget.take_d1_closing()));
            run.freshness_checked += 1;
        }
        budget.hold(HELD_FOR_PRUNING);
        assert!(budget.take_d1_closing(), "the list of due alerts");
        while run.delivered < deliveries && budget.affords(1, 6) {
            assert!(budget.take());
            (0..6).for_each(|_| assert!(budget.take_d1_closing()));
            run.delivered += 1;
        }
        run.deliveries_left = run.delivered < deliveries;
        budget.hold(0);
        for _ in 0..=RETENTION_ROUNDS {
            assert!(budget.take_d1_closing(), "the outbox and every round");
        }
        (run, budget)
    }

    #[test]
    fn the_stages_worst_cases_fit_the_pool_and_each_gets_its_share() {
        let (run, budget) = run(200, 25, 20);
        assert!(budget.used() + budget.d1_used() <= POOL);
        assert_eq!(run.catch_up_queued, CATCH_UP_PER_RUN);
        assert!(run.freshness_checked >= 2, "{run:?}");
        assert!(run.delivered >= 1, "{run:?}");
        assert_eq!(run.catch_up_left(), 190);
    }

    #[test]
    fn two_hundred_due_projects_are_served_within_twenty_runs() {
        let mut due = 200;
        let mut runs = 0;
        while due > 0 {
            let (run, budget) = run(due, 0, 0);
            assert!(budget.used() + budget.d1_used() <= POOL);
            assert!(run.catch_up_queued > 0);
            due -= run.catch_up_queued;
            runs += 1;
        }
        assert_eq!(runs, 200 / CATCH_UP_PER_RUN);
    }

    #[test]
    fn the_note_says_what_was_left() {
        let (run, _) = run(200, 25, 20);
        let note = run.note();
        assert!(
            note.starts_with("10 of 200 catch-up syncs queued"),
            "{note}"
        );
        assert!(
            note.contains("left for the next run: 190 catch-up syncs"),
            "{note}"
        );
        assert!(note.contains("alert deliveries"), "{note}");
        let quiet = CronRun::default().note();
        assert!(quiet.ends_with("left for the next run: nothing"), "{quiet}");
    }
}
