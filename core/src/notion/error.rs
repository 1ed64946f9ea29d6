//! Why a Notion request failed: the classification of Notion's answers into what the sync
//! records (a code), decides (retry or not) and tells the user.

use serde_json::Value;
use std::fmt;

/// Why a Notion request failed, classified from the status and Notion's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotionError {
    /// 401: the token is wrong or was revoked.
    Unauthorized,
    /// 404 `object_not_found` or 403 `restricted_resource`: not shared with the integration.
    NotShared {
        /// Notion's own message (names the object).
        message: String,
    },
    /// 429 or 529: slow down; `retry_after_ms` is Notion's Retry-After when it sent one.
    RateLimited {
        /// Delay Notion asked for.
        retry_after_ms: Option<u64>,
    },
    /// 5xx other than 529: Notion is having trouble; reads may be retried.
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Notion's error code ("" when the body was not Notion's).
        code: String,
    },
    /// Any other 4xx: the request itself is wrong (a bug or an unsupported database).
    Rejected {
        /// HTTP status.
        status: u16,
        /// Notion's error code.
        code: String,
        /// Notion's message.
        message: String,
    },
    /// The request never got an answer (DNS, connection reset, unreadable body). The text is
    /// what the runtime said: for the log only (`log_detail`), never the user's message.
    Transport(String),
    /// This sync step may make no more subrequests (Cloudflare caps them per invocation): the
    /// request was not sent, and the next step does it.
    StepBudgetSpent,
    /// The retry budget ran out; the last error is kept.
    GaveUp {
        /// The error that was still happening.
        last: Box<NotionError>,
        /// How many attempts were made.
        attempts: u32,
    },
}

impl NotionError {
    /// Classifies a non-2xx answer. `retry_after` is the raw `Retry-After` header.
    pub fn from_response(status: u16, body: &str, retry_after: Option<&str>) -> NotionError {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let code = parsed
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let message = parsed
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match (status, code.as_str()) {
            (401, _) | (_, "unauthorized") => NotionError::Unauthorized,
            (403, "restricted_resource") | (404, _) => NotionError::NotShared { message },
            (429 | 529, _) | (_, "rate_limited" | "service_overload") => NotionError::RateLimited {
                retry_after_ms: retry_after.and_then(parse_retry_after_ms),
            },
            (500..=599, _) => NotionError::Unavailable { status, code },
            _ => NotionError::Rejected {
                status,
                code,
                message,
            },
        }
    }

    /// The underlying error once retries are stripped away.
    pub fn root(&self) -> &NotionError {
        match self {
            NotionError::GaveUp { last, .. } => last.root(),
            other => other,
        }
    }

    /// The machine-readable code stored on the sync record.
    pub fn code(&self) -> &'static str {
        match self.root() {
            NotionError::Unauthorized => "notion_unauthorized",
            NotionError::NotShared { .. } => "notion_database_not_shared",
            NotionError::RateLimited { .. } => "notion_rate_limited",
            NotionError::Unavailable { .. }
            | NotionError::Transport(_)
            | NotionError::GaveUp { .. } => "notion_unavailable",
            NotionError::Rejected { .. } => "notion_request_rejected",
            NotionError::StepBudgetSpent => "step_budget_spent",
        }
    }

    /// Whether a later run may succeed without the user doing anything.
    pub fn retryable(&self) -> bool {
        matches!(
            self.root(),
            NotionError::RateLimited { .. }
                | NotionError::Unavailable { .. }
                | NotionError::Transport(_)
                | NotionError::StepBudgetSpent
        )
    }

    /// What the runtime said about a request that got no answer, for the log line only.
    pub fn log_detail(&self) -> Option<&str> {
        match self.root() {
            NotionError::Transport(detail) => Some(detail),
            _ => None,
        }
    }

    /// What the user should read on the sync record, including what to do about it: our
    /// words, with Notion's own message when Notion answered. Never the runtime's text.
    pub fn user_message(&self) -> String {
        match self.root() {
            NotionError::Unauthorized => "Notion rejected the integration token: it is wrong or was revoked. \
                 Paste a current internal integration token in the project settings."
                .to_owned(),
            NotionError::NotShared { message } => format!(
                "Notion cannot find the database or one of its pages for this integration ({message}). \
                 Open the database in Notion, choose ... > Connections, and add the integration."
            ),
            NotionError::RateLimited { .. } => {
                "Notion is rate limiting this integration; the sync will retry automatically.".to_owned()
            }
            NotionError::Unavailable { status, .. } => {
                format!("Notion answered {status} (temporarily unavailable); the sync will retry automatically.")
            }
            NotionError::Transport(_) => {
                "Notion could not be reached; the sync will retry automatically.".to_owned()
            }
            NotionError::Rejected { status, code, message } => {
                format!("Notion refused a request ({status} {code}: {message}).")
            }
            NotionError::GaveUp { .. } => "Notion kept failing; the sync will retry later.".to_owned(),
            NotionError::StepBudgetSpent => {
                "This step's request budget is spent; the next step continues.".to_owned()
            }
        }
    }
}

