//! How a step ends badly: either this invocation's budget is spent (not a failure: the next
//! step continues) or the run failed, with what the owner reads and whether retrying may help.

use crate::framer::error::FramerError;
use crate::notion::error::NotionError;
use crate::util::fault::Fault;

/// Why a run failed, and whether trying again soon may help.
#[derive(Debug, Clone)]
pub struct SyncFailure {
    pub code: String,
    /// Shown on the run's record: safe for the project's owner to read.
    pub message: String,
    pub retryable: bool,
    /// For the log line only: a failure on our side, or what the runtime said (a socket's
    /// stage, a fetch's error text).
    pub fault: Option<Fault>,
}

impl SyncFailure {
    /// A failure the owner must act on (retrying cannot help).
    pub fn permanent(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            retryable: false,
            fault: None,
        }
    }

    /// A run that could not continue after the runtime lost it.
    pub fn interrupted() -> Self {
        Self {
            code: "interrupted".to_owned(),
            message: "the run was interrupted and could not resume; the next run starts over"
                .to_owned(),
            retryable: true,
            fault: None,
        }
    }
}

/// Notion refused or failed: the code and message say what the owner can do about it.
impl From<NotionError> for SyncFailure {
    fn from(e: NotionError) -> Self {
        Self {
            code: e.code().into(),
            message: e.user_message(),
            retryable: e.retryable(),
            fault: e.log_detail().map(|d| Fault::new("notion transport", d)),
        }
    }
}

/// Framer refused or failed, likewise.
impl From<FramerError> for SyncFailure {
    fn from(e: FramerError) -> Self {
        Self {
            code: e.code().into(),
            message: e.user_message(),
            retryable: e.retryable(),
            fault: Some(Fault::new("framer", e.log_detail())),
        }
    }
}

/// Why a step stopped before its work was done.
#[derive(Debug, Clone)]
pub enum StepError {
    /// This invocation may make no more subrequests or has used its time: checkpoint, continue.
    BudgetSpent,
    /// The run failed.
    Failed(SyncFailure),
    /// Framer refused a call's data (a method error): for a batch of items, one of the rows is
    /// at fault; anywhere else it fails the run.
    Refused {
        method: &'static str,
        message: String,
    },
}

impl StepError {
    /// The failure this error means for the run as a whole.
    pub fn into_failure(self) -> Option<SyncFailure> {
        match self {
            StepError::BudgetSpent => None,
            StepError::Failed(f) => Some(f),
            StepError::Refused { method, message } => {
                Some(FramerError::Method { method, message }.into())
            }
        }
    }
}

impl From<SyncFailure> for StepError {
    fn from(f: SyncFailure) -> Self {
        StepError::Failed(f)
    }
}

impl From<NotionError> for StepError {
    fn from(e: NotionError) -> Self {
        match e {
            NotionError::StepBudgetSpent => StepError::BudgetSpent,
            other => StepError::Failed(other.into()),
        }
    }
}

impl From<FramerError> for StepError {
    fn from(e: FramerError) -> Self {
        match e {
            FramerError::Method { method, message } => StepError::Refused { method, message },
            other => StepError::Failed(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_text_reaches_the_log_line_and_never_the_record() {
        let runtime = "TypeError: Network connection lost.";
        let failures = [
            SyncFailure::from(NotionError::Transport(runtime.into())),
            SyncFailure::from(FramerError::Closed {
                during: format!("handshake ({runtime})"),
            }),
        ];
        for failure in failures {
            assert!(!failure.message.contains(runtime), "{}", failure.message);
            assert!(failure.retryable);
            let logged = serde_json::to_string(&failure.fault).unwrap();
            assert!(logged.contains(runtime), "{logged}");
        }
    }

    #[test]
    fn notion_failures_say_what_to_do_and_a_spent_budget_is_no_failure() {
        let failure = SyncFailure::from(NotionError::Unauthorized);
        assert_eq!(failure.code, "notion_unauthorized");
        assert!(!failure.retryable);
        assert!(failure.fault.is_none());
        assert!(matches!(
            StepError::from(NotionError::StepBudgetSpent),
            StepError::BudgetSpent
        ));
    }
}
