//! The Worker's configuration, read from its environment (wrangler.toml `[vars]` and secrets).
//! Parsing is here, away from the runtime, so that every default and every error is tested.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub notion_api_base: String,
    pub notion_version: String,
    pub framer_server_url: String,
    pub debounce_ms: i64,
    pub max_wait_ms: i64,
    pub catch_up_interval_ms: i64,
    pub full_reconcile_interval_ms: i64,
    /// First wait before a failed alert delivery is tried again (doubling, for up to an hour).
    pub alert_retry_base_ms: i64,
    /// How long a retryable failure may last before it is worth an alert.
    pub alert_retryable_after_ms: i64,
    /// `None`: show webhook URLs on the origin the dashboard request came to.
    pub public_base_url: Option<String>,
    /// How long D1 keeps the history of webhook deliveries (`webhook_events`).
    pub event_history_days: u32,
    /// How long D1 keeps sync runs (each project keeps its last runs whatever their age).
    pub sync_history_days: u32,
    /// `SHARED_WEBHOOK_URL = "on"`: `/webhooks/notion` answers. Off by default: per-project URLs
    /// tie a verification token to its project, the shared one cannot.
    pub shared_webhook_url: bool,
    /// Most subrequests (Notion calls, the Framer socket, file fetches) one sync step makes; a
    /// step is one Durable Object alarm invocation, and Cloudflare caps each invocation.
    pub sync_step_subrequests: u32,
    /// Most D1 queries one sync step (the whole alarm invocation: the step, the run's alert
    /// bookkeeping and deliveries) makes; D1 caps queries per invocation on its own count.
    pub sync_step_d1_queries: u32,
    /// Most wall time one sync step spends before it checkpoints and hands over to the next.
    pub sync_step_ms: i64,
    /// Removals above this share (percent) of a project's items are held for review...
    pub deletion_guard_percent: u32,
    /// ...when they are at least this many.
    pub deletion_guard_min_items: u32,
    /// First wait before a failed sync run is retried (doubling with jitter, capped at 15 min).
    pub sync_retry_base_ms: i64,
    /// Failing runs are retried for this long after the first failure, then the batch waits
    /// for the next event, "Sync now" or the catch-up cron.
    pub sync_retry_for_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: &'static str,
    pub message: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", self.name, self.message)
    }
}

impl std::error::Error for SettingError {}

impl Settings {
    /// `get` looks a variable up by name; missing or empty variables take the documented default.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let text = |name: &'static str, default: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let seconds = |name: &'static str, default: i64| -> Result<i64, SettingError> {
            match get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => Ok(default * 1000),
                Some(v) => parse_seconds(&v).ok_or_else(|| SettingError {
                    name,
                    message: format!("expected a number of seconds, got {v:?}"),
                }),
            }
        };
        let days = |name: &'static str, default: u32| -> Result<u32, SettingError> {
            match get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => Ok(default),
                Some(v) => parse_days(&v).ok_or_else(|| SettingError {
                    name,
                    message: format!("expected a whole number of days from 1 to 3650, got {v:?}"),
                }),
            }
        };
        let switch = |name: &'static str| -> Result<bool, SettingError> {
            match text(name, "off").to_ascii_lowercase().as_str() {
                "on" => Ok(true),
                "off" => Ok(false),
                other => Err(SettingError {
                    name,
                    message: format!("expected \"on\" or \"off\", got {other:?}"),
                }),
            }
        };
        let settings = Settings {
            notion_api_base: text("NOTION_API_BASE", "https://api.notion.com")
                .trim_end_matches('/')
                .to_owned(),
            notion_version: text("NOTION_VERSION", "2025-09-03"),
            framer_server_url: text(
                "FRAMER_SERVER_URL",
                "wss://api.framer.com/channel/headless-plugin",
            ),
            debounce_ms: seconds("DEBOUNCE_SECONDS", 10)?,
            max_wait_ms: seconds("DEBOUNCE_MAX_WAIT_SECONDS", 60)?,
            catch_up_interval_ms: seconds("CATCH_UP_INTERVAL_SECONDS", 3600)?,
            full_reconcile_interval_ms: seconds("FULL_RECONCILE_INTERVAL_SECONDS", 86_400)?,
            alert_retry_base_ms: seconds("ALERT_RETRY_BASE_SECONDS", 60)?,
            alert_retryable_after_ms: seconds("ALERT_RETRYABLE_AFTER_SECONDS", 1800)?,
            public_base_url: get("PUBLIC_BASE_URL")
                .map(|v| v.trim().trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty()),
            event_history_days: days("EVENT_HISTORY_DAYS", 30)?,
            sync_history_days: days("SYNC_HISTORY_DAYS", 90)?,
            shared_webhook_url: switch("SHARED_WEBHOOK_URL")?,
            sync_step_subrequests: match get("SYNC_STEP_SUBREQUESTS")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => 40,
                Some(v) => parse_step_subrequests(&v).ok_or_else(|| SettingError {
                    name: "SYNC_STEP_SUBREQUESTS",
                    message: format!("expected a whole number from 5 to 10000, got {v:?}"),
                })?,
            },
            // D1 allows 50 queries per invocation on Workers Free and 1,000 on Paid
            // (developers.cloudflare.com/d1/platform/limits, "Queries per Worker invocation"):
            // 40 leaves Free's ten for what an invocation reads before its step starts.
            sync_step_d1_queries: whole(&get, "SYNC_STEP_D1_QUERIES", 40, 25..=1_000)?,
            sync_step_ms: seconds("SYNC_STEP_SECONDS", 60)?,
            deletion_guard_percent: whole(&get, "DELETION_GUARD_PERCENT", 20, 1..=100)?,
            deletion_guard_min_items: whole(&get, "DELETION_GUARD_MIN_ITEMS", 5, 1..=1_000_000)?,
            sync_retry_base_ms: seconds("SYNC_RETRY_BASE_SECONDS", 5)?,
            sync_retry_for_ms: seconds("SYNC_RETRY_FOR_SECONDS", 3600)?,
        };
        if settings.sync_retry_base_ms < 100 {
            return Err(SettingError {
                name: "SYNC_RETRY_BASE_SECONDS",
                message: "must be at least 0.1 seconds".to_owned(),
            });
        }
        if settings.sync_step_ms < 1000 {
            return Err(SettingError {
                name: "SYNC_STEP_SECONDS",
                message: "must be at least 1 second".to_owned(),
            });
        }
        if settings.max_wait_ms < settings.debounce_ms {
            return Err(SettingError {
                name: "DEBOUNCE_MAX_WAIT_SECONDS",
                message: "must be at least DEBOUNCE_SECONDS".to_owned(),
            });
        }
        Ok(settings)
    }
}

