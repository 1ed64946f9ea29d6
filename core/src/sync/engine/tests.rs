//! The engine over in-memory ports: steps within budget, resume after a crash, bad rows
//! isolated, memory bounded by one page of rows.

use super::budget::Budget;
use super::job::{Job, RowState, MAX_ROW_WARNINGS, TARGETS_WAIT_MAX_MS};
use super::memory::{
    crash_after, page, page_with_file, page_with_tags, port_calls, reset_port_calls, CrashPoint,
    FramerState, MemFramer, MemNotion, MemRecords, MemStaging, Port, NOTION_RESULT_CAP,
};
use super::ports::Staging;
use super::step::{Engine, StepOutcome, StepReport};
use crate::project::{Project, ProjectRow, StoredMapping};
use crate::sync::guard::GuardPolicy;
use crate::sync::queue::{Pending, Trigger};
use crate::util::time::iso_from_ms;
use proptest::prelude::*;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
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
        notion_data_source_id: None,
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
        deletion_guard: 1,
        deletion_guard_percent: None,
        config_version: 0,
        auto_sync: 1,
        auto_publish: 0,
        webhook_key: "whk_1".into(),
        last_full_sync_at: None,
        items_in_framer: 0,
        last_success_started_at: None,
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
    /// Port calls after which the runtime "dies" (a panic), in order, counted over the test.
    crashes: Vec<CrashPoint>,
    /// Notion's result cap per query window.
    result_cap: usize,
    /// The clock every step reads.
    now_ms: i64,
    /// Pages whose body answers 404 although the query lists them.
    bodies_gone: std::collections::BTreeSet<String>,
    /// D1 queries per step (`SYNC_STEP_D1_QUERIES`).
    d1_limit: u32,
    /// D1 queries the Worker makes after a close in the same invocation.
    after_close_d1: u32,
    /// D1 queries each step made, in order.
    d1_used: RefCell<Vec<u32>>,
    /// The data source's schema.
    schema: Value,
}

impl World {
    fn new(rows: usize, page_body: bool) -> Self {
        reset_port_calls();
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
            crashes: Vec::new(),
            result_cap: NOTION_RESULT_CAP,
            now_ms: 0,
            bodies_gone: std::collections::BTreeSet::new(),
            d1_limit: 40,
            after_close_d1: 0,
            d1_used: RefCell::default(),
            schema: super::memory::data_source(),
        }
    }

    /// The project as the next step reads it from D1: with what earlier steps set on it.
    fn project_now(&self) -> Project {
        let mut project = self.project.clone();
        if let Some(ids) = self.records.data_source_ids.borrow().clone() {
            project.notion_data_source_ids = ids;
        }
        if let Some(id) = self.records.collection_id.borrow().clone() {
            project.framer_collection_id = Some(id);
        }
        if let Some(mapping) = self.records.mapping.borrow().clone() {
            project.mapping = Some(StoredMapping {
                json: serde_json::to_value(&mapping).unwrap(),
                parsed: Ok(mapping),
            });
        }
        if let Some(at) = *self.records.last_full_sync_ms.borrow() {
            project.last_full_sync_at = Some(iso_from_ms(at));
        }
        project
    }

    fn manual_job(&self) -> Job {
        self.job(Trigger::Manual, true)
    }

    /// A run of the given trigger; `full` asks for a full read.
    fn job(&self, trigger: Trigger, full: bool) -> Job {
        let mut batch = Pending::default();
        batch.record_request(trigger, full, 0);
        Job::new(
            batch,
            format!("run-{}", self.records.runs.borrow().len()),
            0,
        )
    }

    /// One step with a fresh budget, as one alarm invocation.
    fn step(&self, job: &mut Job, limit: u32) -> (StepOutcome, StepReport, u32) {
        let now = self.now_ms;
        let budget = Rc::new(Budget::new(limit, self.d1_limit, now, 60_000));
        *self.records.budget.borrow_mut() = Some(budget.clone());
        let clock = move || now;
        let project = self.project_now();
        let mut engine = Engine {
            project: &project,
            notion: MemNotion {
                pages: self.pages.clone(),
                budget: budget.clone(),
                calls: 0,
                log: self.notion_log.clone(),
                result_cap: self.result_cap,
                bodies_gone: self.bodies_gone.clone(),
                schema: self.schema.clone(),
            },
            framer: MemFramer::new(self.framer.clone(), budget.clone(), self.refuse),
            records: &self.records,
            staging: &self.staging,
            budget: &budget,
            clock: &clock,
            full_interval_ms: 86_400_000,
            guard: GuardPolicy::default(),
            cancelled: &|| false,
            after_close_d1: self.after_close_d1,
            report: StepReport::default(),
        };
        let outcome = block_on(engine.step(job));
        self.staging.step_ended();
        self.d1_used.borrow_mut().push(budget.d1_used());
        (outcome, engine.report, budget.used())
    }

    /// Steps until the run ends; a crash loses the step in progress, and the next alarm
    /// resumes from the checkpoint in staging.
    fn run(&mut self, limit: u32) -> (StepOutcome, Vec<(StepReport, u32)>) {
        let job = self.manual_job();
        self.run_job(job, limit)
    }

    fn run_job(&mut self, mut job: Job, limit: u32) -> (StepOutcome, Vec<(StepReport, u32)>) {
        quiet_crashes();
        self.staging.save_job(&job).unwrap();
        let mut steps = Vec::new();
        crash_after(self.crashes.first().copied());
        loop {
            // A run that makes no progress (a unit that never fits a step) fails here, not hangs.
            assert!(steps.len() < 10_000, "the run never ends");
            let result = catch_unwind(AssertUnwindSafe(|| self.step(&mut job, limit)));
            match result {
                Ok((StepOutcome::Continue, report, used)) => steps.push((report, used)),
                Ok((outcome, report, used)) => {
                    steps.push((report, used));
                    crash_after(None);
                    return (outcome, steps);
                }
                Err(_) => {
                    // The runtime died: the next alarm starts from the last checkpoint.
                    self.staging.crashed();
                    self.crashes.remove(0);
                    crash_after(self.crashes.first().copied());
                    job = self
                        .staging
                        .load_job()
                        .unwrap()
                        .expect("a checkpoint survives a crash");
                }
            }
        }
    }

    /// The record of a run.
    fn record(&self, sync_id: &str) -> (String, Job) {
        self.records.runs.borrow()[sync_id].clone()
    }
}

/// Crash points panic on purpose: their message is not worth printing.
fn quiet_crashes() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map_or("", String::as_str);
            if !message.starts_with("runtime killed") {
                default(info);
            }
        }));
    });
}

fn framer_titles(world: &World) -> usize {
    world.framer.borrow().items.len()
}

fn member(id: &str, collection: Option<&str>) -> crate::sync::site::SiteMember {
    crate::sync::site::SiteMember {
        project_id: id.into(),
        name: id.into(),
        data_source_id: Some(format!("{id}-ds")),
        collection_name: id.into(),
        collection_id: collection.map(str::to_owned),
        mapping: None,
    }
}

