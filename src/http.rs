//! Request reading and response writing shared by every handler. Errors become responses here.

use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::security_headers;
use serde::de::DeserializeOwned;
use worker::{Headers, Request, Response};

/// What a client reads when its body could not be read to the end.
const UNREADABLE_BODY: &str = "the request body could not be read to the end; send it again";

/// The largest body any route accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn json(status: u16, value: &serde_json::Value) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    let headers = Headers::new();
    // Setting a well-formed header on a fresh Headers cannot fail.
    let _ = headers.set("content-type", "application/json; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    Response::ok(body).map_or_else(
        |_| {
            Response::empty()
                .expect("an empty response")
                .with_status(500)
        },
        |r| r.with_status(status).with_headers(headers),
    )
}

/// Adds the security headers every response carries (HSTS only when the request came over
/// https). Setting well-formed headers on the Worker's own response cannot fail.
pub fn secure(response: &Response, https: bool) {
    for (name, value) in security_headers::for_response(https) {
        let _ = response.headers().set(name, value);
    }
}

/// Whether the request came over https (deployed), not http (local development).
pub fn is_https(req: &Request) -> bool {
    req.url().is_ok_and(|u| u.scheme() == "https")
}

/// The error's response; an internal error's body quotes `request_id` (and nothing else of it).
pub fn error(e: &ApiError, request_id: &str) -> Response {
    let response = json(e.status(), &e.body(request_id));
    if let ApiError::MethodNotAllowed { allowed } = e {
        let _ = response.headers().set("allow", &allowed.join(", "));
    }
    if let ApiError::RateLimited { retry_after_secs } = e {
        let _ = response
            .headers()
            .set("retry-after", &retry_after_secs.to_string());
    }
    response
}

/// The raw body, refused when it is not JSON or too large. Raw bytes matter: Notion signs them.
pub async fn read_body(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    let body = req
        .bytes()
        .await
        // The runtime's words (a client gone mid-body, a stream error) are not the client's
        // business; the answer says what happened.
        .map_err(|_| ApiError::InvalidJson(UNREADABLE_BODY.to_owned()))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    Ok(body)
}

/// A JSON body deserialised into `T`; serde's message names the offending field.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    let body = read_body(req).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidJson(format!("invalid request body: {e}")))
}

/// A JSON body that may be left out: a request without a content type has none (`Null`); any
/// other is read as `read_json` reads it.
pub async fn read_optional_json(req: &mut Request) -> Result<serde_json::Value, ApiError> {
    match req.headers().get("content-type").ok().flatten() {
        Some(_) => read_json(req).await,
        None => Ok(serde_json::Value::Null),
    }
}

pub fn bearer_token(req: &Request) -> Option<String> {
    let value = req.headers().get("authorization").ok().flatten()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The origin this request came to (`https://host`), for links when PUBLIC_BASE_URL is unset.
pub fn request_origin(req: &Request) -> String {
    req.url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// A handler's answer plus what the request's log line should say about it.
pub struct Reply {
    pub response: Response,
    pub project_id: Option<String>,
    pub note: Option<String>,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            response: json(status, value),
            project_id: None,
            note: None,
        }
    }

    #[must_use]
    pub fn project(mut self, id: &str) -> Self {
        self.project_id = Some(id.to_owned());
        self
    }

    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}
