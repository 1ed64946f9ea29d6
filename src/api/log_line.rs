//! One structured JSON log line per request and per alarm run. Only the fields below exist, so
//! nothing secret (tokens, keys, bodies) can reach a log line by accident.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LogLine {
    /// "request", "alarm", "scheduled" or "sync".
    pub kind: &'static str,
    /// The matched route pattern (never the raw path, which may hold a webhook key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<String>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// A short human note (event type, outcome); never request content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LogLine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"kind\":\"log_error\"}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_present_fields() {
        let line = LogLine {
            kind: "request",
            route: Some("POST /webhooks/notion/{key}"),
            status: Some(401),
            duration_ms: 3,
            error_code: Some("invalid_signature".into()),
            ..LogLine::default()
        };
        assert_eq!(
            line.to_json(),
            r#"{"kind":"request","route":"POST /webhooks/notion/{key}","status":401,"duration_ms":3,"error_code":"invalid_signature"}"#
        );
    }
}
