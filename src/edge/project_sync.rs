//! The per-project Durable Object: it coalesces events into one pending batch, keeps the alarm
//! `DEBOUNCE_SECONDS` ahead of the latest event (capped by the max wait), and runs the sync when
//! the alarm fires. One object per project, named by the project id; each project syncs exactly
//! one Notion database.

use super::context::{now_ms, text_binding, AppContext};
use super::sync;
use crate::api_error::ApiError;
use crate::debounce::{Pending, Trigger, Window};
use crate::log_line::LogLine;
use crate::notion_event::Effect;
use crate::secrets;
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use worker::{
    console_log, durable_object, DurableObject, Env, Method, Request, RequestInit, Response,
    Result, ScheduledTime, State,
};

const PENDING: &str = "pending";
const IN_FLIGHT: &str = "in_flight";
const PROJECT_ID: &str = "project_id";

/// The batch a running (or interrupted) sync is working on.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InFlight {
    batch: Pending,
    sync_id: String,
    started_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct EffectsRequest {
    project_id: String,
    effects: Vec<Effect>,
}

#[derive(Serialize, Deserialize)]
struct SyncRequest {
    project_id: String,
    trigger: Trigger,
    full: bool,
}

/// What the object tells the API about its queue.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct QueueStatus {
    pub pending_events: u32,
    pub pending_since_ms: Option<i64>,
    pub alarm_at_ms: Option<i64>,
    pub running_sync_id: Option<String>,
    pub running_since_ms: Option<i64>,
    pub queued_sync_id: Option<String>,
}

/// The answer to a sync request: the run that will serve it and whether it was already under way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncTicket {
    pub sync_id: Option<String>,
    pub already_running: bool,
}

#[durable_object]
pub struct ProjectSync {
    state: State,
    env: Env,
}

impl DurableObject for ProjectSync {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let outcome = match req.path().as_str() {
            "/effects" => match req.json::<EffectsRequest>().await {
                Ok(body) => self.on_effects(body).await,
                Err(e) => Err(worker::Error::RustError(format!(
                    "bad effects request: {e}"
                ))),
            },
            "/sync" => match req.json::<SyncRequest>().await {
                Ok(body) => self.on_sync_request(body).await,
                Err(e) => Err(worker::Error::RustError(format!("bad sync request: {e}"))),
            },
            "/status" => self.status().await.and_then(|s| Response::from_json(&s)),
            "/forget" => self.forget().await,
            other => Response::error(format!("no such object route {other}"), 404),
        };
        outcome.or_else(|e| Response::error(e.to_string(), 500))
    }

    async fn alarm(&self) -> Result<Response> {
        let started = now_ms();
        let storage = self.state.storage();
        let Some(project_id) = storage.get::<String>(PROJECT_ID).await? else {
            return Response::ok("no project");
        };
        let mut batch = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        if let Some(interrupted) = storage.get::<InFlight>(IN_FLIGHT).await? {
            // A previous run died mid-way (eviction, crash): its work is still owed.
            batch.merge(interrupted.batch);
        }
        if batch.is_empty() {
            storage.delete(IN_FLIGHT).await?;
            return Response::ok("nothing pending");
        }
        let sync_id = match batch.sync_id.clone() {
            Some(id) => id,
            None => secrets::random_id().map_err(|e| worker::Error::RustError(e.to_string()))?,
        };
        let in_flight = InFlight {
            batch: batch.clone(),
            sync_id: sync_id.clone(),
            started_at_ms: started,
        };
        storage.put(IN_FLIGHT, &in_flight).await?;
        storage.delete(PENDING).await?;

        let ctx = AppContext::new(self.env.clone())
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let outcome = sync::run(&ctx, &project_id, &batch, &sync_id).await;

        let mut line = LogLine {
            kind: "alarm",
            project_id: Some(project_id.clone()),
            sync_id: Some(sync_id.clone()),
            note: Some(format!(
                "{} batch of {} events",
                batch.trigger.map_or("?", Trigger::as_str),
                batch.events
            )),
            ..LogLine::default()
        };
        let result = match outcome {
            Ok(()) => {
                storage.delete(IN_FLIGHT).await?;
                self.rearm().await?;
                Response::ok("synced")
            }
            Err(failure) => {
                line.error_code = Some(failure.code.clone());
                storage.delete(IN_FLIGHT).await?;
                if failure.retryable {
                    // Give the work back and retry on our own backoff rather than the
                    // runtime's, which gives up after six attempts and would strand the batch.
                    let mut pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
                    batch.sync_id = None;
                    pending.merge(batch);
                    pending.record_failure(now_ms());
                    storage.put(PENDING, &pending).await?;
                    storage
                        .set_alarm(at(pending.alarm_at(now_ms(), self.window()?)))
                        .await?;
                    Response::ok("sync failed, retry scheduled")
                } else {
                    // Retrying cannot help (bad token, missing database): the run records why,
                    // and the next event, "Sync now" or the catch-up cron tries again.
                    self.rearm().await?;
                    Response::ok("sync failed")
                }
            }
        };
        line.duration_ms = u64::try_from(now_ms() - started).unwrap_or(0);
        console_log!("{}", line.to_json());
        result
    }
}

/// An absolute alarm time (a bare i64 would be read as an offset from now).
fn at(epoch_ms: i64) -> ScheduledTime {
    #[allow(clippy::cast_precision_loss)]
    ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        epoch_ms as f64,
    )))
}

impl ProjectSync {
    fn window(&self) -> Result<Window> {
        let settings = Settings::from_lookup(|name| text_binding(&self.env, name))
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        Ok(Window {
            debounce_ms: settings.debounce_ms,
            max_wait_ms: settings.max_wait_ms,
        })
    }

