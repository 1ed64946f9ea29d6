//! Cloudflare's Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml; local workerd
//! runs the same binding): one call per counted request.

use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::rate_limit::Limit;
use worker::{console_error, Env};

/// Counts one request against `limit` under `key`: `Err(429)` once the window's budget is
/// spent. A missing or failing binding lets the request through (a limiter outage must not take
/// webhooks down) and says so in the log.
pub async fn spend(env: &Env, limit: Limit, key: &str) -> Result<(), ApiError> {
    let outcome = match env.rate_limiter(limit.binding()) {
        Ok(limiter) => limiter.limit(key.to_owned()).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(outcome) if outcome.success => Ok(()),
        Ok(_) => Err(limit.exceeded()),
        Err(e) => {
            console_error!("rate limiter {} unavailable: {e}", limit.binding());
            Ok(())
        }
    }
}
