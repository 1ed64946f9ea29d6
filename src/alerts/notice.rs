//! What an alert says: a title, the cause in words and what to do about it, for people (the
//! Slack-compatible text) and for programs (the fields of the JSON event).

use super::incident::Kind;
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
    pub details: Value,
}

impl Notice {
    /// The one-paragraph text of the Slack-compatible format.
    pub fn text(&self) -> String {
        let mut text = self.title.clone();
        if let Some(cause) = &self.cause {
            text = format!("{text}\nCause: {cause}");
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
        let minutes = failing_for_ms / 60_000;
        let duration = if minutes < 1 {
            "under a minute".to_owned()
        } else {
            format!("{minutes} min")
        };
        format!(
            "Sync of \u{201c}{}\u{201d} has been failing for {duration}",
            project.name
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
        details: json!({ "error_code": code, "error_message": message, "retryable": retryable }),
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
        details: json!({ "latest_edit_at": latest_edit_at, "last_event_at": last_event_at }),
    }
}

/// An incident that raised an alert is over.
pub fn resolved(project: &ProjectRef, kind: Kind, summary: &str) -> Notice {
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
    Notice {
        event: Event::Resolved,
        kind: Some(kind),
        project: Some(project.clone()),
        title,
        cause: Some(format!("resolved: {summary}")),
        action: None,
        details: json!({}),
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
        );
        assert_eq!(r.event, Event::Resolved);
        assert_eq!(
            r.text(),
            "Sync of \u{201c}Blog\u{201d} works again\nCause: resolved: the Notion token was revoked or is wrong"
        );
        assert_eq!(test("Ops").event.as_str(), "alert.test");
    }
}
