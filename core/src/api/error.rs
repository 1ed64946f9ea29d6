//! Every error a client can see, with its HTTP status and machine-readable code. The edge layer
//! turns these into `{"error":{"code","message","field"?}}` responses in one place.
//!
//! A failure on our side is `Internal(Fault)`: the fault's detail (what the database or the
//! runtime said) is written to the request's log line and never to a response, which carries a
//! generic message and the request id instead. The `From` conversions below let handlers use `?`
//! on every error that can only be our fault.

use crate::notion::error::NotionError;
use crate::notion::event::ParseError;
use crate::notion::signature::SignatureError;
pub use crate::util::fault::Fault;
use crate::util::secrets::SecretError;
use crate::util::settings::SettingError;
use std::fmt;

/// Longest fault detail a log line carries; the rest is cut (D1 errors can quote long SQL).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// A field of the request is missing or invalid; `field` names it (`notion.database_id`).
    Validation {
        field: String,
        message: String,
    },
    InvalidJson(String),
    UnsupportedMediaType,
    PayloadTooLarge {
        limit_bytes: usize,
    },
    Unauthorized(String),
    InvalidSignature(String),
    PlanRequired(String),
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    Conflict(String),
    /// The request conflicts with the resource's current state (`code` says how).
    StateConflict {
        code: &'static str,
        message: String,
    },
    /// The request is well-formed but cannot be acted on now (`code` says why).
    Unprocessable {
        code: &'static str,
        message: String,
    },
    RateLimited {
        retry_after_secs: u32,
    },
    /// Something on our side failed. The client learns only that, and the request id.
    Internal(Fault),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// A failure on our side; `detail` goes to the log line only.
    pub fn internal(origin: &'static str, detail: impl fmt::Display) -> Self {
        Self::Internal(Fault::new(origin, detail))
    }

    /// The fault behind an internal error, for the log line.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Self::Internal(fault) => Some(fault),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Validation { .. } | Self::InvalidJson(_) => 400,
            Self::Unauthorized(_) | Self::InvalidSignature(_) => 401,
            Self::PlanRequired(_) => 402,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) | Self::StateConflict { .. } => 409,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::Unprocessable { .. } => 422,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "validation_error",
            Self::InvalidJson(_) => "invalid_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unauthorized(_) => "unauthorized",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::PlanRequired(_) => "plan_required",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable { code, .. } | Self::StateConflict { code, .. } => code,
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Validation { message, .. }
            | Self::InvalidJson(message)
            | Self::Unauthorized(message)
            | Self::InvalidSignature(message)
            | Self::PlanRequired(message)
            | Self::Forbidden(message)
            | Self::Conflict(message)
            | Self::Unprocessable { message, .. }
            | Self::StateConflict { message, .. } => message.clone(),
            Self::Internal(_) => "something went wrong on our side".to_owned(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::UnsupportedMediaType => {
                "the body must be JSON (Content-Type: application/json)".to_owned()
            }
            Self::PayloadTooLarge { limit_bytes } => {
                format!("the body is larger than {limit_bytes} bytes")
            }
            Self::MethodNotAllowed { allowed } => {
                format!("this route accepts {}", allowed.join(", "))
            }
            Self::RateLimited { retry_after_secs } => {
                format!("too many requests; retry after {retry_after_secs} s")
            }
        }
    }

    /// The JSON body clients receive. `request_id` is the one on the request's log line; an
    /// internal error quotes it so that a report can be matched to the logged detail.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        let mut error = serde_json::json!({ "code": self.code(), "message": self.message() });
        match self {
            Self::Validation { field, .. } => {
                error["field"] = serde_json::Value::String(field.clone());
            }
            Self::Internal(_) => {
                error["message"] = serde_json::Value::String(format!(
                    "something went wrong on our side; quote request id {request_id} if it persists"
                ));
                error["request_id"] = serde_json::Value::String(request_id.to_owned());
            }
            _ => {}
        }
        serde_json::json!({ "error": error })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code(), self.status(), self.message())
    }
}

