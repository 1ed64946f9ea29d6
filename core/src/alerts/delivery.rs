//! Delivering an alert: what a receiver's answer means, and when a failed delivery is tried
//! again (doubling from the base delay, for up to an hour after the alert was raised).

/// An alert is retried for this long after it was raised, then dropped.
pub const GIVE_UP_AFTER_MS: i64 = 60 * 60 * 1000;
/// The longest wait between two attempts.
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1000;

/// What a delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// 410 Gone: the receiver was deleted; the destination is disabled.
    Gone,
    /// Worth trying again (5xx, 408, 429, no answer).
    Retry,
    /// The receiver refuses this request for good (another 4xx): retrying cannot help.
    Refused,
}

impl Verdict {
    /// `None`: no HTTP answer (connection failed, timed out).
    pub fn of(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Self::Delivered,
            Some(410) => Self::Gone,
            Some(408 | 429) | None => Self::Retry,
            Some(400..=499) => Self::Refused,
            Some(_) => Self::Retry,
        }
    }
}

/// When to try again after `attempts` failed attempts, or `None` when the hour is over.
/// The last try falls exactly at the hour.
pub fn next_attempt_at(
    attempts: u32,
    created_at_ms: i64,
    now_ms: i64,
    base_ms: i64,
) -> Option<i64> {
    let deadline = created_at_ms + GIVE_UP_AFTER_MS;
    if now_ms >= deadline {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let delay = base_ms.saturating_mul(1 << doublings).min(MAX_DELAY_MS);
    Some((now_ms + delay).min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_verdicts() {
        assert_eq!(Verdict::of(Some(200)), Verdict::Delivered);
        assert_eq!(Verdict::of(Some(204)), Verdict::Delivered);
        assert_eq!(Verdict::of(Some(410)), Verdict::Gone);
        assert_eq!(Verdict::of(Some(500)), Verdict::Retry);
        assert_eq!(Verdict::of(Some(503)), Verdict::Retry);
        assert_eq!(Verdict::of(Some(429)), Verdict::Retry);
        assert_eq!(Verdict::of(None), Verdict::Retry);
        assert_eq!(Verdict::of(Some(404)), Verdict::Refused);
        assert_eq!(Verdict::of(Some(301)), Verdict::Retry);
    }

    #[test]
    fn backoff_doubles_caps_and_stops_at_the_hour() {
        let base = 60_000;
        let mut now = 0;
        let mut schedule = Vec::new();
        let mut attempts = 1;
        while let Some(next) = next_attempt_at(attempts, 0, now, base) {
            schedule.push(next);
            now = next;
            attempts += 1;
        }
        let minutes: Vec<i64> = schedule.iter().map(|t| t / 60_000).collect();
        assert_eq!(minutes, vec![1, 3, 7, 15, 30, 45, 60]);
        assert_eq!(next_attempt_at(1, 0, GIVE_UP_AFTER_MS, base), None);
    }
}