#[test]
fn a_run_creates_the_sites_missing_collections_before_it_writes_an_item() {
    let mut world = World::new(3, false);
    // Tags' collection exists already (its own run, or a concurrent one, made it); Authors'
    // does not; the project's own entry is never touched by this.
    world
        .framer
        .borrow_mut()
        .collections
        .push(("colT".into(), "Tags".into()));
    *world.records.site.borrow_mut() = vec![
        member("Authors", None),
        member("Tags", None),
        member("Done", Some("colD")),
        member(&world.project.id.clone(), None),
    ];
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let framer = world.framer.borrow();
    let created: Vec<&str> = framer.collections.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        created,
        ["Tags", "Authors"],
        "one collection each, none twice"
    );
    let first_create = framer
        .calls
        .iter()
        .position(|c| c == "createManagedCollection");
    let first_write = framer
        .calls
        .iter()
        .position(|c| c == "addManagedCollectionItems2");
    assert!(
        first_create.unwrap() < first_write.unwrap(),
        "{:?}",
        framer.calls
    );
    let site = world.records.site.borrow();
    let ids: Vec<Option<&str>> = site.iter().map(|m| m.collection_id.as_deref()).collect();
    assert_eq!(ids, [Some("col3"), Some("colT"), Some("colD"), None]);
    drop(site);
    drop(framer);
    // The next run finds every collection: it creates nothing.
    let create_calls = |w: &World| {
        w.framer
            .borrow()
            .calls
            .iter()
            .filter(|c| *c == "createManagedCollection")
            .count()
    };
    let before = create_calls(&world);
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    assert_eq!(create_calls(&world), before);
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
    assert_eq!(world.staging.item_count().unwrap(), 250);
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
    world.crashes = vec![(Some(Port::Notion), 80), (Some(Port::Notion), 190)];
    let (outcome, _) = world.run(10);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert!(world.crashes.is_empty(), "both crashes happened");
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

/// Sets a page's title (and slug source).
fn retitle(page: &mut Value, title: &str) {
    page["properties"]["Name"]["title"] = serde_json::json!([
        {"type": "text", "plain_text": title, "text": {"content": title}}
    ]);
}

