//! Every error a client can see, with its HTTP status and machine-readable code. The edge layer
//! turns these into `{"error":{"code","message","field"?}}` responses in one place.

use std::fmt;

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
    /// The request is well-formed but cannot be acted on now (`code` says why).
    Unprocessable {
        code: &'static str,
        message: String,
    },
    RateLimited {
        retry_after_secs: u32,
    },
    /// Something on our side failed; the message is safe to show, details go to the log only.
    Internal(String),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.to_owned(),
            message: message.into(),
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
            Self::Conflict(_) => 409,
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
            Self::Unprocessable { code, .. } => code,
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
            | Self::Internal(message) => message.clone(),
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

    /// The JSON body clients receive.
    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({ "code": self.code(), "message": self.message() });
        if let Self::Validation { field, .. } = self {
            error["field"] = serde_json::Value::String(field.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_code_message_and_field() {
        let e = ApiError::validation("notion.database_id", "expected a Notion database id");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.body(),
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
            ApiError::NotFound("project".into()).body()["error"]["message"],
            "project not found"
        );
    }
}
