//! The sync's decisions: the per-project queue (debounce, backoff) and event ledger, the
//! mapping of Notion properties to Framer fields, one page mapped to one row, what a run
//! reads, what it writes, and the Notion-hosted files it re-hosts in Framer.

pub mod assets;
pub mod cron;
pub mod engine;
pub mod guard;
pub mod ledger;
pub mod mapping;
pub mod object;
pub mod plan;
pub mod publish_filter;
pub mod queue;
pub mod reconcile;
pub mod references;
pub mod retention;
pub mod row;
pub mod site;
pub mod slug;

#[cfg(test)]
pub(crate) mod fixtures;