fn item_slug(world: &World, n: usize) -> String {
    world.framer.borrow().items[&format!("00000000-0000-4000-8000-{n:012}")]["slug"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn last_record(world: &World) -> (String, Job) {
    let id = format!("run-{}", world.records.runs.borrow().len() - 1);
    world.record(&id)
}

#[test]
fn two_rows_that_swap_titles_swap_slugs_without_a_suffix() {
    let mut world = World::new(4, false);
    world.run(40);
    assert_eq!(
        (item_slug(&world, 1), item_slug(&world, 2)),
        ("row-1".into(), "row-2".into())
    );
    retitle(&mut world.pages[1], "Row 2");
    retitle(&mut world.pages[2], "Row 1");
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(
        (item_slug(&world, 1), item_slug(&world, 2)),
        ("row-2".into(), "row-1".into())
    );
    let (_, job) = last_record(&world);
    assert_eq!((job.stats.updated, job.stats.skipped), (2, 0));
    assert!(job.stats.warnings.is_empty(), "{:?}", job.stats.warnings);
}

#[test]
fn a_slug_freed_by_a_rename_or_a_removal_goes_to_the_row_that_wants_it() {
    let mut world = World::new(4, false);
    world.run(40);
    // Row 0 (read first) takes the title of row 3, which is renamed; a new row takes the
    // title of row 1, which is deleted.
    retitle(&mut world.pages[0], "Row 3");
    retitle(&mut world.pages[3], "Row 3 renamed");
    let mut new_row = page(9, "https://example.com/9");
    retitle(&mut new_row, "Row 1");
    world.pages.remove(1);
    world.pages.push(new_row);
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(item_slug(&world, 0), "row-3");
    assert_eq!(item_slug(&world, 3), "row-3-renamed");
    assert_eq!(item_slug(&world, 9), "row-1");
    let (_, job) = last_record(&world);
    assert_eq!(
        (
            job.stats.added,
            job.stats.updated,
            job.stats.removed,
            job.stats.skipped
        ),
        (1, 2, 1, 0)
    );
    assert!(job.stats.warnings.is_empty(), "{:?}", job.stats.warnings);
}

#[test]
fn a_slug_another_row_keeps_is_not_taken_and_warnings_are_capped() {
    let mut world = World::new(40, false);
    for page in &mut world.pages {
        retitle(page, "Same");
    }
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(item_slug(&world, 0), "same");
    assert_eq!(item_slug(&world, 1), "same-2");
    let (_, job) = last_record(&world);
    assert_eq!(job.row_warnings, 39, "one collision per later row");
    assert_eq!(job.stats.warnings.len(), MAX_ROW_WARNINGS + 1);
    assert_eq!(
        job.stats.warnings.last().unwrap(),
        &format!("... and {} more warnings", 39 - MAX_ROW_WARNINGS)
    );
    // A new row read first that wants a kept slug waits, and gets a suffix.
    let mut first = page(99, "https://example.com/99");
    retitle(&mut first, "Same");
    first["created_time"] = Value::from("2025-01-01T00:00:00.000Z");
    world.pages.insert(0, first);
    world.run(40);
    assert_eq!(item_slug(&world, 0), "same");
    assert_eq!(item_slug(&world, 99), "same-41");
}

/// A window's rows: created one minute apart, so that a capped window can move on.
fn minute_pages(world: &mut World) {
    for (n, page) in world.pages.iter_mut().enumerate() {
        let at = iso_from_ms(1_767_225_600_000 + i64::try_from(n).unwrap() * 60_000);
        page["created_time"] = Value::from(at);
    }
}

#[test]
fn an_incremental_run_reads_only_the_rows_edited_since_the_last_success() {
    let day0 = 1_796_083_200_000; // 2026-12-01
    let mut world = World::new(250, false);
    world.now_ms = day0;
    world.run(40);
    let queries = |w: &World| {
        w.notion_log
            .borrow()
            .iter()
            .filter(|c| *c == "query")
            .count()
    };
    let full_queries = queries(&world);
    assert_eq!(full_queries, 3);

    world.now_ms = day0 + 3_600_000;
    for n in [5, 120, 249] {
        world.pages[n]["last_edited_time"] = Value::from(iso_from_ms(day0 + 60_000));
        world.pages[n]["properties"]["Link"]["url"] =
            Value::from(format!("https://example.com/e{n}"));
    }
    let job = world.job(Trigger::Webhook, false);
    let (outcome, _) = world.run_job(job, 40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_record(&world);
    assert!(!job.stats.full);
    assert_eq!(
        (job.rows_read, job.stats.updated, job.stats.added),
        (3, 3, 0)
    );
    assert_eq!(queries(&world), full_queries + 1, "one page of edited rows");
    assert_eq!(
        world.framer.borrow().items["00000000-0000-4000-8000-000000000120"]["fieldData"]["u_253Ar"]
            ["value"],
        "https://example.com/e120"
    );
    assert_eq!(framer_titles(&world), 250);
}

#[test]
fn a_window_capped_by_notion_restarts_at_its_newest_row_and_reads_everything() {
    let mut world = World::new(450, false);
    minute_pages(&mut world);
    world.result_cap = 150;
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(framer_titles(&world), 450);
    let (_, job) = last_record(&world);
    assert_eq!((job.stats.added, job.rows_read), (450, 450));
    // Every capped window overlaps the next by the row at its newest instant.
    let queries = world
        .notion_log
        .borrow()
        .iter()
        .filter(|c| *c == "query")
        .count();
    assert!(queries >= 6, "{queries} queries");
    // Nothing changed: a second full run writes nothing and removes nothing.
    world.run(40);
    let (_, job) = last_record(&world);
    assert_eq!(
        (job.stats.unchanged, job.stats.removed, job.stats.updated),
        (450, 0, 0)
    );
}

/// A small world with bodies, files and auto-publish, for crash points.
fn crash_world() -> World {
    let mut world = World::new(0, true);
    world.project.auto_publish = true;
    world.pages = (0..12)
        .map(|n| page_with_file(n, &format!("f{n}/cover.png"), "s1"))
        .collect();
    // One row Framer refuses: its batch is split, and the parts are written between awaits.
    world.pages.insert(5, page(12, "https://bad url"));
    world.refuse = |item| {
        item["fieldData"]["u_253Ar"]["value"]
            .as_str()
            .is_some_and(|s| s.contains(' '))
    };
    world
}

#[test]
fn a_crash_after_any_port_call_still_ends_with_exact_counts_and_nothing_done_twice_needlessly() {
    let mut clean = crash_world();
    let (outcome, _) = clean.run(10);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let calls = port_calls().len();
    let expected_items = clean.framer.borrow().items.clone();
    assert_eq!(clean.framer.borrow().published.len(), 1);
    assert!(calls > 100, "{calls} port calls");

    // Call 1 queued the run (the checkpoint the first alarm finds); every later one is the run's.
    for k in 2..=calls {
        let mut world = crash_world();
        world.crashes = vec![(None, k)];
        let (outcome, _) = world.run(10);
        assert!(
            matches!(outcome, StepOutcome::Succeeded),
            "crash {k}: {outcome:?}"
        );
        assert!(world.crashes.is_empty(), "crash {k} happened");
        let crashed_on = port_calls()[k - 1];
        let (status, job) = last_record(&world);
        assert_eq!(status, "succeeded", "crash {k}");
        assert_eq!(
            (
                job.stats.added,
                job.stats.updated,
                job.stats.removed,
                job.stats.skipped,
                job.items_written
            ),
            (12, 0, 0, 1, 12),
            "crash {k} after a {crashed_on:?} call"
        );
        let framer = world.framer.borrow();
        // Equal to the uninterrupted run's items but for asset ids (an upload the crash lost
        // is made again); each cover points at the asset D1 recorded for its file.
        let assets = world.staging.asset_urls();
        let without_assets = |items: &BTreeMap<String, Value>, check: bool| {
            let mut items = items.clone();
            for item in items.values_mut() {
                let cover = item["fieldData"]["c_253Av"]["value"].take();
                if check {
                    assert!(
                        assets.values().any(|url| *url == cover),
                        "crash {k}: {cover}"
                    );
                }
            }
            items
        };
        assert_eq!(
            without_assets(&framer.items, true),
            without_assets(&expected_items, false),
            "crash {k}"
        );
        let stored = world.staging.items();
        assert_eq!(stored.len(), 12, "crash {k}");
        assert!(stored.iter().all(|s| !s.content_hash.starts_with("retry:")));
        // The record holds each item once. What the crash lost since the step last awaited is
        // done again (the object's writes are one batch until then): a batch Framer had
        // accepted is sent and recorded once more, never a third time.
        let accepted = world.staging.recorded.borrow();
        for n in 0..12 {
            let id = format!("00000000-0000-4000-8000-{n:012}");
            let times = accepted.iter().filter(|a| **a == id).count();
            assert!(
                (1..=2).contains(&times),
                "crash {k}: {id} recorded {times} times"
            );
        }
        let uploads: std::collections::BTreeSet<&String> = framer.uploads.iter().collect();
        assert_eq!(uploads.len(), 12, "crash {k}");
        // An upload call whose answer the crash lost, or whose record (the object's writes go
        // out at the next await), is made again (each of its files, at most all 12 in one
        // call); a file the object knows never is.
        let lost = matches!(crashed_on, Port::Framer | Port::Staging);
        assert!(
            framer.uploads.len() <= 12 + 12 * usize::from(lost),
            "crash {k}: {} uploads",
            framer.uploads.len()
        );
        // Published once; twice only when the crash fell between Framer's answer to the
        // publish and the next await (the checkpoint saying so was not written out yet).
        let republished =
            framer.published.len() == 2 && matches!(crashed_on, Port::Framer | Port::Staging);
        assert!(
            framer.published.len() == 1 || republished,
            "crash {k} after a {crashed_on:?} call: {} publishes",
            framer.published.len()
        );
        assert!(framer.deployed.len() <= framer.published.len() && !framer.deployed.is_empty());
    }
}

#[test]
fn counters_setters_and_publish_are_real() {
    let mut world = crash_world();
    let (outcome, steps) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_record(&world);
    let framer = world.framer.borrow();
    assert_eq!(job.stats.framer_calls, framer.calls.len());
    assert!(
        job.stats.bytes_sent > 1_000,
        "{} bytes",
        job.stats.bytes_sent
    );
    assert_eq!(
        job.stats.notion_calls,
        world.notion_log.borrow().len(),
        "every Notion call counted"
    );
    assert_eq!(
        steps.iter().map(|(r, _)| r.notion_calls).sum::<usize>(),
        job.stats.notion_calls
    );
    assert!(job.stats.published);
    assert_eq!(
        (framer.published.clone(), framer.deployed.clone()),
        (vec!["dep1".to_owned()], vec!["dep1".to_owned()])
    );
    assert_eq!(
        world.records.data_source_ids.borrow().as_deref(),
        Some(&["11111111-2222-4333-8444-555555555555".to_owned()][..])
    );
    assert_eq!(
        world.records.collection_id.borrow().as_deref(),
        Some("col1")
    );
    assert!(world.records.mapping.borrow().is_some());
    assert_eq!(*world.records.last_full_sync_ms.borrow(), Some(0));
    drop(framer);
    // The next run reads what this one set: the collection by id, the data source without
    // asking for the database again on an incremental run.
    let project = world.project_now();
    assert_eq!(project.framer_collection_id.as_deref(), Some("col1"));
    assert!(project.mapping.is_some() && project.last_full_sync_at.is_some());
}

/// The slug a row wants as is: its kept slug when its title did not change, else its title's.
fn wanted_slug(title: &str, kept: Option<&str>) -> String {
    kept.map_or_else(
        || {
            let slug = crate::sync::slug::slugify(title);
            if slug.is_empty() {
                "00000000".to_owned()
            } else {
                slug
            }
        },
        str::to_owned,
    )
}

/// Slugs of Framer's items by page id.
fn slugs(world: &World) -> BTreeMap<String, String> {
    world
        .framer
        .borrow()
        .items
        .iter()
        .map(|(id, item)| (id.clone(), item["slug"].as_str().unwrap().to_owned()))
        .collect()
}

/// The engine's slugs obey the rules: unique and non-empty (Framer refused nothing), a row
/// gets a suffix only when another item has the slug it wants as is, and no suffix is a slug
/// another row wanted as is and did not get.
fn assert_slug_rules(
    world: &World,
    wanted: &BTreeMap<String, String>,
) -> Result<(), TestCaseError> {
    let (status, job) = last_record(world);
    prop_assert_eq!(status, "succeeded");
    prop_assert_eq!(
        job.stats.skipped,
        0,
        "Framer refused a slug: {:?}",
        job.skipped_rows
    );
    let slugs = slugs(world);
    prop_assert_eq!(slugs.len(), wanted.len());
    let owners: BTreeMap<&String, &String> = slugs.iter().map(|(id, slug)| (slug, id)).collect();
    prop_assert_eq!(owners.len(), slugs.len(), "slugs are unique: {:?}", slugs);
    for (id, slug) in &slugs {
        prop_assert!(!slug.is_empty());
        let want = &wanted[id];
        if slug != want {
            let holder = owners.get(want);
            prop_assert!(
                holder.is_some(),
                "{id} got {slug} though nothing has {want}"
            );
            let holder = holder.unwrap();
            prop_assert_eq!(
                &slugs[*holder],
                &wanted[*holder],
                "{} holds {} by a suffix while {} wants it as is",
                holder,
                want,
                id
            );
        }
    }
    Ok(())
}

fn titles() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["A", "a!", "A 2", "a-2", "B", "b", "C", "", "🎉"])
        .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn the_engine_gives_unique_slugs_keeps_unchanged_ones_and_never_steals_one(
        first in prop::collection::vec(titles(), 1..9),
        second in prop::collection::vec(prop::option::of(titles()), 1..9),
        added in prop::collection::vec(titles(), 0..4),
    ) {
        let mut world = World::new(first.len(), false);
        for (page, title) in world.pages.iter_mut().zip(&first) {
            retitle(page, title);
        }
        world.run(40);
        let wanted: BTreeMap<String, String> = world.pages.iter().zip(&first)
            .map(|(p, t)| (p["id"].as_str().unwrap().to_owned(), wanted_slug(t, None)))
            .collect();
        assert_slug_rules(&world, &wanted)?;
        let before = slugs(&world);

        // Renames (Some), deletions (None beyond the first rows' count), new rows.
        let mut kept_pages = Vec::new();
        let mut wanted = BTreeMap::new();
        let mut unchanged = Vec::new();
        for (n, page) in world.pages.iter().enumerate() {
            let id = page["id"].as_str().unwrap().to_owned();
            match second.get(n) {
                Some(None) => {}
                Some(Some(title)) if *title != first[n] => {
                    let mut page = page.clone();
                    retitle(&mut page, title);
                    wanted.insert(id, wanted_slug(title, None));
                    kept_pages.push(page);
                }
                _ => {
                    unchanged.push(id.clone());
                    wanted.insert(id.clone(), wanted_slug(&first[n], Some(&before[&id])));
                    kept_pages.push(page.clone());
                }
            }
        }
        for (i, title) in added.iter().enumerate() {
            let mut page = page(50 + i, "https://example.com/new");
            retitle(&mut page, title);
            wanted.insert(page["id"].as_str().unwrap().to_owned(), wanted_slug(title, None));
            kept_pages.push(page);
        }
        // Slugs are the point here, not the deletion guard: bulk deletions go through (a read
        // that brings no row at all is still held, so at least one row stays).
        prop_assume!(!kept_pages.is_empty());
        world.project.deletion_guard.enabled = false;
        world.pages = kept_pages;
        world.run(40);
        assert_slug_rules(&world, &wanted)?;
        // A row whose title did not change keeps its slug, whoever else wants it.
        let after = slugs(&world);
        for id in &unchanged {
            prop_assert_eq!(&after[id], &before[id], "{} lost its slug", id);
        }
    }
}

// The live site is never emptied by mistake (issue 19).

fn id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// The newest run's status and job.
fn last_run(world: &World) -> (String, Job) {
    let runs = world.records.runs.borrow();
    let n = runs.len() - 1;
    runs.get(&format!("run-{n}")).cloned().expect("a run")
}

fn released(world: &World) -> Job {
    let mut batch = Pending::default();
    batch.record_request(Trigger::Manual, true, 0);
    batch.release_held = true;
    Job::new(
        batch,
        format!("run-{}", world.records.runs.borrow().len()),
        0,
    )
}

/// Steps `job` until it ends.
fn finish(world: &World, mut job: Job) -> StepOutcome {
    loop {
        match world.step(&mut job, 40).0 {
            StepOutcome::Continue => {}
            other => return other,
        }
    }
}

#[test]
fn an_empty_read_removes_nothing_and_notion_recovering_releases_the_hold() {
    let mut world = World::new(50, false);
    world.run(40);
    let all = world.pages.clone();
    world.pages.clear();
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(framer_titles(&world), 50, "nothing removed");
    let (_, job) = last_run(&world);
    assert_eq!(job.stats.removals_held, 50);
    assert_eq!(job.stats.removed, 0);
    assert_eq!(
        job.stats.held_reason,
        Some(crate::sync::guard::HoldReason::EmptyRead)
    );
    assert_eq!(job.stats.held_items.len(), crate::sync::guard::HELD_LISTED);
    assert_eq!(
        job.stats.held_items[0].title, "row-0",
        "the slug stands in for a vanished title"
    );
    assert_eq!(world.records.reviewed.borrow().len(), 50);

    world.pages = all;
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    assert_eq!(last_run(&world).1.stats.removals_held, 0);
    assert!(
        world.records.reviewed.borrow().is_empty(),
        "the hold is released"
    );
    assert_eq!(framer_titles(&world), 50);
}

#[test]
fn a_bulk_delete_is_held_then_removed_exactly_when_the_owner_asks() {
    let mut world = World::new(50, false);
    world.run(40);
    world.pages.truncate(2);
    world.run(40);
    let (status, job) = last_run(&world);
    assert_eq!(
        (status.as_str(), job.stats.removals_held, job.stats.removed),
        ("succeeded", 48, 0)
    );
    assert_eq!(framer_titles(&world), 50);
    // One row comes back before the owner decides: it is not removed.
    world.pages.push(page(7, "https://example.com/7"));
    let outcome = finish(&world, released(&world));
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_run(&world);
    assert_eq!((job.stats.removed, job.stats.removals_held), (47, 0));
    assert_eq!(framer_titles(&world), 3);
    assert!(world.framer.borrow().items.contains_key(&id(7)));
    assert!(world.records.reviewed.borrow().is_empty());
}

#[test]
fn kept_items_stay_and_are_not_held_again_until_notion_shows_them() {
    let mut world = World::new(50, false);
    world.run(40);
    world.pages.truncate(2);
    world.run(40);
    // "Keep them".
    for (kept, _) in world.records.reviewed.borrow_mut().values_mut() {
        *kept = true;
    }
    world.run(40);
    let (_, job) = last_run(&world);
    assert_eq!((job.stats.removals_held, job.stats.removed), (0, 0));
    assert_eq!(framer_titles(&world), 50);
    // A new deletion on top is judged alone: 1 of 50 goes at once.
    world.pages.truncate(1);
    world.run(40);
    assert_eq!(last_run(&world).1.stats.removed, 1);
    assert_eq!(framer_titles(&world), 49);
    // A kept row Notion shows again is no longer kept.
    world.pages.push(page(9, "https://example.com/9"));
    world.run(40);
    assert!(!world.records.reviewed.borrow().contains_key(&id(9)));
    assert_eq!(world.records.reviewed.borrow().len(), 47);
}

#[test]
fn a_few_removals_under_the_threshold_go_at_once() {
    let mut world = World::new(50, false);
    world.run(40);
    world.pages.truncate(47);
    world.run(40);
    let (_, job) = last_run(&world);
    assert_eq!((job.stats.removed, job.stats.removals_held), (3, 0));
    assert_eq!(framer_titles(&world), 47);
}

#[test]
fn a_page_deleted_before_its_body_is_read_is_a_removal_not_a_failure() {
    let mut world = World::new(20, true);
    world.run(40);
    // Edited (so its body is read again), then deleted between the query and the body fetch.
    world.pages[4]["last_edited_time"] = "2026-12-01T10:00:00.000Z".into();
    world.bodies_gone.insert(id(4));
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_run(&world);
    assert_eq!(job.stats.removed, 1, "under the guard's threshold: removed");
    assert!(!world.framer.borrow().items.contains_key(&id(4)));
}

#[test]
fn a_result_that_is_not_a_complete_page_fails_the_read_and_removes_nothing() {
    let mut world = World::new(30, false);
    world.run(40);
    world.pages[3] = serde_json::json!({"object": "page", "id": id(3)});
    let (outcome, _) = world.run(40);
    match outcome {
        StepOutcome::Failed(f) => {
            assert_eq!(f.code, "notion_unexpected_result");
            assert!(f.retryable);
            assert!(f.message.contains(&id(3)), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(framer_titles(&world), 30);
}

#[test]
fn a_publish_filter_that_no_longer_fits_fails_the_run_and_removes_nothing() {
    let mut world = World::new(10, false);
    world.run(40);
    world.project.publish_filter = Some(crate::project::PublishFilter::Checkbox {
        property_id: "deleted-property".into(),
    });
    let (outcome, _) = world.run(40);
    match outcome {
        StepOutcome::Failed(f) => {
            assert_eq!(f.code, "publish_filter_invalid");
            assert!(!f.retryable);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(framer_titles(&world), 10);
    world.project.publish_filter = None;
    world.project.publish_filter_error = Some("EOF while parsing".into());
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Failed(f) if f.code == "publish_filter_invalid"));
    assert_eq!(framer_titles(&world), 10);
}

#[test]
fn a_mapping_saved_during_a_run_wins_over_the_runs_own() {
    let mut world = World::new(10, false);
    // The owner saved the project after the run read its settings (version 0).
    *world.records.version.borrow_mut() = 1;
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    assert_eq!(
        *world.records.mapping.borrow(),
        None,
        "the run did not overwrite it"
    );
    *world.records.version.borrow_mut() = 0;
    world.run(40);
    assert!(
        world.records.mapping.borrow().is_some(),
        "written when nobody saved meanwhile"
    );
}

/// A run of 2,000 rows after its first step (of six subrequests): still in flight.
fn started(world: &World) -> Job {
    let mut job = world.manual_job();
    let first = world.step(&mut job, 6).0;
    assert!(matches!(first, StepOutcome::Continue), "{first:?}");
    job
}

#[test]
fn changing_the_database_mid_run_cancels_the_run() {
    let mut world = World::new(2_000, false);
    let mut job = started(&world);
    world.project.notion_database_id = "another-db".into();
    assert!(matches!(world.step(&mut job, 6).0, StepOutcome::Cancelled));
    let (status, _) = last_run(&world);
    assert_eq!(status, "cancelled");
    assert!(!world.staging.has_job(), "nothing staged is left");
}

#[test]
fn settings_saved_mid_run_apply_from_the_next_run() {
    let mut world = World::new(2_000, false);
    let job = started(&world);
    // A filter saved while the run is in flight (one that would fail it): not this run's.
    world.project.publish_filter = Some(crate::project::PublishFilter::Checkbox {
        property_id: "deleted-property".into(),
    });
    let outcome = finish(&world, job);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(framer_titles(&world), 2_000);
}

#[test]
fn a_capped_window_that_brings_nothing_new_fails_the_run_instead_of_ending_the_read() {
    let mut world = World::new(150, false);
    world.run(40);
    // 150 rows created in the same instant, and Notion stops every window at 100 results:
    // the next window (from that instant) brings the same 100 again.
    for page in &mut world.pages {
        page["created_time"] = "2026-01-01T00:00:00.000Z".into();
    }
    world.result_cap = 100;
    let (outcome, _) = world.run(40);
    match outcome {
        StepOutcome::Failed(f) => {
            assert_eq!(f.code, "notion_read_stalled");
            assert!(f.retryable);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        framer_titles(&world),
        150,
        "nothing past the cap was removed"
    );
}

/// Rows inserted, updated or deleted in the object's SQLite so far (SQLite's own count; index
/// entries are not rows).
fn object_rows_written(world: &World) -> u64 {
    world.staging.db.total_changes()
}

fn records_calls() -> usize {
    port_calls().iter().filter(|p| **p == Port::Records).count()
}

#[test]
fn a_one_row_run_on_a_large_collection_writes_and_queries_what_the_row_needs_not_the_collection() {
    let day0 = 1_796_083_200_000; // 2026-12-01
    let mut world = World::new(3_000, false);
    world.now_ms = day0;
    let (outcome, _) = world.run(200);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(world.staging.item_count().unwrap(), 3_000);

    world.now_ms = day0 + 3_600_000;
    world.pages[1_234]["last_edited_time"] = Value::from(iso_from_ms(day0 + 60_000));
    world.pages[1_234]["properties"]["Link"]["url"] = Value::from("https://example.com/edited");
    let (written, d1) = (object_rows_written(&world), records_calls());
    let recorded = world.staging.recorded.borrow().len();
    let job = world.job(Trigger::Webhook, false);
    let (outcome, _) = world.run_job(job, 200);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_record(&world);
    assert_eq!((job.stats.full, job.stats.updated), (false, 1));
    assert_eq!(job.items_in_framer, Some(3_000));
    // The record gains exactly the row written; the run's own writes (checkpoint, the staged
    // row, its clearing) are a handful, whatever the collection's size.
    assert_eq!(world.staging.recorded.borrow().len(), recorded + 1);
    let rows = object_rows_written(&world) - written;
    assert!(rows <= 20, "{rows} rows written in the object");
    let queries = records_calls() - d1;
    assert!(queries <= 10, "{queries} D1 calls");
}

#[test]
fn the_record_d1_kept_before_is_adopted_before_any_other_unit_then_dropped_from_d1() {
    let mut world = World::new(2_500, false);
    let (outcome, _) = world.run(200);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let items_before = world.staging.items();
    // As the version before left it: the record in D1, none in the object, a run in flight.
    *world.records.legacy.borrow_mut() = items_before
        .iter()
        .map(|item| (item.page_id.clone(), item.clone()))
        .collect();
    world
        .staging
        .db
        .execute_batch("DELETE FROM items; DELETE FROM sync_meta WHERE key = 'items_adoption'")
        .unwrap();
    let calls_before = world.framer.borrow().calls.len();
    let job = world.job(Trigger::Manual, true);
    world.staging.save_job(&job).unwrap();
    let mut job = job;
    // A step with no budget for anything else still adopts first (copying costs no subrequest).
    let (outcome, _, _) = world.step(&mut job, 200);
    assert!(matches!(
        outcome,
        StepOutcome::Continue | StepOutcome::Succeeded
    ));
    assert_eq!(world.staging.items(), items_before, "adopted as D1 had it");
    assert!(
        world.records.legacy.borrow().is_empty(),
        "D1's copy dropped"
    );
    let (outcome, _) = world.run_job(job, 200);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_record(&world);
    assert_eq!(
        (job.stats.added, job.stats.updated, job.stats.removed),
        (0, 0, 0),
        "nothing rewritten to Framer"
    );
    let writes = world.framer.borrow().calls[calls_before..]
        .iter()
        .filter(|c| c.starts_with("add") || c.starts_with("remove"))
        .count();
    assert_eq!(
        writes,
        0,
        "{:?}",
        &world.framer.borrow().calls[calls_before..]
    );
}

/// Rows with a cover each (one of them a file Framer cannot download).
fn covered_world(rows: usize, gone: usize) -> World {
    let mut world = World::new(0, false);
    world.pages = (0..rows)
        .map(|n| {
            let path = if n == gone {
                format!("gone/{n}.png")
            } else {
                format!("f/{n}.png")
            };
            page_with_file(n, &path, "s1")
        })
        .collect();
    world
}

fn tag_id(n: usize) -> String {
    format!("99999999-0000-4000-8000-{n:012}")
}

/// Notion calls of a kind over the test.
fn notion_calls(world: &World, kind: &str) -> usize {
    world
        .notion_log
        .borrow()
        .iter()
        .filter(|c| *c == kind)
        .count()
}

fn tags_of(world: &World, n: usize) -> Vec<String> {
    let item = world.framer.borrow().items[&id(n)].clone();
    item["fieldData"]["t_253Ag"]["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no references in {item}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// A world whose "Tags" relation points into a collection another project ("tags-project")
/// syncs, holding `held` of the tags.
fn tags_world_holding(pages: Vec<Value>, held: &[String]) -> World {
    let mut world = World::new(0, false);
    world.pages = pages;
    world
        .records
        .synced
        .borrow_mut()
        .insert(super::memory::TAGS_DATA_SOURCE.to_owned(), "tags".into());
    world
        .records
        .targets
        .borrow_mut()
        .insert("tags".into(), "tags-project".into());
    world
        .records
        .held_elsewhere
        .borrow_mut()
        .insert("tags-project".into(), held.iter().cloned().collect());
    world
}

/// The same, with every tag held.
fn tags_world(pages: Vec<Value>) -> World {
    let all: Vec<String> = (0..1_000).map(tag_id).collect();
    tags_world_holding(pages, &all)
}

#[test]
fn a_reference_goes_only_to_items_the_target_holds_and_the_rest_is_remembered_then_written() {
    let tags: Vec<String> = (0..5).map(tag_id).collect();
    let mut world = tags_world_holding(
        vec![page_with_tags(0, &tags), page_with_tags(1, &tags[..2])],
        &tags[..3],
    );
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(tags_of(&world, 0), tags[..3].to_vec(), "no dangling id");
    assert_eq!(tags_of(&world, 1), tags[..2].to_vec());
    let remembered = |w: &World, n: usize| w.records.dangling.borrow().get(&id(n)).cloned();
    assert_eq!(
        remembered(&world, 0),
        Some(vec![
            ("tags-project".to_owned(), tags[3].clone()),
            ("tags-project".to_owned(), tags[4].clone())
        ])
    );
    assert_eq!(remembered(&world, 1), None);

    // Nothing changed: the row is not written again.
    let writes = world.framer.borrow().calls.len();
    world.run(40);
    assert!(!world.framer.borrow().calls[writes..]
        .iter()
        .any(|c| c.starts_with("addManaged")));

    // The Tags project added tag 3 and asked for row 0: an incremental run reads it by id
    // (it was not edited) and writes the reference.
    world
        .records
        .held_elsewhere
        .borrow_mut()
        .get_mut("tags-project")
        .unwrap()
        .insert(tags[3].clone());
    let mut batch = Pending::default();
    batch.record_refresh([id(0)], true, 0);
    let job = Job::new(batch, "run-refresh".into(), 0);
    world.now_ms = 1_000;
    let (outcome, _) = world.run_job(job, 40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = world.record("run-refresh");
    assert!(!job.stats.full);
    assert_eq!(job.stats.updated, 1);
    assert_eq!(tags_of(&world, 0), tags[..4].to_vec());
    assert_eq!(
        remembered(&world, 0),
        Some(vec![("tags-project".to_owned(), tags[4].clone())])
    );
}

#[test]
fn a_run_that_adds_items_others_left_out_asks_those_rows_again_once_before_publishing() {
    let mut world = World::new(3, false);
    world.records.dangling_elsewhere.borrow_mut().extend([
        ("posts".to_owned(), "post-a".to_owned(), id(1)),
        ("posts".to_owned(), "post-b".to_owned(), id(2)),
        ("posts".to_owned(), "post-c".to_owned(), id(7)),
        ("pages".to_owned(), "page-a".to_owned(), id(0)),
    ]);
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(
        *world.records.refreshes.borrow(),
        vec![
            ("pages".to_owned(), vec!["page-a".to_owned()]),
            (
                "posts".to_owned(),
                vec!["post-a".to_owned(), "post-b".to_owned()]
            ),
        ],
        "one call per project, only the rows whose pages were added"
    );
}

#[test]
fn relations_past_25_are_read_whole_in_pages_of_100_resuming_across_steps() {
    let tags: Vec<String> = (0..250).map(tag_id).collect();
    let mut world = tags_world(vec![
        page_with_tags(0, &tags[..150]),
        page_with_tags(1, &tags[..30]),
        page_with_tags(2, &tags[..10]),
        page_with_tags(3, &tags),
    ]);
    // A budget of 5 (the start takes 5: database, data source, query, socket and Framer's
    // fields and ids go over one connection) leaves steps that stop between property calls.
    let (outcome, steps) = world.run(5);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert!(steps.len() > 2, "{} steps", steps.len());
    assert!(steps.iter().all(|(_, used)| *used <= 5));
    assert_eq!(tags_of(&world, 0), tags[..150].to_vec());
    assert_eq!(tags_of(&world, 1), tags[..30].to_vec());
    assert_eq!(tags_of(&world, 2), tags[..10].to_vec());
    assert_eq!(tags_of(&world, 3), tags);
    // ceil(150/100) + ceil(30/100) + ceil(250/100): one call per 100 related pages, none for
    // a relation the query row carried whole.
    assert_eq!(notion_calls(&world, "property"), 2 + 1 + 3);
    let (_, job) = last_record(&world);
    assert!(job.stats.warnings.is_empty(), "{:?}", job.stats.warnings);
    assert_eq!(job.stats.added, 4);

    // Unchanged: read again (to compare), written never.
    let writes = world.framer.borrow().calls.len();
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded));
    let (_, job) = last_record(&world);
    assert_eq!((job.stats.unchanged, job.stats.updated), (4, 0));
    assert!(!world.framer.borrow().calls[writes..]
        .iter()
        .any(|c| c.starts_with("addManaged")));

    // A tag dropped past the 25th shows on the next run.
    world.pages[0] = page_with_tags(0, &tags[..149]);
    world.run(40);
    assert_eq!(tags_of(&world, 0), tags[..149].to_vec());
}

/// Steps `job` until it ends or waits for related projects' runs.
fn step_until_waiting_or_done(world: &World, job: &mut Job) -> StepOutcome {
    for _ in 0..1_000 {
        let (outcome, _, _) = world.step(job, 40);
        if !matches!(outcome, StepOutcome::Continue) || job.waiting {
            return outcome;
        }
    }
    panic!("the run never ends");
}

#[test]
fn rows_wait_for_a_target_whose_run_may_add_their_items_and_are_written_whole_once() {
    let tags: Vec<String> = (0..150).map(tag_id).collect();
    // Row 0 wants tags the Tags project does not hold yet, row 2 a long relation of them;
    // row 1 only tag 0, which it holds.
    let mut world = tags_world_holding(
        vec![
            page_with_tags(0, &tags[..4]),
            page_with_tags(1, &tags[..1]),
            page_with_tags(2, &tags),
        ],
        &tags[..1],
    );
    world
        .records
        .running_elsewhere
        .borrow_mut()
        .insert("tags-project".into());
    world.now_ms = 5_000;
    let mut job = world.manual_job();
    world.staging.save_job(&job).unwrap();
    let outcome = step_until_waiting_or_done(&world, &mut job);
    assert!(matches!(outcome, StepOutcome::Continue), "{outcome:?}");
    assert_eq!(job.public_phase(), "waiting");
    assert_eq!(job.next_step_at(5_000), 6_000, "first look again after 1 s");
    let items = |w: &World| {
        w.framer
            .borrow()
            .items
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        items(&world),
        BTreeSet::from([id(1)]),
        "only the row with nothing missing"
    );
    assert!(world.records.refreshes.borrow().is_empty());

    // Still running 60 s later: the rows go on waiting, looked at less often.
    world.now_ms = 65_000;
    let (outcome, _, _) = world.step(&mut job, 40);
    assert!(matches!(outcome, StepOutcome::Continue) && job.waiting);
    assert_eq!(job.next_step_at(65_000), 65_000 + 8_000);
    assert_eq!(items(&world), BTreeSet::from([id(1)]));

    // The Tags run is over and added every tag: each row is written once, whole.
    world
        .records
        .held_elsewhere
        .borrow_mut()
        .insert("tags-project".into(), tags.iter().cloned().collect());
    world.records.running_elsewhere.borrow_mut().clear();
    world.now_ms = 70_000;
    let outcome = step_until_waiting_or_done(&world, &mut job);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(tags_of(&world, 0), tags[..4].to_vec());
    assert_eq!(tags_of(&world, 1), tags[..1].to_vec());
    assert_eq!(tags_of(&world, 2), tags);
    let (_, job) = world.record(&job.sync_id);
    assert_eq!(
        (job.stats.added, job.stats.updated),
        (3, 0),
        "no row written twice"
    );
    assert!(
        world.records.dangling.borrow().is_empty(),
        "nothing left out"
    );
    assert_eq!(
        notion_calls(&world, "property"),
        2,
        "the long relation read once"
    );
}

#[test]
fn rows_wait_for_a_target_run_two_minutes_at_most_then_go_with_what_it_holds() {
    let tags: Vec<String> = (0..4).map(tag_id).collect();
    let mut world = tags_world_holding(vec![page_with_tags(0, &tags)], &tags[..2]);
    world
        .records
        .running_elsewhere
        .borrow_mut()
        .insert("tags-project".into());
    let mut job = world.manual_job();
    world.staging.save_job(&job).unwrap();
    step_until_waiting_or_done(&world, &mut job);
    assert!(job.waiting);
    world.now_ms = TARGETS_WAIT_MAX_MS - 1;
    world.step(&mut job, 40);
    assert!(job.waiting, "not yet");
    world.now_ms = TARGETS_WAIT_MAX_MS;
    let outcome = step_until_waiting_or_done(&world, &mut job);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(tags_of(&world, 0), tags[..2].to_vec(), "no dangling id");
    // What was left out is remembered: the Tags run asks for the row once it adds them.
    assert_eq!(
        world.records.dangling.borrow().get(&id(0)).cloned(),
        Some(vec![
            ("tags-project".to_owned(), tags[2].clone()),
            ("tags-project".to_owned(), tags[3].clone())
        ])
    );
}

#[test]
fn a_query_page_is_read_once_whatever_step_its_budget_ends() {
    // Staging a page asks the targets' objects what they hold: a step whose budget ends right
    // after the query must not lose the page and read it again (seen in bench/site.mjs).
    let tags: Vec<String> = (0..3).map(tag_id).collect();
    for budget in 5..=12 {
        let pages = (0..250).map(|n| page_with_tags(n, &tags)).collect();
        let mut world = tags_world(pages);
        let (outcome, _) = world.run(budget);
        assert!(
            matches!(outcome, StepOutcome::Succeeded),
            "{budget}: {outcome:?}"
        );
        assert_eq!(
            notion_calls(&world, "query"),
            3,
            "budget {budget}: 250 rows, 3 pages, none twice"
        );
        assert_eq!(world.framer.borrow().items.len(), 250);
    }
}

#[test]
fn a_long_relation_is_read_once_whatever_step_its_last_page_ends() {
    // The last page of a relation is followed by asking the target's object what it holds
    // (one more subrequest): a step whose budget ends there must not lose the pages read, or
    // the next step reads the relation again from its start (seen in bench/site.mjs: two
    // property calls too many).
    let tags: Vec<String> = (0..150).map(tag_id).collect();
    for budget in 5..=12 {
        let mut world = tags_world(vec![
            page_with_tags(0, &tags),
            page_with_tags(1, &tags[..3]),
            page_with_tags(2, &tags[..130]),
        ]);
        let (outcome, _) = world.run(budget);
        assert!(
            matches!(outcome, StepOutcome::Succeeded),
            "{budget}: {outcome:?}"
        );
        assert_eq!(tags_of(&world, 0), tags, "{budget}");
        assert_eq!(tags_of(&world, 2), tags[..130].to_vec(), "{budget}");
        assert_eq!(
            notion_calls(&world, "property"),
            2 + 2,
            "budget {budget}: ceil(150/100) + ceil(130/100), none read twice"
        );
    }
}

#[test]
fn a_run_killed_while_reading_a_long_relation_still_reads_it_whole() {
    let tags: Vec<String> = (0..320).map(tag_id).collect();
    let mut world = tags_world(vec![
        page_with_tags(0, &tags),
        page_with_tags(1, &tags[..40]),
    ]);
    world.crashes = vec![(Some(Port::Notion), 4), (Some(Port::Notion), 6)];
    let (outcome, _) = world.run(5);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert!(world.crashes.is_empty(), "both crashes happened");
    assert_eq!(tags_of(&world, 0), tags);
    assert_eq!(tags_of(&world, 1), tags[..40].to_vec());
}

#[test]
fn a_two_way_relation_that_changes_asks_the_other_project_for_the_pages_it_gained_or_lost() {
    let tags: Vec<String> = (0..40).map(tag_id).collect();
    let mut world = tags_world(vec![
        page_with_tags(0, &tags[..2]),
        page_with_tags(1, &tags[..30]),
    ]);
    world.schema = super::memory::data_source_two_way();
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    // First seen: every related page may have changed on the other side.
    let asked: BTreeMap<String, Vec<String>> =
        world.records.refreshes.borrow().iter().cloned().collect();
    assert_eq!(asked["tags-project"], tags[..30].to_vec());

    // Unchanged: nothing asked.
    world.records.refreshes.borrow_mut().clear();
    world.run(40);
    assert!(world.records.refreshes.borrow().is_empty());

    // Row 0 drops tag 1 and gains tag 35; row 1 (cut at 25 in the query) gains tag 39: only
    // those, once, and the cut relation is compared whole.
    world.pages[0] = page_with_tags(0, &[tags[0].clone(), tags[35].clone()]);
    let mut more = tags[..30].to_vec();
    more.push(tags[39].clone());
    world.pages[1] = page_with_tags(1, &more);
    world.run(40);
    assert_eq!(
        *world.records.refreshes.borrow(),
        vec![(
            "tags-project".to_owned(),
            vec![tags[1].clone(), tags[35].clone(), tags[39].clone()]
        )]
    );
}

#[test]
fn a_one_way_relation_asks_nothing_of_the_other_project() {
    let tags: Vec<String> = (0..3).map(tag_id).collect();
    let mut world = tags_world(vec![page_with_tags(0, &tags)]);
    world.run(40);
    world.pages[0] = page_with_tags(0, &tags[..1]);
    world.run(40);
    assert!(world.records.refreshes.borrow().is_empty());
    assert_eq!(world.staging.relation_count(), 0);
}

/// Long and two-way relations, left-out references, and rows others left out: every new unit.
fn references_world() -> World {
    let tags: Vec<String> = (0..130).map(tag_id).collect();
    let mut world = tags_world_holding(
        vec![
            page_with_tags(0, &tags),
            page_with_tags(1, &tags[..3]),
            page_with_tags(2, &tags[120..]),
        ],
        &tags[..125],
    );
    world.schema = super::memory::data_source_two_way();
    world
        .records
        .dangling_elsewhere
        .borrow_mut()
        .push(("posts".into(), "post-a".into(), id(1)));
    world
}

#[test]
fn uploads_go_in_batches_and_the_object_learns_each_write_unit_s_assets_at_once() {
    let mut world = covered_world(230, 7);
    let (outcome, steps) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let framer = world.framer.borrow();
    assert_eq!(
        framer.uploads.len(),
        229,
        "every file but the one that is gone"
    );
    // 100, 100 and 30 rows per write: 4 + 4 + 2 calls of at most 25 files, and the calls split
    // to find the file that is gone (halving 25: 25, 12, 6, 3, 1 refused; the halves beside them
    // uploaded).
    let plain = 4 + 4 + 2;
    assert!(
        (plain..=plain + 10).contains(&framer.upload_calls),
        "{} uploadImages calls",
        framer.upload_calls
    );
    assert_eq!(
        framer.calls.iter().filter(|c| *c == "uploadImage").count(),
        0,
        "no file goes alone"
    );
    assert_eq!(
        world.staging.asset_writes.get(),
        3,
        "one record of the uploads per write, in the object"
    );
    // Uploads are messages over the open socket: a step opens it once whatever it uploads.
    assert!(steps.iter().all(|(_, used)| *used <= 40));
    let (_, job) = last_record(&world);
    assert!(job
        .stats
        .warnings
        .iter()
        .any(|w| w.contains("Cover") && w.contains("HTTP 403")));
    assert_eq!(job.items_written, 230);
}

#[test]
fn no_step_exceeds_its_d1_queries_and_a_close_that_does_not_fit_waits_for_the_next_step() {
    for (d1_limit, after_close) in [(8, 0), (25, 18), (40, 30)] {
        let mut world = covered_world(600, usize::MAX);
        world.d1_limit = d1_limit;
        world.after_close_d1 = after_close;
        let (outcome, steps) = world.run(40);
        assert!(
            matches!(outcome, StepOutcome::Succeeded),
            "{d1_limit}: {outcome:?}"
        );
        let used = world.d1_used.borrow();
        assert_eq!(used.len(), steps.len());
        assert!(
            used.iter().all(|n| *n <= d1_limit),
            "{d1_limit}: D1 queries per step {used:?}"
        );
        // The step that closed the run left the Worker what its alert bookkeeping needs.
        let last = *used.last().unwrap();
        assert!(
            last + after_close <= d1_limit,
            "{d1_limit}: the close used {last} of {d1_limit} with {after_close} still to spend"
        );
        assert_eq!(world.framer.borrow().items.len(), 600, "{d1_limit}");
        assert_eq!(world.staging.item_count().unwrap(), 600, "{d1_limit}");
        let (status, job) = last_record(&world);
        assert_eq!(status, "succeeded");
        assert_eq!(job.items_written, 600);
        assert!(job.closing.is_none());
    }
    // A small D1 budget takes more steps than a large one for the same run.
    let steps_with = |d1_limit| {
        let mut world = covered_world(600, usize::MAX);
        world.d1_limit = d1_limit;
        world.run(40).1.len()
    };
    assert!(steps_with(8) > steps_with(40));
}

#[test]
fn an_adoption_of_d1_s_record_longer_than_a_step_goes_on_in_the_next_steps() {
    let mut world = World::new(20, false);
    world.d1_limit = 25;
    // D1's record of the version before says Framer holds 30,000 more items than Notion shows
    // (30 chunks to adopt): the run holds their removal (the deletion guard), and every step
    // stays within its queries.
    for n in 0..30_000 {
        let page_id = format!("99999999-0000-4000-8000-{n:012}");
        world.records.legacy.borrow_mut().insert(
            page_id.clone(),
            super::job::StoredItem {
                page_id,
                slug: format!("gone-{n}"),
                slug_source: format!("Gone {n}"),
                content_hash: "h".into(),
                last_edited_time: None,
                fields_hash: None,
            },
        );
    }
    let (outcome, steps) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let used = world.d1_used.borrow();
    assert!(used.iter().all(|n| *n <= 25), "{used:?}");
    assert!(steps.len() > 2, "{} steps", steps.len());
    let (_, job) = last_record(&world);
    assert_eq!(job.items_written, 20);
    assert_eq!(job.stats.removals_held, 30_000);
}

#[test]
fn a_crash_after_any_port_call_of_a_run_with_references_loses_no_reference_and_no_refresh() {
    let mut clean = references_world();
    let (outcome, _) = clean.run(6);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let calls = port_calls().len();
    let expected_items = clean.framer.borrow().items.clone();
    let asked = |w: &World| {
        let mut asked: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for (project, pages) in w.records.refreshes.borrow().iter() {
            asked
                .entry(project.clone())
                .or_default()
                .extend(pages.iter().cloned());
        }
        asked
    };
    let expected_asked = asked(&clean);
    assert_eq!(expected_asked["posts"].len(), 1);
    assert_eq!(expected_asked["tags-project"].len(), 130);
    let expected_dangling = clean.records.dangling.borrow().clone();
    assert_eq!(expected_dangling[&id(0)].len(), 5);

    for k in 2..=calls {
        let mut world = references_world();
        world.crashes = vec![(None, k)];
        let (outcome, _) = world.run(6);
        assert!(
            matches!(outcome, StepOutcome::Succeeded),
            "crash {k}: {outcome:?}"
        );
        assert!(world.crashes.is_empty(), "crash {k} happened");
        assert_eq!(world.framer.borrow().items, expected_items, "crash {k}");
        // A request whose answer the crash lost is sent again: at least once, never lost.
        assert_eq!(asked(&world), expected_asked, "crash {k}");
        assert_eq!(
            *world.records.dangling.borrow(),
            expected_dangling,
            "crash {k}"
        );
    }
}

#[test]
fn a_refresh_the_other_object_cannot_take_is_a_warning_not_a_failed_run() {
    let mut world = World::new(2, false);
    world
        .records
        .dangling_elsewhere
        .borrow_mut()
        .push(("posts".into(), "post-a".into(), id(1)));
    *world.records.refresh_unavailable.borrow_mut() = true;
    let (outcome, _) = world.run(40);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    let (_, job) = last_record(&world);
    assert_eq!(job.stats.added, 2);
    assert!(
        job.stats
            .warnings
            .iter()
            .any(|w| w.contains("project posts could not be asked to read 1 row(s) again")),
        "{:?}",
        job.stats.warnings
    );
}

#[test]
fn a_row_an_earlier_version_wrote_with_its_relation_cut_is_written_whole() {
    let tags: Vec<String> = (0..60).map(tag_id).collect();
    let mut world = tags_world(vec![page_with_tags(0, &tags[..25])]);
    world.run(40);
    // What the earlier version wrote: the first 25 of a longer relation, recorded as unchanged.
    world.pages[0] = page_with_tags(0, &tags);
    world.run(40);
    assert_eq!(tags_of(&world, 0), tags);
    let (_, job) = last_record(&world);
    assert_eq!((job.stats.updated, job.stats.unchanged), (1, 0));
}

#[test]
fn a_checkpoint_writes_the_setup_only_when_it_changed_and_a_small_cursor_after_every_unit() {
    let mut world = World::new(1_200, false);
    let (outcome, steps) = world.run(5);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert!(steps.len() >= 3, "{} steps", steps.len());
    let (jobs, setups) = (
        world.staging.job_writes.get(),
        world.staging.setup_writes.get(),
    );
    assert!(jobs > 20, "{jobs} checkpoints");
    // Once when the run resolved it; again only when the mapping learned something.
    assert!(setups <= 3, "{setups} setup writes for {jobs} checkpoints");
    // And a run resumed from the checkpoint reads its setup back.
    let mut world = World::new(300, false);
    world.crashes = vec![(Some(Port::Framer), 4)];
    let (outcome, _) = world.run(5);
    assert!(matches!(outcome, StepOutcome::Succeeded), "{outcome:?}");
    assert_eq!(framer_titles(&world), 300);
}
