// The stepped sync (issue 11) under workerd: a run is a resumable job of bounded steps, each
// logging one {"kind":"sync_step"} line; it survives the runtime being killed, skips the rows
// Framer refuses instead of failing, and holds at most one page of rows in memory.
//
// The parts run side by side, each on its own Worker and fakes. The Worker's Notion client paces
// itself at about 3 requests/s, so the 300-row runs with page bodies (one Notion call per row)
// take about 100 s each and the 5,000-row run (50 queries) about 20 s: sizes that still take
// dozens of steps and several query pages, and keep the file near two minutes on two cores.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { createSyncProject, startStack } from "../harness/stack.mjs";
import { waitFor } from "../harness/worker.mjs";

const COLLECTION = "Posts";
const BODY_ROWS = 300;
const STEP_BUDGET = 10;
const MEMORY_ROWS = 5_000;
// One page of a Notion query: what a step may hold in memory at once.
const PAGE_ROWS = 100;
const RUN_TIMEOUT_MS = 900_000;
const QUICK_DEBOUNCE = { DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" };
const BASE_TIME = Date.parse("2024-01-01T00:00:00.000Z");

/** Starts a Worker with fakes, hands it to `body` with an account and a Notion token, stops it. */
async function withStack({ vars = {}, name }, body) {
  const stack = await startStack({ vars: { ...QUICK_DEBOUNCE, ...vars } });
  try {
    const { token } = await createAccount(stack.worker, { name });
    const notionToken = stack.notion.addIntegration(`ntn_${name.toLowerCase().replaceAll(/[^a-z]/g, "")}_0123456789abcdef`);
    return await body({ ...stack, token, notionToken });
  } finally {
    await stack.stop();
  }
}

/** A Notion database and a project syncing it into a new Framer project. */
async function syncedDatabase({ notion, framer, worker, token, notionToken }, { properties, framerProject, settings = {} }) {
  const db = notion.addDatabase({ title: "Posts", properties, token: notionToken });
  const framerKey = `fr_${framerProject.toLowerCase()}_key`;
  framer.addProject(framerProject, framerKey, { name: "Site" });
  const project = await createSyncProject(worker, token, {
    name: framerProject, databaseId: db.databaseId, notionToken, framerProject, framerKey, collection: COLLECTION, ...settings,
  });
  return { db, project };
}

/** One row per minute (created_time has minute precision in Notion), titled "Row i". */
function addRows(notion, dataSourceId, count, { bodies = false, properties = () => ({}) } = {}) {
  const rows = [];
  for (let i = 0; i < count; i++) {
    const title = `Row ${i}`;
    const id = notion.addPage(dataSourceId, {
      properties: { Name: title, ...properties(i) },
      children: bodies ? bodyOf(i) : [],
      createdTime: BASE_TIME + i * 60_000,
    });
    rows.push({ id, title, html: bodies ? bodyHtml(i) : "" });
  }
  return rows;
}

function bodyOf(i) {
  return [{ heading_2: `Part ${i}` }, { paragraph: [{ text: "Row", bold: true }, ` number ${i}`] }];
}

function bodyHtml(i) {
  return `<h2>Part ${i}</h2><p><strong>Row</strong> number ${i}</p>`;
}

/** "Sync now"; its sync id. */
async function syncNow(worker, token, projectId) {
  const res = await worker.fetch(`/api/v1/projects/${projectId}/sync`, { method: "POST", token, body: {} });
  assert.equal(res.status, 202, res.text);
  assert.ok(res.json.sync_id, res.text);
  return res.json.sync_id;
}

async function runsOf(worker, token, projectId) {
  const res = await worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=100`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json.syncs;
}

/**
 * Waits for run `syncId` to finish; `onRunning` sees every record read while it still runs.
 * Polls through restarts: a poll that finds the runtime down waits for the next.
 */
function finishedRun(worker, token, projectId, syncId, { timeoutMs = RUN_TIMEOUT_MS, onRunning = () => {} } = {}) {
  return waitFor(async () => {
    let runs;
    try {
      runs = await runsOf(worker, token, projectId);
    } catch (error) {
      if (error?.cause?.code === "ECONNREFUSED") return null;
      throw error;
    }
    const run = runs.find((r) => r.id === syncId);
    if (run?.status === "running") onRunning(run);
    return run && run.status !== "running" ? run : null;
  }, { timeoutMs, intervalMs: 500, what: `sync ${syncId} to finish` });
}

/** The Worker's {"kind":"sync_step"} log lines of one run, in order. */
function stepLines(worker, syncId) {
  return worker.logLines().filter((line) => line.kind === "sync_step" && line.sync_id === syncId);
}

/** Waits until run `syncId` has logged at least `count` steps. */
function untilSteps(worker, syncId, count, what) {
  return waitFor(() => stepLines(worker, syncId).length >= count, { timeoutMs: 120_000, intervalMs: 200, what });
}

/** The fake Framer collection as Map(item id -> {field name: value}). */
function framerRows(framer, framerProject) {
  const collection = framer.project(framerProject).collection(COLLECTION);
  if (!collection) return new Map();
  const names = new Map(collection.fields.map((field) => [field.id, field.name]));
  return new Map([...collection.items.values()].map((item) => [
    item.id,
    Object.fromEntries(Object.entries(item.fieldData).map(([id, entry]) => [names.get(id), entry.value])),
  ]));
}

/** Framer holds exactly the Notion rows: same ids, titles and (when given) rendered bodies. */
function assertFramerEqualsNotion(items, rows, { bodies }) {
  assert.equal(items.size, rows.length, "one Framer item per Notion row");
  const mismatches = [];
  for (const row of rows) {
    const item = items.get(row.id);
    if (!item) mismatches.push(`${row.title}: missing`);
    else if (item.Name !== row.title) mismatches.push(`${row.title}: title ${JSON.stringify(item.Name)}`);
    else if (bodies && item["Page content"] !== row.html) mismatches.push(`${row.title}: body ${JSON.stringify(item["Page content"])}`);
  }
  assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} rows differ`);
}

