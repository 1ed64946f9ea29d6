//! An account's API tokens: list, create, revoke. A token is shown once, when created; only
//! its hash and a hint are stored.

use super::Caller;
use crate::context::now_ms;
use crate::http::Reply;
use crate::store::api_tokens;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::util::secrets;
use notion_framer_core::util::time::iso_from_ms;
use serde_json::{json, Value};

/// A fresh token with what is stored of it.
pub struct NewToken {
    id: String,
    account_id: String,
    token: String,
    hash: String,
    hint: String,
    created_at: String,
}

impl NewToken {
    pub fn generate(account_id: &str, now: &str) -> Result<Self, ApiError> {
        let token = secrets::random_token("nfs_")?;
        Ok(Self {
            id: secrets::random_id()?,
            account_id: account_id.to_owned(),
            hash: secrets::hash_token(&token),
            hint: secrets::hint(&token),
            token,
            created_at: now.to_owned(),
        })
    }

    /// What the store keeps: the hash, never the token.
    pub fn row(&self) -> api_tokens::NewToken<'_> {
        api_tokens::NewToken {
            id: &self.id,
            account_id: &self.account_id,
            token_hash: &self.hash,
            hint: &self.hint,
            created_at: &self.created_at,
        }
    }

    /// The one answer that shows the token.
    pub fn shown(&self) -> Value {
        json!({ "id": self.id, "token": self.token, "hint": self.hint, "created_at": self.created_at })
    }
}

pub async fn list(caller: &Caller<'_>) -> Result<Reply, ApiError> {
    let tokens = api_tokens::of_account(&caller.ctx.db, &caller.account.id).await?;
    Ok(Reply::json(
        200,
        &json!({ "account": caller.account.view(), "tokens": tokens }),
    ))
}

pub async fn create(caller: &Caller<'_>) -> Result<Reply, ApiError> {
    let token = NewToken::generate(&caller.account.id, &iso_from_ms(now_ms()))?;
    api_tokens::create(&caller.ctx.db, &token.row()).await?;
    Ok(Reply::json(201, &json!({ "token": token.shown() })))
}

pub async fn revoke(caller: &Caller<'_>, id: &str) -> Result<Reply, ApiError> {
    let now = iso_from_ms(now_ms());
    if !api_tokens::revoke(&caller.ctx.db, &caller.account.id, id, &now).await? {
        return Err(ApiError::NotFound("token".to_owned()));
    }
    Ok(Reply::json(200, &json!({ "revoked": id })))
}
