//! Runtime errors and internal errors across the runtime boundary. In a request, anything the
//! runtime reports (D1, bindings, the Durable Object stub, URLs) is a fault on our side: `?`
//! turns it into `ApiError::Internal`, whose detail reaches the log line only; in the Notion
//! client it is a transport failure. Inside the Durable Object, which speaks `worker::Error`,
//! our own errors keep their detail for its log.

use crate::api::error::ApiError;
use crate::notion::error::NotionError;
use crate::util::secrets::SecretError;
use crate::util::settings::SettingError;

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        Self::internal("runtime", detail(&e))
    }
}

/// What the runtime said, on one line: for D1 its cause ("no such table: x: SQLITE_ERROR")
/// rather than the debug dump with a JavaScript stack that `Display` gives.
pub fn detail(e: &worker::Error) -> String {
    match e {
        worker::Error::D1(d1) => match d1.cause() {
            cause if cause != "unknown error" => cause,
            _ => e.to_string(),
        },
        other => other.to_string(),
    }
}

/// A call to Notion that did not get an answer (fetch, headers, body): retried like any
/// transport failure. The runtime's words stay in the error for the log line; the user's
/// message says only that Notion could not be reached.
impl From<worker::Error> for NotionError {
    fn from(e: worker::Error) -> Self {
        Self::Transport(e.to_string())
    }
}

/// For the Durable Object's answers and log: the code, plus the fault's detail when there is
/// one. The Worker logs such an answer as a fault of its own; no client sees it.
impl From<ApiError> for worker::Error {
    fn from(e: ApiError) -> Self {
        let detail = e
            .fault()
            .and_then(|fault| serde_json::to_string(fault).ok())
            .unwrap_or_default();
        Self::RustError(format!("{e} {detail}").trim_end().to_owned())
    }
}

impl From<SecretError> for worker::Error {
    fn from(e: SecretError) -> Self {
        Self::from(ApiError::from(e))
    }
}

impl From<SettingError> for worker::Error {
    fn from(e: SettingError) -> Self {
        Self::from(ApiError::from(e))
    }
}
