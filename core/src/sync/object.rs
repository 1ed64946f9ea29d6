//! What the project's Durable Object decides, without the runtime: which route a call from the
//! Worker reaches, whether a sync request joins the run in flight or queues work, and what the
//! alarm runs next (the run in flight, a new run for the due batch, or nothing yet). The object
//! (`src/project_sync.rs` in the Worker crate) reads its storage, asks these functions and
//! writes what they say.

use crate::notion::event::Effect;
use crate::sync::engine::job::Job;
use crate::sync::ledger::{EventRecord, Outcome};
use crate::sync::queue::{Pending, Trigger, Window};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The object's routes, called by the Worker only (`https://project-sync/<route>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRoute {
    /// A webhook delivery to record (and queue, when relevant).
    Ingest,
    /// "Sync now", the catch-up cron, "Remove them".
    Sync,
    /// The queue as the dashboard shows it.
    Status,
    /// The project was deleted: drop everything, store nothing again.
    Forget,
    /// The project's database or collection changed: stop the run in flight.
    Cancel,
    /// A page of the project's run history, or one run by id.
    Runs,
    /// Another project asks for pages to be read again (its references to them changed).
    Refresh,
    /// Another project asks which of some pages this project's collection holds (a
    /// reference is written only to those).
    Holds,
}

impl ObjectRoute {
    const ALL: [Self; 8] = [
        Self::Ingest,
        Self::Sync,
        Self::Status,
        Self::Forget,
        Self::Cancel,
        Self::Runs,
        Self::Refresh,
        Self::Holds,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Self::Ingest => "/ingest",
            Self::Sync => "/sync",
            Self::Status => "/status",
            Self::Forget => "/forget",
            Self::Cancel => "/cancel",
            Self::Runs => "/runs",
            Self::Refresh => "/refresh",
            Self::Holds => "/holds",
        }
    }

    pub fn parse(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.path() == path)
    }
}

// What the Worker and the object send each other (JSON bodies of the routes).

/// One authentic delivery handed over by the Worker. `effect` is set when the event concerns
/// the project's database; `auto_sync` says whether a sync may be queued for it.
#[derive(Serialize, Deserialize)]
pub struct IngestRequest {
    pub project_id: String,
    pub record: EventRecord,
    pub effect: Option<Effect>,
    pub auto_sync: bool,
    /// A page the event says moved elsewhere in the workspace: it is gone from the project if
    /// the object's record holds it, which only the object can tell.
    #[serde(default)]
    pub moved_page: Option<String>,
}

impl IngestRequest {
    /// The moved page is one Framer holds for the project: its event is relevant, and the
    /// page gone.
    pub fn moved_page_held(&mut self) {
        if let (None, Some(page_id)) = (&self.effect, self.moved_page.take()) {
            self.effect = Some(Effect::PageGone { page_id });
            self.record.relevant = true;
        }
    }
}

/// The owner changed the project's database or collection: the run in flight stops; with a
/// new database, the object's record of items goes too (it is about the old one).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(default)]
    pub forget_items: bool,
}

/// Which of these pages the project's collection holds; the object answers a [`Holds`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct HoldsRequest {
    pub page_ids: Vec<String>,
}

/// The object's answer to a [`HoldsRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holds {
    /// The asked pages the collection holds.
    pub held: BTreeSet<String>,
    /// Whether a run of the project may still add some of the others: one is in flight and
    /// not itself waiting for other projects, or one is due within [`RUN_DUE_SOON_MS`]. A
    /// referencing run may then hold its rows back until this run is over (see
    /// `engine::step`), rather than write them without the reference and again later.
    pub running: bool,
}

/// A queued run due within this long counts as running for [`Holds::running`]: "Sync now" on
/// a site's projects one after the other, or a target's events still under their debounce.
pub const RUN_DUE_SOON_MS: i64 = 60_000;

/// [`Holds::running`], from the object's job and queue.
pub fn runs_for_holds(job: Option<&Job>, pending: &Pending, now_ms: i64) -> bool {
    match job {
        Some(job) => !job.waiting,
        None => pending
            .due_at()
            .is_some_and(|at| at <= now_ms + RUN_DUE_SOON_MS),
    }
}

/// Which runs of the history: the one with `id`, else up to `limit` newest first, older than
/// the run `after` = `(started_at, id)` when given. The object answers a JSON array of runs.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RunsRequest {
    pub id: Option<String>,
    pub after: Option<(String, String)>,
    pub limit: usize,
}

#[derive(Serialize, Deserialize)]
pub struct IngestReply {
    pub outcome: Outcome,
}

#[derive(Serialize, Deserialize)]
pub struct SyncRequest {
    pub project_id: String,
    pub trigger: Trigger,
    pub full: bool,
    /// The owner asked for the removals the deletion guard held ("Remove them").
    #[serde(default)]
    pub release_held: bool,
}