/// A whole number in `range`, or `default` when the variable is missing or empty.
fn whole(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, SettingError> {
    match get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| SettingError {
                name,
                message: format!(
                    "expected a whole number from {} to {}, got {v:?}",
                    range.start(),
                    range.end()
                ),
            }),
    }
}

/// Whole or fractional seconds (tests use sub-second debounces) as milliseconds.
fn parse_seconds(v: &str) -> Option<i64> {
    let secs: f64 = v.parse().ok()?;
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return None;
    }
    // In range by the check above, so the cast cannot truncate meaningfully.
    #[allow(clippy::cast_possible_truncation)]
    Some((secs * 1000.0).round() as i64)
}

/// A step needs room for the Framer socket and a few Notion calls; Workers Paid allows 10,000
/// subrequests per invocation.
fn parse_step_subrequests(v: &str) -> Option<u32> {
    v.parse().ok().filter(|n| (5..=10_000).contains(n))
}

/// A retention in whole days: at least one (zero would delete history as it is written), at most
/// ten years.
fn parse_days(v: &str) -> Option<u32> {
    v.parse().ok().filter(|d| (1..=3650).contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_production_values() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.notion_api_base, "https://api.notion.com");
        assert_eq!(s.notion_version, "2025-09-03");
        assert_eq!(
            s.framer_server_url,
            "wss://api.framer.com/channel/headless-plugin"
        );
        assert_eq!((s.debounce_ms, s.max_wait_ms), (10_000, 60_000));
        assert_eq!(s.catch_up_interval_ms, 3_600_000);
        assert_eq!(s.alert_retry_base_ms, 60_000);
        assert_eq!(s.alert_retryable_after_ms, 1_800_000);
        assert_eq!(
            (s.sync_retry_base_ms, s.sync_retry_for_ms),
            (5_000, 3_600_000)
        );
        assert_eq!(s.public_base_url, None);
        assert_eq!((s.event_history_days, s.sync_history_days), (30, 90));
        assert!(
            !s.shared_webhook_url,
            "the shared webhook URL is off unless turned on"
        );
        assert_eq!(
            (s.deletion_guard_percent, s.deletion_guard_min_items),
            (20, 5)
        );
        assert_eq!((s.sync_step_subrequests, s.sync_step_d1_queries), (40, 40));
    }

    #[test]
    fn the_step_d1_budget_is_tunable_within_bounds() {
        let s = settings(&[("SYNC_STEP_D1_QUERIES", "900")]).unwrap();
        assert_eq!(s.sync_step_d1_queries, 900);
        for bad in ["24", "1001", "many"] {
            assert_eq!(
                settings(&[("SYNC_STEP_D1_QUERIES", bad)]).unwrap_err().name,
                "SYNC_STEP_D1_QUERIES"
            );
        }
    }

    #[test]
    fn the_deletion_guard_is_tunable_within_bounds() {
        let s = settings(&[
            ("DELETION_GUARD_PERCENT", "50"),
            ("DELETION_GUARD_MIN_ITEMS", "10"),
        ])
        .unwrap();
        assert_eq!(
            (s.deletion_guard_percent, s.deletion_guard_min_items),
            (50, 10)
        );
        for bad in ["0", "101", "half"] {
            assert_eq!(
                settings(&[("DELETION_GUARD_PERCENT", bad)])
                    .unwrap_err()
                    .name,
                "DELETION_GUARD_PERCENT"
            );
        }
    }

    #[test]
    fn the_shared_webhook_url_is_a_switch() {
        assert!(
            settings(&[("SHARED_WEBHOOK_URL", "on")])
                .unwrap()
                .shared_webhook_url
        );
        assert!(
            settings(&[("SHARED_WEBHOOK_URL", " ON ")])
                .unwrap()
                .shared_webhook_url
        );
        assert!(
            !settings(&[("SHARED_WEBHOOK_URL", "off")])
                .unwrap()
                .shared_webhook_url
        );
        assert!(
            !settings(&[("SHARED_WEBHOOK_URL", "")])
                .unwrap()
                .shared_webhook_url
        );
        let e = settings(&[("SHARED_WEBHOOK_URL", "yes")]).unwrap_err();
        assert_eq!(e.name, "SHARED_WEBHOOK_URL");
    }

    #[test]
    fn overrides_and_errors() {
        let s = settings(&[
            ("NOTION_API_BASE", "http://127.0.0.1:9/"),
            ("DEBOUNCE_SECONDS", "0.5"),
            ("DEBOUNCE_MAX_WAIT_SECONDS", "3"),
            ("PUBLIC_BASE_URL", "https://sync.example.com/"),
        ])
        .unwrap();
        assert_eq!(s.notion_api_base, "http://127.0.0.1:9");
        assert_eq!((s.debounce_ms, s.max_wait_ms), (500, 3_000));
        assert_eq!(
            s.public_base_url.as_deref(),
            Some("https://sync.example.com")
        );
        assert_eq!(
            settings(&[("DEBOUNCE_SECONDS", "ten")]).unwrap_err().name,
            "DEBOUNCE_SECONDS"
        );
        assert_eq!(
            settings(&[("DEBOUNCE_SECONDS", "-1")]).unwrap_err().name,
            "DEBOUNCE_SECONDS"
        );
        assert_eq!(
            settings(&[("DEBOUNCE_SECONDS", "90")]).unwrap_err().name,
            "DEBOUNCE_MAX_WAIT_SECONDS"
        );
        assert_eq!(
            settings(&[("SYNC_RETRY_BASE_SECONDS", "0")])
                .unwrap_err()
                .name,
            "SYNC_RETRY_BASE_SECONDS"
        );
        let s = settings(&[
            ("SYNC_RETRY_BASE_SECONDS", "60"),
            ("SYNC_RETRY_FOR_SECONDS", "30"),
        ])
        .unwrap();
        assert_eq!(
            (s.sync_retry_base_ms, s.sync_retry_for_ms),
            (60_000, 30_000)
        );
    }

    #[test]
    fn history_retention_in_whole_days() {
        let s = settings(&[("EVENT_HISTORY_DAYS", " 7 "), ("SYNC_HISTORY_DAYS", "365")]).unwrap();
        assert_eq!((s.event_history_days, s.sync_history_days), (7, 365));
        let empty = settings(&[("EVENT_HISTORY_DAYS", ""), ("SYNC_HISTORY_DAYS", "")]).unwrap();
        assert_eq!(
            (empty.event_history_days, empty.sync_history_days),
            (30, 90)
        );
        for bad in ["0", "-3", "1.5", "thirty", "3651"] {
            let err = settings(&[("EVENT_HISTORY_DAYS", bad)]).unwrap_err();
            assert_eq!(err.name, "EVENT_HISTORY_DAYS", "{bad}");
            assert!(err.message.contains(bad), "{}", err.message);
            assert_eq!(
                settings(&[("SYNC_HISTORY_DAYS", bad)]).unwrap_err().name,
                "SYNC_HISTORY_DAYS"
            );
        }
    }
}