impl std::error::Error for ApiError {}

/// ENCRYPTION_KEY is missing or malformed, a stored secret does not decrypt, or the random
/// source failed: none of it is the client's doing.
impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        Self::internal("secrets", e)
    }
}

/// The deployment's configuration is invalid.
impl From<SettingError> for ApiError {
    fn from(e: SettingError) -> Self {
        Self::internal("settings", e)
    }
}

/// JSON we wrote or another part of the Worker sent could not be read or written. Request
/// bodies never come here: `http::read_json` answers those with `invalid_json`.
impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal("json", e)
    }
}

/// A webhook body that is not a Notion event or verification request.
impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::NotJson(_) => Self::InvalidJson(e.to_string()),
            ParseError::NotAnObject | ParseError::MissingField(_) => {
                Self::validation("body", e.to_string())
            }
        }
    }
}

/// A webhook event whose `X-Notion-Signature` does not prove it came from Notion.
impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        Self::InvalidSignature(e.to_string())
    }
}

/// Notion refused or failed a call made for the client: the code says why, the message what
/// to do about it.
impl From<NotionError> for ApiError {
    fn from(e: NotionError) -> Self {
        Self::Unprocessable {
            code: e.code(),
            message: e.user_message(),
        }
    }
}

/// A failure of ours (D1, the object's storage, the cipher): the record says only that, and the
/// run is retried; the detail goes to the log line.
impl From<ApiError> for crate::sync::engine::failure::SyncFailure {
    fn from(e: ApiError) -> Self {
        let storage = e.fault().is_some_and(|f| f.origin().starts_with("d1"));
        Self {
            code: if storage {
                "storage_unavailable"
            } else {
                "internal_error"
            }
            .to_owned(),
            message: if storage {
                "the database did not answer; try again".to_owned()
            } else {
                format!("{}; the sync will retry", e.message())
            },
            retryable: true,
            fault: e.fault().cloned(),
        }
    }
}

impl From<ApiError> for crate::sync::engine::failure::StepError {
    fn from(e: ApiError) -> Self {
        Self::Failed(e.into())
    }
}

/// An alert destination request that cannot be accepted: a 400 naming the field.
impl From<crate::alerts::destination::InvalidInput> for ApiError {
    fn from(e: crate::alerts::destination::InvalidInput) -> Self {
        Self::Validation {
            field: e.field,
            message: e.message,
        }
    }
}

