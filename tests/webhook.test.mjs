// Notion webhook ingestion under workerd: verification, signatures, dedupe, routing, the
// per-database debounce and the catch-up cron. Syncs run against a fake Notion that knows no
// integration token, so every run ends quickly (and visibly) as notion_unauthorized: these
// tests count runs, the sync tests check their content.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFileSync } from "node:fs";
import { createAccount, createProject, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startSlowNotion } from "../harness/slow-notion.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

const DEBOUNCE_S = 1.5;
const MAX_WAIT_S = 4;
// A wrongly queued batch would sync at the latest MAX_WAIT_S after its first event; one more
// second lets its alarm start and write its run record. Claims that no run happens watch this
// whole window after the last event.
const NO_RUN_WINDOW_MS = (MAX_WAIT_S + 1) * 1000;

// Every Notion answer is a 401 after `slowNotion.delayMs`: a sync that takes a while.
let slowNotion;

let worker;
let account;
before(async () => {
  slowNotion = await startSlowNotion();
  worker = await startWorker({
    vars: {
      DEBOUNCE_SECONDS: String(DEBOUNCE_S),
      DEBOUNCE_MAX_WAIT_SECONDS: String(MAX_WAIT_S),
      NOTION_API_BASE: slowNotion.url,
      CATCH_UP_INTERVAL_SECONDS: "1",
      // Off by default; one test here exercises it.
      SHARED_WEBHOOK_URL: "on",
    },
  });
  account = await createAccount(worker);
});
after(async () => {
  await worker?.stop();
  slowNotion.close();
});

/** The project's runs, oldest first (D1's newest ones and the object's history). */
const runsOf = (id) => worker.runsOf(id);
/** The deliveries the project's object recorded (its ledger; D1 keeps counters only). */
const eventsOf = (id) => worker.eventsOf(id);
const status = async (id) => (await worker.fetch(`/api/v1/projects/${id}`, { token: account.token })).json.project;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** No run other than `expectedIds` appears for the project during the whole window. */
const noOtherRun = (id, expectedIds, what) =>
  holdsFor(async () => {
    assert.deepEqual((await runsOf(id)).map((r) => r.id), expectedIds, what);
    return true;
  }, { forMs: NO_RUN_WINDOW_MS, intervalMs: 200, what });
// The project's object copies its event ledger to D1 right after answering; the counters follow.
const statusWhen = (id, check, what) =>
  waitFor(async () => {
    const s = await status(id);
    return check(s) && s;
  }, { what, timeoutMs: 10_000 });

async function verifiedProject(overrides) {
  const project = await createProject(worker, account.token, overrides);
  const secret = await verify(worker, webhookPath(project));
  return { project, secret, path: webhookPath(project) };
}

/** Once at least `atLeast` runs exist and none is running: the runs. */
function finishedRuns(projectId, { atLeast = 1 } = {}) {
  return waitFor(async () => {
    const runs = await runsOf(projectId);
    return runs.length >= atLeast && runs.every((r) => r.status !== "running") && runs;
  }, { what: `${atLeast} finished run(s)`, timeoutMs: 30_000 });
}

