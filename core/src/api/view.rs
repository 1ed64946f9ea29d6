//! How a project's state reads on the dashboard: the pipeline banner and webhook status.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pipeline {
    /// `setup_required`, `active`, `auto_sync_off` or `plan_required`.
    pub state: &'static str,
    pub banner: &'static str,
}

/// The banner a project page shows, from the webhook status and whether auto-sync may run.
pub fn pipeline(webhook_status: &str, auto_sync: bool, paid: bool) -> Pipeline {
    if webhook_status != "active" {
        return Pipeline {
            state: "setup_required",
            banner: "Webhook setup required",
        };
    }
    match (auto_sync, paid) {
        (true, true) => Pipeline { state: "active", banner: "Sync pipeline active" },
        (true, false) => Pipeline {
            state: "plan_required",
            banner: "Auto-sync is paused: the free plan does not include it. Upgrade to sync on every Notion change.",
        },
        (false, _) => Pipeline {
            state: "auto_sync_off",
            banner: "Auto-sync is off: Notion events are received but only \"Sync now\" updates Framer.",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_follows_the_setup_flow() {
        assert_eq!(
            pipeline("setup_required", true, true).banner,
            "Webhook setup required"
        );
        assert_eq!(
            pipeline("token_received", true, true).state,
            "setup_required"
        );
        assert_eq!(
            pipeline("active", true, true).banner,
            "Sync pipeline active"
        );
        assert_eq!(pipeline("active", true, false).state, "plan_required");
        assert_eq!(pipeline("active", false, true).state, "auto_sync_off");
    }
}