/** The step lines are those of one whole run: numbered from 1, every step within the budget. */
function assertStepsWithin(lines, budget) {
  assert.ok(lines.length > 0, "the run logged sync_step lines");
  const over = lines.filter((line) => !(line.subrequests <= budget));
  assert.deepEqual(over, [], `steps above ${budget} subrequests`);
  const overHeld = lines.filter((line) => !(line.rows_held_max <= PAGE_ROWS));
  assert.deepEqual(overHeld, [], `steps holding more than ${PAGE_ROWS} rows`);
  assert.equal(lines.at(-1).outcome, "succeeded", JSON.stringify(lines.at(-1)));
  for (const line of lines.slice(0, -1)) assert.ok(["continue", "interrupted"].includes(line.outcome), JSON.stringify(line));
}

// ------------------------------------------------------------------ rows with page bodies

/**
 * The BODY_ROWS-row run with page bodies at SYNC_STEP_SUBREQUESTS=10, from one "Sync now", with the
 * runtime killed `kills` times (each after a few more steps) and started again on its state.
 */
async function bodiesRun({ kills, name }) {
  return withStack({ name, vars: { SYNC_STEP_SUBREQUESTS: String(STEP_BUDGET) } }, async (stack) => {
    const { notion, framer, worker, token } = stack;
    const framerProject = `${name}BodiesProject`.padEnd(20, "0").slice(0, 20);
    const { db, project } = await syncedDatabase(stack, {
      properties: { Name: { type: "title" } }, framerProject, settings: { page_body: true },
    });
    const rows = addRows(notion, db.dataSourceId, BODY_ROWS, { bodies: true });
    notion.resetStats();
    const started = Date.now();
    const syncId = await syncNow(worker, token, project.id);

    const restarts = [];
    for (let kill = 1; kill <= kills; kill++) {
      await untilSteps(worker, syncId, stepLines(worker, syncId).length + 5, `5 more steps before kill ${kill}`);
      await worker.kill();
      const stepsAtKill = stepLines(worker, syncId).length;
      await worker.start();
      restarts.push(stepsAtKill);
      await untilSteps(worker, syncId, stepsAtKill + 1, `the run to take a step after restart ${kill}`);
    }

    const seenWhileRunning = [];
    const run = await finishedRun(worker, token, project.id, syncId, { onRunning: (r) => seenWhileRunning.push(r) });
    return {
      projectId: project.id,
      syncId,
      run,
      wallSeconds: (Date.now() - started) / 1000,
      notionCalls: notion.stats.requests,
      lines: stepLines(worker, syncId),
      restarts,
      seenWhileRunning,
      rows,
      items: framerRows(framer, framerProject),
      runs: await runsOf(worker, token, project.id),
      storedRuns: await worker.query("SELECT id, status FROM sync_runs WHERE project_id = ?", project.id),
    };
  });
}

