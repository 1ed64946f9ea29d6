//! Runtime errors and internal errors across the runtime boundary. In a request, anything the
//! runtime reports (D1, bindings, the Durable Object stub, URLs) is a fault on our side: `?`
//! turns it into `ApiError::Internal`, whose detail reaches the log line only; in the Notion
//! client it is a transport failure. Inside the Durable Object, which speaks `worker::Error`,
//! our own errors keep their detail for its log.

use notion_framer_core::api::error::ApiError;
use notion_framer_core::notion::error::NotionError;

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

/// Runtime results as our errors. The orphan rule keeps `From` conversions between the
/// runtime's error and the core's types out of both crates, so the boundary is crossed by name.
pub trait RuntimeResult<T> {
    /// A fault on our side (`ApiError::Internal`): the runtime's words reach the log line only.
    fn fault(self) -> Result<T, ApiError>;
    /// A call to Notion that got no answer (fetch, headers, body): retried like any transport
    /// failure.
    fn transport(self) -> Result<T, NotionError>;
}

impl<T> RuntimeResult<T> for worker::Result<T> {
    fn fault(self) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::internal("runtime", detail(&e)))
    }

    fn transport(self) -> Result<T, NotionError> {
        self.map_err(|e| NotionError::Transport(e.to_string()))
    }
}

/// Our errors where the runtime wants its own (the Durable Object's handlers): the code, plus
/// the fault's detail when there is one. The Worker logs such an answer as a fault of its own;
/// no client sees it.
pub trait OurResult<T> {
    fn or_runtime(self) -> worker::Result<T>;
}

impl<T, E: Into<ApiError>> OurResult<T> for Result<T, E> {
    fn or_runtime(self) -> worker::Result<T> {
        self.map_err(|e| {
            let e: ApiError = e.into();
            let detail = e
                .fault()
                .and_then(|fault| serde_json::to_string(fault).ok())
                .unwrap_or_default();
            worker::Error::RustError(format!("{e} {detail}").trim_end().to_owned())
        })
    }
}
