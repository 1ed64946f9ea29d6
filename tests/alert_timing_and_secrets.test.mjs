// Issue 24 under workerd with local receivers: a retryable failure alerts once it has lasted
// ALERT_RETRYABLE_AFTER_SECONDS, on time, with no later run (the project's retries stopped
// before that); the recovery says what was wrong and that it is fixed. Destination URLs are
// secrets: shown once at creation, afterwards only a hint, never logged, stored encrypted;
// rows stored in plaintext by earlier versions are encrypted on first read and by the cron.
// Slack-format text escapes & < > from Notion and the owner; unnamed destinations get
// names that tell them apart.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { startReceiver } from "../harness/receiver.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

const ALERT_AFTER_S = 5;
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
      DEBOUNCE_MAX_WAIT_SECONDS: "1",
      ALERT_RETRY_BASE_SECONDS: "0.1",
      ALERT_RETRYABLE_AFTER_SECONDS: String(ALERT_AFTER_S),
      // Retries 0.5-1 s apart, stopping 2 s after the first failure: well before the alert is due.
      SYNC_RETRY_BASE_SECONDS: "1",
      SYNC_RETRY_FOR_SECONDS: "2",
    },
  });
});

after(async () => {
  await worker?.stop();
  for (const r of receivers) await r.stop();
  await framer?.close();
  await notion?.close();
});

