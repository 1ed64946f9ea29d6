//! One Notion token's shared pacer: a Durable Object per token (`NOTION_RATE`), named by the
//! token's SHA-256 (never the token), that hands out request slots to every sync step using the
//! token (`notion::rate_share` decides), and the Worker's side of it.

use futures::future::{select, Either};
use notion_framer_core::notion::protocol::MIN_REQUEST_INTERVAL_MS;
use notion_framer_core::notion::rate_share::{Ask, Grant, RateShare};
use notion_framer_core::util::secrets;
use std::cell::RefCell;
use std::fmt;
use std::time::Duration;
use worker::{
    durable_object, Date, Delay, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit,
    Response, Result, State,
};

const BINDING: &str = "NOTION_RATE";
const GRANT_PATH: &str = "/grant";
/// An ask unanswered this long counts as unreachable: the step paces itself instead.
const ASK_TIMEOUT_MS: u64 = 5_000;

/// The timeline lives in memory only: it matters for seconds, so an evicted object loses
/// nothing but the last few seconds of reservations, and the next grant starts at once (a
/// request too early is a 429 the retries absorb). No storage means no storage cost per ask.
#[durable_object]
pub struct NotionRate {
    share: RefCell<RateShare>,
}

impl DurableObject for NotionRate {
    fn new(_state: State, _env: Env) -> Self {
        Self {
            share: RefCell::new(RateShare::new(MIN_REQUEST_INTERVAL_MS)),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if req.path() != GRANT_PATH || req.method() != Method::Post {
            return Response::error("no such route", 404);
        }
        let ask: Ask = match req.json().await {
            Ok(ask) => ask,
            Err(e) => return Response::error(format!("bad ask: {e}"), 400),
        };
        // No await between reading and writing the timeline: asks never interleave inside it.
        let grant = self.share.borrow_mut().ask(now(), &ask);
        Response::from_json(&grant)
    }
}

/// Why the token's pacer gave no grant (the runtime's words, never the token).
#[derive(Debug)]
pub struct Unreachable(String);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<worker::Error> for Unreachable {
    fn from(e: worker::Error) -> Self {
        Self(e.to_string())
    }
}

fn now() -> u64 {
    Date::now().as_millis()
}

/// The way to a token's pacer, for one step of one project.
#[derive(Clone)]
pub struct SharedPacer {
    objects: ObjectNamespace,
    /// The token's SHA-256, hex: the object's name.
    name: String,
    /// The project, the user of the token's timeline.
    user: String,
    /// An API request's client (see `Ask::interactive`).
    interactive: bool,
}

impl SharedPacer {
    /// The pacer of `token` for `project_id`; a Worker deployed without the binding has none
    /// (and paces each step on its own).
    pub fn new(env: &Env, token: &str, project_id: &str) -> std::result::Result<Self, Unreachable> {
        Ok(Self {
            objects: env.durable_object(BINDING)?,
            name: secrets::hash_token(token),
            user: project_id.to_owned(),
            interactive: false,
        })
    }

    /// The pacer of `token` for one API request: a user of its own (two requests never give
    /// back each other's slots), interactive.
    pub fn for_api(env: &Env, token: &str) -> std::result::Result<Self, Unreachable> {
        let id = secrets::random_id().map_err(|e| Unreachable(e.to_string()))?;
        Ok(Self {
            user: format!("api:{id}"),
            interactive: true,
            ..Self::new(env, token, "")?
        })
    }

    /// The project asking.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Asks the token's timeline for up to `want` slots. One subrequest.
    pub async fn ask(
        &self,
        want: u32,
        resume_at_ms: u64,
        pause_until_ms: Option<u64>,
    ) -> std::result::Result<Grant, Unreachable> {
        let ask = Ask {
            user: self.user.clone(),
            want,
            resume_at_ms,
            pause_until_ms,
            interactive: self.interactive,
        };
        let stub = self.objects.get_by_name(&self.name)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(serde_json::to_string(&ask).unwrap_or_default().into()));
        let req = Request::new_with_init(&format!("https://notion-rate{GRANT_PATH}"), &init)?;
        let timeout = Delay::from(Duration::from_millis(ASK_TIMEOUT_MS));
        let mut resp = match select(Box::pin(stub.fetch_with_request(req)), timeout).await {
            Either::Left((resp, _)) => resp?,
            Either::Right(((), _)) => {
                return Err(Unreachable(format!(
                    "no answer within {} s",
                    ASK_TIMEOUT_MS / 1000
                )))
            }
        };
        if resp.status_code() != 200 {
            let said = resp.text().await.unwrap_or_default();
            return Err(Unreachable(format!(
                "answered {}: {said}",
                resp.status_code()
            )));
        }
        Ok(resp.json().await?)
    }
}
