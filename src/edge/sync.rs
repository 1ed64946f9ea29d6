//! One sync run: the record in D1 around the engine that does the work. Every run ends in a
//! visible result (succeeded or failed with a message a user can act on).

use super::alerts;
use super::context::{now_ms, AppContext};
use super::store;
use super::sync_engine::{self, RunStats};
use crate::alerts::notice::ProjectRef;
use crate::api::error::{ApiError, Fault};
use crate::framer::error::FramerError;
use crate::notion::error::NotionError;
use crate::sync::queue::{Pending, Trigger};
use crate::util::time::iso_from_ms;

/// Why a run failed, and whether trying again soon may help.
#[derive(Debug, Clone)]
pub struct SyncFailure {
    pub code: String,
    /// Shown on the run's record: safe for the project's owner to read.
    pub message: String,
    pub retryable: bool,
    /// A failure on our side, for the alarm's log line only.
    pub fault: Option<Fault>,
}

/// A failure of ours (D1, the cipher, the runtime) during a run: the record says only that, and
/// the run is retried; the detail goes to the alarm's log line.
impl From<ApiError> for SyncFailure {
    fn from(e: ApiError) -> Self {
        let storage = e.fault().is_some_and(|f| f.origin().starts_with("d1"));
        Self {
            code: if storage {
                "storage_unavailable"
            } else {
                "internal_error"
            }
            .to_owned(),
            message: if storage {
                "the database did not answer; try again".to_owned()
            } else {
                format!("{}; the sync will retry", e.message())
            },
            retryable: true,
            fault: e.fault().cloned(),
        }
    }
}

/// Notion refused or failed: the code and message say what the owner can do about it.
impl From<NotionError> for SyncFailure {
    fn from(e: NotionError) -> Self {
        Self {
            code: e.code().into(),
            message: e.user_message(),
            retryable: e.retryable(),
            fault: None,
        }
    }
}

/// Framer refused or failed, likewise.
impl From<FramerError> for SyncFailure {
    fn from(e: FramerError) -> Self {
        Self {
            code: e.code().into(),
            message: e.user_message(),
            retryable: e.retryable(),
            fault: None,
        }
    }
}

pub async fn run(
    ctx: &AppContext,
    project_id: &str,
    batch: &Pending,
    sync_id: &str,
) -> Result<(), SyncFailure> {
    let Some(project) = store::projects::by_id(&ctx.db, project_id).await? else {
        // Deleted while work was queued: nothing to do, nothing to record.
        return Ok(());
    };
    let trigger = batch.trigger.unwrap_or(Trigger::Webhook);
    if trigger == Trigger::Webhook && !project.auto_sync_active() {
        // Auto-sync was turned off (or the plan lost it) after these events were queued.
        return Ok(());
    }
    let started_at = iso_from_ms(now_ms());
    store::sync_runs::start(
        &ctx.db,
        sync_id,
        project_id,
        trigger,
        batch.full,
        batch.events,
        &started_at,
    )
    .await?;
    let mut stats = RunStats::default();
    let outcome = sync_engine::sync(ctx, &project, batch, &mut stats).await;
    let failure = outcome
        .as_ref()
        .err()
        .map(|f| (f.code.as_str(), f.message.as_str()));
    let finished_at = iso_from_ms(now_ms());
    store::sync_runs::finish(&ctx.db, sync_id, &stats, failure, &finished_at).await?;
    // Only queued here: delivery happens after the run, so a receiver never slows a sync.
    let about = ProjectRef {
        id: project.id.clone(),
        name: project.name.clone(),
    };
    if let Err(e) = alerts::after_run(ctx, &about, &outcome, &stats).await {
        alerts::log_failure(Some(project_id), "alert bookkeeping after a run failed", &e);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::secrets::SecretError;

    #[test]
    fn our_failures_are_retried_and_keep_their_detail_for_the_log_only() {
        let failure = SyncFailure::from(ApiError::internal(
            "d1 query",
            "no such table: synced_items: SQLITE_ERROR",
        ));
        assert_eq!(failure.code, "storage_unavailable");
        assert_eq!(failure.message, "the database did not answer; try again");
        assert!(failure.retryable);
        assert_eq!(failure.fault.as_ref().map(Fault::origin), Some("d1 query"));

        let failure = SyncFailure::from(ApiError::from(SecretError::BadKey));
        assert_eq!(failure.code, "internal_error");
        assert_eq!(
            failure.message,
            "something went wrong on our side; the sync will retry"
        );
        assert!(!failure.message.contains("ENCRYPTION_KEY"));
        assert_eq!(failure.fault.as_ref().map(Fault::origin), Some("secrets"));
    }

    #[test]
    fn notion_failures_say_what_to_do_and_whether_to_retry() {
        let failure = SyncFailure::from(NotionError::Unauthorized);
        assert_eq!(failure.code, "notion_unauthorized");
        assert!(!failure.retryable);
        assert!(failure.fault.is_none());
    }
}
