//! The engine over in-memory ports: steps within budget, resume after a crash, bad rows
//! isolated, memory bounded by one page of rows.

use super::budget::Budget;
use super::job::{Job, RowState};
use super::memory::{
    page, page_with_file, FramerState, MemFramer, MemNotion, MemRecords, MemStaging,
};
use super::ports::Staging;
use super::step::{Engine, StepOutcome, StepReport};
use crate::api::project::{Project, ProjectRow};
use crate::sync::queue::{Pending, Trigger};
use serde_json::Value;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

/// Runs a future to completion: the in-memory ports never wait, so polling suffices.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

fn project(page_body: bool) -> Project {
    Project::try_from(ProjectRow {
        id: "p1".into(),
        name: "Blog".into(),
        notion_token_enc: "e".into(),
        notion_token_hint: "h".into(),
        notion_database_id: "db".into(),
        notion_data_source_ids: "[]".into(),
        framer_project_url: "https://framer.com/projects/x".into(),
        framer_api_key_enc: "e".into(),
        framer_api_key_hint: "h".into(),
        framer_collection_name: "Posts".into(),
        framer_collection_id: None,
        mapping: None,
        slug_property: None,
        publish_filter: None,
        unpublished_mode: "remove".into(),
        page_body: i64::from(page_body),
        auto_sync: 1,
        auto_publish: 0,
        webhook_key: "whk_1".into(),
        last_full_sync_at: None,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
        plan: "paid".into(),
        webhook_status: "active".into(),
        verification_token_enc: None,
        token_received_at: None,
        activated_at: None,
        last_event_at: None,
        events_received: 0,
        events_ignored: 0,
        pending_token_enc: None,
        pending_token_received_at: None,
        next_webhook_key: None,
        next_key_verified_at: None,
    })
    .expect("a valid project row")
}

/// Notion, Framer, D1 and the object, kept across steps as they are across alarms.
struct World {
    project: Project,
    pages: Vec<Value>,
    framer: Rc<RefCell<FramerState>>,
    records: MemRecords,
    staging: MemStaging,
    notion_log: Rc<RefCell<Vec<String>>>,
    refuse: fn(&Value) -> bool,
    /// A Notion call after which the runtime "dies" (a panic), counted over the whole run.
    crash_at_call: Vec<usize>,
}

impl World {
    fn new(rows: usize, page_body: bool) -> Self {
        Self {
            project: project(page_body),
            pages: (0..rows)
                .map(|n| page(n, &format!("https://example.com/{n}")))
                .collect(),
            framer: Rc::new(RefCell::new(FramerState::default())),
            records: MemRecords::default(),
            staging: MemStaging::default(),
            notion_log: Rc::default(),
            refuse: |_| false,
            crash_at_call: Vec::new(),
        }
    }

    fn manual_job(&self) -> Job {
        let mut batch = Pending::default();
        batch.record_request(Trigger::Manual, true, 0);
        Job::new(
            batch,
            format!("run-{}", self.records.runs.borrow().len()),
            0,
        )
    }

    /// One step with a fresh budget, as one alarm invocation.
    fn step(&self, job: &mut Job, limit: u32) -> (StepOutcome, StepReport, u32) {
        let budget = Rc::new(Budget::new(limit, 0, 60_000));
        let clock = || 0;
        let mut engine = Engine {
            project: &self.project,
            notion: MemNotion {
                pages: self.pages.clone(),
                budget: budget.clone(),
                calls: 0,
                log: self.notion_log.clone(),
            },
            framer: MemFramer {
                state: self.framer.clone(),
                budget: budget.clone(),
                open: false,
                refuse: self.refuse,
            },
            records: &self.records,
            staging: &self.staging,
            budget: &budget,
            clock: &clock,
            full_interval_ms: 86_400_000,
            report: StepReport::default(),
        };
        let outcome = block_on(engine.step(job));
        (outcome, engine.report, budget.used())
    }

