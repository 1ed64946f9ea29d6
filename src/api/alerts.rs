//! An account's alert destinations: list, create (the URL and the json format's signing secret
//! are shown once, here; afterwards only their hints), read, change (rename, re-point,
//! re-enable after a 410), delete, and "Send test alert", which POSTs at once and reports what
//! the receiver answered. A row from before URLs were encrypted is sealed when first read.

use super::Caller;
use crate::alerts::{self as delivery, secret_context};
use crate::context::now_ms;
use crate::http::{self, Reply};
use crate::store::alert_destinations::{self, DestinationRow, NewDestination};
use notion_framer_core::alerts::destination::{
    default_name, url_hint, DestinationInput, DestinationPatch, Format,
};
use notion_framer_core::api::error::ApiError;
use notion_framer_core::util::secrets;
use notion_framer_core::util::secrets::Cipher;
use notion_framer_core::util::time::iso_from_ms;
use serde_json::{json, Value};
use worker::Request;

/// Destinations one account may have.
const MAX_DESTINATIONS: i64 = 10;

/// What the API shows of a destination: never its URL or secret, only their hints.
fn view(d: &DestinationRow) -> Value {
    let hint = d.url_hint.clone().unwrap_or_else(|| url_hint(&d.url));
    json!({
        "id": d.id,
        "name": d.name,
        "url_hint": hint,
        "format": d.format,
        "secret_hint": d.secret_hint,
        "enabled": d.disabled_at.is_none(),
        "disabled_at": d.disabled_at,
        "disabled_reason": d.disabled_reason,
        "last_status": d.last_status,
        "last_attempt_at": d.last_attempt_at,
        "created_at": d.created_at,
    })
}

async fn owned(caller: &Caller<'_>, id: &str) -> Result<DestinationRow, ApiError> {
    let row = alert_destinations::of_account_by_id(&caller.ctx.db, &caller.account.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("alert destination".to_owned()))?;
    let mut rows = vec![row];
    seal_read(caller, &mut rows).await?;
    Ok(rows.remove(0))
}

/// Rows read with a plaintext URL (written before URLs were encrypted) are encrypted in place
/// now, and shown as sealed.
async fn seal_read(caller: &Caller<'_>, rows: &mut [DestinationRow]) -> Result<(), ApiError> {
    let mut cipher: Option<Cipher> = None;
    for row in rows.iter_mut().filter(|r| r.url_enc.is_none()) {
        if cipher.is_none() {
            cipher = Some(caller.ctx.cipher()?);
        }
        let cipher = cipher.as_ref().expect("set above");
        let (enc, hint) = delivery::seal(cipher, &row.id, &row.url)?;
        alert_destinations::seal_url(&caller.ctx.db, &row.id, &enc, &hint, true).await?;
        row.url = String::new();
        row.url_enc = Some(enc);
        row.url_hint = Some(hint);
    }
    Ok(())
}

pub async fn list(caller: &Caller<'_>) -> Result<Reply, ApiError> {
    let mut rows = alert_destinations::of_account(&caller.ctx.db, &caller.account.id).await?;
    seal_read(caller, &mut rows).await?;
    let views: Vec<Value> = rows.iter().map(view).collect();
    Ok(Reply::json(200, &json!({ "destinations": views })))
}

pub async fn create(caller: &Caller<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let body: Value = http::read_json(req).await?;
    let input = DestinationInput::parse(&body)?;
    let db = &caller.ctx.db;
    if alert_destinations::count_of_account(db, &caller.account.id).await? >= MAX_DESTINATIONS {
        return Err(ApiError::Conflict(format!(
            "an account can have at most {MAX_DESTINATIONS} alert destinations; delete one first"
        )));
    }
    let id = secrets::random_id()?;
    let name = match input.name.clone() {
        Some(name) => name,
        None => default_name(
            &input.url,
            &alert_destinations::names_of_account(db, &caller.account.id).await?,
        ),
    };
    let cipher = caller.ctx.cipher()?;
    let (url_enc, hint) = delivery::seal(&cipher, &id, &input.url)?;
    let secret = match input.format {
        Format::Json => Some(secrets::random_token("alsec_")?),
        Format::Slack => None,
    };
    let secret_enc = secret
        .as_deref()
        .map(|s| {
            cipher
                .encrypt(s, &secret_context(&id))
                .map_err(ApiError::from)
        })
        .transpose()?;
    let secret_hint = secret.as_deref().map(secrets::hint);
    alert_destinations::create(
        db,
        &NewDestination {
            id: &id,
            account_id: &caller.account.id,
            name: &name,
            url_enc: &url_enc,
            url_hint: &hint,
            format: input.format.as_str(),
            secret_enc: secret_enc.as_deref(),
            secret_hint: secret_hint.as_deref(),
            created_at: &iso_from_ms(now_ms()),
        },
    )
    .await?;
    let stored = owned(caller, &id).await?;
    // The URL is shown this once too: only its ciphertext and hint are kept.
    let mut answer = json!({ "destination": view(&stored), "url": input.url });
    if let Some(secret) = secret {
        // Shown this once: only its ciphertext and hint are kept.
        answer["secret"] = Value::String(secret);
    }
    Ok(Reply::json(201, &answer))
}

pub async fn get(caller: &Caller<'_>, id: &str) -> Result<Reply, ApiError> {
    let destination = owned(caller, id).await?;
    Ok(Reply::json(
        200,
        &json!({ "destination": view(&destination) }),
    ))
}

pub async fn update(caller: &Caller<'_>, id: &str, req: &mut Request) -> Result<Reply, ApiError> {
    let destination = owned(caller, id).await?;
    let body: Value = http::read_json(req).await?;
    let patch = DestinationPatch::parse(&body)?;
    let db = &caller.ctx.db;
    if let Some(name) = &patch.name {
        alert_destinations::rename(db, &destination.id, name).await?;
    }
    if let Some(url) = &patch.url {
        let (enc, hint) = delivery::seal(&caller.ctx.cipher()?, &destination.id, url)?;
        alert_destinations::seal_url(db, &destination.id, &enc, &hint, false).await?;
    }
    match patch.enabled {
        Some(true) => alert_destinations::enable(db, &destination.id).await?,
        Some(false) => {
            let now = iso_from_ms(now_ms());
            alert_destinations::disable(
                db,
                &destination.id,
                &format!("disabled by the owner on {now}"),
                &now,
            )
            .await?;
        }
        None => {}
    }
    let stored = owned(caller, id).await?;
    Ok(Reply::json(200, &json!({ "destination": view(&stored) })))
}

pub async fn delete(caller: &Caller<'_>, id: &str) -> Result<Reply, ApiError> {
    if !alert_destinations::delete(&caller.ctx.db, &caller.account.id, id).await? {
        return Err(ApiError::NotFound("alert destination".to_owned()));
    }
    Ok(Reply::json(200, &json!({ "deleted": id })))
}

/// POSTs a test alert now (even to a disabled destination: that is how one checks it is back)
/// and says what the receiver answered.
pub async fn test(caller: &Caller<'_>, id: &str) -> Result<Reply, ApiError> {
    let destination = owned(caller, id).await?;
    // This request's own budget: one POST and a few D1 queries.
    let budget = crate::sync::invocation_budget(caller.ctx);
    let attempt = delivery::send_test(caller.ctx, &budget, &destination).await?;
    let stored = owned(caller, id).await?;
    let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
    Ok(Reply::json(
        200,
        &json!({
            "delivered": delivered,
            "status": attempt.status,
            "latency_ms": attempt.latency_ms,
            "error": attempt.error,
            "destination": view(&stored),
        }),
    ))
}
