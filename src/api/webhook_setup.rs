//! The webhook setup actions of the project page: show (or claim) the verification token Notion
//! sent, confirm that the subscription was verified in Notion, and rotate the webhook URL.
//! Nothing an unauthenticated request can do weakens a working webhook: a newer token, or a
//! rotated URL, replaces the current one only when the owner confirms here (or, for a token,
//! when an event signed with it arrives). The confirm names the token the owner was shown
//! (`api::webhook_confirm`), so a token that arrived afterwards is never swapped in by it.

use super::projects::webhook_url;
use super::Owned;
use crate::context::now_ms;
use crate::http::{self, Reply};
use crate::store;
use crate::webhook;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::webhook_confirm::{self, ConfirmBody, Confirmed};
use notion_framer_core::util::secrets;
use notion_framer_core::util::time::iso_from_ms;
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
        let token = webhook::decrypt_token(ctx, project, enc)?;
        return Ok(owned.reply(
            200,
            &json!({
                "fingerprint": webhook_confirm::fingerprint(&token),
                "token": token,
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
                        &json!({ "token": token, "fingerprint": webhook_confirm::fingerprint(&token), "status": "token_received", "received_at": iso_from_ms(now_ms()), "claimed_from_shared_url": true }),
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

/// "I've verified in Notion" for the token the owner saw (`{"token"}` or `{"fingerprint"}`, as
/// `refresh-token` showed it): that token becomes the project's, the subscription is active,
/// and a rotated URL that Notion verified becomes the only one. A confirm for another token is
/// a 409 that changes nothing; one naming no token (no body, `{}`) never swaps in a pending one.
pub async fn confirm(owned: &Owned<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let body = http::read_optional_json(req).await?;
    let named = match body {
        serde_json::Value::Null => None,
        body => ConfirmBody::from_json(&body)?.named()?,
    };
    let (ctx, project) = (owned.ctx, &owned.project);
    let hook = &project.webhook;
    let Some(current_enc) = &hook.verification_token_enc else {
        return Err(ApiError::Unprocessable {
            code: "no_verification_token",
            message: "Notion has not sent a verification token for this project yet: create the subscription in Notion with this project's webhook URL first".to_owned(),
        });
    };
    let current = webhook::decrypt_token(ctx, project, current_enc)?;
    let pending = match &hook.pending_token_enc {
        Some(enc) => Some(webhook::decrypt_token(ctx, project, enc)?),
        None => None,
    };
    let confirmed = webhook_confirm::decide(named.as_ref(), &current, pending.as_deref())?;
    let swap = match confirmed {
        Confirmed::Pending => hook.pending_token_enc.as_deref(),
        Confirmed::Current => None,
    };
    let rotation_verified = hook.next_webhook_key.is_some() && hook.next_key_verified_at.is_some();
    let now = iso_from_ms(now_ms());
    store::webhooks::confirm(&ctx.db, &project.id, swap, rotation_verified, &now).await?;
    // The project shows the rest of what changed (`url`, `next_url`).
    let still_pending = confirmed == Confirmed::Current && pending.is_some();
    Ok(owned.reply(
        200,
        &json!({ "status": "active", "replacement_pending": still_pending }),
    ))
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
