// Alerts under workerd with local receivers: destinations (CRUD, bad URLs), one alert per
// incident with the cause and a recovery message, Framer refusing the key, the json format's
// signature, a retryable failure alerting only once it has lasted, rows skipped, 410 disabling a
// destination, retries while a receiver is down, and the cron's
// freshness check finding edits no webhook announced.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, verify, webhookPath } from "../harness/api.mjs";
import { startReceiver } from "../harness/receiver.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

const MAX_WAIT_S = 1;
// How long a retryable failure lasts before it alerts (30 min in production).
const RETRYABLE_AFTER_S = 3;
const SCHEMA = { Name: { type: "title" }, Count: { type: "number" } };

let notion;
let framer;
let worker;
let fixtures = 0;
const receivers = [];

before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  worker = await startWorker({
    vars: {
      NOTION_API_BASE: notion.url,
      FRAMER_SERVER_URL: framer.url,
      DEBOUNCE_SECONDS: "0.2",
      DEBOUNCE_MAX_WAIT_SECONDS: String(MAX_WAIT_S),
      ALERT_RETRY_BASE_SECONDS: "0.1",
      ALERT_RETRYABLE_AFTER_SECONDS: String(RETRYABLE_AFTER_S),
    },
  });
  freshness = await prepareFreshnessProject();
});

after(async () => {
  await worker?.stop();
  for (const r of receivers) await r.stop();
  await framer?.close();
  await notion?.close();
});

async function receiver(options) {
  const r = await startReceiver(options);
  receivers.push(r);
  return r;
}

/** An account of its own (destinations are per account), with one destination. */
async function accountWithDestination(url, format = "json") {
  const { token } = await createAccount(worker, { name: `Alerts ${++fixtures}` });
  const created = await worker.fetch("/api/v1/alerts", { method: "POST", token, body: { url, format, name: "Ops" } });
  assert.equal(created.status, 201, created.text);
  return { token, destination: created.json.destination, secret: created.json.secret };
}

/** A Notion database with two rows and a Framer project, synced into each other once. */
async function syncedProject(token, settings = {}) {
  fixtures += 1;
  const notionToken = `ntn_alerts_token_${fixtures}`;
  const framerProject = `AlertsProject${String(fixtures).padStart(7, "0")}`;
  const framerKey = `fr_alerts_key_${fixtures}`;
  notion.addIntegration(notionToken);
  const db = notion.addDatabase({ title: "Posts", properties: SCHEMA, token: notionToken });
  framer.addProject(framerProject, framerKey, { name: "Site" });
  const base = Date.parse("2024-05-01T10:00:00.000Z");
  const pages = [
    notion.addPage(db.dataSourceId, { properties: { Name: "Hello", Count: 1 }, createdTime: base }),
    notion.addPage(db.dataSourceId, { properties: { Name: "World", Count: 2 }, createdTime: base + 60_000 }),
  ];
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Blog",
      notion: { token: notionToken, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: "Posts" },
      auto_sync: false,
      ...settings,
    },
  });
  assert.equal(created.status, 201, created.text);
  const project = { id: created.json.project.id, project: created.json.project, db, pages, notionToken, token };
  const first = await syncAndWait(project);
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  return project;
}

