//! Small pieces every domain uses: time, secrets, settings and a time-bounded cache.

pub mod fault;
pub mod secrets;
pub mod settings;
pub mod time;
pub mod ttl_cache;
