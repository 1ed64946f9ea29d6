//! The Worker's side of a project's Durable Object: one call per route, each answering in
//! `ApiError` (a deleted project is a 404; anything else the object says is a fault of ours,
//! logged, never shown).

use super::GONE;
use crate::context::AppContext;
use crate::fault::RuntimeResult;
use crate::store::sync_runs::SyncRun;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::sync::ledger::Outcome;
use notion_framer_core::sync::object::{
    CancelRequest, Holds, HoldsRequest, IngestReply, IngestRequest, ObjectRoute, QueueStatus,
    RefreshRequest, RunsRequest, SyncRequest, SyncTicket,
};
use notion_framer_core::sync::queue::Trigger;
use serde::Serialize;
use worker::{Method, Request, RequestInit, Response};

async fn call<T: Serialize>(
    ctx: &AppContext,
    project_id: &str,
    route: ObjectRoute,
    body: Option<&T>,
) -> std::result::Result<Response, ApiError> {
    let stub = ctx
        .project_objects()?
        .id_from_name(project_id)
        .fault()?
        .get_stub()
        .fault()?;
    let mut init = RequestInit::new();
    init.with_method(if body.is_some() {
        Method::Post
    } else {
        Method::Get
    });
    if let Some(body) = body {
        init.with_body(Some(serde_json::to_string(body)?.into()));
    }
    let url = format!("https://project-sync{}", route.path());
    let req = Request::new_with_init(&url, &init).fault()?;
    let mut resp = stub.fetch_with_request(req).await.fault()?;
    if resp.status_code() == 200 {
        return Ok(resp);
    }
    if resp.status_code() == GONE {
        return Err(ApiError::NotFound("project".to_owned()));
    }
    let status = resp.status_code();
    let said = resp.text().await.unwrap_or_default();
    Err(ApiError::internal(
        "sync queue",
        format!("{} answered {status}: {said}", route.path()),
    ))
}

/// Hands a delivery to the project's object; returns once it is stored (and queued, if
/// relevant and auto-sync is on), with what the webhook should answer.
pub async fn ingest(
    ctx: &AppContext,
    request: &IngestRequest,
) -> std::result::Result<Outcome, ApiError> {
    let mut resp = call(ctx, &request.project_id, ObjectRoute::Ingest, Some(request)).await?;
    Ok(resp.json::<IngestReply>().await.fault()?.outcome)
}

pub async fn request_sync(
    ctx: &AppContext,
    project_id: &str,
    trigger: Trigger,
    full: bool,
) -> std::result::Result<SyncTicket, ApiError> {
    sync_request(ctx, project_id, trigger, full, false).await
}

/// "Remove them": a full run that removes the held items Notion still does not show.
pub async fn request_release(
    ctx: &AppContext,
    project_id: &str,
) -> std::result::Result<SyncTicket, ApiError> {
    sync_request(ctx, project_id, Trigger::Manual, true, true).await
}

async fn sync_request(
    ctx: &AppContext,
    project_id: &str,
    trigger: Trigger,
    full: bool,
    release_held: bool,
) -> std::result::Result<SyncTicket, ApiError> {
    let body = SyncRequest {
        project_id: project_id.to_owned(),
        trigger,
        full,
        release_held,
    };
    let mut resp = call(ctx, project_id, ObjectRoute::Sync, Some(&body)).await?;
    resp.json().await.fault()
}

/// Asks the project's object to read these pages again in its next run (queued, and
/// scheduled like an event when auto-sync is on). A deleted project is a 404.
pub async fn request_refresh(
    ctx: &AppContext,
    project_id: &str,
    page_ids: &[String],
) -> std::result::Result<(), ApiError> {
    let body = RefreshRequest {
        project_id: project_id.to_owned(),
        page_ids: page_ids.to_vec(),
    };
    call(ctx, project_id, ObjectRoute::Refresh, Some(&body))
        .await
        .map(|_| ())
}

pub async fn queue_status(
    ctx: &AppContext,
    project_id: &str,
) -> std::result::Result<QueueStatus, ApiError> {
    let mut resp = call::<()>(ctx, project_id, ObjectRoute::Status, None).await?;
    resp.json().await.fault()
}

/// Stops the project's run in flight (its database or collection changed).
/// Stops the run in flight; with `forget_items` (the project now syncs another database), the
/// object's record of items goes too.
pub async fn cancel_run(
    ctx: &AppContext,
    project_id: &str,
    forget_items: bool,
) -> std::result::Result<(), ApiError> {
    let request = CancelRequest { forget_items };
    call(ctx, project_id, ObjectRoute::Cancel, Some(&request))
        .await
        .map(|_| ())
}

pub async fn forget(ctx: &AppContext, project_id: &str) -> std::result::Result<(), ApiError> {
    call(
        ctx,
        project_id,
        ObjectRoute::Forget,
        Some(&serde_json::json!({})),
    )
    .await
    .map(|_| ())
}

/// Runs of the project's history kept by its object (see [`RunsRequest`]).
pub async fn runs(
    ctx: &AppContext,
    project_id: &str,
    request: &RunsRequest,
) -> std::result::Result<Vec<SyncRun>, ApiError> {
    let mut resp = call(ctx, project_id, ObjectRoute::Runs, Some(request)).await?;
    resp.json().await.fault()
}

/// Which of `page_ids` the project's collection holds, by its object's record, and whether a
/// run there may still add others.
pub async fn holds(
    ctx: &AppContext,
    project_id: &str,
    page_ids: &[String],
) -> std::result::Result<Holds, ApiError> {
    let request = HoldsRequest {
        page_ids: page_ids.to_vec(),
    };
    let mut resp = call(ctx, project_id, ObjectRoute::Holds, Some(&request)).await?;
    resp.json().await.fault()
}
