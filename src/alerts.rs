//! Alerts at the edge: after each run and each freshness check, the incident decision
//! (`notion_framer_core::alerts::incident`) is applied to D1, and an alert owed is queued in the outbox, one
//! row per enabled destination of the project's account. Queuing is all a sync does; delivery
//! happens afterwards (the project's Durable Object right after the run, in the background,
//! and the cron for retries), so a slow or dead receiver never holds up a sync.

use super::context::{now_ms, AppContext};
use super::store::alert_destinations::{self, DestinationRow};
use super::store::{self, alert_outbox, d1};
use futures::future::{select, Either};
use notion_framer_core::alerts::delivery::{self, Verdict};
use notion_framer_core::alerts::destination::{url_hint, Format};
use notion_framer_core::alerts::incident::{self, Decision, Incident, Kind, Observation, Send};
use notion_framer_core::alerts::notice::{self, Notice, ProjectRef};
use notion_framer_core::alerts::payload;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::log_line::LogLine;
use notion_framer_core::sync::engine::budget::Budget;
use notion_framer_core::sync::engine::failure::SyncFailure;
use notion_framer_core::sync::engine::job::Job;
use notion_framer_core::util::secrets::{self, Cipher};
use notion_framer_core::util::time::iso_from_ms;
use serde_json::json;
use std::time::Duration;
use worker::{
    console_log, AbortController, Delay, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect,
};

/// A receiver gets this long to answer one POST.
const DELIVERY_TIMEOUT_MS: u64 = 10_000;
/// A claimed row is not picked up by another delivery for this long.
const LEASE_MS: i64 = 60_000;
/// Rows one delivery pass sends at most (keeps a cron or alarm invocation short).
const PASS_LIMIT: usize = 20;

/// The most D1 queries the alert bookkeeping after a run makes (`after_run`, then the
/// object's `next_due`): three kinds observed, each at most its open incident, the incident
/// saved, claimed, the destinations read and the alerts queued (one batch), and the next due
/// check. The engine closes a run only in a step that still affords them.
pub const AFTER_RUN_D1: u32 = 3 * 5 + 1;
/// The most D1 queries one delivery makes beside its POST (one subrequest): the claim, a
/// plaintext URL sealed, the attempt recorded on the row and on the destination, and for a 410
/// the destination disabled and its queue dropped.
pub const DELIVERY_D1: u32 = 6;
/// D1 queries one alert raised on time makes: the claim, the destinations, the queued batch.
const RAISE_D1: u32 = 3;

/// Takes one D1 query from the invocation's budget. The callers check beforehand that their
/// work fits, so running out here is a bug worth a log line, never a query past the limit.
fn d1(budget: &Budget) -> Result<(), ApiError> {
    if budget.take_d1_closing() {
        Ok(())
    } else {
        Err(ApiError::internal(
            "alert bookkeeping",
            "the invocation's D1 queries are spent",
        ))
    }
}

/// The AES-GCM context a destination's secret is bound to.
pub fn secret_context(destination_id: &str) -> String {
    format!("alert_destination:{destination_id}")
}

/// The AES-GCM context a destination's URL is bound to.
pub fn url_context(destination_id: &str) -> String {
    format!("alert_destination:{destination_id}:url")
}

/// A destination URL as stored: its ciphertext and its hint.
pub fn seal(
    cipher: &Cipher,
    destination_id: &str,
    url: &str,
) -> Result<(String, String), ApiError> {
    Ok((
        cipher.encrypt(url, &url_context(destination_id))?,
        url_hint(url),
    ))
}

/// A destination's URL in clear, for sending: decrypted, or (a row written before URLs were
/// encrypted) taken as stored and sealed now.
async fn open_url(
    ctx: &AppContext,
    budget: &Budget,
    cipher: &Cipher,
    destination_id: &str,
    plain: &str,
    url_enc: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(enc) = url_enc {
        return Ok(cipher.decrypt(enc, &url_context(destination_id))?);
    }
    seal_plaintext(ctx, budget, cipher, destination_id, plain).await?;
    Ok(plain.to_owned())
}

/// Encrypts the plaintext URL of a row from an earlier version in place.
pub async fn seal_plaintext(
    ctx: &AppContext,
    budget: &Budget,
    cipher: &Cipher,
    destination_id: &str,
    plain: &str,
) -> Result<(), ApiError> {
    let (enc, hint) = seal(cipher, destination_id, plain)?;
    d1(budget)?;
    alert_destinations::seal_url(&ctx.db, destination_id, &enc, &hint, true).await
}