/// Pages of the project to read again in its next run, asked for by another project's run:
/// items it added that these rows had to leave out of their references, or a two-way relation
/// it saw change on its side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub project_id: String,
    pub page_ids: Vec<String>,
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
    /// Failed runs in a row of the pending batch, since when, and when the next automatic
    /// attempt is due (`None` with `retries_stopped`: waiting for an event, a click or the cron).
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub failing_since_ms: Option<i64>,
    #[serde(default)]
    pub next_attempt_at_ms: Option<i64>,
    #[serde(default)]
    pub retries_stopped: bool,
}

/// The answer to a sync request: the run that will serve it and whether it was already under way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncTicket {
    pub sync_id: Option<String>,
    pub already_running: bool,
}

/// A sync request as the object sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncAsk {
    pub trigger: Trigger,
    pub full: bool,
    /// "Remove them": the owner decided on the held removals.
    pub release_held: bool,
}

/// What a sync request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The run in flight serves it (same or stronger trigger): its id.
    Running { sync_id: String },
    /// The catch-up found work already queued with its alarm: nothing to add.
    Queued { sync_id: Option<String> },
    /// Recorded in the pending batch (now due, or when the debounce says).
    Record,
}

/// Whether `ask` joins `running` (its trigger and id), is already covered by `pending`, or is
/// recorded. A manual request outranks a running webhook or scheduled run (the owner asked for a
/// full run of their own); a release always runs after what is in flight, so that a run that
/// started before the owner's decision never serves it; the catch-up wakes a batch whose
/// retries stopped but adds nothing to one that waits for its alarm.
pub fn admit(
    running: Option<(Option<Trigger>, &str)>,
    pending: &Pending,
    ask: SyncAsk,
) -> Admission {
    if let Some((trigger, sync_id)) = running {
        let joins = trigger == Some(Trigger::Manual) || ask.trigger != Trigger::Manual;
        if joins && !ask.release_held {
            return Admission::Running {
                sync_id: sync_id.to_owned(),
            };
        }
    }
    if ask.trigger == Trigger::Schedule && !pending.is_empty() && !pending.parked {
        return Admission::Queued {
            sync_id: pending.sync_id.clone(),
        };
    }
    Admission::Record
}

/// Records an admitted request in the batch and schedules it; a manual request gets the run id
/// its caller will follow (`new_id`, when the batch has none yet).
pub fn record(
    pending: &mut Pending,
    ask: SyncAsk,
    now_ms: i64,
    window: Window,
    new_id: impl FnOnce() -> String,
) {
    pending.record_request(ask.trigger, ask.full, now_ms);
    pending.release_held |= ask.release_held;
    if ask.trigger == Trigger::Manual && pending.sync_id.is_none() {
        pending.sync_id = Some(new_id());
    }
    pending.schedule(now_ms, window);
}

/// What the object's checkpoint held when the alarm fired.
#[derive(Debug, Clone)]
pub enum Checkpoint {
    /// A run in flight: it continues.
    Job(Box<Job>),
    None,
    /// Written by a version that cannot be read: the run is lost, its work owed.
    Unreadable,
}

/// What the alarm runs.
#[derive(Debug, Clone)]
pub enum NextRun {
    /// The run in flight, from its checkpoint.
    Resume(Box<Job>),
    /// A new run for the batch (stored as the checkpoint before the batch is dropped).
    Start(Box<Job>),
    /// Nothing is due yet (the alarm fired for an alert check or a ledger copy, or retries
    /// stopped): the batch, when not empty, is stored back and the alarm set for when it is due.
    Wait(Pending),
}

