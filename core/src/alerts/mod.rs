//! Alerts: where they go (`destination`), when one is owed (`incident`), what it says
//! (`notice`), how it is sent (`payload`) and when a failed delivery is tried again
//! (`delivery`). Pure logic; the Worker's `src/alerts.rs` does the storing and the sending.

pub mod delivery;
pub mod destination;
pub mod freshness;
pub mod incident;
pub mod notice;
pub mod payload;