/// A stored project row outside what its columns allow: a fault on our side.
impl From<crate::project::ProjectRowError> for ApiError {
    fn from(e: crate::project::ProjectRowError) -> Self {
        Self::internal("project row", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::engine::failure::SyncFailure;
    use crate::util::fault::MAX_FAULT_DETAIL;
    use crate::util::secrets::SecretError;

    #[test]
    fn our_failures_are_retried_and_keep_their_detail_for_the_log_only() {
        let failure = SyncFailure::from(ApiError::internal(
            "d1 query",
            "no such table: synced_items: SQLITE_ERROR",
        ));
        assert_eq!(failure.code, "storage_unavailable");
        assert_eq!(failure.message, "the database did not answer; try again");
        assert!(failure.retryable);
        assert_eq!(failure.fault.as_ref().map(Fault::origin), Some("d1 query"));

        let failure = SyncFailure::from(ApiError::from(SecretError::BadKey));
        assert_eq!(failure.code, "internal_error");
        assert_eq!(
            failure.message,
            "something went wrong on our side; the sync will retry"
        );
        assert!(!failure.message.contains("ENCRYPTION_KEY"));
        assert_eq!(failure.fault.as_ref().map(Fault::origin), Some("secrets"));
    }

    #[test]
    fn bodies_name_code_message_and_field() {
        let e = ApiError::validation("notion.database_id", "expected a Notion database id");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.body("r1"),
            serde_json::json!({"error":{"code":"validation_error","message":"expected a Notion database id","field":"notion.database_id"}})
        );
        let e = ApiError::MethodNotAllowed {
            allowed: vec!["GET", "PATCH"],
        };
        assert_eq!((e.status(), e.code()), (405, "method_not_allowed"));
        assert_eq!(e.message(), "this route accepts GET, PATCH");
        let e = ApiError::Unprocessable {
            code: "no_token_yet",
            message: "wait".into(),
        };
        assert_eq!((e.status(), e.code()), (422, "no_token_yet"));
        assert_eq!(
            ApiError::NotFound("project".into()).body("r1")["error"]["message"],
            "project not found"
        );
    }

    #[test]
    fn internal_errors_show_the_request_id_and_never_the_detail() {
        let e = ApiError::internal(
            "d1 query",
            "D1_ERROR: no such table: sync_runs: SQLITE_ERROR",
        );
        assert_eq!((e.status(), e.code()), (500, "internal_error"));
        assert_eq!(
            e.body("8f2a-LHR"),
            serde_json::json!({"error":{
                "code": "internal_error",
                "message": "something went wrong on our side; quote request id 8f2a-LHR if it persists",
                "request_id": "8f2a-LHR",
            }})
        );
        for shown in [e.to_string(), format!("{e:?}"), e.message()] {
            assert!(!shown.contains("sync_runs"), "{shown}");
        }
        let fault = e.fault().expect("an internal error has a fault");
        assert_eq!(fault.origin(), "d1 query");
        assert_eq!(
            serde_json::to_value(fault).unwrap(),
            "d1 query: D1_ERROR: no such table: sync_runs: SQLITE_ERROR"
        );
        assert_eq!(ApiError::NotFound("x".into()).fault(), None);
    }

    #[test]
    fn other_errors_carry_no_request_id() {
        let body = ApiError::Conflict("taken".into()).body("r1");
        assert_eq!(
            body,
            serde_json::json!({"error":{"code":"conflict","message":"taken"}})
        );
    }

    #[test]
    fn long_fault_details_are_cut_on_a_character_boundary() {
        let fault = Fault::new("d1 query", "é".repeat(MAX_FAULT_DETAIL));
        let logged = serde_json::to_value(&fault).unwrap();
        let text = logged.as_str().unwrap();
        assert!(text.ends_with('…'));
        assert!(text.len() <= "d1 query: ".len() + MAX_FAULT_DETAIL + '…'.len_utf8());
    }

    #[test]
    fn conversions_sort_faults_from_client_errors() {
        let e = ApiError::from(SecretError::BadKey);
        assert_eq!(
            (e.code(), e.fault().map(Fault::origin)),
            ("internal_error", Some("secrets"))
        );
        let e = ApiError::from(serde_json::from_str::<u8>("x").unwrap_err());
        assert_eq!(e.fault().map(Fault::origin), Some("json"));
        let e = ApiError::from(SettingError {
            name: "DEBOUNCE_SECONDS",
            message: "expected a number".into(),
        });
        assert_eq!(e.fault().map(Fault::origin), Some("settings"));
        let e = ApiError::from(ParseError::MissingField("type"));
        assert_eq!(
            e.body("r1"),
            serde_json::json!({"error":{"code":"validation_error","message":"the event has no valid `type` field","field":"body"}})
        );
        let e = ApiError::from(ParseError::NotJson("eof".into()));
        assert_eq!((e.status(), e.code()), (400, "invalid_json"));
        let e = ApiError::from(SignatureError::Mismatch);
        assert_eq!((e.status(), e.code()), (401, "invalid_signature"));
        assert_eq!(e.message(), SignatureError::Mismatch.to_string());
        let e = ApiError::from(NotionError::Unauthorized);
        assert_eq!((e.status(), e.code()), (422, "notion_unauthorized"));
        assert_eq!(e.message(), NotionError::Unauthorized.user_message());
    }
}
