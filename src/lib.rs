//! Notion -> Framer CMS sync on Cloudflare Workers.
//!
//! Everything outside `edge/` is pure logic with no `worker::` import, unit-tested natively
//! with `cargo test`. `edge/` is the thin Worker and Durable Object glue around it.

pub mod alerts;
pub mod api;
pub mod framer;
pub mod notion;
pub mod sync;
pub mod util;

pub mod edge;
