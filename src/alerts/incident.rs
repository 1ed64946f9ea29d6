//! Once per incident: a condition (a project's sync failing, rows skipped, edits no webhook
//! announced) opens an incident the first time it is seen, raises one alert when it has lasted
//! long enough, stays quiet while it persists, and sends one recovery message when it clears,
//! only if an alert went out. Incidents are kept per project and kind.

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
}

/// What one run or check saw of the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The condition holds; it is worth an alert once it has lasted `alert_after_ms`.
    Present {
        summary: String,
        alert_after_ms: i64,
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
            },
        ) => {
            let opened_at_ms = current.map_or(now_ms, |i| i.opened_at_ms);
            let already = current.is_some_and(|i| i.alerted);
            let due = !already && now_ms - opened_at_ms >= alert_after_ms;
            Decision::Store {
                incident: Incident {
                    kind,
                    opened_at_ms,
                    alerted: already || due,
                    summary,
                },
                send: due.then_some(Send::Alert),
            }
        }
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