/// The run the alarm owes: the checkpointed one, else one for the batch once it is due. An
/// unreadable checkpoint or a batch lost by an older version (`lost`) is owed as a full run.
pub fn next_run(
    checkpoint: Checkpoint,
    mut pending: Pending,
    lost: Option<Pending>,
    now_ms: i64,
    new_id: impl FnOnce() -> String,
) -> NextRun {
    match checkpoint {
        Checkpoint::Job(job) => return NextRun::Resume(job),
        Checkpoint::None => {}
        Checkpoint::Unreadable => {
            pending.record_request(Trigger::Schedule, true, now_ms);
            pending.run_at_ms = Some(now_ms);
        }
    }
    if let Some(lost) = lost {
        pending.merge(lost);
    }
    if !pending.is_due(now_ms) {
        return NextRun::Wait(pending);
    }
    let sync_id = pending.sync_id.clone().unwrap_or_else(new_id);
    NextRun::Start(Box::new(Job::new(pending, sync_id, now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window {
        debounce_ms: 10_000,
        max_wait_ms: 60_000,
    };

    fn ask(trigger: Trigger) -> SyncAsk {
        SyncAsk {
            trigger,
            full: true,
            release_held: false,
        }
    }

    fn edited() -> Pending {
        let mut pending = Pending::default();
        pending.record_event(
            &Effect::PageChanged {
                page_id: "p".into(),
            },
            0,
        );
        pending.schedule(0, W);
        pending
    }

    #[test]
    fn routes_round_trip_and_unknown_paths_are_none() {
        for route in ObjectRoute::ALL {
            assert_eq!(ObjectRoute::parse(route.path()), Some(route));
        }
        assert_eq!(ObjectRoute::parse("/nope"), None);
    }

    #[test]
    fn a_request_joins_the_run_in_flight_unless_it_outranks_it_or_releases() {
        let none = Pending::default();
        let manual = Some((Some(Trigger::Manual), "run-1"));
        let webhook = Some((Some(Trigger::Webhook), "run-2"));
        assert_eq!(
            admit(manual, &none, ask(Trigger::Manual)),
            Admission::Running {
                sync_id: "run-1".into()
            }
        );
        assert_eq!(
            admit(webhook, &none, ask(Trigger::Schedule)),
            Admission::Running {
                sync_id: "run-2".into()
            }
        );
        // The owner's click is a run of its own, after the webhook run.
        assert_eq!(
            admit(webhook, &none, ask(Trigger::Manual)),
            Admission::Record
        );
        let release = SyncAsk {
            release_held: true,
            ..ask(Trigger::Manual)
        };
        assert_eq!(admit(manual, &none, release), Admission::Record);
    }

    #[test]
    fn the_catch_up_adds_nothing_to_queued_work_but_wakes_a_parked_batch() {
        let queued = edited();
        assert_eq!(
            admit(None, &queued, ask(Trigger::Schedule)),
            Admission::Queued { sync_id: None }
        );
        let mut parked = edited();
        parked.parked = true;
        assert_eq!(
            admit(None, &parked, ask(Trigger::Schedule)),
            Admission::Record
        );
        assert_eq!(
            admit(None, &queued, ask(Trigger::Manual)),
            Admission::Record
        );
    }

    #[test]
    fn a_recorded_click_gets_an_id_and_is_due_at_once() {
        let mut pending = edited();
        record(&mut pending, ask(Trigger::Manual), 5, W, || "click".into());
        assert_eq!(pending.sync_id.as_deref(), Some("click"));
        assert_eq!(pending.trigger, Some(Trigger::Manual));
        assert!(pending.is_due(5));
        // A second click keeps the id its caller follows.
        record(&mut pending, ask(Trigger::Manual), 6, W, || "other".into());
        assert_eq!(pending.sync_id.as_deref(), Some("click"));
        let mut release = Pending::default();
        let ask = SyncAsk {
            release_held: true,
            ..ask(Trigger::Manual)
        };
        record(&mut release, ask, 0, W, || "r".into());
        assert!(release.release_held && release.full);
    }

    #[test]
    fn the_alarm_resumes_starts_or_waits() {
        let job = Job::new(edited(), "run-1".into(), 0);
        assert!(matches!(
            next_run(Checkpoint::Job(Box::new(job)), edited(), None, 0, || "x".into()),
            NextRun::Resume(j) if j.sync_id == "run-1"
        ));
        // Within its debounce: not yet.
        assert!(matches!(
            next_run(Checkpoint::None, edited(), None, 1_000, || "x".into()),
            NextRun::Wait(p) if !p.is_empty()
        ));
        assert!(matches!(
            next_run(Checkpoint::None, edited(), None, 10_000, || "new".into()),
            NextRun::Start(j) if j.sync_id == "new" && !j.batch.full
        ));
        assert!(matches!(
            next_run(Checkpoint::None, Pending::default(), None, 0, || "x".into()),
            NextRun::Wait(p) if p.is_empty()
        ));
    }

    #[test]
    fn lost_work_is_owed_as_a_full_run_at_once() {
        assert!(matches!(
            next_run(Checkpoint::Unreadable, Pending::default(), None, 7, || "x".into()),
            NextRun::Start(j) if j.batch.full && j.started_at_ms == 7
        ));
        let mut lost = edited();
        lost.full = true;
        lost.run_at_ms = Some(0);
        assert!(matches!(
            next_run(Checkpoint::None, Pending::default(), Some(lost), 1, || "x".into()),
            NextRun::Start(j) if j.batch.full
        ));
    }

    #[test]
    fn a_project_is_running_for_others_while_its_run_works_or_is_due_within_a_minute() {
        let now = 1_000_000;
        let idle = Pending::default();
        assert!(!runs_for_holds(None, &idle, now), "nothing queued");

        let mut job = Job::new(Pending::default(), "s".into(), now);
        assert!(runs_for_holds(Some(&job), &idle, now), "a run in flight");
        job.waiting = true;
        assert!(
            !runs_for_holds(Some(&job), &idle, now),
            "a run that itself waits for other projects holds nobody up (no two wait for each other)"
        );

        let mut soon = Pending::default();
        record(&mut soon, ask(Trigger::Manual), now, W, || "s".into());
        assert!(runs_for_holds(None, &soon, now), "\"Sync now\" clicked");
        let mut later = Pending::default();
        record(&mut later, ask(Trigger::Webhook), now, W, || "s".into());
        later.run_at_ms = Some(now + RUN_DUE_SOON_MS + 1);
        assert!(!runs_for_holds(None, &later, now), "due past the minute");
    }
}
