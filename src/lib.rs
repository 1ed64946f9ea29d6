//! Notion -> Framer CMS sync on Cloudflare Workers.
//!
//! Everything outside `edge/` is pure logic with no `worker::` import, unit-tested natively
//! with `cargo test`. `edge/` is the thin Worker and Durable Object glue around it.

pub mod api_error;
pub mod cms;
pub mod debounce;
pub mod devalue;
pub mod event_ledger;
pub mod framer_wire;
pub mod log_line;
pub mod mapping;
pub mod notion_event;
pub mod notion_ids;
pub mod notion_protocol;
pub mod page_html;
pub mod project_input;
pub mod project_view;
pub mod reconcile;
pub mod routes;
pub mod secrets;
pub mod settings;
pub mod signature;
pub mod slug;
pub mod sync_plan;
pub mod time;
pub mod ttl_cache;

pub mod edge;
