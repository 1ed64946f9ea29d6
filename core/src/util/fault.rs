//! What failed on our side: where (`origin`, e.g. "d1 query") and what it said. The detail can
//! leave this type only by serialising it into a log line: `Debug` and `Display` hide it, and
//! no response body includes it. Shared by the API's errors and the sync's failures.

use serde::{Serialize, Serializer};
use std::fmt;

/// Longest detail kept: runtime messages can carry whole stacks.
pub const MAX_FAULT_DETAIL: usize = 1000;

/// What failed on our side: where (`origin`, e.g. "d1 query") and what it said. The detail can
/// leave this type only by serialising it into a log line: `Debug` and `Display` hide it, and
/// no response body includes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Fault {
    origin: &'static str,
    detail: String,
}

impl Fault {
    pub fn new(origin: &'static str, detail: impl fmt::Display) -> Self {
        let mut detail = detail.to_string();
        if detail.len() > MAX_FAULT_DETAIL {
            let mut end = MAX_FAULT_DETAIL;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
            detail.push('…');
        }
        Self { origin, detail }
    }

    /// Where the fault happened: safe to branch on, never the runtime's own words.
    pub fn origin(&self) -> &'static str {
        self.origin
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fault({:?}, ..)", self.origin)
    }
}

/// The log line's `detail` field: `"<origin>: <detail>"`.
impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}: {}", self.origin, self.detail))
    }
}