test("the Worker accepts exactly what the official SDK signs (vectors/notion-signatures.json)", async () => {
  const vectors = JSON.parse(readFileSync(new URL("../vectors/notion-signatures.json", import.meta.url), "utf8"));
  assert.ok(vectors.cases.length >= 5);
  // The database the vectors' events are about, so that they are relevant to the project.
  const databaseId = vectors.cases.map((c) => JSON.parse(c.body).data?.parent?.id).find(Boolean);
  const notion = { token: "ntn_test_token_0123456789abcdef", database_id: databaseId };
  for (const c of vectors.cases) {
    // A project gets the vector's token through Notion's verification flow: the verification
    // request to its webhook URL, then "I've verified in Notion".
    const project = await createProject(worker, account.token, { notion, auto_sync: false });
    const path = webhookPath(project);
    const verification = JSON.stringify({ verification_token: c.verification_token });
    assert.equal((await deliver(worker, path, verification)).status, 200, c.name);
    const confirmed = await worker.fetch(`/api/v1/projects/${project.id}/webhook/confirm`, { method: "POST", token: account.token });
    assert.equal(confirmed.status, 200, `${c.name}: ${confirmed.text}`);
    if (c.body === verification) continue; // Notion's own verification request: delivered above.

    const delivered = await deliver(worker, path, c.body, { signature: c.x_notion_signature });
    assert.equal(delivered.status, 200, `${c.name}: ${delivered.text}`);
    // Authentic and stored; about this database (or about none), so counted and not synced.
    assert.ok(["auto_sync_off", "ignored"].includes(delivered.json.outcome), `${c.name}: ${delivered.text}`);

    // One byte more, or one hex digit of the signature changed: not Notion's, refused.
    const flipped = c.x_notion_signature.slice(0, -1) + (c.x_notion_signature.endsWith("0") ? "1" : "0");
    for (const [body, signature, how] of [
      [`${c.body} `, c.x_notion_signature, "tampered body"],
      [c.body, flipped, "tampered signature"],
    ]) {
      const refused = await deliver(worker, path, body, { signature });
      assert.equal(refused.status, 401, `${c.name}, ${how}: ${refused.text}`);
      assert.equal(refused.json.error.code, "invalid_signature");
    }
    // The genuine delivery was stored: Notion's retry of it is a duplicate.
    const retried = await deliver(worker, path, c.body, { signature: c.x_notion_signature });
    assert.equal(retried.json.outcome, "duplicate", `${c.name}: ${retried.text}`);
  }
});

test("verification request: the token is stored and the webhook says token_received", async () => {
  const project = await createProject(worker, account.token);
  assert.equal(project.webhook.status, "setup_required");
  const token = await verify(worker, webhookPath(project));
  const s = await status(project.id);
  assert.equal(s.webhook.status, "token_received");
  assert.equal(s.pipeline.banner, "Webhook setup required");
  const refreshed = await worker.fetch(`/api/v1/projects/${project.id}/webhook/refresh-token`, { method: "POST", token: account.token });
  assert.equal(refreshed.json.token, token);
  // Notion's "Resend token": the new token is the one to paste (it replaces the first one
  // once confirmed; tests/webhook_security.test.mjs covers that swap).
  const second = await verify(worker, webhookPath(project));
  const again = await worker.fetch(`/api/v1/projects/${project.id}/webhook/refresh-token`, { method: "POST", token: account.token });
  assert.equal(again.json.token, second);
  assert.equal(again.json.replacement_pending, true);
  assert.notEqual(second, token);
});

test("good, bad and missing signatures", async () => {
  const { project, secret, path } = await verifiedProject();
  const event = pageEvent({ databaseId: project.notion.database_id });
  const bad = await deliver(worker, path, event, { token: "secret_wrong" });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error.code, "invalid_signature");
  const missing = await deliver(worker, path, event);
  assert.equal(missing.status, 401);
  assert.equal(missing.json.error.code, "invalid_signature");
  assert.deepEqual(await eventsOf(project.id), [], "nothing stored for unauthenticated events");
  assert.equal((await status(project.id)).webhook.status, "token_received");

  const good = await deliver(worker, path, event, { token: secret });
  assert.equal(good.status, 200);
  assert.equal(good.json.outcome, "queued");
  const s = await statusWhen(project.id, (p) => p.webhook.events_received === 1, "the event counted");
  assert.equal(s.webhook.status, "active", "an authentic signed event activates the webhook");
  assert.ok(s.webhook.last_event_at);
});

test("a retried event id is acknowledged but never causes a second sync", async () => {
  const { project, secret, path } = await verifiedProject();
  const event = pageEvent({ databaseId: project.notion.database_id });
  assert.equal((await deliver(worker, path, event, { token: secret })).json.outcome, "queued");
  const [first] = await finishedRuns(project.id);
  const retry = await deliver(worker, path, { ...event, attempt_number: 2 }, { token: secret });
  assert.equal(retry.status, 200);
  assert.equal(retry.json.outcome, "duplicate");
  await noOtherRun(project.id, [first.id], "the retry never syncs");
  assert.equal((await status(project.id)).webhook.events_received, 1);
});

