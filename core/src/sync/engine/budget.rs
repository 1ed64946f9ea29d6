//! What one step may spend. Cloudflare caps subrequests per invocation (50 on Workers Free,
//! 10,000 on Paid) and bounds an alarm's time; local workerd enforces neither, so the step
//! counts for itself and stops before the platform would stop it.

use std::cell::Cell;

/// The subrequests and time one step may use. Shared (behind `Rc`) by the engine and the
/// adapters that make the requests, which take from it before each attempt.
#[derive(Debug)]
pub struct Budget {
    limit: u32,
    used: Cell<u32>,
    deadline_ms: i64,
}

impl Budget {
    pub fn new(limit: u32, started_ms: i64, step_ms: i64) -> Self {
        Self {
            limit,
            used: Cell::new(0),
            deadline_ms: started_ms + step_ms,
        }
    }

    /// Takes one subrequest; false (and nothing taken) when none is left.
    pub fn take(&self) -> bool {
        if self.used.get() >= self.limit {
            return false;
        }
        self.used.set(self.used.get() + 1);
        true
    }

    pub fn used(&self) -> u32 {
        self.used.get()
    }

    pub fn left(&self) -> u32 {
        self.limit - self.used.get()
    }

    /// Whether the step should stop starting new work at `now_ms`.
    pub fn spent(&self, now_ms: i64) -> bool {
        self.left() == 0 || now_ms >= self.deadline_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_hands_out_more_than_the_limit_and_stops_at_the_deadline() {
        let budget = Budget::new(3, 1_000, 500);
        assert!(budget.take() && budget.take() && budget.take());
        assert!(!budget.take());
        assert_eq!((budget.used(), budget.left()), (3, 0));
        assert!(budget.spent(1_000));
        let fresh = Budget::new(3, 1_000, 500);
        assert!(!fresh.spent(1_499));
        assert!(fresh.spent(1_500));
    }
}
