//! The freshness check: Notion says when the database was last edited; the webhook ledger says
//! when the last event arrived. An edit newer than every event, older than the debounce max
//! wait (plus Notion's rounding of `last_edited_time` down to the minute), is an edit no
//! webhook announced: the subscription is paused or lost.

/// Notion reports `last_edited_time` rounded down to the minute.
pub const EDIT_TIME_ROUNDING_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inputs {
    /// The database's newest `last_edited_time`; `None` when it has no rows.
    pub latest_edit_ms: Option<i64>,
    /// When the last webhook event arrived.
    pub last_event_ms: Option<i64>,
    /// When the subscription was confirmed: edits before it were never going to be announced.
    pub activated_ms: Option<i64>,
    pub now_ms: i64,
    pub max_wait_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    /// Edits at `latest_edit_ms` were not announced by any webhook event.
    Unannounced {
        latest_edit_ms: i64,
    },
}

pub fn check(inputs: &Inputs) -> Verdict {
    let Some(latest) = inputs.latest_edit_ms else {
        return Verdict::Fresh;
    };
    let announced_until = inputs.last_event_ms.max(inputs.activated_ms);
    let unannounced = announced_until.is_none_or(|t| latest > t);
    let overdue = inputs.now_ms - latest > inputs.max_wait_ms + EDIT_TIME_ROUNDING_MS;
    if unannounced && overdue {
        Verdict::Unannounced {
            latest_edit_ms: latest,
        }
    } else {
        Verdict::Fresh
    }
}

/// The query that asks a data source for its most recently edited row, and only that.
pub fn latest_edit_query() -> serde_json::Value {
    serde_json::json!({
        "sorts": [{ "timestamp": "last_edited_time", "direction": "descending" }],
        "page_size": 1,
    })
}

/// The `last_edited_time` of the first row of a query answer.
pub fn latest_edit_of(answer: &serde_json::Value) -> Option<String> {
    answer["results"][0]["last_edited_time"]
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn inputs(edit: Option<i64>, event: Option<i64>) -> Inputs {
        Inputs {
            latest_edit_ms: edit,
            last_event_ms: event,
            activated_ms: Some(0),
            now_ms: 100 * MIN,
            max_wait_ms: MIN,
        }
    }

    #[test]
    fn an_old_edit_newer_than_every_event_is_unannounced() {
        assert_eq!(
            check(&inputs(Some(90 * MIN), Some(80 * MIN))),
            Verdict::Unannounced {
                latest_edit_ms: 90 * MIN
            }
        );
        assert_eq!(
            check(&inputs(Some(90 * MIN), None)),
            Verdict::Unannounced {
                latest_edit_ms: 90 * MIN
            }
        );
    }

    #[test]
    fn the_query_asks_for_one_row_newest_edit_first() {
        let q = latest_edit_query();
        assert_eq!(q["page_size"], 1);
        assert_eq!(q["sorts"][0]["timestamp"], "last_edited_time");
        assert_eq!(q["sorts"][0]["direction"], "descending");
        let answer =
            serde_json::json!({"results": [{"last_edited_time": "2026-12-01T10:00:00.000Z"}]});
        assert_eq!(
            latest_edit_of(&answer).as_deref(),
            Some("2026-12-01T10:00:00.000Z")
        );
        assert_eq!(latest_edit_of(&serde_json::json!({"results": []})), None);
    }

    #[test]
    fn announced_recent_or_pre_subscription_edits_are_fresh() {
        assert_eq!(
            check(&inputs(Some(90 * MIN), Some(90 * MIN + 5))),
            Verdict::Fresh
        );
        // Within max wait plus the minute rounding: the event may still be on its way.
        assert_eq!(check(&inputs(Some(98 * MIN), Some(0))), Verdict::Fresh);
        assert_eq!(check(&inputs(None, None)), Verdict::Fresh);
        let mut before = inputs(Some(50 * MIN), None);
        before.activated_ms = Some(60 * MIN);
        assert_eq!(check(&before), Verdict::Fresh);
    }
}
