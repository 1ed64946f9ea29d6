//! One structured JSON log line per request and per alarm run. Only the fields below exist, so
//! nothing secret (tokens, keys, bodies) can reach a log line by accident.

use crate::api::error::Fault;
use serde::Serialize;

/// The longest `cf-ray` value taken as a request id; Cloudflare's are about 20 characters.
const MAX_REQUEST_ID: usize = 64;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LogLine {
    /// "request", "alarm", "scheduled" or "sync".
    pub kind: &'static str,
    /// The request's id, also quoted in an internal error's response body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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
    /// What failed on our side, for an internal error: the place and the runtime's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Fault>,
    /// Subrequests and D1 queries the invocation made (the cron's line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subrequests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d1_queries: Option<u32>,
}

impl LogLine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"kind\":\"log_error\"}"))
    }
}

/// Cloudflare's `cf-ray` as the request id when it is a plausible one (letters, digits and
/// dashes), so that our id and Cloudflare's dashboard name the same request.
pub fn request_id_from_ray(cf_ray: Option<&str>) -> Option<String> {
    let ray = cf_ray?.trim();
    let plausible = !ray.is_empty()
        && ray.len() <= MAX_REQUEST_ID
        && ray.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    plausible.then(|| ray.to_owned())
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

    #[test]
    fn internal_errors_log_request_id_and_detail() {
        let line = LogLine {
            kind: "request",
            request_id: Some("8f2a-LHR".into()),
            status: Some(500),
            error_code: Some("internal_error".into()),
            detail: Some(Fault::new("d1 query", "no such table: sync_runs")),
            ..LogLine::default()
        };
        assert_eq!(
            line.to_json(),
            r#"{"kind":"request","request_id":"8f2a-LHR","status":500,"duration_ms":0,"error_code":"internal_error","detail":"d1 query: no such table: sync_runs"}"#
        );
    }

    #[test]
    fn only_plausible_rays_become_request_ids() {
        assert_eq!(
            request_id_from_ray(Some(" 8a1b2c3d4e5f6789-LHR ")).as_deref(),
            Some("8a1b2c3d4e5f6789-LHR")
        );
        for bad in [
            None,
            Some(""),
            Some("a b"),
            Some("x\"}"),
            Some(&"a".repeat(65)[..]),
        ] {
            assert_eq!(request_id_from_ray(bad), None, "{bad:?}");
        }
    }
}
