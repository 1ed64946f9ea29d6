//! What one step may spend. A step is one Durable Object alarm invocation, and Cloudflare caps
//! each invocation; local workerd enforces none of it, so the step counts for itself and stops
//! before the platform would stop it. Counted as Cloudflare counts:
//!
//! - Subrequests: 50 per invocation on Workers Free, 10,000 on Paid
//!   (developers.cloudflare.com/workers/platform/limits, "Subrequests"). A subrequest is a
//!   `fetch` (each Notion attempt, each alert delivery) or the opening of a WebSocket (the
//!   Framer socket); messages over an open WebSocket are not subrequests, so Framer calls and
//!   uploads (Framer's server downloads the files) cost nothing here once the socket is open.
//! - D1 queries: 50 per invocation on Workers Free, 1,000 on Paid
//!   (developers.cloudflare.com/d1/platform/limits, "Queries per Worker invocation (read
//!   subrequest limits)"). That limit is a subrequest limit: one call to the binding is one
//!   query, a `batch()` included; the page's "Batch limits" note applies the limits of a single
//!   statement (length, bound parameters, duration) to each statement of a batch. So
//!   [`batch_queries`] counts a batch as one query.
//! - Time: `SYNC_STEP_SECONDS` of wall time, so a step never runs into the alarm's limits.
//!
//! The D1 budget keeps [`CHECKPOINT_D1`] queries back from the units, so a step cut short can
//! always record its progress; closing a run (and the alert bookkeeping that follows it in the
//! same invocation) is a unit of its own that waits for the next step when it cannot afford its
//! queries.

use std::cell::Cell;

/// The longest a step runs, whatever `SYNC_STEP_SECONDS` says. A Durable Object invocation may
/// use 30 s of CPU by default, on every plan (developers.cloudflare.com/durable-objects/platform/
/// limits, "CPU per request"); the runtime's clock only moves at I/O, so the step cannot read
/// its own CPU time, but CPU time never exceeds wall time on one thread: a step that starts no
/// unit after 25 s of wall time stays under the 30 s with a unit's worth of margin.
pub const MAX_STEP_MS: i64 = 25_000;

/// D1 queries a checkpoint makes (the run record's progress): never taken by units.
pub const CHECKPOINT_D1: u32 = 1;
/// The most D1 queries an ordinary unit makes (a write: the two-way relations it had and has,
/// what its rows left out of their references, the rows of other projects that wait for its
/// items); a step starts no unit that could not afford them.
pub const UNIT_D1: u32 = 5;
/// D1 queries closing a run makes (the last full sync time, the run record; and, until the
/// history that versions before kept in D1 has moved to the project's object, a chunk of it).
pub const CLOSE_D1: u32 = 3;

/// D1 queries one round trip costs: a `batch()` of any size is one query (see the module).
pub fn batch_queries(statements: usize) -> u32 {
    u32::from(statements > 0)
}

#[derive(Debug)]
struct Counter {
    limit: u32,
    used: Cell<u32>,
}

impl Counter {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            used: Cell::new(0),
        }
    }

    fn left(&self) -> u32 {
        self.limit.saturating_sub(self.used.get())
    }

    /// Takes `n` if that leaves at least `keep`; false (and nothing taken) otherwise.
    fn take(&self, n: u32, keep: u32) -> bool {
        if self.left() < n.saturating_add(keep) {
            return false;
        }
        self.used.set(self.used.get() + n);
        true
    }
}

/// The subrequests, D1 queries and time one step may use. Shared (behind `Rc`) by the engine
/// and the adapters that make the requests, which take from it before each one.
#[derive(Debug)]
pub struct Budget {
    subrequests: Counter,
    d1: Counter,
    /// When set, subrequests and D1 queries together never pass this (the cron's budget).
    pooled: Option<u32>,
    /// Of the pool, what is kept for later work ([`Budget::hold`]).
    held: Cell<u32>,
    deadline_ms: i64,
}

impl Budget {
    /// `step_ms` is capped at [`MAX_STEP_MS`].
    pub fn new(subrequests: u32, d1_queries: u32, started_ms: i64, step_ms: i64) -> Self {
        Self {
            subrequests: Counter::new(subrequests),
            d1: Counter::new(d1_queries),
            pooled: None,
            held: Cell::new(0),
            deadline_ms: started_ms + step_ms.min(MAX_STEP_MS),
        }
    }

    /// `total` subrequests and D1 queries together, for an invocation that spends both from
    /// one allowance (the cron keeps their sum within Free's 50).
    pub fn pooled(total: u32, started_ms: i64, step_ms: i64) -> Self {
        Self {
            pooled: Some(total),
            ..Self::new(total, total, started_ms, step_ms)
        }
    }

    /// What the pool has left (`u32::MAX` without one).
    fn pool_left(&self) -> u32 {
        self.pooled.map_or(u32::MAX, |total| {
            total.saturating_sub(self.used() + self.d1_used() + self.held.get())
        })
    }