/// The cron's sweep: seals up to `limit` rows still holding a plaintext URL, so none lingers
/// in D1 until someone happens to read it.
pub async fn seal_plaintext_urls(
    ctx: &AppContext,
    budget: &Budget,
    limit: usize,
) -> Result<usize, ApiError> {
    d1(budget)?;
    let rows = alert_destinations::plaintext(&ctx.db, limit).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let cipher = ctx.cipher()?;
    for row in &rows {
        seal_plaintext(ctx, budget, &cipher, &row.id, &row.url).await?;
    }
    Ok(rows.len())
}

/// After a run: a failure opens (or keeps) the sync-failing incident, a success closes it;
/// skipped rows open theirs, a full run that skips none closes it.
pub async fn after_run(
    ctx: &AppContext,
    project: &ProjectRef,
    outcome: &Result<(), SyncFailure>,
    job: &Job,
    budget: &Budget,
) -> Result<(), ApiError> {
    let stats = &job.stats;
    let now = now_ms();
    // The project's open incidents in one query, for the three kinds a run observes.
    d1(budget)?;
    let open = store::alert_incidents::of_project(&ctx.db, &project.id).await?;
    let open_of = |kind: Kind| Current::Known(open.iter().find(|i| i.kind == kind).cloned());
    let failing = match outcome {
        Ok(()) => Observation::Absent,
        Err(f) => Observation::Present {
            summary: notice::failure_cause(&f.code, &f.message, f.retryable).0,
            alert_after_ms: if f.retryable {
                ctx.settings.alert_retryable_after_ms
            } else {
                0
            },
            detail: json!({
                "error_code": f.code,
                "error_message": f.message,
                "retryable": f.retryable,
            }),
        },
    };
    observe(
        ctx,
        budget,
        project,
        (Kind::SyncFailing, open_of(Kind::SyncFailing)),
        failing,
        now,
        |open| {
            let f = outcome.as_ref().err();
            notice::sync_failing(
                project,
                f.map_or("", |f| &f.code),
                f.map_or("", |f| &f.message),
                f.is_some_and(|f| f.retryable),
                now - open.opened_at_ms,
            )
        },
    )
    .await?;
    let reasons = skipped_reasons(job);
    let skipped = match outcome {
        Ok(()) if stats.skipped > 0 => Observation::Present {
            summary: notice::rows_skipped(project, stats.skipped, &reasons).summary(),
            alert_after_ms: 0,
            detail: serde_json::Value::Null,
        },
        Ok(()) if stats.full => Observation::Absent,
        _ => Observation::Unknown,
    };
    observe(
        ctx,
        budget,
        project,
        (Kind::RowsSkipped, open_of(Kind::RowsSkipped)),
        skipped,
        now,
        |_| notice::rows_skipped(project, stats.skipped, &reasons),
    )
    .await?;
    let reason = stats.held_reason.map_or("", |r| r.describe());
    let titles: Vec<(String, String)> = stats
        .held_items
        .iter()
        .map(|i| (i.title.clone(), i.url.clone()))
        .collect();
    let held = match outcome {
        Ok(()) if stats.removals_held > 0 => Observation::Present {
            summary: notice::removals_held(project, stats.removals_held, reason, &titles).summary(),
            alert_after_ms: 0,
            detail: serde_json::Value::Null,
        },
        // Only a run that decided on every removal can say none is held any more.
        Ok(()) if stats.full => Observation::Absent,
        _ => Observation::Unknown,
    };
    let current = open_of(Kind::RemovalsHeld);
    observe(
        ctx,
        budget,
        project,
        (Kind::RemovalsHeld, current),
        held,
        now,
        |_| notice::removals_held(project, stats.removals_held, reason, &titles),
    )
    .await
}

/// The project's open incident of a kind, as the caller read it already or still to read.
pub enum Current {
    Known(Option<Incident>),
    ToRead,
}

/// Why each skipped row of the run was skipped, as the alert lists them.
fn skipped_reasons(job: &Job) -> Vec<String> {
    job.skipped_rows
        .iter()
        .map(|row| {
            let title = if row.title.is_empty() {
                &row.page_id
            } else {
                &row.title
            };
            match &row.property {
                Some(property) => format!("{title}: {property}: {}", row.reason),
                None => format!("{title}: {}", row.reason),
            }
        })
        .collect()
}