let uninterruptedRun;
function uninterrupted() {
  uninterruptedRun ??= bodiesRun({ kills: 0, name: "Plain" });
  return uninterruptedRun;
}

describe("stepped sync under workerd", { concurrency: true }, () => {
  describe(`${BODY_ROWS} rows with page bodies, SYNC_STEP_SUBREQUESTS=${STEP_BUDGET}`, { concurrency: true }, () => {
    test("one Sync now runs to the end over many steps, none above the budget, and Framer equals Notion", async (t) => {
      const result = await uninterrupted();
      const { run, lines } = result;
      t.diagnostic(`${lines.length} steps, ${result.notionCalls} Notion calls, ${result.wallSeconds.toFixed(0)} s`);
      assert.equal(run.status, "succeeded", JSON.stringify(run));
      assert.deepEqual(result.runs.map((r) => r.id), [result.syncId], "one run, from the one click");
      assert.deepEqual(run.counts, { added: BODY_ROWS, updated: 0, removed: 0, unchanged: 0, skipped: 0 });

      assertStepsWithin(lines, STEP_BUDGET);
      // The body reads alone need BODY_ROWS / 10 steps of 10.
      assert.ok(lines.length >= Math.ceil(BODY_ROWS / STEP_BUDGET), `${lines.length} steps`);
      assert.deepEqual(lines.map((line) => line.step), lines.map((_, i) => i + 1), "steps numbered 1..n");
      assert.equal(run.steps, lines.length, "the run record counts the steps logged");
      assert.ok(lines.every((line) => line.project_id === result.projectId), "every line names the project");
      const loggedNotionCalls = lines.reduce((sum, line) => sum + line.notion_calls, 0);
      assert.equal(loggedNotionCalls, result.notionCalls, "the steps' notion_calls add up to the calls Notion received");

      // The record moved while the run was in flight, and is closed now.
      const stepsSeen = new Set(result.seenWhileRunning.map((r) => r.steps));
      assert.ok(stepsSeen.size >= 2, `a poller sees the step count move (saw ${[...stepsSeen].join(", ")})`);
      assert.ok(result.seenWhileRunning.some((r) => r.progress.phase !== null && r.progress.rows_read > 0), "progress shown while running");
      assert.equal(run.progress.phase, null);
      assert.equal(run.progress.rows_read, BODY_ROWS);
      assert.equal(run.progress.items_written, BODY_ROWS);

      assertFramerEqualsNotion(result.items, result.rows, { bodies: true });
    });

    test("killed twice mid-run, it resumes on its own and finishes with at most 1.1x the Notion calls", async (t) => {
      const result = await bodiesRun({ kills: 2, name: "Killed" });
      const { run, lines } = result;
      t.diagnostic(`killed after steps ${result.restarts.join(" and ")}; ${lines.length} steps, ${result.notionCalls} Notion calls, ${result.wallSeconds.toFixed(0)} s`);
      assert.equal(run.status, "succeeded", JSON.stringify(run));
      assert.deepEqual(result.runs.map((r) => [r.id, r.status]), [[result.syncId, "succeeded"]], "the same run resumed: no other record");
      assert.deepEqual(result.storedRuns.filter((r) => r.status === "running"), [], "no record left running in D1");
      assert.equal(run.counts.added, BODY_ROWS);
      assertStepsWithin(lines, STEP_BUDGET);
      assertFramerEqualsNotion(result.items, result.rows, { bodies: true });

      const baseline = await uninterrupted();
      assert.equal(baseline.run.status, "succeeded", "the uninterrupted run is the baseline");
      assert.ok(
        result.notionCalls <= 1.1 * baseline.notionCalls,
        `${result.notionCalls} Notion calls against ${baseline.notionCalls} uninterrupted (limit 1.1x)`,
      );
    });
  });

  // ---------------------------------------------------------------- what resuming relies on

  test("Durable Object alarms survive a killed runtime: a future one fires on time, a running one fires again", async () => {
    // The debounce outlasts the restart (wrangler dev takes several seconds to start).
    await withStack({ name: "Alarms", vars: { DEBOUNCE_SECONDS: "20", DEBOUNCE_MAX_WAIT_SECONDS: "60" } }, async (stack) => {
      const { notion, worker, token } = stack;
      const properties = { Name: { type: "title" } };
      const debounced = await syncedDatabase(stack, { properties, framerProject: "AlarmDebouncedProj01", settings: { auto_sync: true } });
      const running = await syncedDatabase(stack, { properties, framerProject: "AlarmRunningProject1" });
      const debouncedRow = addRows(notion, debounced.db.dataSourceId, 1)[0];
      addRows(notion, running.db.dataSourceId, 1);

      // A webhook event arms the first project's alarm 20 s ahead.
      const secret = await verify(worker, webhookPath(debounced.project));
      const event = pageEvent({ databaseId: debounced.db.databaseId, dataSourceId: debounced.db.dataSourceId, pageId: debouncedRow.id });
      assert.equal((await deliver(worker, webhookPath(debounced.project), event, { token: secret })).status, 200);
      const pending = (await worker.fetch(`/api/v1/projects/${debounced.project.id}`, { token })).json.project.sync.pending;
      const dueMs = Date.parse(pending.alarm_at);
      assert.ok(dueMs > Date.now() + 15_000, JSON.stringify(pending));

      // The second project's run is inside its alarm, waiting out a Retry-After, when the runtime dies.
      notion.failNext({ status: 429, retryAfter: 30, match: "POST /v1/data_sources/:id/query" });
      const syncId = await syncNow(worker, token, running.project.id);
      await waitFor(() => notion.stats.injected === 1, { what: "the run to reach the refused query" });
      await worker.kill();
      await worker.start();
      assert.ok(Date.now() < dueMs, "restarted before the debounced alarm was due");

      const resumed = await finishedRun(worker, token, running.project.id, syncId, { timeoutMs: 25_000 });
      assert.equal(resumed.status, "succeeded", JSON.stringify(resumed));
      assert.deepEqual((await runsOf(worker, token, running.project.id)).map((r) => r.id), [syncId], "the killed run went on under its id");

      const fired = await waitFor(async () => (await runsOf(worker, token, debounced.project.id)).find((r) => r.status !== "running"), {
        timeoutMs: dueMs - Date.now() + 20_000, intervalMs: 200, what: "the debounced alarm's run",
      });
      assert.equal(fired.status, "succeeded", JSON.stringify(fired));
      assert.equal(fired.trigger, "webhook");
      assert.ok(Date.parse(fired.started_at) >= dueMs, `started ${fired.started_at}, due ${pending.alarm_at}`);
    });
  });

  // ---------------------------------------------------------------- rows Framer refuses

  test("rows Framer refuses are skipped and listed; a fixed one is written after its webhook", async () => {
    await withStack({ name: "Refused" }, async (stack) => {
      const { notion, framer, worker, token } = stack;
      const framerProject = "RefusedRowsProject01";
      const { db, project } = await syncedDatabase(stack, {
        properties: { Name: { type: "title" }, Cover: { type: "files" } },
        framerProject,
        settings: { auto_sync: true },
      });
      const secret = await verify(worker, webhookPath(project));
      // 30 good rows; row 0's cover was typed without a scheme, which Notion keeps as typed.
      const good = addRows(notion, db.dataSourceId, 30, {
        properties: (i) => ({ Cover: { external: i === 0 ? "www.example.com/c.png" : `https://cdn.example.com/cover-${i}.png` } }),
      });
      const bad = {
        // Unparseable: a space in the host (no scheme to add can fix it).
        unparseable: notion.addPage(db.dataSourceId, {
          properties: { Name: "Broken cover", Cover: { external: "https://exa mple.com/c.png" } }, createdTime: BASE_TIME + 40 * 60_000,
        }),
        // The wrong kind of value for an image: a URL, but not one Framer can download.
        wrongKind: notion.addPage(db.dataSourceId, {
          properties: { Name: "FTP cover", Cover: { external: "ftp://files.example.com/c.png" } }, createdTime: BASE_TIME + 41 * 60_000,
        }),
      };

      const syncId = await syncNow(worker, token, project.id);
      const run = await finishedRun(worker, token, project.id, syncId, { timeoutMs: 120_000 });
      assert.equal(run.status, "succeeded", JSON.stringify(run));
      assert.equal(run.counts.added, 30, JSON.stringify(run.counts));
      assert.equal(run.counts.skipped, 2, JSON.stringify(run.counts));
      const items = framerRows(framer, framerProject);
      assert.deepEqual([...items.keys()].sort(), good.map((row) => row.id).sort(), "the 30 good rows, and only they, in Framer");
      assert.equal(items.get(good[0].id).Cover, "https://www.example.com/c.png", "a scheme-less URL gets https://");
      assert.equal(items.get(good[1].id).Cover, "https://cdn.example.com/cover-1.png");

      const skipped = [...run.skipped_rows].sort((a, b) => a.title.localeCompare(b.title));
      assert.deepEqual(skipped.map(({ page_id, title, url, property }) => ({ page_id, title, url, property })), [
        { page_id: bad.unparseable, title: "Broken cover", url: `https://www.notion.so/${bad.unparseable.replaceAll("-", "")}`, property: "Cover" },
        { page_id: bad.wrongKind, title: "FTP cover", url: `https://www.notion.so/${bad.wrongKind.replaceAll("-", "")}`, property: "Cover" },
      ]);
      for (const row of skipped) {
        assert.equal(typeof row.reason, "string");
        assert.ok(row.reason.length > 0, `a reason for ${row.title}`);
      }

      // Fixed in Notion, announced by its webhook: the next run writes it.
      notion.updatePage(bad.unparseable, { Cover: { external: "https://example.com/fixed.png" } });
      const event = pageEvent({ databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: bad.unparseable });
      const delivered = await deliver(worker, webhookPath(project), event, { token: secret });
      assert.equal(delivered.status, 200, delivered.text);
      const next = await waitFor(async () => {
        const later = (await runsOf(worker, token, project.id)).filter((r) => r.id !== syncId);
        return later.length > 0 && later.every((r) => r.status !== "running") && later[0];
      }, { timeoutMs: 120_000, intervalMs: 200, what: "the webhook's run" });
      assert.equal(next.status, "succeeded", JSON.stringify(next));
      assert.equal(next.trigger, "webhook");
      const after = framerRows(framer, framerProject);
      assert.equal(after.size, 31);
      assert.equal(after.get(bad.unparseable)?.Name, "Broken cover");
      assert.equal(after.get(bad.unparseable)?.Cover, "https://example.com/fixed.png");
      assert.ok(!after.has(bad.wrongKind), "the row still refused stays out");
    });
  });

  // ---------------------------------------------------------------- memory

  test(`${MEMORY_ROWS} rows: no step holds more than one page of rows`, async (t) => {
    await withStack({ name: "Memory" }, async (stack) => {
      const { notion, framer, worker, token } = stack;
      const framerProject = "MemoryRowsProject001";
      const { db, project } = await syncedDatabase(stack, {
        properties: { Name: { type: "title" }, Views: { type: "number" } }, framerProject,
      });
      const rows = addRows(notion, db.dataSourceId, MEMORY_ROWS, { properties: (i) => ({ Views: i }) });
      const started = Date.now();
      const syncId = await syncNow(worker, token, project.id);
      const run = await finishedRun(worker, token, project.id, syncId);
      const lines = stepLines(worker, syncId);
      t.diagnostic(`${MEMORY_ROWS} rows in ${((Date.now() - started) / 1000).toFixed(0)} s, ${lines.length} steps, ${notion.stats.requests} Notion calls`);
      assert.equal(run.status, "succeeded", JSON.stringify(run));
      assert.equal(run.counts.added, MEMORY_ROWS);
      assertStepsWithin(lines, 40);
      assert.ok(lines.length > 1, `${lines.length} steps`);
      const held = Math.max(...lines.map((line) => line.rows_held_max));
      assert.ok(held > 0 && held <= PAGE_ROWS, `at most ${PAGE_ROWS} rows held at once (max ${held})`);
      assertFramerEqualsNotion(framerRows(framer, framerProject), rows, { bodies: false });
    });
  });
});
