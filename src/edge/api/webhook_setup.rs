//! The webhook setup actions of the project page: show (or claim) the verification token Notion
//! sent, and confirm that the subscription was verified in Notion.

use super::Owned;
use crate::api::error::ApiError;
use crate::edge::context::now_ms;
use crate::edge::http::Reply;
use crate::edge::store;
use crate::edge::webhook;
use crate::util::secrets::ProjectSecret;
use crate::util::time::iso_from_ms;
use serde_json::json;

pub async fn refresh_token(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    if let Some(enc) = &project.webhook.verification_token_enc {
        let token = ctx
            .cipher()?
            .decrypt(enc, &ProjectSecret::VerificationToken.context(&project.id))?;
        return Ok(owned.reply(
            200,
            &json!({ "token": token, "status": project.webhook.status.as_str(), "received_at": project.webhook.token_received_at }),
        ));
    }
    // A token may have reached the shared URL: this project may claim it only when it is the
    // one project waiting for verification, or it could take someone else's subscription.
    if store::webhooks::waiting_for_token(&ctx.db).await? == 1 {
        match webhook::take_pending_token(ctx).await? {
            webhook::PendingClaim::Token(token) => {
                webhook::save_token(ctx, &project.id, &token, true).await?;
                return Ok(owned.reply(
                    200,
                    &json!({ "token": token, "status": "token_received", "received_at": iso_from_ms(now_ms()), "claimed_from_shared_url": true }),
                ));
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
            "status": project.webhook.status.as_str(),
            "message": "No verification token has arrived yet. In your Notion integration's Webhooks tab, create a subscription with this project's webhook URL; Notion then sends the token here. Press Refresh token again afterwards.",
        }),
    ))
}

pub async fn confirm(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    if owned.project.webhook.verification_token_enc.is_none() {
        return Err(ApiError::Unprocessable {
            code: "no_verification_token",
            message: "Notion has not sent a verification token for this project yet: create the subscription in Notion with this project's webhook URL first".to_owned(),
        });
    }
    let now = iso_from_ms(now_ms());
    store::webhooks::activate(&owned.ctx.db, &owned.project.id, &now).await?;
    Ok(owned.reply(200, &json!({ "status": "active" })))
}
