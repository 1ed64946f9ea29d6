//! Why talking to Framer failed, and what that means: the code stored on the sync record,
//! whether a later attempt may succeed, and what the user reads. The socket that produces
//! these errors is `edge::framer_socket`.
//!
//! What the user reads (`user_message`) is written here: what happened and what to do, with
//! Framer's own answer when it gave one (an error code, a refused call's reason). The socket's
//! stage and the runtime's words about a failed socket (`Closed`, `Timeout`, `Protocol`) are for
//! the log only (`log_detail`).

use std::fmt;

use crate::framer::project_url::UrlError;
use crate::framer::wire::is_retryable;

/// Why talking to Framer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerError {
    /// The project URL or server URL cannot name a connection.
    BadTarget(UrlError),
    /// The upgrade was answered with an HTTP status instead of a socket.
    Refused { status: u16 },
    /// An `error` frame from the server (bad key, no instance available, ...).
    Server {
        code: String,
        message: String,
        retryable: bool,
    },
    /// The socket closed (or could not be opened or written) before the answer came. `during`
    /// names the stage, with the runtime's words when it gave some: for the log only.
    Closed { during: String },
    /// No answer in time; `during` (the stage or method) is for the log only.
    Timeout { during: String },
    /// A method answered with an error string.
    Method {
        method: &'static str,
        message: String,
    },
    /// A frame could not be decoded (the decoder's words, for the log only).
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

    /// What the user reads on the sync record (and an alert): what happened and what to do,
    /// in our words. Never the socket's stage or the runtime's text.
    pub fn user_message(&self) -> String {
        const RETRY: &str = "the sync will retry automatically";
        match self {
            Self::BadTarget(UrlError::InvalidProject(input)) => format!(
                "the Framer project URL {input:?} names no Framer project; paste the project's URL from Framer (https://framer.com/projects/Name--<id>) into the project settings"
            ),
            Self::BadTarget(UrlError::InvalidServerUrl(_)) => {
                "this deployment's Framer server URL (FRAMER_SERVER_URL) is not a ws(s) or http(s) URL; the operator must correct it".to_owned()
            }
            _ if self.code() == "framer_key_invalid" => format!(
                "Framer refused the API key ({}); create a new key in the Framer project's settings and save it in the project",
                self.log_detail()
            ),
            Self::Method { method, message } => format!("Framer refused {method}: {message}"),
            Self::Closed { .. } => {
                format!("the connection to Framer was lost before Framer answered; {RETRY}")
            }
            Self::Timeout { .. } => format!("Framer did not answer in time; {RETRY}"),
            Self::Protocol(_) => {
                format!("Framer sent an answer this version cannot read; {RETRY}")
            }
            Self::Refused { status } if self.retryable() => {
                format!("Framer is unavailable right now (HTTP {status} on connect); {RETRY}")
            }
            Self::Refused { status } => format!(
                "Framer refused the connection (HTTP {status}); check that the project URL names a project this API key can open"
            ),
            Self::Server { .. } if self.retryable() => format!(
                "Framer is unavailable right now ({}); {RETRY}",
                self.log_detail()
            ),
            Self::Server { .. } => {
                format!("Framer failed: {}", self.log_detail())
            }
        }
    }

    /// Everything known about the failure, for the log line: the stage of the socket and what
    /// the runtime or the decoder said. `user_message` quotes it only where it is what Framer
    /// answered (an HTTP status, an error frame: `Refused`, `Server`).
    pub fn log_detail(&self) -> String {
        match self {
            Self::BadTarget(e) => e.to_string(),
            Self::Protocol(detail) => detail.clone(),
            Self::Refused { status } => format!("HTTP {status} on connect"),
            Self::Server { code, message, .. } => format!("{code}: {message}"),
            Self::Closed { during } => format!("connection closed during {during}"),
            Self::Timeout { during } => format!("no answer during {during}"),
            Self::Method { method, message } => format!("{method}: {message}"),
        }
    }
}

/// For log lines: the code and everything known (`log_detail`).
impl fmt::Display for FramerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.log_detail())
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
                FramerError::BadTarget(UrlError::InvalidProject("x".into())),
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
        let target =
            FramerError::BadTarget(UrlError::InvalidProject("no id".into())).user_message();
        assert!(target.contains("paste the project's URL"), "{target}");
        let bad_server = FramerError::BadTarget(UrlError::InvalidServerUrl("ftp://x".into()));
        assert!(bad_server.user_message().contains("FRAMER_SERVER_URL"));
        assert_eq!(
            FramerError::Method {
                method: "addItems",
                message: "bad slug".into()
            }
            .user_message(),
            "Framer refused addItems: bad slug"
        );
        assert_eq!(
            FramerError::Timeout {
                during: "getItems".into(),
            }
            .user_message(),
            "Framer did not answer in time; the sync will retry automatically"
        );
        assert_eq!(
            server("TOKEN_SESSION_LIMIT", false).user_message(),
            "Framer failed: TOKEN_SESSION_LIMIT: m"
        );
        assert_eq!(
            server("POOL_EXHAUSTED", false).user_message(),
            "Framer is unavailable right now (POOL_EXHAUSTED: m); the sync will retry automatically"
        );
        assert!(FramerError::Refused { status: 404 }
            .user_message()
            .contains("check that the project URL"));
        assert_eq!(
            FramerError::Closed {
                during: "send".into()
            }
            .to_string(),
            "framer_connection_lost: connection closed during send"
        );
    }

    /// What the socket layer puts in these errors when the runtime fails (its stage, the
    /// runtime's error text, the decoder's) reaches the log detail and never the message.
    #[test]
    fn runtime_text_stays_in_the_log_detail() {
        let runtime = "JsValue(TypeError: Network connection lost.\n    at stack (worker.js:1:2))";
        let cases = [
            FramerError::Closed {
                during: format!("connect ({runtime})"),
            },
            FramerError::Closed {
                during: format!("handshake ({runtime})"),
            },
            FramerError::Closed {
                during: format!("send ({runtime})"),
            },
            FramerError::Timeout {
                during: format!("getItems {runtime}"),
            },
            FramerError::Protocol(format!("unexpected Ready during handshake {runtime}")),
        ];
        for error in cases {
            let message = error.user_message();
            for leaked in [
                runtime,
                "TypeError",
                "handshake",
                "getItems",
                "connect (",
                "send (",
            ] {
                assert!(!message.contains(leaked), "{message:?} quotes {leaked:?}");
            }
            assert!(
                message.ends_with("the sync will retry automatically"),
                "{message}"
            );
            assert!(error.retryable());
            assert!(error.log_detail().contains(runtime), "{error:?}");
            assert!(error.to_string().contains(runtime));
        }
    }
}
