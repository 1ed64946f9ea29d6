// Per-invocation budgets under workerd (issue 20). Cloudflare caps what one invocation may do
// (Workers Free: 50 subrequests, 50 D1 queries); local workerd caps nothing, so these tests read
// what the Worker says it spent in its log lines and hold it to its configured budgets:
// - a sync step (one Durable Object alarm) never passes SYNC_STEP_SUBREQUESTS or
//   SYNC_STEP_D1_QUERIES, with many file uploads (sent in batches over the one Framer socket)
//   and with the alert deliveries the same alarm makes after a run (many destinations: what
//   does not fit waits for the next alarm);
// - a cron run with 200 projects due for a catch-up sync stays within Free's 50 (subrequests
//   and D1 queries together), queues a bounded number, says what it left, and later runs serve
//   the rest, least recently served first.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAccount, createProject } from "../harness/api.mjs";
import { startReceiver } from "../harness/receiver.mjs";
import { createSyncProject, startStack, syncNow } from "../harness/stack.mjs";
import { waitFor } from "../harness/worker.mjs";

const QUICK = { DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" };

/** Every line of `kind` the Worker logged for `projectId`. */
function linesOf(worker, kind, projectId) {
  return worker.logLines().filter((l) => l.kind === kind && (!projectId || l.project_id === projectId));
}

/** Asserts that every step and alarm line of the project stayed within the budgets. */
function assertWithin(worker, projectId, { subrequests, d1 }) {
  const steps = linesOf(worker, "sync_step", projectId);
  const alarms = linesOf(worker, "alarm", projectId);
  assert.ok(steps.length > 0, "the steps logged their lines");
  for (const line of [...steps, ...alarms]) {
    assert.equal(typeof line.subrequests, "number", JSON.stringify(line));
    assert.equal(typeof line.d1_queries, "number", JSON.stringify(line));
    if (line.kind === "sync_step") assert.equal(typeof line.d1_rows_written, "number", JSON.stringify(line));
    assert.ok(line.subrequests <= subrequests, `over ${subrequests} subrequests: ${JSON.stringify(line)}`);
    assert.ok(line.d1_queries <= d1, `over ${d1} D1 queries: ${JSON.stringify(line)}`);
  }
  return { steps, alarms };
}

describe("a sync step stays within its budgets", { concurrency: true }, () => {
  test("many uploads: batched over the socket, no step over its subrequests or D1 queries", async () => {
    const budget = { subrequests: 12, d1: 25 };
    const stack = await startStack({
      vars: { ...QUICK, SYNC_STEP_SUBREQUESTS: String(budget.subrequests), SYNC_STEP_D1_QUERIES: String(budget.d1) },
    });
    try {
      const { notion, framer, worker } = stack;
      const notionToken = "ntn_budget_uploads_0123456789";
      notion.addIntegration(notionToken);
      framer.addProject("BudgetUploads0000001", "fr_budget_uploads_key");
      const db = notion.addDatabase({ title: "Gallery", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: notionToken });
      const rows = 150;
      const base = Date.parse("2024-03-01T00:00:00.000Z");
      for (let i = 0; i < rows; i++) {
        notion.addPage(db.dataSourceId, { properties: { Name: `Photo ${i}`, Cover: { file: `photo-${i}.png` } }, createdTime: base + i * 60_000 });
      }
      const { token } = await createAccount(worker, { name: "Uploads" });
      const { id } = await createSyncProject(worker, token, {
        name: "Gallery", databaseId: db.databaseId, notionToken, framerProject: "BudgetUploads0000001", framerKey: "fr_budget_uploads_key",
      });
      const run = await syncNow(worker, token, id, { timeoutMs: 180_000 });
      assert.equal(run.status, "succeeded", JSON.stringify(run));
      assert.equal(run.counts.added, rows);

      const uploads = framer.uploads.filter((u) => u.projectId === "BudgetUploads0000001");
      assert.equal(uploads.length, rows, "each cover uploaded once");
      assert.ok(uploads.every((u) => u.method === "uploadImages"), "no file goes alone");
      const calls = framer.calls.filter((c) => c.method === "uploadImages").length;
      assert.ok(calls <= 8, `${calls} uploadImages calls for ${rows} files`);
      const items = [...framer.project("BudgetUploads0000001").collection("Gallery").items.values()];
      assert.ok(items.every((item) => Object.values(item.fieldData).some((f) => typeof f.value === "string" && framer.asset(f.value))));

      const { steps } = assertWithin(worker, id, budget);
      const writing = steps.filter((s) => s.sync_id === run.id);
      // D1's own count of the rows the run wrote (its record, the project's figures): some,
      // and fewer than the items (their record and assets are in the object, not in D1).
      const d1Rows = writing.reduce((sum, s) => sum + s.d1_rows_written, 0);
      assert.ok(d1Rows > 0 && d1Rows < rows, `D1 rows written ${d1Rows} for ${rows} items over ${writing.length} steps`);
      assert.ok(writing.reduce((sum, s) => sum + s.object_rows_written, 0) >= rows, "the items recorded in the object");
      console.log(`# ${rows} rows with covers: ${writing.length} steps, ${calls} uploadImages calls; per step subrequests ${writing.map((s) => s.subrequests).join(",")}; D1 queries ${writing.map((s) => s.d1_queries).join(",")}; D1 rows written ${writing.map((s) => s.d1_rows_written).join(",")}`);
    } finally {
      await stack.stop();
    }
  });

  test("alert deliveries after a run share the alarm's budget; what does not fit goes in the next alarm", async () => {
    const budget = { subrequests: 6, d1: 25 };
    const stack = await startStack({
      vars: { ...QUICK, SYNC_STEP_SUBREQUESTS: String(budget.subrequests), SYNC_STEP_D1_QUERIES: String(budget.d1) },
    });
    const receiver = await startReceiver();
    try {
      const { notion, framer, worker } = stack;
      const notionToken = "ntn_budget_alerts_0123456789";
      notion.addIntegration(notionToken);
      framer.addProject("BudgetAlerts00000001", "fr_budget_alerts_key");
      const db = notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" } }, token: notionToken });
      notion.addPage(db.dataSourceId, { properties: { Name: "Hello" } });
      const { token } = await createAccount(worker, { name: "Alerts" });
      const destinations = 10;
      for (let i = 0; i < destinations; i++) {
        const created = await worker.fetch("/api/v1/alerts", { method: "POST", token, body: { url: `${receiver.url}?d=${i}`, format: "json", name: `Ops ${i}` } });
        assert.equal(created.status, 201, created.text);
      }
      const { id } = await createSyncProject(worker, token, {
        name: "Blog", databaseId: db.databaseId, notionToken, framerProject: "BudgetAlerts00000001", framerKey: "fr_budget_alerts_key", auto_sync: false,
      });
      assert.equal((await syncNow(worker, token, id)).status, "succeeded");

      notion.revoke(notionToken);
      const failed = await syncNow(worker, token, id);
      assert.equal(failed.status, "failed");
      const alerts = await waitFor(() => {
        const raised = receiver.matching((j) => j?.type === "alert.raised" && j.kind === "sync_failing");
        return raised.length >= destinations ? raised : null;
      }, { timeoutMs: 60_000, what: "the alert at every destination" });
      assert.deepEqual(new Set(alerts.map((a) => a.path)).size, destinations, "one alert per destination");

      // Each alarm logs its line once its deliveries are done (after the receiver saw them).
      const delivered = (lines) => lines.reduce((n, a) => n + Number(a.note.match(/(\d+) delivered/)[1]), 0);
      await waitFor(() => delivered(linesOf(worker, "alarm", id)) >= destinations, { what: "every delivery's alarm line" });
      const { alarms } = assertWithin(worker, id, budget);
      assert.ok(alarms.length >= 2, "the deliveries took more than one alarm");
      assert.ok(alarms.some((a) => a.note.includes("left for the next alarm")), JSON.stringify(alarms));
      assert.equal(delivered(alarms), destinations, JSON.stringify(alarms));
      console.log(`# ${destinations} destinations: delivered over ${alarms.length} alarms; subrequests ${alarms.map((a) => a.subrequests).join(",")}; D1 queries ${alarms.map((a) => a.d1_queries).join(",")}`);
    } finally {
      await receiver.stop();
      await stack.stop();
    }
  });
});

test("a cron run with 200 due projects stays within Free's 50 and later runs serve the rest", async () => {
  const stack = await startStack({ vars: QUICK });
  try {
    const { worker } = stack;
    const { token } = await createAccount(worker, { name: "Many" });
    const due = 200;
    const ids = [];
    // auto-sync on, never synced: every one is due for a catch-up sync. Their Notion token is
    // unknown to the fake, so each queued run fails at once.
    for (let i = 0; i < due; i++) ids.push((await createProject(worker, token, { name: `P${i}`, auto_sync: true })).id);

    const served = async () => (await worker.query("SELECT COUNT(*) AS n FROM catch_up_turns"))[0].n;
    // One cron run is one invocation: its catch-up line (what that spent, the outbox pruning
    // included), then the pruning's line (one D1 query per round).
    const cronRun = async () => {
      const seen = linesOf(worker, "retention").length;
      const res = await fetch(`${worker.url}/__scheduled?cron=*/15+*+*+*+*`);
      assert.equal(res.status, 200);
      const retention = await waitFor(() => linesOf(worker, "retention")[seen], { what: "the cron's pruning line" });
      const line = linesOf(worker, "scheduled")[seen];
      return { ...line, spent: line.subrequests + line.d1_queries + retention.d1_calls };
    };

    const first = await cronRun();
    assert.equal(first.error_code, undefined, JSON.stringify(first));
    assert.ok(first.spent <= 50, JSON.stringify(first));
    assert.match(first.note, /^10 of 200 catch-up syncs queued/);
    assert.match(first.note, /left for the next run: 190 catch-up syncs/);
    assert.equal(await served(), 10);

    const lines = [first];
    while ((await served()) < due) {
      assert.ok(lines.length < due / 10 + 2, "every run serves its share");
      const line = await cronRun();
      assert.ok(line.spent <= 50, JSON.stringify(line));
      lines.push(line);
    }
    assert.equal(lines.length, due / 10, "least recently served first: ten new projects per run");
    // Every project was queued once: each got its (failed) catch-up run.
    await waitFor(async () => (await worker.query("SELECT COUNT(DISTINCT project_id) AS n FROM sync_runs WHERE trigger = 'schedule'"))[0].n === due, {
      timeoutMs: 120_000, intervalMs: 500, what: "a catch-up run for every project",
    });
    assert.ok(linesOf(worker, "retention").every((l) => l.d1_calls >= 1), "the pruning got its share every run");
    console.log(`# cron with ${due} due projects: ${lines.length} runs; spent (subrequests + D1 queries) ${lines.map((l) => l.spent).join(",")}`);
  } finally {
    await stack.stop();
  }
});
