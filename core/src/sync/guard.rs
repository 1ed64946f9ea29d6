//! The deletion guard: whether a run may take items out of the live site. A sync tool's worst
//! failure is not a missed edit but a site that loses its pages because Notion answered with
//! less than it holds (pages unshared from the integration, an upstream incident, a bulk delete
//! by mistake). So removals past a share of what Framer holds are held for the owner to review,
//! and a full read that brings no row at all is never trusted to empty a collection.

use serde::{Deserialize, Serialize};

/// Removals held at most this many titles on the run record and the project (the rest counted).
pub const HELD_LISTED: usize = 20;

/// The guard's thresholds: the operator's defaults (`DELETION_GUARD_PERCENT`,
/// `DELETION_GUARD_MIN_ITEMS`), with a project's own percentage when it set one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardPolicy {
    /// Off: every removal goes through, except that an empty full read is still held.
    pub enabled: bool,
    /// Removals above this share (in percent) of the items Framer holds are held.
    pub percent: u32,
    /// ...when they are at least this many.
    pub min_items: u32,
}

impl Default for GuardPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            percent: 20,
            min_items: 5,
        }
    }
}

/// A project's own guard setting: on or off, and its threshold when it set one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectGuard {
    pub enabled: bool,
    /// `None`: the operator's `DELETION_GUARD_PERCENT`.
    pub percent: Option<u32>,
}

impl ProjectGuard {
    /// The policy for the project's runs, under the operator's defaults.
    pub fn policy(self, defaults: GuardPolicy) -> GuardPolicy {
        GuardPolicy {
            enabled: self.enabled,
            percent: self.percent.unwrap_or(defaults.percent),
            min_items: defaults.min_items,
        }
    }
}

/// What a run would do, as the guard needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removals {
    /// Items the project has in Framer (what D1 recorded and, on full runs, Framer listed).
    pub held_in_framer: usize,
    /// Items the run would remove (or unpublish) that the owner did not already review.
    pub would_remove: usize,
    /// The run read every row of the data source.
    pub full: bool,
    /// Rows that read brought (full runs: the whole data source as Notion showed it).
    pub rows_read: usize,
}

/// The guard's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    Hold(HoldReason),
}

/// Why removals were held, for the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// Notion answered a full read with no rows while Framer holds items.
    EmptyRead,
    /// More than the threshold of the collection would go at once.
    OverThreshold,
}

impl HoldReason {
    pub fn describe(self) -> &'static str {
        match self {
            Self::EmptyRead => {
                "Notion answered with no rows at all while the site holds items (pages unshared from the integration, or a Notion incident)"
            }
            Self::OverThreshold => {
                "more items would be removed at once than the deletion guard allows"
            }
        }
    }
}

/// Decides whether the run's removals go through.
pub fn decide(removals: Removals, policy: GuardPolicy) -> Verdict {
    if removals.would_remove == 0 {
        return Verdict::Proceed;
    }
    if removals.full && removals.rows_read == 0 && removals.held_in_framer > 0 {
        return Verdict::Hold(HoldReason::EmptyRead);
    }
    if !policy.enabled {
        return Verdict::Proceed;
    }
    let many = removals.would_remove >= policy.min_items as usize;
    // would / held > percent / 100, in integers.
    let share =
        removals.would_remove * 100 > policy.percent as usize * removals.held_in_framer.max(1);
    if many && share {
        Verdict::Hold(HoldReason::OverThreshold)
    } else {
        Verdict::Proceed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(held: usize, remove: usize) -> Removals {
        Removals {
            held_in_framer: held,
            would_remove: remove,
            full: true,
            rows_read: held - remove,
        }
    }

    #[test]
    fn the_issue_cases() {
        let policy = GuardPolicy::default();
        // 48 of 50 trashed: held. 3 of 50: removed at once.
        assert_eq!(
            decide(run(50, 48), policy),
            Verdict::Hold(HoldReason::OverThreshold)
        );
        assert_eq!(decide(run(50, 3), policy), Verdict::Proceed);
        // Notion answers with no rows: held, whatever the size and even with the guard off.
        let empty = Removals {
            rows_read: 0,
            ..run(50, 50)
        };
        assert_eq!(decide(empty, policy), Verdict::Hold(HoldReason::EmptyRead));
        let tiny = Removals {
            rows_read: 0,
            ..run(2, 2)
        };
        assert_eq!(decide(tiny, policy), Verdict::Hold(HoldReason::EmptyRead));
        let off = GuardPolicy {
            enabled: false,
            ..policy
        };
        assert_eq!(decide(empty, off), Verdict::Hold(HoldReason::EmptyRead));
        assert_eq!(decide(run(50, 48), off), Verdict::Proceed);
    }

    #[test]
    fn thresholds_are_strict_and_need_both() {
        let policy = GuardPolicy::default();
        // Exactly 20 %: allowed; one more: held.
        assert_eq!(decide(run(100, 20), policy), Verdict::Proceed);
        assert_eq!(
            decide(run(100, 21), policy),
            Verdict::Hold(HoldReason::OverThreshold)
        );
        // 4 of 4 is 100 % but under the minimum count.
        assert_eq!(decide(run(10, 4), policy), Verdict::Proceed);
        assert_eq!(
            decide(run(10, 5), policy),
            Verdict::Hold(HoldReason::OverThreshold)
        );
        // A project that raised its threshold.
        let raised = GuardPolicy {
            percent: 60,
            ..policy
        };
        assert_eq!(decide(run(50, 30), raised), Verdict::Proceed);
        assert_eq!(
            decide(run(50, 31), raised),
            Verdict::Hold(HoldReason::OverThreshold)
        );
    }

    #[test]
    fn an_incremental_run_with_no_rows_is_not_an_empty_read() {
        let incremental = Removals {
            held_in_framer: 50,
            would_remove: 1,
            full: false,
            rows_read: 0,
        };
        assert_eq!(
            decide(incremental, GuardPolicy::default()),
            Verdict::Proceed
        );
    }

    proptest! {
        /// Whatever the numbers, nothing is removed beyond the threshold, and nothing is held
        /// when nothing would go.
        #[test]
        fn never_more_than_the_threshold(
            held in 0usize..5_000,
            remove in 0usize..5_000,
            read in 0usize..5_000,
            percent in 1u32..=100,
            min_items in 1u32..50,
            full in any::<bool>(),
        ) {
            let policy = GuardPolicy { enabled: true, percent, min_items };
            let removals = Removals { held_in_framer: held, would_remove: remove, full, rows_read: read };
            match decide(removals, policy) {
                Verdict::Proceed => {
                    prop_assert!(remove < min_items as usize || remove * 100 <= percent as usize * held.max(1));
                    prop_assert!(!(full && read == 0 && held > 0 && remove > 0));
                }
                Verdict::Hold(_) => prop_assert!(remove > 0),
            }
        }
    }
}
