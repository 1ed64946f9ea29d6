//! Once per incident: a condition (a project's sync failing, rows skipped, edits no webhook
//! announced) opens an incident the first time it is seen, raises one alert when it has lasted
//! long enough, stays quiet while it persists, and sends one recovery message when it clears,
//! only if an alert went out. Incidents are kept per project and kind. An incident that is not
//! worth an alert yet knows when it will be (`due_at_ms`): the project's alarm and the cron
//! check it then, so the alert does not wait for the next run to fail.

use serde_json::Value;

/// What an incident is about; one open incident per project and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs fail: at once for a failure retrying cannot fix, after a grace period (setting
    /// `ALERT_RETRYABLE_AFTER_SECONDS`, 30 min by default) for a retryable one.
    SyncFailing,
    /// A run skipped rows it could not read.
    RowsSkipped,
    /// Notion has edits that no webhook event announced.
    Unannounced,
    /// The deletion guard held removals for the owner to review.
    RemovalsHeld,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncFailing => "sync_failing",
            Self::RowsSkipped => "rows_skipped",
            Self::Unannounced => "webhook_silent",
            Self::RemovalsHeld => "removals_held",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::SyncFailing,
            Self::RowsSkipped,
            Self::Unannounced,
            Self::RemovalsHeld,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// An open incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub kind: Kind,
    pub opened_at_ms: i64,
    /// An alert went out for it (so its end deserves a recovery message).
    pub alerted: bool,
    /// The latest cause in words, for the page and the recovery message.
    pub summary: String,
    /// When the incident becomes worth an alert, while none went out.
    pub due_at_ms: Option<i64>,
    /// What the alert needs besides the summary (for a failing sync: the error code, message
    /// and whether it is retryable); `Null` when there is nothing more.
    pub detail: Value,
}

/// What one run or check saw of the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The condition holds; it is worth an alert once it has lasted `alert_after_ms`.
    Present {
        summary: String,
        alert_after_ms: i64,
        detail: Value,
    },
    /// The condition is over.
    Absent,
    /// This run or check says nothing about it (e.g. an incremental run about skipped rows).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    Alert,
    Recovery,
}

/// What to store and what to send after an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changes.
    Keep,
    /// Store this incident (opened or updated), and send if told.
    Store {
        incident: Incident,
        send: Option<Send>,
    },
    /// The incident is over: delete it, and send the recovery message if told.
    Close { send: Option<Send> },
}

impl Decision {
    pub fn send(&self) -> Option<Send> {
        match self {
            Self::Keep => None,
            Self::Store { send, .. } | Self::Close { send } => *send,
        }
    }
}

pub fn decide(
    kind: Kind,
    current: Option<&Incident>,
    observed: Observation,
    now_ms: i64,
) -> Decision {
    match (current, observed) {
        (_, Observation::Unknown) | (None, Observation::Absent) => Decision::Keep,
        (Some(open), Observation::Absent) => Decision::Close {
            send: open.alerted.then_some(Send::Recovery),
        },
        (
            current,
            Observation::Present {
                summary,
                alert_after_ms,
                detail,
            },
        ) => {
            let opened_at_ms = current.map_or(now_ms, |i| i.opened_at_ms);
            let already = current.is_some_and(|i| i.alerted);
            let due_at_ms = opened_at_ms.saturating_add(alert_after_ms);
            let due = !already && now_ms >= due_at_ms;
            let alerted = already || due;
            Decision::Store {
                incident: Incident {
                    kind,
                    opened_at_ms,
                    alerted,
                    summary,
                    due_at_ms: (!alerted).then_some(due_at_ms),
                    detail,
                },
                send: due.then_some(Send::Alert),
            }
        }
    }
}