impl fmt::Display for NotionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotionError::GaveUp { last, attempts } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            other => write!(f, "{}: {}", other.code(), other.user_message()),
        }
    }
}

impl std::error::Error for NotionError {}

/// `Retry-After` as milliseconds: delta-seconds (possibly fractional). HTTP dates are ignored:
/// Notion sends seconds, and a date would need the clock.
pub fn parse_retry_after_ms(header: &str) -> Option<u64> {
    let secs: f64 = header.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Clamped to an hour, so the cast cannot overflow.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((secs.min(3600.0) * 1000.0).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_notion_error_bodies() {
        let body = |code: &str| {
            format!(
                r#"{{"object":"error","status":0,"code":"{code}","message":"Could not find database with ID: abc."}}"#
            )
        };
        assert_eq!(
            NotionError::from_response(401, &body("unauthorized"), None).code(),
            "notion_unauthorized"
        );
        let not_shared = NotionError::from_response(404, &body("object_not_found"), None);
        assert_eq!(not_shared.code(), "notion_database_not_shared");
        assert!(not_shared.user_message().contains("Connections"));
        assert!(not_shared
            .user_message()
            .contains("Could not find database with ID: abc."));
        assert!(!not_shared.retryable());
        assert_eq!(
            NotionError::from_response(403, &body("restricted_resource"), None).code(),
            "notion_database_not_shared"
        );
        assert_eq!(
            NotionError::from_response(429, &body("rate_limited"), Some("2")),
            NotionError::RateLimited {
                retry_after_ms: Some(2000)
            }
        );
        assert_eq!(
            NotionError::from_response(529, &body("service_overload"), None),
            NotionError::RateLimited {
                retry_after_ms: None
            }
        );
        assert_eq!(
            NotionError::from_response(502, "<html>bad gateway</html>", None),
            NotionError::Unavailable {
                status: 502,
                code: String::new()
            }
        );
        let rejected = NotionError::from_response(400, &body("validation_error"), None);
        assert_eq!(rejected.code(), "notion_request_rejected");
        assert!(!rejected.retryable());
    }

    #[test]
    fn transport_failures_keep_the_runtime_text_out_of_the_message() {
        let runtime = "TypeError: Network connection lost. at fetch (worker.js:12:3)";
        let e = NotionError::GaveUp {
            last: Box::new(NotionError::Transport(runtime.into())),
            attempts: 3,
        };
        assert_eq!(e.code(), "notion_unavailable");
        assert!(e.retryable());
        assert_eq!(
            e.user_message(),
            "Notion could not be reached; the sync will retry automatically."
        );
        assert!(!e.to_string().contains("TypeError"), "{e}");
        assert_eq!(e.log_detail(), Some(runtime));
        assert_eq!(NotionError::Unauthorized.log_detail(), None);
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after_ms("1"), Some(1000));
        assert_eq!(parse_retry_after_ms(" 0.25 "), Some(250));
        assert_eq!(parse_retry_after_ms("99999"), Some(3_600_000));
        assert_eq!(parse_retry_after_ms("-1"), None);
        assert_eq!(parse_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn gave_up_keeps_the_root_cause() {
        let e = NotionError::GaveUp {
            last: Box::new(NotionError::RateLimited {
                retry_after_ms: None,
            }),
            attempts: 6,
        };
        assert_eq!(e.code(), "notion_rate_limited");
        assert!(e.retryable());
        assert!(e.to_string().starts_with("gave up after 6 attempts"));
    }
}