    async fn on_effects(&self, body: EffectsRequest) -> Result<Response> {
        let storage = self.state.storage();
        storage.put(PROJECT_ID, &body.project_id).await?;
        let now = now_ms();
        let mut pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        for effect in &body.effects {
            pending.record_event(effect, now);
        }
        let alarm_at = pending.alarm_at(now, self.window()?);
        storage.put(PENDING, &pending).await?;
        storage.set_alarm(at(alarm_at)).await?;
        Response::from_json(
            &serde_json::json!({ "pending_events": pending.events, "alarm_at_ms": alarm_at }),
        )
    }

    async fn on_sync_request(&self, body: SyncRequest) -> Result<Response> {
        let storage = self.state.storage();
        storage.put(PROJECT_ID, &body.project_id).await?;
        if let Some(running) = storage.get::<InFlight>(IN_FLIGHT).await? {
            if running.batch.trigger == Some(Trigger::Manual) || body.trigger != Trigger::Manual {
                return Response::from_json(&SyncTicket {
                    sync_id: Some(running.sync_id),
                    already_running: true,
                });
            }
        }
        let now = now_ms();
        let mut pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        if body.trigger == Trigger::Schedule && !pending.is_empty() {
            // Work is already queued, with its alarm; the catch-up has nothing to add.
            return Response::from_json(&SyncTicket {
                sync_id: pending.sync_id,
                already_running: false,
            });
        }
        pending.record_request(body.trigger, body.full, now);
        if body.trigger == Trigger::Manual && pending.sync_id.is_none() {
            pending.sync_id =
                Some(secrets::random_id().map_err(|e| worker::Error::RustError(e.to_string()))?);
        }
        let alarm_at = pending.alarm_at(now, self.window()?);
        storage.put(PENDING, &pending).await?;
        storage.set_alarm(at(alarm_at)).await?;
        Response::from_json(&SyncTicket {
            sync_id: pending.sync_id,
            already_running: false,
        })
    }

    /// After a run, re-arm for whatever arrived while it ran: no change is lost.
    async fn rearm(&self) -> Result<()> {
        let storage = self.state.storage();
        if let Some(pending) = storage.get::<Pending>(PENDING).await? {
            if !pending.is_empty() {
                storage
                    .set_alarm(at(pending.alarm_at(now_ms(), self.window()?)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn status(&self) -> Result<QueueStatus> {
        let storage = self.state.storage();
        let pending = storage.get::<Pending>(PENDING).await?.unwrap_or_default();
        let running = storage.get::<InFlight>(IN_FLIGHT).await?;
        Ok(QueueStatus {
            pending_events: pending.events,
            pending_since_ms: (!pending.is_empty()).then_some(pending.first_at_ms),
            alarm_at_ms: storage.get_alarm().await?,
            queued_sync_id: pending.sync_id.clone(),
            running_sync_id: running.as_ref().map(|r| r.sync_id.clone()),
            running_since_ms: running.map(|r| r.started_at_ms),
        })
    }

    async fn forget(&self) -> Result<Response> {
        let storage = self.state.storage();
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        Response::ok("forgotten")
    }
}

// Calls from the Worker into a project's object.

async fn call<T: Serialize>(
    ctx: &AppContext,
    project_id: &str,
    route: &str,
    body: Option<&T>,
) -> std::result::Result<Response, ApiError> {
    let internal = |e: worker::Error| {
        ApiError::Internal(format!("the project's sync queue did not answer: {e}"))
    };
    let stub = ctx
        .project_objects()?
        .id_from_name(project_id)
        .and_then(|id| id.get_stub())
        .map_err(internal)?;
    let mut init = RequestInit::new();
    init.with_method(if body.is_some() {
        Method::Post
    } else {
        Method::Get
    });
    if let Some(body) = body {
        let text = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.to_string()))?;
        init.with_body(Some(text.into()));
    }
    let req =
        Request::new_with_init(&format!("https://project-sync{route}"), &init).map_err(internal)?;
    let resp = stub.fetch_with_request(req).await.map_err(internal)?;
    if resp.status_code() == 200 {
        Ok(resp)
    } else {
        Err(ApiError::Internal(format!(
            "the project's sync queue answered {}",
            resp.status_code()
        )))
    }
}

/// Records event effects durably and moves the alarm; returns once the object has stored them.
pub async fn send_effects(
    ctx: &AppContext,
    project_id: &str,
    effects: &[Effect],
) -> std::result::Result<(), ApiError> {
    let body = EffectsRequest {
        project_id: project_id.to_owned(),
        effects: effects.to_vec(),
    };
    call(ctx, project_id, "/effects", Some(&body))
        .await
        .map(|_| ())
}

pub async fn request_sync(
    ctx: &AppContext,
    project_id: &str,
    trigger: Trigger,
    full: bool,
) -> std::result::Result<SyncTicket, ApiError> {
    let body = SyncRequest {
        project_id: project_id.to_owned(),
        trigger,
        full,
    };
    let mut resp = call(ctx, project_id, "/sync", Some(&body)).await?;
    resp.json()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub async fn queue_status(
    ctx: &AppContext,
    project_id: &str,
) -> std::result::Result<QueueStatus, ApiError> {
    let mut resp = call::<()>(ctx, project_id, "/status", None).await?;
    resp.json()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub async fn forget(ctx: &AppContext, project_id: &str) -> std::result::Result<(), ApiError> {
    call(ctx, project_id, "/forget", Some(&serde_json::json!({})))
        .await
        .map(|_| ())
}
