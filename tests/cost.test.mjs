// A run costs what it changes (issue 20): a one-row webhook run on a 10,000-item project writes
// at most 50 rows in all (D1 and the object's SQLite) and makes at most 10 D1 queries, read
// from the run's own counters (its sync_step log lines). Before the record of items moved into
// the object, the same run copied all 10,000 items into the object and deleted them again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { createSyncProject, stackForFile, syncNow } from "../harness/stack.mjs";
import { waitFor } from "../harness/worker.mjs";

const ROWS = 10_000;
const stack = stackForFile({ vars: { DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" } });

test("a one-row webhook run on a 10,000-item project writes at most 50 rows and makes at most 10 D1 queries", { timeout: 600_000 }, async () => {
  const { notion, framer, worker } = stack;
  const notionToken = "ntn_cost_test_token_0123456789";
  notion.addIntegration(notionToken);
  framer.addProject("CostTestProject00001", "fr_cost_test_key");
  const db = notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" }, Views: { type: "number" } }, token: notionToken });
  const base = Date.parse("2024-01-01T00:00:00.000Z");
  const pages = [];
  for (let i = 0; i < ROWS; i++) {
    pages.push(notion.addPage(db.dataSourceId, { properties: { Name: `Post ${i}`, Views: i }, createdTime: base + i * 60_000, editedTime: base + i * 60_000 }));
  }
  const { token } = await createAccount(worker, { name: "Cost" });
  const project = await createSyncProject(worker, token, {
    name: "Posts", databaseId: db.databaseId, notionToken, framerProject: "CostTestProject00001", framerKey: "fr_cost_test_key", auto_publish: false,
  });
  const first = await syncNow(worker, token, project.id, { timeoutMs: 540_000 });
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  assert.equal(first.counts.added, ROWS);

  const secret = await verify(worker, webhookPath(project));
  notion.updatePage(pages[4_242], { Views: 424_242 });
  const delivered = await deliver(worker, webhookPath(project), pageEvent({ databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: pages[4_242] }), { token: secret });
  assert.equal(delivered.json.outcome, "queued", delivered.text);
  const run = await waitFor(async () => {
    const runs = (await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=5`, { token })).json.syncs;
    return runs.find((r) => r.id !== first.id && r.status !== "running");
  }, { timeoutMs: 60_000, what: "the webhook run" });
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.scope, "incremental");
  assert.deepEqual(run.counts, { added: 0, updated: 1, removed: 0, unchanged: 0, skipped: 0 });

  const steps = worker.logLines().filter((l) => l.kind === "sync_step" && l.sync_id === run.id);
  assert.ok(steps.length > 0, "the run's steps logged their lines");
  const sum = (field) => steps.reduce((total, line) => total + (line[field] ?? 0), 0);
  for (const field of ["object_rows_written", "d1_queries"]) {
    assert.ok(steps.every((l) => typeof l[field] === "number"), `every step line counts ${field}`);
  }
  const objectRows = sum("object_rows_written");
  const d1Rows = sum("d1_rows_written");
  const d1Queries = sum("d1_queries");
  console.log(`one-row webhook run on ${ROWS} items: ${steps.length} step(s), ${objectRows} rows written to the object's SQLite, ${d1Rows} to D1, ${d1Queries} D1 queries`);
  assert.ok(objectRows + d1Rows <= 50, `${objectRows} + ${d1Rows} rows written`);
  assert.ok(d1Queries <= 10, `${d1Queries} D1 queries`);
});
