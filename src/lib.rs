//! The Worker crate: Worker and Durable Object glue around `notion_framer_core`, which decides.
//!
//! Request path: `fetch` -> `router` (one match over the route table's operations) -> handlers
//! (`webhook`, `api`, `schema`) -> D1 (`store`, one module per table) and the project's Durable
//! Object (`project_sync`). Alarm path: `ProjectSync::alarm` -> `sync` -> Notion (`notion_api`)
//! (paced by the token's `NotionRate` object, `notion_rate`) and Framer (`framer_socket`) -> D1. Cron: `catch_up`, then `retention`. Runtime errors become internal errors
//! through `fault`.

mod alerts;
mod api;
mod catch_up;
mod context;
mod fault;
mod framer_socket;
mod http;
mod notion_api;
mod notion_rate;
mod project_sync;
mod rate_limit;
mod retention;
mod router;
mod schema;
mod store;
mod sync;
mod webhook;

pub use notion_rate::NotionRate;
pub use project_sync::ProjectSync;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    Ok(router::handle(req, env).await)
}

#[event(scheduled)]
pub async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_error_panic_hook::set_once();
    // One invocation, one budget: the pruning gets what the catch-up left (at least its share).
    let budget = catch_up::budget();
    catch_up::run(&env, &budget).await;
    retention::run(&env, &budget).await;
}
