//! What an alert says: a title, the cause in words and what to do about it, for people (the
//! Slack-compatible text) and for programs (the fields of the JSON event).

use super::incident::{Incident, Kind};
use serde_json::{json, Value};

/// How many skipped rows an alert quotes.
pub const QUOTED_SKIPS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Raised,
    Resolved,
    Test,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raised => "alert.raised",
            Self::Resolved => "alert.resolved",
            Self::Test => "alert.test",
        }
    }
}

/// The project an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: Event,
    pub kind: Option<Kind>,
    pub project: Option<ProjectRef>,
    pub title: String,
    pub cause: Option<String>,
    pub action: Option<String>,
    /// For a recovery: how it was fixed (`cause` then says what was wrong).
    pub resolution: Option<String>,
    pub details: Value,
}

impl Notice {
    /// The one-paragraph text of the Slack-compatible format.
    pub fn text(&self) -> String {
        let mut text = self.title.clone();
        let cause_label = if self.event == Event::Resolved {
            "What was wrong"
        } else {
            "Cause"
        };
        if let Some(cause) = &self.cause {
            text = format!("{text}\n{cause_label}: {cause}");
        }
        if let Some(resolution) = &self.resolution {
            text = format!("{text}\nFixed: {resolution}");
        }
        if let Some(action) = &self.action {
            text = format!("{text}\nWhat to do: {action}");
        }
        text
    }

    /// The summary kept on the open incident (and shown in the recovery message).
    pub fn summary(&self) -> String {
        self.cause.clone().unwrap_or_else(|| self.title.clone())
    }
}

/// The cause in words and what to do, for a failed run's code and message.
pub fn failure_cause(code: &str, message: &str, retryable: bool) -> (String, String) {
    let (cause, action) = match code {
        "notion_unauthorized" => (
            "the Notion token was revoked or is wrong",
            "paste a new Notion internal integration token under Settings",
        ),
        "notion_database_not_shared" => (
            "Notion no longer shares the database with the integration",
            "in Notion, open the database, choose ... > Connections and add the integration",
        ),
        "framer_key_invalid" => (
            "Framer refused the API key (it was revoked or rotated)",
            "create a new API key in the Framer project's settings and paste it under Settings",
        ),
        _ if retryable => (
            message,
            "nothing yet: the sync keeps retrying; if this persists, check the service's status",
        ),
        _ => (
            message,
            "open the project page, fix the setting the message names, then press Sync now",
        ),
    };
    (cause.to_owned(), action.to_owned())
}

/// A run failed (at once for a permanent failure, after the grace period for a retryable one).
pub fn sync_failing(
    project: &ProjectRef,
    code: &str,
    message: &str,
    retryable: bool,
    failing_for_ms: i64,
) -> Notice {
    let (cause, action) = failure_cause(code, message, retryable);
    let title = if retryable {
        format!(
            "Sync of \u{201c}{}\u{201d} has been failing for {}",
            project.name,
            duration(failing_for_ms)
        )
    } else {
        format!("Sync of \u{201c}{}\u{201d} failed", project.name)
    };
    Notice {
        event: Event::Raised,
        kind: Some(Kind::SyncFailing),
        project: Some(project.clone()),
        title,
        cause: Some(cause),
        action: Some(action),
        resolution: None,
        details: json!({ "error_code": code, "error_message": message, "retryable": retryable }),
    }
}

/// "under a minute", "42 min", "3 h 5 min".
fn duration(ms: i64) -> String {
    let minutes = ms / 60_000;
    match minutes {
        m if m < 1 => "under a minute".to_owned(),
        m if m < 60 => format!("{m} min"),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{} h {} min", m / 60, m % 60),
    }
}