async function receiver() {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** A destination of the account; `url` defaults to a path of `r` that carries a secret. */
async function addDestination(token, body) {
  const res = await worker.fetch("/api/v1/alerts", { method: "POST", token, body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

/** A Notion database with two rows (and `extra` raw query results) synced once into Framer. */
async function syncedProject(token, { name = "Blog", rawResults = [] } = {}) {
  fixtures += 1;
  const notionToken = `ntn_timing_token_${fixtures}`;
  const framerProject = `TimingProject${String(fixtures).padStart(7, "0")}`;
  const framerKey = `fr_timing_key_${fixtures}`;
  notion.addIntegration(notionToken);
  const db = notion.addDatabase({ title: "Posts", properties: SCHEMA, token: notionToken });
  framer.addProject(framerProject, framerKey, { name: "Site" });
  notion.addPage(db.dataSourceId, { properties: { Name: "Hello", Count: 1 } });
  for (const raw of rawResults) notion.addRawQueryResult(db.dataSourceId, raw);
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name,
      notion: { token: notionToken, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: "Posts" },
      auto_sync: false,
    },
  });
  assert.equal(created.status, 201, created.text);
  const project = { id: created.json.project.id, db, notionToken, token };
  const first = await syncAndWait(project);
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  return project;
}

async function runs(project) {
  const res = await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=100`, { token: project.token });
  return res.json.syncs;
}

async function syncAndWait(project) {
  const res = await worker.fetch(`/api/v1/projects/${project.id}/sync`, { method: "POST", token: project.token, body: {} });
  assert.equal(res.status, 202, res.text);
  const syncId = res.json.sync_id;
  return waitFor(async () => (await runs(project)).find((s) => s.id === syncId && s.status !== "running"), {
    timeoutMs: 30_000, intervalMs: 100, what: `sync ${syncId}`,
  });
}

function cron() {
  return fetch(`${worker.url}/__scheduled?cron=*/15+*+*+*+*`);
}

async function dbFile() {
  const dir = join(worker.persist, "v3", "d1", "miniflare-D1DatabaseObject");
  return join(dir, (await readdir(dir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite"));
}

const at = (iso) => Date.parse(iso);

describe("retryable failures alert on time", { concurrency: false }, () => {
  test("a retryable failure and no later event: the alert arrives within seconds of the grace period", async () => {
    const r = await receiver();
    const { token } = await createAccount(worker, { name: "On time" });
    await addDestination(token, { url: r.url, format: "json", name: "Ops" });
    const project = await syncedProject(token);
    const ids = [project.db.dataSourceId, project.db.dataSourceId.replaceAll("-", "")].join("|");
    notion.failNext({ status: 429, retryAfter: 0, times: 1_000_000, match: new RegExp(`^POST /v1/data_sources/(${ids})/query$`) });
    const injected = notion.failures.at(-1);

    const first = await syncAndWait(project);
    assert.equal(first.status, "failed", JSON.stringify(first));
    const failingSince = at(first.finished_at);

    // The retries stop after 2 s: the project then waits, and says so.
    const stopped = await waitFor(async () => {
      const res = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
      const { sync } = res.json.project;
      return sync.retry?.stopped && !sync.running ? sync : null;
    }, { timeoutMs: 15_000, what: "the retries to stop" });
    assert.equal(stopped.retry.next_attempt_at, null);
    assert.ok(stopped.retry.failures >= 2, JSON.stringify(stopped.retry));
    assert.ok(Math.abs(at(stopped.retry.failing_since) - failingSince) < 1_000, JSON.stringify(stopped.retry));
    const runsWhenStopped = (await runs(project)).length;
    const lastRun = (await runs(project))[0];
    assert.ok(at(lastRun.finished_at) < failingSince + ALERT_AFTER_S * 1000 - 500, "no run near the alert's due time");
    assert.equal(r.requests.length, 0, "nothing within the grace period");

    const [alert] = await waitFor(() => (r.requests.length >= 1 ? r.requests : null), {
      timeoutMs: ALERT_AFTER_S * 1000 + 15_000, intervalMs: 50, what: "the alert",
    });
    const arrived = Date.now();
    const late = arrived - (failingSince + ALERT_AFTER_S * 1000);
    console.log(`[alerts] retryable failure: alert arrived ${(late / 1000).toFixed(2)} s after the ${ALERT_AFTER_S} s grace period (no run in between)`);
    assert.ok(late >= -250, `not before the grace period (${late} ms)`);
    assert.ok(late < 3_000, `within a few seconds of it (${late} ms)`);
    assert.equal((await runs(project)).length, runsWhenStopped, "no later run raised it");
    assert.equal(alert.json.type, "alert.raised");
    assert.equal(alert.json.kind, "sync_failing");
    assert.match(alert.json.title, /^Sync of .Blog. has been failing for under a minute$/);
    assert.equal(alert.json.details.retryable, true);
    assert.equal(alert.json.details.error_code, first.error.code);
    const status = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
    assert.deepEqual(status.json.project.incidents.map((i) => [i.kind, i.alerted]), [["sync_failing", true]]);

    // The cron finds nothing more to raise: one alert per incident.
    assert.equal((await cron()).status, 200);
    await holdsFor(() => r.requests.length === 1, { forMs: 1500, what: "no second alert" });

    // Fixed: "Sync now" runs at once; the recovery says what was wrong and that it is fixed.
    notion.failures.splice(notion.failures.indexOf(injected), 1);
    assert.equal((await syncAndWait(project)).status, "succeeded");
    await waitFor(() => r.requests.length >= 2, { what: "the recovery" });
    const recovery = r.requests[1].json;
    assert.equal(recovery.type, "alert.resolved");
    assert.equal(recovery.cause, alert.json.cause, "what was wrong");
    assert.match(recovery.text, /\nWhat was wrong: /);
    assert.match(recovery.text, /\nFixed: the last sync succeeded, after .* of failures; nothing to do$/);
    assert.doesNotMatch(recovery.text, /resolved:/);
    assert.equal((await worker.fetch(`/api/v1/projects/${project.id}`, { token })).json.project.sync.retry, null);
  });
});

describe("destination URLs are secrets", { concurrency: false }, () => {
  test("a Slack destination: the URL is shown once, never again nor logged; a row titled <!channel> & <b> arrives escaped", async () => {
    const r = await receiver();
    const { token } = await createAccount(worker, { name: "Slack" });
    const secretPath = "T0ACME/B0ALERTS/xoxSecretWebhookToken9Zq";
    const url = `${r.url}/${secretPath}`;
    const created = await addDestination(token, { url, format: "slack" });
    assert.equal(created.url, url, "shown once, at creation");
    const { destination } = created;
    assert.equal(destination.url, undefined);
    assert.equal(destination.url_hint, `http://127.0.0.1:${r.port}/…n9Zq`);
    assert.equal(destination.name, "127.0.0.1 …n9Zq");
    // A second unnamed destination on the same host gets a name of its own.
    const other = await addDestination(token, { url: `${r.url}/T0ACME/B0OTHER/anotherToken77`, format: "slack" });
    assert.equal(other.destination.name, "127.0.0.1 …en77");

    const project = await syncedProject(token, {
      name: "Blog <!here> & co",
      rawResults: [{
        object: "page", id: "not-a-uuid", created_time: "2024-05-01T10:05:00.000Z", last_edited_time: "2024-05-01T10:05:00.000Z",
        properties: { Name: { id: "title", type: "title", title: [{ type: "text", text: { content: "<!channel> & <b>" }, plain_text: "<!channel> & <b>" }] } },
      }],
    });
    await waitFor(() => r.requests.length >= 2, { what: "the skipped-rows alert to both destinations" });
    const alert = r.requests.find((q) => q.path === `/hook/${secretPath}`);
    assert.ok(alert, "delivered to the stored URL");
    const { text } = alert.json;
    assert.deepEqual(Object.keys(alert.json), ["text"]);
    assert.match(text, /&lt;!channel&gt; &amp; &lt;b&gt;/);
    assert.match(text, /Blog &lt;!here&gt; &amp; co/);
    assert.ok(!/[<>]/.test(text), text);
    assert.ok(!/&(?!amp;|lt;|gt;)/.test(text), text);

    const tested = await worker.fetch(`/api/v1/alerts/${destination.id}/test`, { method: "POST", token });
    assert.equal(tested.json.delivered, true);
    const got = await worker.fetch(`/api/v1/alerts/${destination.id}`, { token });
    const list = await worker.fetch("/api/v1/alerts", { token });
    const patched = await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "PATCH", token, body: { name: "Ops channel" } });
    const projectView = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
    for (const res of [got, list, patched, tested, projectView]) {
      assert.equal(res.status, 200, res.text);
      assert.ok(!res.text.includes(secretPath), `the URL is not shown again: ${res.text.slice(0, 200)}`);
      assert.ok(!res.text.includes("xoxSecretWebhookToken"));
    }
    assert.equal(got.json.destination.url_hint, destination.url_hint);
    const [row] = await worker.query("SELECT url, url_enc, url_hint FROM alert_destinations WHERE id = ?", destination.id);
    assert.equal(row.url, "", "no plaintext at rest");
    assert.ok(row.url_enc && !row.url_enc.includes("xoxSecret"), "stored encrypted");
    assert.equal(row.url_hint, destination.url_hint);
    const logs = worker.logs.join("\n");
    assert.ok(!logs.includes("xoxSecretWebhookToken"), "never logged");

    // Re-pointing stores the new URL encrypted too, and shows only its hint.
    const moved = await worker.fetch(`/api/v1/alerts/${destination.id}`, { method: "PATCH", token, body: { url: `${r.url}/T0ACME/B0NEW/movedToken4242` } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.json.destination.url_hint, `http://127.0.0.1:${r.port}/…4242`);
    assert.ok(!moved.text.includes("movedToken"));
    const sent = await worker.fetch(`/api/v1/alerts/${destination.id}/test`, { method: "POST", token });
    assert.equal(sent.json.delivered, true);
    assert.equal(r.requests.at(-1).path, "/hook/T0ACME/B0NEW/movedToken4242");
  });

  test("a row stored in plaintext before URLs were encrypted is sealed on first read and keeps working", async () => {
    const r = await receiver();
    const { token, account } = await createAccount(worker, { name: "Upgraded" });
    const readUrl = `${r.url}/legacy/ReadBeforeSealed42`;
    // As the 0008 migration leaves a row written by an earlier version: the URL in plaintext,
    // no ciphertext, no hint. Written with the runtime stopped, as before an upgrade.
    await worker.kill();
    const db = new DatabaseSync(await dbFile());
    try {
      const insert = db.prepare("INSERT INTO alert_destinations (id, account_id, name, url, format, created_at) VALUES (?, ?, ?, ?, 'slack', ?)");
      insert.run("legacyread0000000000000000000001", account.id, "hooks.example.com", readUrl, "2026-01-01T00:00:00.000Z");
    } finally {
      db.close();
    }
    await worker.start();

    const before = await worker.query("SELECT url, url_enc FROM alert_destinations WHERE account_id = ?", account.id);
    assert.equal(before.length, 1);
    assert.equal(before[0].url, readUrl, "as an earlier version left it");
    assert.equal(before[0].url_enc, null);
    const list = await worker.fetch("/api/v1/alerts", { token });
    assert.equal(list.status, 200, list.text);
    assert.ok(!list.text.includes("ReadBeforeSealed"), list.text);
    const shown = list.json.destinations.find((d) => d.id === "legacyread0000000000000000000001");
    assert.equal(shown.url_hint, `http://127.0.0.1:${r.port}/…ed42`);
    const rows = await worker.query("SELECT id, url, url_enc, url_hint FROM alert_destinations WHERE account_id = ? ORDER BY id", account.id);
    for (const row of rows) {
      assert.equal(row.url, "", `${row.id}: plaintext gone`);
      assert.ok(row.url_enc && !row.url_enc.includes("legacy"), `${row.id}: encrypted`);
    }
    const tested = await worker.fetch("/api/v1/alerts/legacyread0000000000000000000001/test", { method: "POST", token });
    assert.equal(tested.json.delivered, true, tested.text);
    assert.equal(r.requests.at(-1).path, "/hook/legacy/ReadBeforeSealed42", "the sealed URL still reaches the receiver");
  });

  test("the cron seals plaintext rows nobody read", async () => {
    const { account } = await createAccount(worker, { name: "Cron sweep" });
    await worker.kill();
    const db = new DatabaseSync(await dbFile());
    try {
      db.prepare("INSERT INTO alert_destinations (id, account_id, name, url, format, created_at) VALUES (?, ?, 'x', ?, 'json', ?)")
        .run("legacysweep00000000000000000003", account.id, "https://hooks.example.com/services/SweptSecret99", "2026-01-01T00:00:00.000Z");
    } finally {
      db.close();
    }
    await worker.start();
    assert.equal((await cron()).status, 200);
    const [row] = await waitFor(async () => {
      const found = await worker.query("SELECT url, url_enc, url_hint FROM alert_destinations WHERE id = 'legacysweep00000000000000000003'");
      return found[0]?.url_enc ? found : null;
    }, { what: "the cron's sweep" });
    assert.equal(row.url, "");
    assert.equal(row.url_hint, "https://hooks.example.com/…et99");
    assert.ok(!row.url_enc.includes("SweptSecret"));
  });
});