    /// Keeps `n` of the pool for the work that comes later: what runs now may not take it.
    /// Replaces the previous hold (0 releases it).
    pub fn hold(&self, n: u32) {
        self.held.set(n);
    }

    /// Takes one subrequest; false (and nothing taken) when none is left.
    pub fn take(&self) -> bool {
        self.pool_left() > 0 && self.subrequests.take(1, 0)
    }

    /// Takes one D1 query for a unit of work; false when only the checkpoint's are left.
    pub fn take_d1(&self) -> bool {
        self.pool_left() > CHECKPOINT_D1 && self.d1.take(1, CHECKPOINT_D1)
    }

    /// Takes one D1 query for a checkpoint or a close, which may use what units leave.
    pub fn take_d1_closing(&self) -> bool {
        self.pool_left() > 0 && self.d1.take(1, 0)
    }

    pub fn used(&self) -> u32 {
        self.subrequests.used.get()
    }

    pub fn left(&self) -> u32 {
        self.subrequests.left()
    }

    pub fn d1_used(&self) -> u32 {
        self.d1.used.get()
    }

    pub fn d1_left(&self) -> u32 {
        self.d1.left()
    }

    /// Whether `subrequests` and `d1` queries are still left (the checkpoint's included).
    pub fn affords(&self, subrequests: u32, d1: u32) -> bool {
        self.left() >= subrequests
            && self.d1_left() >= d1
            && self.pool_left() >= subrequests.saturating_add(d1)
    }

    /// Whether the step should stop starting new work at `now_ms`: no subrequest left, not
    /// enough D1 queries for a unit beside the checkpoint's, or out of time.
    pub fn spent(&self, now_ms: i64) -> bool {
        self.left() == 0 || self.d1_left() < UNIT_D1 + CHECKPOINT_D1 || now_ms >= self.deadline_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_hands_out_more_than_the_limit_and_stops_at_the_deadline() {
        let budget = Budget::new(3, 40, 1_000, 500);
        assert!(budget.take() && budget.take() && budget.take());
        assert!(!budget.take());
        assert_eq!((budget.used(), budget.left()), (3, 0));
        assert!(budget.spent(1_000));
        let fresh = Budget::new(3, 40, 1_000, 500);
        assert!(!fresh.spent(1_499));
        assert!(fresh.spent(1_500));
    }

    #[test]
    fn units_leave_the_checkpoint_its_d1_query_and_closing_may_take_it() {
        let budget = Budget::new(40, 6, 0, 1_000);
        assert!(!budget.spent(0));
        for _ in 0..5 {
            assert!(budget.take_d1());
        }
        assert!(!budget.take_d1(), "the last query is the checkpoint's");
        assert_eq!((budget.d1_used(), budget.d1_left()), (5, 1));
        assert!(budget.take_d1_closing());
        assert!(!budget.take_d1_closing(), "never past the limit");
        assert_eq!(budget.d1_used(), 6);
    }

    #[test]
    fn a_step_starts_no_unit_it_could_not_afford() {
        let budget = Budget::new(40, UNIT_D1 + CHECKPOINT_D1 + 1, 0, 1_000);
        assert!(budget.take_d1());
        assert!(!budget.spent(0), "a unit and the checkpoint still fit");
        assert!(budget.take_d1());
        assert!(
            budget.spent(0),
            "a unit no longer fits beside the checkpoint"
        );
        let left = UNIT_D1 + CHECKPOINT_D1 - 1;
        assert!(budget.affords(40, left) && !budget.affords(41, 0) && !budget.affords(0, left + 1));
    }

    #[test]
    fn a_pooled_budget_never_spends_more_than_its_total_of_both() {
        let budget = Budget::pooled(5, 0, 1_000);
        assert!(budget.take() && budget.take() && budget.take_d1() && budget.take_d1_closing());
        assert!(budget.affords(1, 0) && budget.affords(0, 1) && !budget.affords(1, 1));
        assert!(budget.take());
        assert!(!budget.take() && !budget.take_d1_closing());
        assert_eq!(budget.used() + budget.d1_used(), 5);
        let held = Budget::pooled(5, 0, 1_000);
        held.hold(4);
        assert!(held.take() && !held.take_d1_closing() && !held.affords(0, 1));
        held.hold(0);
        assert!(held.affords(0, 4) && !held.affords(0, 5));
    }

    #[test]
    fn no_step_runs_past_the_durable_object_cpu_bound_whatever_it_is_given() {
        let budget = Budget::new(40, 40, 1_000, 60_000);
        assert!(!budget.spent(1_000 + MAX_STEP_MS - 1));
        assert!(budget.spent(1_000 + MAX_STEP_MS));
        const { assert!(MAX_STEP_MS < 30_000) };
    }

    #[test]
    fn a_batch_is_one_query_and_no_statement_none() {
        assert_eq!(batch_queries(0), 0);
        assert_eq!(batch_queries(1), 1);
        assert_eq!(batch_queries(100), 1);
    }
}