/// The alert of an incident whose grace period ended with no run to observe it (the timed
/// check), from what the last observation recorded.
pub fn overdue(project: &ProjectRef, incident: &Incident, now_ms: i64) -> Notice {
    let detail = &incident.detail;
    match incident.kind {
        Kind::SyncFailing => sync_failing(
            project,
            detail["error_code"].as_str().unwrap_or_default(),
            detail["error_message"]
                .as_str()
                .unwrap_or(&incident.summary),
            detail["retryable"].as_bool().unwrap_or(true),
            now_ms - incident.opened_at_ms,
        ),
        other => Notice {
            event: Event::Raised,
            kind: Some(other),
            project: Some(project.clone()),
            title: format!(
                "\u{201c}{}\u{201d} needs attention ({})",
                project.name,
                other.as_str()
            ),
            cause: Some(incident.summary.clone()),
            action: None,
            resolution: None,
            details: detail.clone(),
        },
    }
}

/// A run skipped rows; `reasons` are the run's skip warnings.
pub fn rows_skipped(project: &ProjectRef, count: usize, reasons: &[String]) -> Notice {
    let quoted: Vec<&String> = reasons.iter().take(QUOTED_SKIPS).collect();
    let mut cause = format!(
        "{count} row{} could not be read",
        if count == 1 { "" } else { "s" }
    );
    if !quoted.is_empty() {
        let list: Vec<String> = quoted
            .iter()
            .map(|r| format!("\u{201c}{r}\u{201d}"))
            .collect();
        cause = format!("{cause}: {}", list.join("; "));
        if count > quoted.len() {
            cause = format!("{cause} and {} more", count - quoted.len());
        }
    }
    Notice {
        event: Event::Raised,
        kind: Some(Kind::RowsSkipped),
        project: Some(project.clone()),
        title: format!(
            "The last sync of \u{201c}{}\u{201d} skipped {count} row{}",
            project.name,
            if count == 1 { "" } else { "s" }
        ),
        cause: Some(cause),
        action: Some(
            "open the project's sync history for each row's reason and fix the rows in Notion"
                .to_owned(),
        ),
        resolution: None,
        details: json!({ "skipped": count, "reasons": quoted }),
    }
}

