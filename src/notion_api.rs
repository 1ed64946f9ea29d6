//! A small Notion REST client over `Fetch`: bearer auth, the configured Notion-Version, at most
//! about 3 requests/s, bounded retries (Retry-After honoured) and a per-request timeout. Every
//! decision is `notion_protocol`'s; this file only does the I/O and counts calls.
//!
//! Pacing: a sync step's client takes its request slots from the token's shared pacer
//! (`notion_rate`), so the projects sharing a token share its limit; an API request's client
//! takes its first few from it too, one just before each request; the cron's freshness check,
//! and any client whose shared pacer cannot be reached, paces itself.

use super::context::{now_ms, AppContext};
use crate::fault::RuntimeResult;
use crate::notion_rate::SharedPacer;
use futures::future::{select, Either};
use notion_framer_core::alerts::freshness;
use notion_framer_core::notion::error::NotionError;
use notion_framer_core::notion::page_html::BlockNode;
use notion_framer_core::notion::protocol::{
    self as protocol, Pacer, QueryWindow, RetryPolicy, MIN_REQUEST_INTERVAL_MS,
};
use notion_framer_core::notion::rate_share::{Grant, LONE_GRANT_SLOTS};
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::util::settings::Settings;
use serde_json::Value;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;
use worker::{console_log, AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

/// Asks of the shared pacer an API request's client makes (each a subrequest of the request's
/// allowance, beside its Notion requests): a schema read or a create's look fits; a long walk
/// of a graph paces itself after them.
const API_SHARED_ASKS: u32 = 6;

/// One request may take this long before it counts as a transport failure.
const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Nesting depth of page bodies fetched (deeper blocks are not rendered).
const MAX_BLOCK_DEPTH: usize = 6;

pub struct NotionClient {
    base: String,
    version: String,
    token: String,
    /// This client's own next free instant: its pacing when it has no shared pacer, and where
    /// its slots end (what it gives back, and what the next step starts from) when it has one.
    pacer: Pacer,
    /// The token's shared pacer, for a sync step's client while it answers.
    shared: Option<SharedSlots>,
    policy: RetryPolicy,
    /// Requests sent, retries included.
    pub calls: usize,
    /// Grants asked of the shared pacer (each a subrequest).
    pub pacer_asks: u32,
    /// The sync step's subrequest budget, when the client serves a step.
    budget: Option<Rc<Budget>>,
}

/// The slots a client holds of its token's timeline.
struct SharedSlots {
    pacer: SharedPacer,
    /// Asks this client may still make (each a subrequest): unbounded for a step, whose budget
    /// counts them; a few for an API request, which then paces itself.
    asks_left: Option<u32>,
    grant: Option<Grant>,
    /// Slots of `grant` used or let pass.
    used: u32,
    /// A 429's Retry-After not yet reported to the shared pacer.
    pause_until_ms: Option<u64>,
}

impl SharedSlots {
    /// The next slot of the grant that may still be used at `now_ms` (its index and instant).
    /// A slot whose successor has begun is let pass, so each request keeps to a slot of its own
    /// and a client that was busy never bursts through the slots it missed.
    fn next_slot(&mut self, now_ms: u64) -> Option<(u32, u64)> {
        let grant = self.grant?;
        while self.used < grant.slots && grant.slot_ms(self.used + 1) <= now_ms {
            self.used += 1;
        }
        (self.used < grant.slots).then(|| (self.used, grant.slot_ms(self.used)))
    }

    /// Takes the next usable slot of the grant: when to send.
    fn take_slot(&mut self, now_ms: u64) -> Option<u64> {
        let (index, at) = self.next_slot(now_ms)?;
        self.used = index + 1;
        Some(at)
    }
}

fn now() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

async fn sleep(ms: u64) {
    if ms > 0 {
        Delay::from(Duration::from_millis(ms)).await;
    }
}

impl NotionClient {
    pub fn new(settings: &Settings, token: String) -> Self {
        Self {
            base: settings.notion_api_base.clone(),
            version: settings.notion_version.clone(),
            token,
            pacer: Pacer::new(MIN_REQUEST_INTERVAL_MS),
            shared: None,
            policy: RetryPolicy::default(),
            calls: 0,
            pacer_asks: 0,
            budget: None,
        }
    }

    /// A client that never retries: for a look a request can do without (a create reading
    /// whether its id is a data source's), which must not hold the request up.
    pub fn single_attempt(ctx: &AppContext, token: String) -> Self {
        let mut client = Self::for_api(ctx, token);
        client.policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        client
    }

    /// A client for one sync step: every attempt and every ask of the token's `shared` pacer
    /// takes a subrequest from `budget`, and pacing continues from where the last step left it
    /// (`next_at_ms`: what the step gives back of its last grant, or its local pacing's next
    /// slot). Without a shared pacer the step paces itself.
    pub fn for_step(
        settings: &Settings,
        token: String,
        budget: Rc<Budget>,
        next_at_ms: u64,
        shared: Option<SharedPacer>,
    ) -> Self {
        let mut client = Self::new(settings, token);
        client.pacer.pause_until(next_at_ms);
        client.budget = Some(budget);
        client.shared = shared.map(|pacer| SharedSlots {
            pacer,
            asks_left: None,
            grant: None,
            used: 0,
            pause_until_ms: None,
        });
        client
    }

    /// A client for an API request (a schema read, a create's look at the graph): its first
    /// [`API_SHARED_ASKS`] requests take a slot each from the token's shared pacer, asked just
    /// before they are sent, so that a dashboard read beside running syncs neither trips
    /// Notion's limit for them nor holds slots it does not use; past that it paces itself.
    pub fn for_api(ctx: &AppContext, token: String) -> Self {
        let shared = SharedPacer::for_api(&ctx.env, &token).ok();
        let mut client = Self::new(&ctx.settings, token);
        client.shared = shared.map(|pacer| SharedSlots {
            pacer,
            asks_left: Some(API_SHARED_ASKS),
            grant: None,
            used: 0,
            pause_until_ms: None,
        });
        client
    }

    /// The run ended or waits: slots of its grant still ahead go back to the token's timeline
    /// (one subrequest, when the step can pay it), so a project that starts meanwhile does not
    /// wait for slots nobody will use. (A step followed at once by the next gives them back with
    /// that step's first ask.)
    pub async fn release(&mut self) {
        let (Some(budget), Some(shared)) = (&self.budget, &mut self.shared) else {
            return;
        };
        let unused_ahead = shared
            .grant
            .is_some_and(|g| shared.used < g.slots && g.end_ms() > now());
        if !unused_ahead || !budget.take() {
            return;
        }
        let resume_at = self.pacer.next_free_ms();
        // Nothing to do if it does not answer: the slots pass unused, as before.
        let _ = shared
            .pacer
            .ask(0, resume_at, shared.pause_until_ms.take())
            .await;
        shared.grant = None;
    }

    /// When the next request may go out.
    pub fn next_request_at_ms(&self) -> u64 {
        self.pacer.next_free_ms()
    }

    /// One logical request, retried per the policy.
    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, NotionError> {
        let started = now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.wait_for_slot().await?;
            self.calls += 1;
            let error = match self.send_once(method.clone(), path, body).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(delay) = self
                .policy
                .delay_ms(&error, attempt, now().saturating_sub(started))
            else {
                return Err(if attempt > 1 && error.retryable() {
                    NotionError::GaveUp {
                        last: Box::new(error),
                        attempts: attempt,
                    }
                } else {
                    error
                });
            };
            if matches!(error, NotionError::RateLimited { .. }) {
                let until = now() + delay;
                self.pacer.pause_until(until);
                if let Some(shared) = &mut self.shared {
                    // Every user of the token pauses: reported with the next ask, which this
                    // client makes at once (its grant is dropped).
                    shared.pause_until_ms = Some(until);
                    shared.grant = None;
                }
            } else {
                sleep(delay).await;
            }
        }
    }

    /// Takes the subrequest for the next attempt and waits for its slot: the next of the
    /// shared grant (asking for a new grant when it is used up), or the local pacer's.
    async fn wait_for_slot(&mut self) -> Result<(), NotionError> {
        if self
            .shared
            .as_mut()
            .is_some_and(|s| s.next_slot(now()).is_none())
        {
            self.renew_grant().await?;
        }
        if self.budget.as_ref().is_some_and(|b| !b.take()) {
            return Err(NotionError::StepBudgetSpent);
        }
        let now = now();
        if let Some(at) = self.shared.as_mut().and_then(|s| s.take_slot(now)) {
            self.pacer.pause_until(at + MIN_REQUEST_INTERVAL_MS);
            sleep(at.saturating_sub(now)).await;
        } else {
            // No shared pacer, or a grant that passed while it was asked for (an answer slower
            // than the grant is long): this request keeps to the client's own pacing.
            sleep(self.pacer.reserve(now)).await;
        }
        Ok(())
    }

    /// Asks the shared pacer for the next grant (one subrequest, only when the request it is
    /// for can be paid too), reporting a pending pause and giving back what this client did not
    /// use. A pacer that does not answer leaves the step to pace itself.
    async fn renew_grant(&mut self) -> Result<(), NotionError> {
        let Some(shared) = &mut self.shared else {
            return Ok(());
        };
        let want = match (&self.budget, &mut shared.asks_left) {
            (_, Some(0)) => {
                self.shared = None;
                return Ok(());
            }
            // One slot at a time: an API request gives nothing back when it ends.
            (_, Some(left)) => {
                *left -= 1;
                1
            }
            (Some(budget), None) => {
                if !budget.affords(2, 0) || !budget.take() {
                    return Err(NotionError::StepBudgetSpent);
                }
                // Never more slots than the step could pay requests for.
                budget.left().min(LONE_GRANT_SLOTS)
            }
            (None, None) => return Ok(()),
        };
        self.pacer_asks += 1;
        let resume_at = self.pacer.next_free_ms();
        match shared
            .pacer
            .ask(want, resume_at, shared.pause_until_ms.take())
            .await
        {
            Ok(grant) => {
                shared.grant = Some(grant);
                shared.used = 0;
            }
            Err(e) => {
                let line = serde_json::json!({
                    "kind": "notion_pacer",
                    "project_id": shared.pacer.user(),
                    "note": "the token's shared pacer did not answer: this step paces itself",
                    "detail": e.to_string(),
                });
                console_log!("{line}");
                self.shared = None;
            }
        }
        Ok(())
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, NotionError> {
        let headers = Headers::new();
        headers
            .set("authorization", &format!("Bearer {}", self.token))
            .transport()?;
        headers.set("notion-version", &self.version).transport()?;
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers.clone());
        if let Some(body) = body {
            headers
                .set("content-type", "application/json")
                .transport()?;
            init.with_headers(headers)
                .with_body(Some(body.to_string().into()));
        }
        let request = Request::new_with_init(&format!("{}{path}", self.base), &init).transport()?;
        let controller = AbortController::default();
        let fetch = Fetch::Request(request);
        let signal = controller.signal();
        let send = fetch.send_with_signal(&signal);
        let timeout = Delay::from(Duration::from_millis(REQUEST_TIMEOUT_MS));
        let mut response = match select(Box::pin(send), timeout).await {
            Either::Left((result, _)) => result.transport()?,
            Either::Right(((), _)) => {
                controller.abort();
                return Err(NotionError::Transport(format!(
                    "no answer within {} s",
                    REQUEST_TIMEOUT_MS / 1000
                )));
            }
        };
        let status = response.status_code();
        let text = response.text().await.transport()?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text)
                .map_err(|e| NotionError::Transport(format!("unreadable answer: {e}")));
        }
        let retry_after = response.headers().get("retry-after").ok().flatten();
        Err(NotionError::from_response(
            status,
            &text,
            retry_after.as_deref(),
        ))
    }

    pub async fn database(&mut self, id: &str) -> Result<Value, NotionError> {
        self.request(Method::Get, &format!("/v1/databases/{id}"), None)
            .await
    }

    pub async fn data_source(&mut self, id: &str) -> Result<Value, NotionError> {
        self.request(Method::Get, &format!("/v1/data_sources/{id}"), None)
            .await
    }

    /// A page by id; `None` when Notion no longer has it (deleted or unshared).
    pub async fn page(&mut self, id: &str) -> Result<Option<Value>, NotionError> {
        match self
            .request(Method::Get, &format!("/v1/pages/{id}"), None)
            .await
        {
            Ok(page) => Ok(Some(page)),
            Err(NotionError::NotShared { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page (100 items) of a page's property items, the raw answer; `None` when Notion no
    /// longer has the page (deleted or unshared).
    pub async fn property_items(
        &mut self,
        page_id: &str,
        property_id: &str,
        cursor: Option<&str>,
    ) -> Result<Option<Value>, NotionError> {
        let path = protocol::property_items_path(page_id, property_id, cursor);
        match self.request(Method::Get, &path, None).await {
            Ok(items) => Ok(Some(items)),
            Err(NotionError::NotShared { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of a data source query (the raw answer).
    pub async fn query_page(
        &mut self,
        data_source_id: &str,
        window: &QueryWindow,
        cursor: Option<&str>,
    ) -> Result<Value, NotionError> {
        let path = format!("/v1/data_sources/{data_source_id}/query");
        let body = protocol::query_body(window, cursor);
        self.request(Method::Post, &path, Some(&body)).await
    }

    /// The newest `last_edited_time` among the data source's rows (one query, one row).
    pub async fn latest_edit(
        &mut self,
        data_source_id: &str,
    ) -> Result<Option<String>, NotionError> {
        let path = format!("/v1/data_sources/{data_source_id}/query");
        let answer = self
            .request(Method::Post, &path, Some(&freshness::latest_edit_query()))
            .await?;
        Ok(freshness::latest_edit_of(&answer))
    }

    /// A page's blocks with their children, down to `MAX_BLOCK_DEPTH` levels.
    pub async fn block_tree(&mut self, page_id: &str) -> Result<Vec<BlockNode>, NotionError> {
        let mut children: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut level = vec![page_id.to_owned()];
        for _ in 0..MAX_BLOCK_DEPTH {
            let mut next = Vec::new();
            for parent in level {
                let blocks = self.children(&parent).await?;
                next.extend(
                    blocks
                        .iter()
                        .filter(|b| {
                            b.get("has_children")
                                .and_then(Value::as_bool)
                                .unwrap_or(false)
                        })
                        .filter_map(|b| b.get("id").and_then(Value::as_str).map(str::to_owned)),
                );
                children.insert(parent, blocks);
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        Ok(build_tree(page_id, &mut children))
    }

    async fn children(&mut self, block_id: &str) -> Result<Vec<Value>, NotionError> {
        let mut blocks = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = cursor
                .as_ref()
                .map(|c| format!("&start_cursor={c}"))
                .unwrap_or_default();
            let path = format!("/v1/blocks/{block_id}/children?page_size=100{query}");
            let (page, next) =
                protocol::parse_block_page(&self.request(Method::Get, &path, None).await?);
            blocks.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(blocks),
            }
        }
    }
}

fn build_tree(parent: &str, children: &mut BTreeMap<String, Vec<Value>>) -> Vec<BlockNode> {
    let blocks = children.remove(parent).unwrap_or_default();
    blocks
        .into_iter()
        .map(|block| {
            let id = block
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let kids = if id.is_empty() {
                Vec::new()
            } else {
                build_tree(&id, children)
            };
            BlockNode {
                block,
                children: kids,
            }
        })
        .collect()
}