async function syncAndWait(project) {
  const res = await worker.fetch(`/api/v1/projects/${project.id}/sync`, { method: "POST", token: project.token, body: {} });
  assert.equal(res.status, 202, res.text);
  const syncId = res.json.sync_id;
  return waitFor(
    async () => {
      const list = await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=100`, { token: project.token });
      const run = list.json?.syncs?.find((s) => s.id === syncId);
      return run && run.status !== "running" ? run : null;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: `sync ${syncId}` },
  );
}

/** The documented recipe: HMAC-SHA256(secret, timestamp + "." + raw body), hex, after "v1=". */
function signatureValid(secret, request) {
  const timestamp = request.headers["x-alert-timestamp"];
  const presented = request.headers["x-alert-signature"] ?? "";
  const expected = `v1=${createHmac("sha256", secret).update(`${timestamp}.${request.raw}`).digest("hex")}`;
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return fresh && presented.length === expected.length && timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
}

function cron() {
  return fetch(`${worker.url}/__scheduled?cron=*/15+*+*+*+*`);
}

async function outboxOf(destinationId) {
  return worker.query("SELECT status, attempts, last_status FROM alert_outbox WHERE destination_id = ? ORDER BY created_at_ms", destinationId);
}

// Set up first so that its webhook was confirmed long enough ago when its test runs last:
// Notion rounds last_edited_time down to the minute, so an unannounced edit can be told from
// one whose event is still on its way only a minute plus the max wait later.
let freshness;
async function prepareFreshnessProject() {
  const r = await receiver();
  const { token, secret } = await accountWithDestination(r.url, "json");
  const project = await syncedProject(token, { auto_sync: true });
  await verify(worker, webhookPath(project.project));
  const confirmed = await worker.fetch(`/api/v1/projects/${project.id}/webhook/confirm`, { method: "POST", token });
  assert.equal(confirmed.status, 200, confirmed.text);
  return { ...project, receiver: r, secret, confirmedAt: Date.now() };
}

describe("alert destinations", { concurrency: false }, () => {
  test("bad URLs are a 400 naming the field, and nothing is stored", async () => {
    const { token } = await createAccount(worker, { name: "Bad URLs" });
    for (const [body, field] of [
      [{ url: "http://hooks.example.com/x" }, "url"],
      [{ url: "https://10.0.0.7/hook" }, "url"],
      [{ url: "https://169.254.169.254/latest" }, "url"],
      [{ url: "https://[::1]/hook" }, "url"],
      [{ url: `https://example.com/${"a".repeat(2048)}` }, "url"],
      [{ url: "not a url" }, "url"],
      [{}, "url"],
      [{ url: "https://example.com/hook", format: "xml" }, "format"],
    ]) {
      const res = await worker.fetch("/api/v1/alerts", { method: "POST", token, body });
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`);
      assert.equal(res.json.error.code, "validation_error");
      assert.equal(res.json.error.field, field);
    }
    const list = await worker.fetch("/api/v1/alerts", { token });
    assert.deepEqual(list.json, { destinations: [] });
  });

  test("create, read, rename, delete; another account's destination is 404; secret shown once", async () => {
    const { token, destination, secret } = await accountWithDestination("https://hooks.example.com/services/x", "json");
    assert.match(secret, /^alsec_/);
    assert.equal(destination.format, "json");
    assert.equal(destination.enabled, true);
    assert.ok(destination.secret_hint && !destination.secret_hint.includes(secret));
    const got = await worker.fetch(`/api/v1/alerts/${destination.id}`, { token });
    assert.equal(got.status, 200);
    assert.equal(got.json.secret, undefined);
    assert.ok(!got.text.includes(secret));
    const renamed = await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "PATCH", token, body: { name: "Pager" } });
    assert.equal(renamed.json.destination.name, "Pager");
    const badPatch = await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "PATCH", token, body: { url: "http://example.com" } });
    assert.equal(badPatch.status, 400);
    assert.equal(badPatch.json.error.field, "url");

    const other = await createAccount(worker, { name: "Other" });
    assert.equal((await worker.fetch(`/api/v1/alerts/${destination.id}`, { token: other.token })).status, 404);
    assert.equal((await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "DELETE", token: other.token })).status, 404);
    const deleted = await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "DELETE", token });
    assert.deepEqual(deleted.json, { deleted: destination.id });
    assert.deepEqual((await worker.fetch("/api/v1/alerts", { token })).json, { destinations: [] });
  });

  test("a test alert is signed by the documented recipe; a 410 disables the destination", async () => {
    const r = await receiver();
    const { token, destination, secret } = await accountWithDestination(r.url, "json");
    const sent = await worker.fetch(`/api/v1/alerts/${destination.id}/test`, { method: "POST", token });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.json.delivered, true);
    assert.equal(sent.json.status, 200);
    assert.equal(r.requests.length, 1);
    const [request] = r.requests;
    assert.equal(request.json.type, "alert.test");
    assert.ok(signatureValid(secret, request), "signature verifies");
    assert.ok(!signatureValid("alsec_wrong", request), "a wrong secret does not");
    assert.ok(!signatureValid(secret, { ...request, raw: request.raw.replace("test", "tesT") }), "a changed body does not");

    r.status = 410;
    const gone = await worker.fetch(`/api/v1/alerts/${destination.id}/test`, { method: "POST", token });
    assert.equal(gone.json.delivered, false);
    assert.equal(gone.json.status, 410);
    const listed = (await worker.fetch("/api/v1/alerts", { token })).json.destinations[0];
    assert.equal(listed.enabled, false);
    assert.match(listed.disabled_reason, /410 Gone/);
    assert.equal(listed.last_status, 410);

    r.status = 200;
    const back = await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "PATCH", token, body: { enabled: true } });
    assert.equal(back.json.destination.enabled, true);
    assert.equal(back.json.destination.disabled_reason, null);
  });

  test("the slack format is {text}", async () => {
    const r = await receiver();
    const { token, destination, secret } = await accountWithDestination(r.url, "slack");
    assert.equal(secret, undefined);
    await worker.fetch(`/api/v1/alerts/${destination.id}/test`, { method: "POST", token });
    assert.deepEqual(Object.keys(r.requests[0].json), ["text"]);
    assert.match(r.requests[0].json.text, /^Test alert/);
    assert.equal(r.requests[0].headers["x-alert-signature"], undefined);
  });
});

describe("alerts from syncs", { concurrency: false }, () => {
  test("revoked Notion token: one alert with the cause, none for the next failure, one recovery", async () => {
    const r = await receiver();
    const { token, secret } = await accountWithDestination(r.url, "json");
    const project = await syncedProject(token);
    assert.equal(r.requests.length, 0, "a good run raises nothing");

    notion.revoke(project.notionToken);
    const failed = await syncAndWait(project);
    assert.equal(failed.status, "failed");
    assert.equal(failed.error.code, "notion_unauthorized");
    const [alert] = await waitFor(() => (r.requests.length >= 1 ? r.requests : null), { what: "the alert" });
    assert.ok(signatureValid(secret, alert));
    assert.equal(alert.json.type, "alert.raised");
    assert.equal(alert.json.kind, "sync_failing");
    assert.deepEqual(alert.json.project, { id: project.id, name: "Blog" });
    assert.equal(alert.json.cause, "the Notion token was revoked or is wrong");
    assert.match(alert.json.action, /paste a new Notion .*token under Settings/);

    const again = await syncAndWait(project);
    assert.equal(again.status, "failed");
    await holdsFor(() => r.requests.length === 1, { forMs: 1500, what: "no second alert" });
    const status = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
    assert.deepEqual(status.json.project.incidents.map((i) => [i.kind, i.alerted]), [["sync_failing", true]]);

    const fresh = `${project.notionToken}_new`;
    notion.addIntegration(fresh);
    notion.share(project.db.databaseId, fresh);
    const patched = await worker.fetch(`/api/v1/projects/${project.id}`, { method: "PATCH", token, body: { notion: { token: fresh } } });
    assert.equal(patched.status, 200, patched.text);
    const fixed = await syncAndWait(project);
    assert.equal(fixed.status, "succeeded", JSON.stringify(fixed));
    await waitFor(() => r.requests.length >= 2, { what: "the recovery message" });
    const recovery = r.requests[1];
    assert.ok(signatureValid(secret, recovery));
    assert.equal(recovery.json.type, "alert.resolved");
    assert.equal(recovery.json.kind, "sync_failing");
    assert.match(recovery.json.title, /works again/);
    await holdsFor(() => r.requests.length === 2, { forMs: 1000, what: "exactly one recovery" });
    const after = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
    assert.deepEqual(after.json.project.incidents, []);
  });

  test("a retryable failure alerts once after the grace period, and recovers once", async () => {
    const r = await receiver();
    const { token, secret } = await accountWithDestination(r.url, "json");
    const project = await syncedProject(token);
    // Notion rate-limits this database's queries (Retry-After: 0, so each run gives up quickly).
    const ids = [project.db.dataSourceId, project.db.dataSourceId.replaceAll("-", "")].join("|");
    notion.failNext({ status: 429, retryAfter: 0, times: 1_000_000, match: new RegExp(`^POST /v1/data_sources/(${ids})/query$`) });
    const injected = notion.failures.at(-1);

    const first = await syncAndWait(project);
    const failingSince = Date.now();
    assert.equal(first.status, "failed", JSON.stringify(first));
    await holdsFor(() => r.requests.length === 0, { forMs: 1000, what: "no alert within the grace period" });
    const open = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
    assert.deepEqual(open.json.project.incidents.map((i) => [i.kind, i.alerted]), [["sync_failing", false]]);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, failingSince + RETRYABLE_AFTER_S * 1000 + 200 - Date.now())));
    assert.equal((await syncAndWait(project)).status, "failed");
    const [alert] = await waitFor(() => (r.requests.length >= 1 ? r.requests : null), { what: "the alert" });
    assert.ok(signatureValid(secret, alert));
    assert.equal(alert.json.type, "alert.raised");
    assert.equal(alert.json.kind, "sync_failing");
    assert.match(alert.json.title, /^Sync of .Blog. has been failing for /);
    assert.equal(alert.json.details.retryable, true);
    assert.match(alert.json.action, /retry/);

    assert.equal((await syncAndWait(project)).status, "failed");
    await holdsFor(() => r.requests.length === 1, { forMs: 1500, what: "no second alert" });

    notion.failures.splice(notion.failures.indexOf(injected), 1);
    const fixed = await syncAndWait(project);
    assert.equal(fixed.status, "succeeded", JSON.stringify(fixed));
    await waitFor(() => r.requests.length >= 2, { what: "the recovery message" });
    assert.equal(r.requests[1].json.type, "alert.resolved");
    assert.equal(r.requests[1].json.kind, "sync_failing");
    await holdsFor(() => r.requests.length === 2, { forMs: 1000, what: "exactly one recovery" });
  });

  test("rows skipped by a run: one alert with the count, title and reason, none for the same skip again", async () => {
    const r = await receiver();
    const { token } = await accountWithDestination(r.url, "json");
    const project = await syncedProject(token);
    // Real Notion's results are pages with UUIDs (data sources among them are filtered out, not
    // skipped): the one skip left is a page whose id is not a UUID, served raw by the fake.
    notion.addRawQueryResult(project.db.dataSourceId, {
      object: "page", id: "not-a-uuid", created_time: "2024-05-01T10:05:00.000Z", last_edited_time: "2024-05-01T10:05:00.000Z",
      properties: { Name: { id: "title", type: "title", title: [{ type: "text", text: { content: "Broken row" }, plain_text: "Broken row" }] } },
    });

    const run = await syncAndWait(project);
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    const [alert] = await waitFor(() => (r.requests.length >= 1 ? r.requests : null), { what: "the alert" });
    assert.equal(alert.json.type, "alert.raised");
    assert.equal(alert.json.kind, "rows_skipped");
    assert.match(alert.json.title, /skipped 1 row$/);
    assert.equal(alert.json.details.skipped, 1);
    assert.match(alert.json.cause, /^1 row could not be read: .Broken row: Notion page id `not-a-uuid` is not a UUID.$/);

    assert.equal((await syncAndWait(project)).status, "succeeded");
    await holdsFor(() => r.requests.length === 1, { forMs: 1500, what: "no second alert for the same skip" });
    const status = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
    assert.deepEqual(status.json.project.incidents.map((i) => [i.kind, i.alerted]), [["rows_skipped", true]]);
  });

  test("Framer refusing the key raises an alert that says what to do", async () => {
    const r = await receiver();
    const { token } = await accountWithDestination(r.url, "slack");
    const project = await syncedProject(token);
    const patched = await worker.fetch(`/api/v1/projects/${project.id}`, {
      method: "PATCH",
      token,
      body: { framer: { api_key: "fr_rotated_key_0123456789abcdef" } },
    });
    assert.equal(patched.status, 200, patched.text);
    const failed = await syncAndWait(project);
    assert.equal(failed.status, "failed");
    assert.equal(failed.error.code, "framer_key_invalid");
    await waitFor(() => r.requests.length >= 1, { what: "the alert" });
    const { text } = r.requests[0].json;
    assert.match(text, /Sync of .Blog. failed/);
    assert.match(text, /Framer refused the API key/);
    assert.match(text, /create a new API key in the Framer project's settings/);
  });

  test("a receiver that is down gets the alert when it comes back (cron retry), attempts logged", async () => {
    const r = await receiver();
    const { token, destination } = await accountWithDestination(r.url, "json");
    const project = await syncedProject(token);
    await r.stop();
    notion.revoke(project.notionToken);
    assert.equal((await syncAndWait(project)).status, "failed");
    await waitFor(async () => (await outboxOf(destination.id)).some((row) => row.attempts >= 1 && row.last_status === 0), {
      what: "a failed first attempt",
    });
    assert.equal((await outboxOf(destination.id))[0].status, "pending");
    const attemptLine = worker.logLines().find((l) => l.kind === "alert_delivery" && l.note.includes(destination.id));
    assert.ok(attemptLine, "the attempt is logged");
    assert.match(attemptLine.note, /attempt 1: retry at/);
    assert.ok(!JSON.stringify(worker.logLines()).includes(r.url), "the URL is not logged");

    await r.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await cron()).status, 200);
    await waitFor(() => r.requests.length >= 1, { what: "the retried alert" });
    assert.equal(r.requests[0].json.kind, "sync_failing");
    const [row] = await outboxOf(destination.id);
    assert.equal(row.status, "delivered");
    assert.ok(row.attempts >= 2, `attempts ${row.attempts}`);
  });

  test("an alert to a receiver answering 410 disables the destination", async () => {
    const r = await receiver({ status: 410 });
    const { token, destination } = await accountWithDestination(r.url, "slack");
    const project = await syncedProject(token);
    notion.revoke(project.notionToken);
    assert.equal((await syncAndWait(project)).status, "failed");
    await waitFor(async () => (await worker.fetch(`/api/v1/alerts/${destination.id}`, { token })).json.destination.enabled === false, {
      what: "the destination disabled",
    });
    const [row] = await outboxOf(destination.id);
    assert.equal(row.status, "failed");
    assert.equal(row.last_status, 410);
  });
});

describe("freshness check", { concurrency: false }, () => {
  test("edits no webhook announced: one alert within one cron run, sync anyway, warning in the status", async () => {
    const p = freshness;
    // An edit after the subscription was confirmed, on a minute boundary (Notion's rounding).
    const editAt = Math.ceil((p.confirmedAt + 1) / 60_000) * 60_000;
    notion.updatePage(p.pages[0], { Name: "Edited without an event" }, { editedTime: editAt });
    const dueAt = editAt + (MAX_WAIT_S + 60) * 1000 + 2_000;
    if (Date.now() < dueAt) await new Promise((resolve) => setTimeout(resolve, dueAt - Date.now()));

    assert.equal((await cron()).status, 200);
    await waitFor(() => p.receiver.matching((j) => j.kind === "webhook_silent").length >= 1, { what: "the freshness alert" });
    const [alert] = p.receiver.matching((j) => j.kind === "webhook_silent");
    assert.ok(signatureValid(p.secret, alert));
    assert.match(alert.json.cause, /paused or was deleted/);
    assert.equal(alert.json.details.latest_edit_at, new Date(editAt).toISOString());

    const status = await worker.fetch(`/api/v1/projects/${p.id}`, { token: p.token });
    const { freshness: check } = status.json.project;
    assert.equal(check.stale, true);
    assert.match(check.warning, /arrive without webhook events/);
    assert.ok(Date.now() - Date.parse(check.checked_at) < 60_000);
    // Synced anyway: a scheduled run picks the edit up.
    await waitFor(
      async () => {
        const list = await worker.fetch(`/api/v1/projects/${p.id}/syncs?limit=10`, { token: p.token });
        return list.json.syncs.find((s) => s.trigger === "schedule" && s.status === "succeeded");
      },
      { what: "the catch-up run" },
    );

    assert.equal((await cron()).status, 200);
    await holdsFor(() => p.receiver.matching((j) => j.kind === "webhook_silent").length === 1, {
      forMs: 1500,
      what: "no second freshness alert",
    });
  });
});