test("unknown event types and unrelated databases are acknowledged, counted, not acted on", async () => {
  const { project, secret, path } = await verifiedProject();
  const unknown = await deliver(worker, path, { ...pageEvent({ databaseId: project.notion.database_id }), type: "view.reimagined" }, { token: secret });
  assert.equal(unknown.status, 200);
  assert.equal(unknown.json.outcome, "ignored");
  const comment = await deliver(worker, path, { ...pageEvent({ databaseId: project.notion.database_id }), type: "comment.created" }, { token: secret });
  assert.equal(comment.json.outcome, "ignored");
  const elsewhere = await deliver(worker, path, pageEvent({ databaseId: "11111111-2222-4333-8444-555555555555" }), { token: secret });
  assert.equal(elsewhere.json.outcome, "ignored");
  const s = await statusWhen(project.id, (p) => p.webhook.events_received === 3, "three events counted");
  assert.equal(s.webhook.events_ignored, 3);
  assert.deepEqual((await eventsOf(project.id)).map((e) => e.relevant), [0, 0, 0]);
  assert.equal(s.sync.pending.events, 0);
  await noOtherRun(project.id, [], "ignored events never sync");
});

test("a concurrent burst with retries: every first delivery recorded and counted once", async () => {
  const { project, secret, path } = await verifiedProject({ auto_sync: false });
  // 150 distinct events (more than one D1 copy chunk), a third about another database, each
  // delivered twice at once: the retry may overtake the original.
  const events = Array.from({ length: 150 }, (_, i) =>
    pageEvent({ databaseId: i % 3 === 0 ? "11111111-2222-4333-8444-555555555555" : project.notion.database_id }),
  );
  const answers = await Promise.all(events.flatMap((e) => [e, { ...e, attempt_number: 2 }]).map((e) => deliver(worker, path, e, { token: secret })));
  assert.ok(answers.every((a) => a.status === 200));
  const outcomes = answers.map((a) => a.json.outcome);
  assert.equal(outcomes.filter((o) => o === "duplicate").length, 150, "exactly one of each pair is the duplicate");
  assert.equal(outcomes.filter((o) => o === "ignored").length, 50);
  assert.equal(outcomes.filter((o) => o === "auto_sync_off").length, 100);
  const s = await statusWhen(project.id, (p) => p.webhook.events_received === 150, "150 events counted");
  assert.equal(s.webhook.events_ignored, 50);
  const rows = await eventsOf(project.id);
  assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(events.map((e) => e.id)));
  assert.equal(rows.filter((r) => r.relevant === 0).length, 50);
  // Counted in D1 by tallies of the ledger (each applied once, whatever raced), not copied.
  await waitFor(async () => (await eventsOf(project.id)).every((r) => r.flushed === 1), { what: "every row counted" });
  assert.equal((await statusWhen(project.id, () => true, "status")).webhook.events_received, 150);
  assert.equal((await worker.query("SELECT COUNT(*) AS n FROM webhook_events"))[0].n, 0, "no delivery copied to D1");
});

test("malformed, oversized and non-JSON bodies are 4xx and store nothing", async () => {
  const { project, secret, path } = await verifiedProject();
  const before = await eventsOf(project.id);
  const malformed = await deliver(worker, path, "{not json", { token: secret });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.error.code, "invalid_json");
  const noId = await deliver(worker, path, { type: "page.created" }, { token: secret });
  assert.equal(noId.status, 400);
  assert.equal(noId.json.error.code, "validation_error");
  const huge = JSON.stringify({ ...pageEvent({ databaseId: project.notion.database_id }), padding: "x".repeat(300 * 1024) });
  const big = await deliver(worker, path, huge, { token: secret });
  assert.equal(big.status, 413);
  const text = await worker.fetch(path, { method: "POST", body: "hello", headers: { "content-type": "text/plain" } });
  assert.equal(text.status, 415);
  const unknownKey = await deliver(worker, "/webhooks/notion/whk_nope", pageEvent({ databaseId: project.notion.database_id }), { token: secret });
  assert.equal(unknownKey.status, 404);
  assert.deepEqual(await eventsOf(project.id), before);
  for (const res of [malformed, noId, big, text, unknownKey]) assert.ok(res.json.error.message.length > 0);
});

