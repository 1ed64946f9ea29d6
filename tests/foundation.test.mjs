// The architecture end to end: the built wasm under workerd, local D1, a per-project Durable
// Object whose alarm coalesces requests and writes its run to D1.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createAccount, createProject, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

const DEBOUNCE_MAX_WAIT_S = 10;
let worker;
let notion;
before(async () => {
  // A fake Notion that knows no integration: each run ends at once as notion_unauthorized.
  notion = await startFakeNotion();
  worker = await startWorker({ vars: { DEBOUNCE_SECONDS: "1.5", DEBOUNCE_MAX_WAIT_SECONDS: String(DEBOUNCE_MAX_WAIT_S), NOTION_API_BASE: notion.url } });
});
after(async () => {
  await worker?.stop();
  await notion?.close();
});

test("GET /healthz reports D1 reachable and the schema version", async () => {
  const res = await worker.fetch("/healthz");
  assert.equal(res.status, 200);
  assert.equal(res.json.ok, true);
  assert.equal(res.json.d1, "reachable");
  const applied = await worker.query("SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1");
  assert.equal(res.json.schema_version, applied[0].name);
  assert.match(res.json.schema_version, /^\d{4}_.+\.sql$/);
});

test("unknown routes are JSON 404s and wrong methods 405 with Allow", async () => {
  const missing = await worker.fetch("/nope");
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, "not_found");
  const wrong = await worker.fetch("/healthz", { method: "POST" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET");
});

async function projectWithWebhook(token) {
  const project = await createProject(worker, token);
  const secret = await verify(worker, webhookPath(project));
  return { project, secret };
}

async function runsOf(projectId) {
  return (await worker.runsOf(projectId)).map(({ id, trigger, status, events }) => ({ id, trigger, status, events }));
}

test("N events to one object inside the window give one alarm run; K objects give K runs", async () => {
  const { token } = await createAccount(worker);
  const projects = [];
  for (let i = 0; i < 3; i++) projects.push(await projectWithWebhook(token));

  const burst = 6;
  const burstStarted = Date.now();
  await Promise.all(
    projects.flatMap(({ project, secret }) =>
      Array.from({ length: burst }, () =>
        deliver(worker, webhookPath(project), pageEvent({ databaseId: project.notion.database_id }), { token: secret }).then((res) => {
          assert.equal(res.status, 200, res.text);
          assert.equal(res.json.outcome, "queued");
        }),
      ),
    ),
  );

  const firstRuns = [];
  for (const { project } of projects) {
    const [run] = await waitFor(async () => {
      const rows = await runsOf(project.id);
      return rows.length > 0 && rows.every((r) => r.status !== "running") && rows;
    }, { what: `the alarm run of ${project.id}` });
    assert.equal(run.trigger, "webhook");
    assert.equal(run.events, burst, `one run took all ${burst} events: ${JSON.stringify(run)}`);
    firstRuns.push(run);
  }
  // A wrongly split batch would have its alarm by the max wait after the burst's first event
  // (+1 s for it to start and write its run): until then, every object keeps exactly its one run.
  const windowLeft = burstStarted + (DEBOUNCE_MAX_WAIT_S + 1) * 1000 - Date.now();
  await holdsFor(async () => {
    for (const [i, { project }] of projects.entries()) {
      const rows = await runsOf(project.id);
      assert.deepEqual(rows.map((r) => r.id), [firstRuns[i].id], `exactly one run for ${burst} events: ${JSON.stringify(rows)}`);
    }
    return true;
  }, { forMs: Math.max(windowLeft, 0), intervalMs: 200, what: "one run per object" });
  const lines = worker.logLines().filter((l) => l.kind === "sync_step");
  assert.equal(new Set(lines.map((l) => l.project_id)).size, projects.length);
});

test("every request and sync step logs one JSON line, without secrets", async () => {
  const { token } = await createAccount(worker, { name: "Logs" });
  const { project, secret } = await projectWithWebhook(token);
  await deliver(worker, webhookPath(project), pageEvent({ databaseId: project.notion.database_id }), { token: secret });
  // The Worker's output reaches this process asynchronously: wait for this test's own lines (its
  // four requests: account, project, verification, event; and the alarm) before reading them.
  const webhookLines = (lines) => lines.filter((l) => l.kind === "request" && l.route === "/webhooks/notion/{webhook_key}" && l.project_id === project.id);
  const lines = await waitFor(() => {
    const all = worker.logLines();
    const alarm = all.some((l) => l.kind === "sync_step" && l.project_id === project.id);
    return alarm && webhookLines(all).length >= 2 && all.filter((l) => l.kind === "request").length >= 4 && all;
  }, { what: "the request and alarm log lines" });
  const requests = lines.filter((l) => l.kind === "request");
  assert.ok(requests.length >= 4, `${requests.length} request lines`);
  for (const line of requests) {
    assert.equal(typeof line.route, "string");
    assert.equal(typeof line.status, "number");
    assert.equal(typeof line.duration_ms, "number");
  }
  assert.deepEqual(webhookLines(requests).map((l) => l.status), [200, 200], "webhook requests log their pattern, project and status");
  // wrangler's own access log prints request paths (webhook keys); the Worker's output must not.
  const everything = worker.logs.filter((l) => !/^\[wrangler:info\] (GET|POST|PATCH|DELETE) \//.test(l)).join("\n");
  for (const s of [secret, token, worker.adminToken, project.webhook.url.split("/").pop(), "ntn_test_token_0123456789abcdef", "fr_test_key_0123456789abcdef"]) {
    assert.ok(!everything.includes(s), `a secret reached the logs: ${s.slice(0, 6)}…`);
  }
});
