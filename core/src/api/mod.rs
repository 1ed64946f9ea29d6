//! The HTTP surface without the runtime: the route table, the errors clients see, request
//! validation, the account and the project as handlers read them, the dashboard's derived
//! views, and the request log line.

pub mod account;
pub mod error;
pub mod input;
pub mod log_line;

pub mod rate_limit;
pub mod routes;
pub mod security_headers;
pub mod siblings;
pub mod view;
pub mod webhook_confirm;