    /// Steps until the run ends; a crash loses the step in progress, and the next alarm
    /// resumes from the checkpoint in staging.
    fn run(&mut self, limit: u32) -> (StepOutcome, Vec<(StepReport, u32)>) {
        let mut job = self.manual_job();
        self.staging.save_job(&job).unwrap();
        let mut steps = Vec::new();
        loop {
            let crash = self.crash_at_call.first().copied();
            let log = self.notion_log.clone();
            let result = catch_unwind(AssertUnwindSafe(|| {
                self.step_checked(&mut job, limit, crash, &log)
            }));
            match result {
                Ok((StepOutcome::Continue, report, used)) => steps.push((report, used)),
                Ok((outcome, report, used)) => {
                    steps.push((report, used));
                    return (outcome, steps);
                }
                Err(_) => {
                    // The runtime died: the next alarm starts from the last checkpoint.
                    CRASH_AT.with(|c| c.set(None));
                    self.crash_at_call.remove(0);
                    job = self
                        .staging
                        .load_job()
                        .unwrap()
                        .expect("a checkpoint survives a crash");
                }
            }
        }
    }

    fn step_checked(
        &self,
        job: &mut Job,
        limit: u32,
        crash: Option<usize>,
        log: &Rc<RefCell<Vec<String>>>,
    ) -> (StepOutcome, StepReport, u32) {
        if let Some(at) = crash {
            CRASH_AT.with(|c| c.set(Some((at, log.clone()))));
        }
        let result = self.step(job, limit);
        CRASH_AT.with(|c| c.set(None));
        result
    }
}

/// Where the runtime dies: after this many Notion calls of the shared log.
type CrashPoint = Option<(usize, Rc<RefCell<Vec<String>>>)>;

thread_local! {
    static CRASH_AT: std::cell::Cell<CrashPoint> = const { std::cell::Cell::new(None) };
}

/// Called by the in-memory Notion before each call: dies when the crash point is reached.
pub fn maybe_crash() {
    CRASH_AT.with(|c| {
        if let Some((at, log)) = c.take() {
            assert!(log.borrow().len() < at, "runtime killed");
            c.set(Some((at, log)));
        }
    });
}

fn framer_titles(world: &World) -> usize {
    world.framer.borrow().items.len()
}

#[test]
fn a_run_with_bodies_takes_many_steps_none_over_budget_and_framer_equals_notion() {
    let mut world = World::new(250, true);
    let (outcome, steps) = world.run(10);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert!(steps.len() > 20, "{} steps", steps.len());
    assert!(steps.iter().all(|(_, used)| *used <= 10));
    assert_eq!(framer_titles(&world), 250);
    let item = &world.framer.borrow().items["00000000-0000-4000-8000-000000000007"];
    assert!(item["fieldData"]["page_body"]["value"]
        .as_str()
        .unwrap()
        .contains("Body of"));
    assert_eq!(world.records.stored.borrow().len(), 250);
    let runs = world.records.runs.borrow();
    let (status, job) = runs.values().next().unwrap();
    assert_eq!(
        (status.as_str(), job.stats.added, job.items_written),
        ("succeeded", 250, 250)
    );
    assert!(
        !world.staging.has_job(),
        "the checkpoint is gone after the run"
    );
}

#[test]
fn a_run_killed_twice_resumes_and_makes_at_most_a_tenth_more_notion_calls() {
    let mut clean = World::new(250, true);
    clean.run(10);
    let uninterrupted = clean.notion_log.borrow().len();

    let mut world = World::new(250, true);
    world.crash_at_call = vec![80, 190];
    let (outcome, _) = world.run(10);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert!(world.crash_at_call.is_empty(), "both crashes happened");
    let calls = world.notion_log.borrow().len();
    assert!(
        calls * 10 <= uninterrupted * 11,
        "{calls} calls vs {uninterrupted}"
    );
    assert_eq!(framer_titles(&world), 250);
}

