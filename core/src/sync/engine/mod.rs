//! The sync engine: a run is a resumable job of bounded steps, each one Durable Object alarm.
//! A step spends at most `SYNC_STEP_SUBREQUESTS` subrequests, `SYNC_STEP_D1_QUERIES` D1 queries
//! and `SYNC_STEP_SECONDS` (at most 25 s, `budget::MAX_STEP_MS`), stages
//! rows in the object's SQLite (never more than one page of rows in memory), writes them to
//! Framer as they are ready, and checkpoints after every unit of work. The engine is generic
//! over its ports (`ports`): the Worker crate (`src/`) implements them over the runtime, the tests in memory.

pub mod budget;
pub mod failure;
pub mod job;
pub mod ports;
pub mod rows;
pub mod staging_sql;
pub mod step;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod staging_sql_tests;
#[cfg(test)]
mod tests;