/// Applies one observation of `kind` to the project's incident and queues what it owes:
/// `raise` builds the alert from the incident as it will be stored.
pub async fn observe(
    ctx: &AppContext,
    budget: &Budget,
    project: &ProjectRef,
    (kind, current): (Kind, Current),
    observed: Observation,
    now: i64,
    raise: impl FnOnce(&Incident) -> Notice,
) -> Result<(), ApiError> {
    let current = match current {
        Current::Known(current) => current,
        Current::ToRead => {
            d1(budget)?;
            store::alert_incidents::open(&ctx.db, &project.id, kind).await?
        }
    };
    let decision = incident::decide(kind, current.as_ref(), observed, now);
    let send = decision.send();
    match decision {
        Decision::Keep => {}
        Decision::Store { incident, .. } if send == Some(Send::Alert) => {
            // Stored not alerted, then claimed: of this run and a timed check racing for the
            // same incident, only the one whose claim changes the row sends.
            let unclaimed = Incident {
                alerted: current.as_ref().is_some_and(|c| c.alerted),
                ..incident.clone()
            };
            d1(budget)?;
            store::alert_incidents::save(&ctx.db, &project.id, &unclaimed).await?;
            d1(budget)?;
            if store::alert_incidents::claim_alert(&ctx.db, &project.id, kind).await? {
                queue(ctx, budget, &project.id, &raise(&incident), now).await?;
            }
        }
        Decision::Store { incident, .. } => {
            if current.as_ref() != Some(&incident) {
                d1(budget)?;
                store::alert_incidents::save(&ctx.db, &project.id, &incident).await?;
            }
        }
        Decision::Close { .. } => {
            d1(budget)?;
            store::alert_incidents::close(&ctx.db, &project.id, kind).await?;
            if let (Some(Send::Recovery), Some(open)) = (send, current) {
                let lasted = now - open.opened_at_ms;
                queue(
                    ctx,
                    budget,
                    &project.id,
                    &notice::resolved(project, kind, &open.summary, lasted),
                    now,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// The timed check (the project's alarm, or the cron for all projects): raises the alerts of
/// open incidents whose grace period is over, whether or not a run failed since. Returns how
/// many it queued.
pub async fn raise_due(
    ctx: &AppContext,
    budget: &Budget,
    project_id: Option<&str>,
    now: i64,
) -> Result<usize, ApiError> {
    if !budget.affords(0, 1 + RAISE_D1) {
        return Ok(0);
    }
    d1(budget)?;
    let due = store::alert_incidents::due(&ctx.db, project_id, now, PASS_LIMIT).await?;
    let mut raised = 0;
    for open in due {
        if incident::decide_due(Some(&open.incident), now).send() != Some(Send::Alert) {
            continue;
        }
        if !budget.affords(0, RAISE_D1) {
            // Still due: the next check raises it.
            break;
        }
        d1(budget)?;
        if !store::alert_incidents::claim_alert(&ctx.db, &open.project_id, open.incident.kind)
            .await?
        {
            continue;
        }
        let project = ProjectRef {
            id: open.project_id,
            name: open.project_name,
        };
        queue(
            ctx,
            budget,
            &project.id,
            &notice::overdue(&project, &open.incident, now),
            now,
        )
        .await?;
        raised += 1;
    }
    Ok(raised)
}

/// When the project's next timed check is due: the earliest grace period of its open
/// incidents not alerted yet.
pub async fn next_due(
    ctx: &AppContext,
    budget: &Budget,
    project_id: &str,
) -> Result<Option<i64>, ApiError> {
    d1(budget)?;
    store::alert_incidents::next_due(&ctx.db, project_id).await
}

/// Queues `notice` for every enabled destination of the project's account.
async fn queue(
    ctx: &AppContext,
    budget: &Budget,
    project_id: &str,
    notice: &Notice,
    now: i64,
) -> Result<(), ApiError> {
    d1(budget)?;
    let destinations = alert_destinations::active_for_project(&ctx.db, project_id).await?;
    let event_id = secrets::random_id()?;
    let created_at = iso_from_ms(now);
    let rows = destinations
        .iter()
        .map(|d| {
            let format = Format::parse(&d.format).unwrap_or(Format::Slack);
            Ok((
                secrets::random_id()?,
                d.id.as_str(),
                payload::body(format, notice, &event_id, &created_at),
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let statements = rows
        .iter()
        .map(|(id, destination_id, body)| {
            alert_outbox::insert(
                &ctx.db,
                &alert_outbox::NewAlert {
                    id,
                    event_id: &event_id,
                    destination_id,
                    project_id: Some(project_id),
                    body,
                    now_ms: now,
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if statements.is_empty() {
        return Ok(());
    }
    d1(budget)?;
    d1::batch(&ctx.db, statements).await
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub delivered: usize,
    pub retrying: usize,
    pub dropped: usize,
    /// Due rows the invocation's budget left for a later pass (none seen: `false`).
    pub left: bool,
}

/// Sends the due rows (all, or one project's), each claimed first, and records every attempt;
/// each delivery takes its POST (a subrequest) and its D1 queries from `budget`, leaving it
/// `keep` (subrequests, D1 queries) for what comes after, and rows that no longer fit stay due
/// for a later pass (`Pass::left`).
pub async fn deliver_due(
    ctx: &AppContext,
    budget: &Budget,
    keep: (u32, u32),
    project_id: Option<&str>,
) -> Result<Pass, ApiError> {
    let now = now_ms();
    let mut pass = Pass::default();
    if !budget.affords(1 + keep.0, 1 + DELIVERY_D1 + keep.1) {
        pass.left = true;
        return Ok(pass);
    }
    d1(budget)?;
    let rows = alert_outbox::due(&ctx.db, now, project_id, PASS_LIMIT).await?;
    let mut cipher: Option<Cipher> = None;
    for row in rows {
        if !budget.affords(1 + keep.0, DELIVERY_D1 + keep.1) {
            pass.left = true;
            break;
        }
        d1(budget)?;
        if !alert_outbox::claim(&ctx.db, &row.id, now, now + LEASE_MS).await? {
            continue;
        }
        let format = Format::parse(&row.format).unwrap_or(Format::Slack);
        if cipher.is_none() {
            cipher = Some(ctx.cipher()?);
        }
        let cipher = cipher.as_ref().expect("set above");
        let secret = match &row.secret_enc {
            Some(enc) => Some(cipher.decrypt(enc, &secret_context(&row.destination_id))?),
            None => None,
        };
        let url = open_url(
            ctx,
            budget,
            cipher,
            &row.destination_id,
            &row.url,
            row.url_enc.as_deref(),
        )
        .await?;
        if !budget.take() {
            // Checked above; claimed, so the lease lets a later pass send it.
            pass.left = true;
            break;
        }
        let attempt = post(&url, format, secret.as_deref(), &row.event_id, &row.body).await;
        let attempts = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
        let verdict = Verdict::of(attempt.status);
        let next = (verdict == Verdict::Retry)
            .then(|| {
                delivery::next_attempt_at(
                    attempts,
                    row.created_at_ms,
                    now_ms(),
                    ctx.settings.alert_retry_base_ms,
                )
            })
            .flatten();
        log_attempt(
            &row.destination_id,
            row.project_id.as_deref(),
            &row.event_id,
            attempts,
            &attempt,
            verdict,
            next,
        );
        let final_status = if verdict == Verdict::Delivered {
            "delivered"
        } else {
            "failed"
        };
        d1(budget)?;
        alert_outbox::record(
            &ctx.db,
            &row.id,
            attempt.status.unwrap_or(0),
            attempt.error,
            next,
            final_status,
        )
        .await?;
        settle_destination(ctx, budget, &row.destination_id, &attempt, verdict).await?;
        match (verdict, next) {
            (Verdict::Delivered, _) => pass.delivered += 1,
            (Verdict::Retry, Some(_)) => pass.retrying += 1,
            _ => pass.dropped += 1,
        }
    }
    Ok(pass)
}

/// Records the attempt on the destination; a 410 disables it (with a note for the page) and
/// drops what was queued for it.
async fn settle_destination(
    ctx: &AppContext,
    budget: &Budget,
    destination_id: &str,
    attempt: &Attempt,
    verdict: Verdict,
) -> Result<(), ApiError> {
    let now = iso_from_ms(now_ms());
    d1(budget)?;
    alert_destinations::record_attempt(&ctx.db, destination_id, attempt.status.unwrap_or(0), &now)
        .await?;
    if verdict == Verdict::Gone {
        let reason = format!(
            "disabled on {now}: the receiver answered 410 Gone (it was deleted); add a new destination or re-enable this one once it exists again"
        );
        d1(budget)?;
        alert_destinations::disable(&ctx.db, destination_id, &reason, &now).await?;
        d1(budget)?;
        alert_outbox::fail_pending_of(&ctx.db, destination_id, "destination disabled (410 Gone)")
            .await?;
    }
    Ok(())
}

/// "Send test alert": one POST now, its result reported back (and a 410 disables).
pub async fn send_test(
    ctx: &AppContext,
    budget: &Budget,
    destination: &DestinationRow,
) -> Result<Attempt, ApiError> {
    let format = Format::parse(&destination.format).unwrap_or(Format::Slack);
    let cipher = ctx.cipher()?;
    let secret = match destination.secret_enc.as_deref() {
        Some(enc) => Some(cipher.decrypt(enc, &secret_context(&destination.id))?),
        None => None,
    };
    let url = open_url(
        ctx,
        budget,
        &cipher,
        &destination.id,
        &destination.url,
        destination.url_enc.as_deref(),
    )
    .await?;
    let event_id = secrets::random_id()?;
    let body = payload::body(
        format,
        &notice::test(&destination.name),
        &event_id,
        &iso_from_ms(now_ms()),
    );
    if !budget.take() {
        return Err(ApiError::internal(
            "alert test",
            "the request's subrequests are spent",
        ));
    }
    let attempt = post(&url, format, secret.as_deref(), &event_id, &body).await;
    let verdict = Verdict::of(attempt.status);
    log_attempt(&destination.id, None, &event_id, 1, &attempt, verdict, None);
    settle_destination(ctx, budget, &destination.id, &attempt, verdict).await?;
    Ok(attempt)
}

/// One POST's result: the status (`None`: no answer), how long it took, and what went wrong
/// in words safe to store (never the URL, which for Slack is itself a secret).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<&'static str>,
}

async fn post(
    url: &str,
    format: Format,
    secret: Option<&str>,
    event_id: &str,
    body: &str,
) -> Attempt {
    let started = now_ms();
    let result = send(url, format, secret, event_id, body).await;
    let latency_ms = u64::try_from(now_ms() - started).unwrap_or(0);
    match result {
        Ok(status) => Attempt {
            status: Some(status),
            latency_ms,
            error: (!(200..300).contains(&status))
                .then_some("the receiver answered with an error status"),
        },
        Err(error) => Attempt {
            status: None,
            latency_ms,
            error: Some(error),
        },
    }
}

async fn send(
    url: &str,
    format: Format,
    secret: Option<&str>,
    event_id: &str,
    body: &str,
) -> Result<u16, &'static str> {
    const UNUSABLE: &str = "the request could not be built";
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|_| UNUSABLE)?;
    headers
        .set("user-agent", "notion-framer-sync-alerts/1")
        .map_err(|_| UNUSABLE)?;
    for (name, value) in payload::headers(format, secret, event_id, now_ms() / 1000, body) {
        headers.set(name, &value).map_err(|_| UNUSABLE)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        // A redirect could lead anywhere, private addresses included: it is not followed.
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(body.to_owned().into()));
    let request = Request::new_with_init(url, &init).map_err(|_| UNUSABLE)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = fetch.send_with_signal(&signal);
    let timeout = Delay::from(Duration::from_millis(DELIVERY_TIMEOUT_MS));
    let outcome = match select(Box::pin(sending), timeout).await {
        Either::Left((Ok(response), _)) => Ok(response.status_code()),
        Either::Left((Err(_), _)) => Err("no answer: the connection failed"),
        Either::Right(((), _)) => {
            controller.abort();
            Err("no answer within 10 s")
        }
    };
    outcome
}

/// One line per attempt: destination, alert, attempt number, status and latency; never the
/// URL or the secret.
fn log_attempt(
    destination_id: &str,
    project_id: Option<&str>,
    event_id: &str,
    attempt_number: u32,
    attempt: &Attempt,
    verdict: Verdict,
    next: Option<i64>,
) {
    let outcome = match (verdict, next) {
        (Verdict::Delivered, _) => "delivered".to_owned(),
        (Verdict::Gone, _) => "gone (410): destination disabled".to_owned(),
        (Verdict::Refused, _) => "refused: dropped".to_owned(),
        (Verdict::Retry, Some(at)) => format!("retry at {}", iso_from_ms(at)),
        (Verdict::Retry, None) => "given up".to_owned(),
    };
    let line = LogLine {
        kind: "alert_delivery",
        project_id: project_id.map(str::to_owned),
        status: attempt.status,
        duration_ms: attempt.latency_ms,
        note: Some(format!(
            "alert {event_id} to destination {destination_id}, attempt {attempt_number}: {outcome}{}",
            attempt.error.map(|e| format!(" ({e})")).unwrap_or_default()
        )),
        ..LogLine::default()
    };
    console_log!("{}", line.to_json());
}

/// Alert bookkeeping never fails a sync or a cron run: what went wrong is logged.
pub fn log_failure(project_id: Option<&str>, what: &str, e: &ApiError) {
    let line = LogLine {
        kind: "alerts",
        project_id: project_id.map(str::to_owned),
        error_code: Some(e.code().to_owned()),
        note: Some(what.to_owned()),
        detail: e.fault().cloned(),
        ..LogLine::default()
    };
    worker::console_error!("{}", line.to_json());
}