/// The deletion guard held removals: the site keeps the items until the owner decides.
pub fn removals_held(
    project: &ProjectRef,
    count: usize,
    reason: &str,
    titles: &[(String, String)],
) -> Notice {
    let quoted: Vec<String> = titles
        .iter()
        .take(QUOTED_SKIPS)
        .map(|(title, url)| format!("\u{201c}{title}\u{201d} ({url})"))
        .collect();
    let mut cause = format!("{reason}: {count} item{} would be removed", plural(count));
    if !quoted.is_empty() {
        cause = format!("{cause}, among them {}", quoted.join("; "));
        if count > quoted.len() {
            cause = format!("{cause} and {} more", count - quoted.len());
        }
    }
    Notice {
        event: Event::Raised,
        kind: Some(Kind::RemovalsHeld),
        project: Some(project.clone()),
        title: format!(
            "{count} item{} of \u{201c}{}\u{201d} would be removed from the site: held for review",
            plural(count),
            project.name
        ),
        cause: Some(cause),
        action: Some(
            "nothing was removed or published for them; open the project page and choose \u{201c}Remove them\u{201d} or \u{201c}Keep them\u{201d} (if rows were trashed by mistake, restore them in Notion)"
                .to_owned(),
        ),
        resolution: None,
        details: json!({ "held": count, "items": titles.iter().take(QUOTED_SKIPS).map(|(t, u)| json!({"title": t, "url": u})).collect::<Vec<_>>() }),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// The freshness check found edits no webhook event announced.
pub fn unannounced(
    project: &ProjectRef,
    latest_edit_at: &str,
    last_event_at: Option<&str>,
) -> Notice {
    let since = last_event_at.map_or_else(
        || "no webhook event has arrived since the subscription was confirmed".to_owned(),
        |at| format!("the last webhook event arrived at {at}"),
    );
    Notice {
        event: Event::Raised,
        kind: Some(Kind::Unannounced),
        project: Some(project.clone()),
        title: format!(
            "Notion edits to \u{201c}{}\u{201d} arrive without webhook events",
            project.name
        ),
        cause: Some(format!(
            "the database was edited at {latest_edit_at} but {since}: the Notion webhook subscription is paused or was deleted"
        )),
        action: Some(
            "in Notion, open the integration's Webhooks tab and resume or recreate the subscription (a new one needs verifying under Settings); the project was synced anyway".to_owned(),
        ),
        resolution: None,
        details: json!({ "latest_edit_at": latest_edit_at, "last_event_at": last_event_at }),
    }
}

/// An incident that raised an alert is over: what was wrong, and that it is fixed.
pub fn resolved(project: &ProjectRef, kind: Kind, summary: &str, lasted_ms: i64) -> Notice {
    let title = match kind {
        Kind::SyncFailing => format!("Sync of \u{201c}{}\u{201d} works again", project.name),
        Kind::RowsSkipped => format!(
            "Sync of \u{201c}{}\u{201d} no longer skips rows",
            project.name
        ),
        Kind::Unannounced => format!(
            "Webhook events for \u{201c}{}\u{201d} arrive again",
            project.name
        ),
        Kind::RemovalsHeld => format!(
            "No removals of \u{201c}{}\u{201d} wait for review any more",
            project.name
        ),
    };
    let lasted = duration(lasted_ms);
    let resolution = match kind {
        Kind::SyncFailing => format!(
            "the last sync succeeded, after {lasted} of failures; nothing to do"
        ),
        Kind::RowsSkipped => {
            format!("a full sync read every row (rows had been skipped for {lasted}); nothing to do")
        }
        Kind::Unannounced => format!(
            "Notion's edits are announced by webhook events again (they were missing for {lasted}); nothing to do"
        ),
        Kind::RemovalsHeld => format!(
            "Notion shows the rows again, or the owner decided on the held removals (after {lasted}); nothing to do"
        ),
    };
    Notice {
        event: Event::Resolved,
        kind: Some(kind),
        project: Some(project.clone()),
        title,
        cause: Some(summary.to_owned()),
        action: None,
        resolution: Some(resolution.clone()),
        details: json!({ "resolution": resolution, "lasted_ms": lasted_ms }),
    }
}

/// "Send test alert".
pub fn test(destination_name: &str) -> Notice {
    Notice {
        event: Event::Test,
        kind: None,
        project: None,
        title: format!("Test alert for \u{201c}{destination_name}\u{201d}: alerts from Notion-Framer sync will arrive here"),
        cause: None,
        action: None,
        resolution: None,
        details: json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blog() -> ProjectRef {
        ProjectRef {
            id: "p1".to_owned(),
            name: "Blog".to_owned(),
        }
    }

    #[test]
    fn a_revoked_token_says_what_to_do() {
        let n = sync_failing(&blog(), "notion_unauthorized", "Notion rejected", false, 0);
        assert_eq!(n.title, "Sync of \u{201c}Blog\u{201d} failed");
        assert_eq!(
            n.text(),
            "Sync of \u{201c}Blog\u{201d} failed\nCause: the Notion token was revoked or is wrong\n\
             What to do: paste a new Notion internal integration token under Settings"
        );
        let n = sync_failing(&blog(), "framer_key_invalid", "Framer refused", false, 0);
        assert!(n.text().contains("Framer refused the API key"));
        assert!(n.text().contains("paste it under Settings"));
    }

    #[test]
    fn a_retryable_failure_alerted_within_a_minute_says_so() {
        let n = sync_failing(
            &blog(),
            "notion_unavailable",
            "Notion answered 503",
            true,
            5_000,
        );
        assert_eq!(
            n.title,
            "Sync of \u{201c}Blog\u{201d} has been failing for under a minute"
        );
    }

    #[test]
    fn a_lasting_retryable_failure_says_for_how_long() {
        let n = sync_failing(
            &blog(),
            "notion_unavailable",
            "Notion answered 503",
            true,
            42 * 60_000,
        );
        assert_eq!(
            n.title,
            "Sync of \u{201c}Blog\u{201d} has been failing for 42 min"
        );
        assert_eq!(n.cause.as_deref(), Some("Notion answered 503"));
        assert!(n.action.unwrap().contains("keeps retrying"));
    }

    #[test]
    fn skipped_rows_quote_the_first_few() {
        let reasons: Vec<String> = (1..=5).map(|i| format!("row {i}")).collect();
        let n = rows_skipped(&blog(), 5, &reasons);
        assert_eq!(
            n.cause.as_deref(),
            Some("5 rows could not be read: \u{201c}row 1\u{201d}; \u{201c}row 2\u{201d}; \u{201c}row 3\u{201d} and 2 more")
        );
        let n = rows_skipped(&blog(), 1, &[]);
        assert_eq!(n.cause.as_deref(), Some("1 row could not be read"));
        assert_eq!(
            n.title,
            "The last sync of \u{201c}Blog\u{201d} skipped 1 row"
        );
    }

    #[test]
    fn an_overdue_incident_alerts_with_what_its_last_failure_said() {
        let incident = Incident {
            kind: Kind::SyncFailing,
            opened_at_ms: 0,
            alerted: false,
            summary: "Notion answered 503".to_owned(),
            due_at_ms: Some(5_000),
            detail: json!({"error_code": "notion_unavailable", "error_message": "Notion answered 503", "retryable": true}),
        };
        let n = overdue(&blog(), &incident, 120 * 60_000);
        assert_eq!(
            n.title,
            "Sync of \u{201c}Blog\u{201d} has been failing for 2 h"
        );
        assert_eq!(n.cause.as_deref(), Some("Notion answered 503"));
        assert_eq!(n.details["error_code"], "notion_unavailable");
        assert!(n.action.unwrap().contains("keeps retrying"));
        // An incident stored before the detail was kept still says its cause.
        let old = Incident {
            detail: Value::Null,
            ..incident
        };
        let n = overdue(&blog(), &old, 31 * 60_000);
        assert_eq!(n.cause.as_deref(), Some("Notion answered 503"));
        assert_eq!(
            n.title,
            "Sync of \u{201c}Blog\u{201d} has been failing for 31 min"
        );
    }

    #[test]
    fn freshness_recovery_and_test_texts() {
        let n = unannounced(&blog(), "2026-12-01T10:00:00.000Z", None);
        assert!(n
            .cause
            .as_deref()
            .unwrap()
            .contains("paused or was deleted"));
        assert_eq!(n.summary(), n.cause.clone().unwrap());
        let r = resolved(
            &blog(),
            Kind::SyncFailing,
            "the Notion token was revoked or is wrong",
            42 * 60_000,
        );
        assert_eq!(r.event, Event::Resolved);
        assert_eq!(
            r.text(),
            "Sync of \u{201c}Blog\u{201d} works again\n\
             What was wrong: the Notion token was revoked or is wrong\n\
             Fixed: the last sync succeeded, after 42 min of failures; nothing to do"
        );
        assert!(!r.text().contains("resolved:"));
        assert_eq!(
            r.cause.as_deref(),
            Some("the Notion token was revoked or is wrong")
        );
        assert_eq!(r.details["lasted_ms"], 42 * 60_000);
        let r = resolved(
            &blog(),
            Kind::RowsSkipped,
            "1 row could not be read",
            90 * 60_000,
        );
        assert!(r.text().contains("What was wrong: 1 row could not be read"));
        assert!(r
            .text()
            .contains("Fixed: a full sync read every row (rows had been skipped for 1 h 30 min)"));
        assert_eq!(test("Ops").event.as_str(), "alert.test");
    }
}
