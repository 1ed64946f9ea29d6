//! Every SQL statement of the Worker, one module per table, each function named for what it
//! reads or writes. `d1` holds the generic D1 helpers; `ledger` is the Durable Object's own
//! SQLite table. Handlers and the sync call these functions and never write SQL.

pub mod accounts;
pub mod alert_destinations;
pub mod alert_incidents;
pub mod alert_outbox;
pub mod api_tokens;
// Read and written by the stepped sync once issue 12 is wired into its engine.
pub mod assets;
pub mod d1;
pub mod freshness_checks;
pub mod held_removals;
pub mod ledger;
pub mod migrations;
pub mod offered_sources;
pub mod pending_verifications;
pub mod projects;
pub mod references;
pub mod run_history;
pub mod staging;
pub mod sync_runs;
pub mod synced_items;
pub mod webhook_events;
pub mod webhooks;