/// The timed check: an open incident whose grace period is over raises its alert now, with
/// what the last observation recorded; anything else waits.
pub fn decide_due(current: Option<&Incident>, now_ms: i64) -> Decision {
    match current {
        Some(open) if !open.alerted && open.due_at_ms.is_some_and(|at| at <= now_ms) => {
            Decision::Store {
                incident: Incident {
                    alerted: true,
                    due_at_ms: None,
                    ..open.clone()
                },
                send: Some(Send::Alert),
            }
        }
        _ => Decision::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The production default of `ALERT_RETRYABLE_AFTER_SECONDS`.
    const RETRYABLE_GRACE_MS: i64 = 30 * 60 * 1000;

    fn present(after: i64) -> Observation {
        Observation::Present {
            summary: "Notion rejected the token".to_owned(),
            alert_after_ms: after,
            detail: Value::Null,
        }
    }

    fn stored(d: &Decision) -> Incident {
        match d {
            Decision::Store { incident, .. } => incident.clone(),
            other => panic!("expected Store, got {other:?}"),
        }
    }

    #[test]
    fn a_permanent_failure_alerts_once_and_recovers_once() {
        let first = decide(Kind::SyncFailing, None, present(0), 1_000);
        assert_eq!(first.send(), Some(Send::Alert));
        let open = stored(&first);
        assert_eq!((open.opened_at_ms, open.alerted), (1_000, true));

        let second = decide(Kind::SyncFailing, Some(&open), present(0), 5_000);
        assert_eq!(second.send(), None, "no second alert while it lasts");
        assert_eq!(stored(&second).opened_at_ms, 1_000);

        let cleared = decide(Kind::SyncFailing, Some(&open), Observation::Absent, 9_000);
        assert_eq!(
            cleared,
            Decision::Close {
                send: Some(Send::Recovery)
            }
        );
        assert_eq!(
            decide(Kind::SyncFailing, None, Observation::Absent, 9_000),
            Decision::Keep
        );
    }

    #[test]
    fn a_retryable_failure_alerts_only_after_the_grace_period() {
        let first = decide(Kind::SyncFailing, None, present(RETRYABLE_GRACE_MS), 0);
        assert_eq!(first.send(), None);
        let open = stored(&first);
        assert!(!open.alerted);
        let early = decide(
            Kind::SyncFailing,
            Some(&open),
            present(RETRYABLE_GRACE_MS),
            RETRYABLE_GRACE_MS - 1,
        );
        assert_eq!(early.send(), None);
        let late = decide(
            Kind::SyncFailing,
            Some(&open),
            present(RETRYABLE_GRACE_MS),
            RETRYABLE_GRACE_MS,
        );
        assert_eq!(late.send(), Some(Send::Alert));
    }

    #[test]
    fn a_retryable_failure_that_clears_quietly_sends_no_recovery() {
        let open = stored(&decide(
            Kind::SyncFailing,
            None,
            present(RETRYABLE_GRACE_MS),
            0,
        ));
        assert_eq!(
            decide(Kind::SyncFailing, Some(&open), Observation::Absent, 60_000),
            Decision::Close { send: None }
        );
    }

    #[test]
    fn a_permanent_failure_after_retryable_ones_alerts_at_once() {
        let open = stored(&decide(
            Kind::SyncFailing,
            None,
            present(RETRYABLE_GRACE_MS),
            0,
        ));
        assert_eq!(
            decide(Kind::SyncFailing, Some(&open), present(0), 10).send(),
            Some(Send::Alert)
        );
    }

    #[test]
    fn a_retryable_failure_falls_due_on_time_without_another_run() {
        let open = stored(&decide(
            Kind::SyncFailing,
            None,
            present(RETRYABLE_GRACE_MS),
            1_000,
        ));
        assert_eq!(open.due_at_ms, Some(1_000 + RETRYABLE_GRACE_MS));
        assert_eq!(decide_due(Some(&open), RETRYABLE_GRACE_MS), Decision::Keep);
        let due = decide_due(Some(&open), 1_000 + RETRYABLE_GRACE_MS);
        assert_eq!(due.send(), Some(Send::Alert));
        let alerted = stored(&due);
        assert!(alerted.alerted && alerted.due_at_ms.is_none());
        assert_eq!(
            alerted.opened_at_ms, 1_000,
            "still measured from the first failure"
        );
        assert_eq!(decide_due(Some(&alerted), i64::MAX), Decision::Keep, "once");
        assert_eq!(decide_due(None, i64::MAX), Decision::Keep);
        // A later failure keeps the due time of the first one.
        let later = stored(&decide(
            Kind::SyncFailing,
            Some(&open),
            present(RETRYABLE_GRACE_MS),
            60_000,
        ));
        assert_eq!(later.due_at_ms, open.due_at_ms);
        // An alert sent at once leaves nothing due.
        assert_eq!(
            stored(&decide(Kind::SyncFailing, None, present(0), 5)).due_at_ms,
            None
        );
    }

    #[test]
    fn unknown_changes_nothing_and_kinds_round_trip() {
        let open = stored(&decide(Kind::RowsSkipped, None, present(0), 0));
        assert_eq!(
            decide(Kind::RowsSkipped, Some(&open), Observation::Unknown, 10),
            Decision::Keep
        );
        for kind in [Kind::SyncFailing, Kind::RowsSkipped, Kind::Unannounced] {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("other"), None);
    }
}
