//! The webhook setup actions of the project page: show (or claim) the verification token Notion
//! sent, confirm that the subscription was verified in Notion, and rotate the webhook URL.
//! Nothing an unauthenticated request can do weakens a working webhook: a newer token, or a
//! rotated URL, replaces the current one only when the owner confirms here (or, for a token,
//! when an event signed with it arrives).

use super::projects::webhook_url;
use super::Owned;
use crate::api::error::ApiError;
use crate::edge::context::now_ms;
use crate::edge::http::Reply;
use crate::edge::store;
use crate::edge::webhook;
use crate::util::secrets;
use crate::util::time::iso_from_ms;
use serde_json::json;
use worker::Request;

pub async fn refresh_token(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    let hook = &project.webhook;
    if let Some(current_enc) = &hook.verification_token_enc {
        // The token to paste in Notion: the newest one Notion sent.
        let (enc, received_at) = match &hook.pending_token_enc {
            Some(pending) => (pending, &hook.pending_token_received_at),
            None => (current_enc, &hook.token_received_at),
        };
        return Ok(owned.reply(
            200,
            &json!({
                "token": webhook::decrypt_token(ctx, project, enc)?,
                "status": hook.status.as_str(),
                "received_at": received_at,
                "replacement_pending": hook.pending_token_enc.is_some(),
            }),
        ));
    }
    if ctx.settings.shared_webhook_url {
        // A token that reached the shared URL is this project's only if it was bound to it on
        // arrival (it was then the one project waiting for a token).
        match webhook::take_pending_token(ctx, &project.id).await? {
            webhook::PendingClaim::Token(token) => {
                if webhook::save_claimed_token(ctx, &project.id, &token).await? {
                    return Ok(owned.reply(
                        200,
                        &json!({ "token": token, "status": "token_received", "received_at": iso_from_ms(now_ms()), "claimed_from_shared_url": true }),
                    ));
                }
            }
            webhook::PendingClaim::Ambiguous => {
                return Err(ApiError::Conflict("several verification tokens reached the shared URL; create the Notion subscription with this project's own webhook URL instead".to_owned()));
            }
            webhook::PendingClaim::None => {}
        }
    }
    Ok(owned.reply(
        200,
        &json!({
            "token": null,
            "status": hook.status.as_str(),
            "message": "No verification token has arrived yet. In your Notion integration's Webhooks tab, create a subscription with this project's webhook URL; Notion then sends the token here. Press Refresh token again afterwards.",
        }),
    ))
}

/// "I've verified in Notion": the newest token becomes the project's, the subscription is
/// active, and a rotated URL that Notion verified becomes the only one.
pub async fn confirm(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let hook = &owned.project.webhook;
    if hook.verification_token_enc.is_none() {
        return Err(ApiError::Unprocessable {
            code: "no_verification_token",
            message: "Notion has not sent a verification token for this project yet: create the subscription in Notion with this project's webhook URL first".to_owned(),
        });
    }
    let rotation_verified = hook.next_webhook_key.is_some() && hook.next_key_verified_at.is_some();
    let now = iso_from_ms(now_ms());
    store::webhooks::confirm(
        &owned.ctx.db,
        &owned.project.id,
        hook.pending_token_enc.as_deref(),
        rotation_verified,
        &now,
    )
    .await?;
    // The answer stays `{"status":"active"}`; the project shows what changed (`url`,
    // `next_url`, `replacement_pending`).
    Ok(owned.reply(200, &json!({ "status": "active" })))
}

/// A new webhook URL for the project. The old one keeps answering (no event is lost while the
/// owner moves the Notion subscription) until Notion has verified the new one and the owner
/// confirms; from then on the old URL answers 404.
pub async fn rotate(owned: &Owned<'_>, req: &Request) -> Result<Reply, ApiError> {
    let key = secrets::random_token("whk_")?;
    store::webhooks::start_rotation(&owned.ctx.db, &owned.project.id, &key).await?;
    Ok(owned.reply(
        200,
        &json!({
            "url": webhook_url(owned.ctx, &owned.project.webhook_key, req),
            "next_url": webhook_url(owned.ctx, &key, req),
            "message": "Create (or edit) the Notion subscription with the new URL, paste the verification token it sends, then press \"I've verified in Notion\". The old URL keeps working until then.",
        }),
    ))
}
