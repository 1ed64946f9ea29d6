//! Why talking to Framer failed, and what that means: the code stored on the sync record,
//! whether a later attempt may succeed, and what the user reads. The socket that produces
//! these errors is `edge::framer_socket`.

use std::fmt;

use crate::framer::wire::is_retryable;

/// Why talking to Framer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerError {
    /// The project URL or server URL cannot name a connection.
    BadTarget(String),
    /// The upgrade was answered with an HTTP status instead of a socket.
    Refused { status: u16 },
    /// An `error` frame from the server (bad key, no instance available, ...).
    Server {
        code: String,
        message: String,
        retryable: bool,
    },
    /// The socket closed (or could not be opened) before the answer came.
    Closed { during: String },
    /// No answer in time.
    Timeout { during: String },
    /// A method answered with an error string.
    Method {
        method: &'static str,
        message: String,
    },
    /// A frame could not be decoded.
    Protocol(String),
}

impl FramerError {
    /// The machine-readable code stored on the sync record.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadTarget(_) => "framer_project_invalid",
            Self::Refused { status: 401 | 403 } => "framer_key_invalid",
            Self::Server { code, .. } if is_auth_code(code) => "framer_key_invalid",
            Self::Refused { .. } | Self::Server { .. } => "framer_unavailable",
            Self::Closed { .. } => "framer_connection_lost",
            Self::Timeout { .. } => "framer_timeout",
            Self::Method { .. } => "framer_call_failed",
            Self::Protocol(_) => "framer_protocol_error",
        }
    }

    /// Whether a later attempt may succeed without the user changing anything.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Server {
                code, retryable, ..
            } => !is_auth_code(code) && is_retryable(code, *retryable),
            Self::Refused { status } => *status >= 500,
            Self::Closed { .. } | Self::Timeout { .. } | Self::Protocol(_) => true,
            Self::BadTarget(_) | Self::Method { .. } => false,
        }
    }

    /// What the user reads on the sync record.
    pub fn user_message(&self) -> String {
        match self {
            Self::BadTarget(detail) => format!("the Framer project URL cannot be used ({detail}); paste the project's URL from Framer"),
            _ if self.code() == "framer_key_invalid" => format!(
                "Framer refused the API key ({}); create a new key in the Framer project's settings and save it in the project",
                self.detail()
            ),
            Self::Method { method, message } => format!("Framer refused {method}: {message}"),
            _ if self.retryable() => format!("Framer is unavailable right now ({}); the sync will retry automatically", self.detail()),
            _ => format!("Framer failed: {}", self.detail()),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadTarget(detail) | Self::Protocol(detail) => detail.clone(),
            Self::Refused { status } => format!("HTTP {status} on connect"),
            Self::Server { code, message, .. } => format!("{code}: {message}"),
            Self::Closed { during } => format!("connection closed during {during}"),
            Self::Timeout { during } => format!("no answer during {during}"),
            Self::Method { method, message } => format!("{method}: {message}"),
        }
    }
}

impl fmt::Display for FramerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.detail())
    }
}

impl std::error::Error for FramerError {}

fn is_auth_code(code: &str) -> bool {
    matches!(
        code,
        "UNAUTHORIZED" | "FORBIDDEN" | "INVALID_API_KEY" | "UNAUTHENTICATED"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str, retryable: bool) -> FramerError {
        FramerError::Server {
            code: code.into(),
            message: "m".into(),
            retryable,
        }
    }

    #[test]
    fn codes_and_retries() {
        let cases: Vec<(FramerError, &str, bool)> = vec![
            (
                FramerError::BadTarget("x".into()),
                "framer_project_invalid",
                false,
            ),
            (
                FramerError::Refused { status: 401 },
                "framer_key_invalid",
                false,
            ),
            (
                FramerError::Refused { status: 403 },
                "framer_key_invalid",
                false,
            ),
            (
                FramerError::Refused { status: 404 },
                "framer_unavailable",
                false,
            ),
            (
                FramerError::Refused { status: 503 },
                "framer_unavailable",
                true,
            ),
            (server("INVALID_API_KEY", true), "framer_key_invalid", false),
            (server("UNAUTHORIZED", false), "framer_key_invalid", false),
            (server("POOL_EXHAUSTED", false), "framer_unavailable", true),
            (server("PROJECT_CLOSED", true), "framer_unavailable", true),
            (
                server("TOKEN_SESSION_LIMIT", false),
                "framer_unavailable",
                false,
            ),
            (
                FramerError::Closed {
                    during: "handshake".into(),
                },
                "framer_connection_lost",
                true,
            ),
            (
                FramerError::Timeout {
                    during: "getItems".into(),
                },
                "framer_timeout",
                true,
            ),
            (
                FramerError::Method {
                    method: "addItems",
                    message: "bad slug".into(),
                },
                "framer_call_failed",
                false,
            ),
            (
                FramerError::Protocol("odd frame".into()),
                "framer_protocol_error",
                true,
            ),
        ];
        for (error, code, retryable) in cases {
            assert_eq!(
                (error.code(), error.retryable()),
                (code, retryable),
                "{error:?}"
            );
        }
    }

    #[test]
    fn user_messages_say_what_to_do() {
        let key = FramerError::Refused { status: 401 }.user_message();
        assert!(
            key.starts_with("Framer refused the API key (HTTP 401 on connect)"),
            "{key}"
        );
        assert!(key.contains("create a new key"));
        let target = FramerError::BadTarget("no id".into()).user_message();
        assert!(target.contains("paste the project's URL"), "{target}");
        assert_eq!(
            FramerError::Method {
                method: "addItems",
                message: "bad slug".into()
            }
            .user_message(),
            "Framer refused addItems: bad slug"
        );
        let later = FramerError::Timeout {
            during: "getItems".into(),
        }
        .user_message();
        assert_eq!(
            later,
            "Framer is unavailable right now (no answer during getItems); the sync will retry automatically"
        );
        assert_eq!(
            server("TOKEN_SESSION_LIMIT", false).user_message(),
            "Framer failed: TOKEN_SESSION_LIMIT: m"
        );
        assert_eq!(
            FramerError::Closed {
                during: "send".into()
            }
            .to_string(),
            "framer_connection_lost: connection closed during send"
        );
    }
}
