//! The removals the deletion guard held: "Remove them" (a full run that removes those Notion
//! still does not show) and "Keep them" (they stay in Framer, and later runs do not hold them
//! again until Notion shows them again).

use super::Owned;
use crate::http::Reply;
use crate::project_sync;
use crate::store::held_removals;
use notion_framer_core::api::error::ApiError;
use serde_json::json;

/// Removals the page lists under its notice.
pub const LISTED: usize = 20;

pub async fn apply(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    let (held, kept) = held_removals::counts(&ctx.db, &project.id).await?;
    if held + kept == 0 {
        return Err(ApiError::Unprocessable {
            code: "no_removals_held",
            message: "no removals wait for review: nothing to remove".to_owned(),
        });
    }
    let ticket = project_sync::request_release(ctx, &project.id).await?;
    Ok(owned.reply(
        202,
        &json!({ "sync_id": ticket.sync_id, "status": "queued", "removals_reviewed": held + kept }),
    ))
}

pub async fn dismiss(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    let kept = held_removals::keep_held(&ctx.db, &project.id).await?;
    if kept == 0 {
        return Err(ApiError::Unprocessable {
            code: "no_removals_held",
            message: "no removals wait for review: nothing to keep".to_owned(),
        });
    }
    let (_, total_kept) = held_removals::counts(&ctx.db, &project.id).await?;
    Ok(owned.reply(200, &json!({ "kept": kept, "kept_total": total_kept })))
}
