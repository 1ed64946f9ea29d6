//! The sync's decisions: the per-project queue (debounce, backoff) and event ledger, the
//! mapping of Notion properties to Framer fields, what a run reads, and what it writes.

pub mod ledger;
pub mod mapping;
pub mod plan;
pub mod queue;
pub mod reconcile;
pub mod retention;
pub mod slug;
