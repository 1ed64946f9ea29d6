//! Everything that decides, without the runtime: Notion (ids, webhook events and signatures,
//! the REST protocol, schemas, values, page bodies), Framer (the CMS model and the official
//! client's messages), the sync (mapping, rows, the stepped engine behind its ports, the queue,
//! the deletion guard), alerts, the HTTP surface (routes, errors, input, typed projects) and
//! utilities. No `worker`, `wasm-bindgen` or `js-sys` dependency: the compiler keeps the
//! runtime out, and `cargo test` runs all of it natively. The Worker crate (`src/`) is the glue.

pub mod alerts;
pub mod api;
pub mod framer;
pub mod notion;
pub mod project;
pub mod sync;
pub mod util;