test("the shared URL routes events by database and authenticates with that project's token", async () => {
  const { project, secret } = await verifiedProject();
  const other = await verifiedProject();
  const event = pageEvent({ databaseId: project.notion.database_id });
  const routed = await deliver(worker, "/webhooks/notion", event, { token: secret });
  assert.equal(routed.status, 200, routed.text);
  assert.equal(routed.json.outcome, "queued");
  await waitFor(async () => (await eventsOf(project.id)).length === 1, { what: "the event recorded for its project" });
  assert.equal((await eventsOf(other.project.id)).length, 0);
  // Signed with another project's token: not authentic for this database.
  const forged = await deliver(worker, "/webhooks/notion", pageEvent({ databaseId: project.notion.database_id }), { token: other.secret });
  assert.equal(forged.status, 401);
});

test("auto-sync off: events are verified and counted, no sync runs", async () => {
  const { project, secret, path } = await verifiedProject({ auto_sync: false });
  const res = await deliver(worker, path, pageEvent({ databaseId: project.notion.database_id }), { token: secret });
  assert.equal(res.json.outcome, "auto_sync_off");
  const s = await statusWhen(project.id, (p) => p.webhook.events_received === 1, "the event counted");
  assert.equal(s.pipeline.state, "auto_sync_off");
  await noOtherRun(project.id, [], "no sync with auto-sync off");
});

test("auto-sync turned off while events wait: the queued batch does not sync, new events say so", async () => {
  const { project, secret, path } = await verifiedProject();
  const queued = await deliver(worker, path, pageEvent({ databaseId: project.notion.database_id }), { token: secret });
  assert.equal(queued.json.outcome, "queued");
  const off = await worker.fetch(`/api/v1/projects/${project.id}`, { method: "PATCH", token: account.token, body: { auto_sync: false } });
  assert.equal(off.status, 200, off.text);
  // Within the webhook route's cache lifetime: the change made through the API is seen at once.
  const next = await deliver(worker, path, pageEvent({ databaseId: project.notion.database_id }), { token: secret });
  assert.equal(next.json.outcome, "auto_sync_off");
  await noOtherRun(project.id, [], "the batch queued before the change is dropped, not synced");
  const s = await statusWhen(project.id, (p) => p.webhook.events_received === 2, "both events counted");
  assert.equal(s.sync.pending.events, 0);
});

test("a continuous stream of edits still syncs within the max wait", async () => {
  const { project, secret, path } = await verifiedProject();
  const started = Date.now();
  let firstRunAt = null;
  // One event every 500 ms for MAX_WAIT + 3 s: the debounce alone would never fire.
  while (Date.now() - started < (MAX_WAIT_S + 3) * 1000) {
    await deliver(worker, path, pageEvent({ databaseId: project.notion.database_id }), { token: secret });
    if (!firstRunAt && (await runsOf(project.id)).length > 0) firstRunAt = Date.now();
    await sleep(500);
  }
  assert.ok(firstRunAt, "a sync ran while events kept coming");
  assert.ok(firstRunAt - started <= (MAX_WAIT_S + 1.5) * 1000, `first run after ${firstRunAt - started} ms`);
});

test("an event during a running sync gives a follow-up sync", async () => {
  const { project, secret, path } = await verifiedProject();
  slowNotion.delayMs = 3_000;
  try {
    const before = slowNotion.requests;
    await deliver(worker, path, pageEvent({ databaseId: project.notion.database_id }), { token: secret });
    await waitFor(async () => slowNotion.requests > before && (await runsOf(project.id)).some((r) => r.status === "running"), { what: "the first run to start" });
    const during = await deliver(worker, path, pageEvent({ databaseId: project.notion.database_id }), { token: secret });
    assert.equal(during.json.outcome, "queued");
    const runs = await finishedRuns(project.id, { atLeast: 2 });
    assert.equal(runs.length, 2, JSON.stringify(runs));
    await noOtherRun(project.id, runs.map((r) => r.id), "exactly one follow-up");
    assert.ok(runs[1].started_at >= runs[0].finished_at, "the follow-up starts after the first finished");
    assert.ok(runs.every((r) => r.trigger === "webhook"));
  } finally {
    slowNotion.delayMs = 0;
  }
});

test("the catch-up cron syncs auto-sync projects with no recent success", async () => {
  const { project } = await verifiedProject();
  const cron = await fetch(`${worker.url}/__scheduled?cron=*/15+*+*+*+*`);
  assert.equal(cron.status, 200);
  const runs = await finishedRuns(project.id);
  assert.ok(runs.some((r) => r.trigger === "schedule"), JSON.stringify(runs));
});