#[test]
fn rows_framer_refuses_are_skipped_and_named_while_the_others_are_written() {
    let mut world = World::new(30, false);
    world.pages.push(page(30, "https://exa mple.com/x"));
    world.pages.push(page(31, "www.example.com/c.png"));
    world.pages.push(page(32, "https://bad url"));
    world.refuse = |item| {
        item["fieldData"]["u_253Ar"]["value"]
            .as_str()
            .is_some_and(|s| s.contains(' '))
    };
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(
        framer_titles(&world),
        31,
        "30 good rows and the scheme-less one"
    );
    let scheme_less = world.framer.borrow().items["00000000-0000-4000-8000-000000000031"].clone();
    assert_eq!(
        scheme_less["fieldData"]["u_253Ar"]["value"],
        "https://www.example.com/c.png"
    );
    let runs = world.records.runs.borrow();
    let (_, job) = runs.values().next().unwrap();
    assert_eq!(job.stats.skipped, 2);
    let skipped: Vec<(&str, Option<&str>)> = job
        .skipped_rows
        .iter()
        .map(|s| (s.title.as_str(), s.property.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        vec![("Row 30", Some("Link")), ("Row 32", Some("Link"))]
    );
    assert!(job.skipped_rows[0].reason.contains("invalid URL"));
    assert_eq!(
        job.skipped_rows[0].url,
        "https://www.notion.so/00000000000040008000000000000030"
    );
    drop(runs);

    // Fixed in Notion: the next run writes it.
    world.pages[30] = page(30, "https://example.com/fixed");
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    assert_eq!(framer_titles(&world), 32);
}

#[test]
fn no_step_loads_more_than_one_page_of_rows_whatever_the_database_size() {
    let mut world = World::new(5_000, false);
    let (outcome, steps) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    assert_eq!(framer_titles(&world), 5_000);
    assert!(steps.iter().all(|(report, _)| report.rows_held_max <= 100));
    assert!(*world.staging.largest_load.borrow() <= 100);
    assert!(
        steps.len() >= 2,
        "50 queries do not fit one step of 40: {}",
        steps.len()
    );
}

#[test]
fn a_second_run_writes_nothing_and_a_full_run_removes_what_notion_lost() {
    let mut world = World::new(120, false);
    world.run(40);
    let writes = |w: &World| {
        w.framer
            .borrow()
            .calls
            .iter()
            .filter(|c| c.starts_with("addManaged"))
            .count()
    };
    let before = writes(&world);
    world.pages.truncate(100);
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    assert_eq!(writes(&world), before, "unchanged rows are not sent again");
    assert_eq!(framer_titles(&world), 100);
    let runs = world.records.runs.borrow();
    let last = runs.values().find(|(_, j)| j.sync_id == "run-1").unwrap();
    assert_eq!((last.1.stats.removed, last.1.stats.unchanged), (20, 100));
    assert_eq!(world.staging.count_in(RowState::Write).unwrap(), 0);
}

#[test]
fn notion_files_are_uploaded_once_and_a_failed_upload_is_retried_by_the_next_run() {
    let mut world = World::new(0, false);
    world.pages = vec![
        page_with_file(0, "a/cover.png", "s1"),
        page_with_file(1, "b/cover.png", "s1"),
        page_with_file(2, "gone/cover.png", "s1"),
    ];
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(world.framer.borrow().uploads.len(), 2);
    let cover = |w: &World, n: usize| {
        w.framer.borrow().items[&format!("00000000-0000-4000-8000-{n:012}")]["fieldData"]["c_253Av"]
            ["value"]
            .clone()
    };
    assert_eq!(
        cover(&world, 0),
        "https://framerusercontent.com/images/img1.png"
    );
    assert_eq!(
        cover(&world, 2),
        Value::Null,
        "written without the file it could not re-host"
    );
    {
        let runs = world.records.runs.borrow();
        let (_, job) = runs.values().next().unwrap();
        assert!(
            job.stats
                .warnings
                .iter()
                .any(|w| w.contains("Cover") && w.contains("HTTP 403")),
            "{:?}",
            job.stats.warnings
        );
    }

    // Notion re-signs every URL on each read: nothing changed, nothing uploaded or written.
    for page in &mut world.pages {
        let url = page["properties"]["Cover"]["files"][0]["file"]["url"]
            .as_str()
            .unwrap()
            .replace("s1", "s2");
        page["properties"]["Cover"]["files"][0]["file"]["url"] = Value::String(url);
    }
    let writes = world
        .framer
        .borrow()
        .calls
        .iter()
        .filter(|c| c.starts_with("addManaged"))
        .count();
    world.run(40);
    assert_eq!(
        world.framer.borrow().uploads.len(),
        2,
        "no upload for unchanged files"
    );
    let writes_after = world
        .framer
        .borrow()
        .calls
        .iter()
        .filter(|c| c.starts_with("addManaged"))
        .count();
    assert_eq!(
        writes_after,
        writes + 1,
        "only the row whose file failed is written again"
    );

    // The file is back (a new path in Notion): exactly one upload.
    world.pages[2] = page_with_file(2, "c/cover.png", "s3");
    world.run(40);
    assert_eq!(world.framer.borrow().uploads.len(), 3);
    assert_eq!(
        cover(&world, 2),
        "https://framerusercontent.com/images/img3.png"
    );
}
