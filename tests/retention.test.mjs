// Retention of the D1 history under workerd: the cron removes rows past EVENT_HISTORY_DAYS /
// SYNC_HISTORY_DAYS (keeping each project's last 100 runs) and expired verification tokens, in
// bounded batches over as many cron runs as the backlog needs, and a deleted project leaves
// nothing behind in D1 or in its Durable Object's storage. Old rows are written straight into
// the local D1 file: nothing else can date a row months back.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createAccount, createProject, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startSlowNotion } from "../harness/slow-notion.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

const EVENT_DAYS = 7;
const SYNC_DAYS = 60;
const DAY_MS = 86_400_000;
// One cron run's pruning budget (core/src/sync/cron.rs RETENTION_ROUNDS: its share of Free's 50
// subrequests and D1 queries per invocation): MAX_ROUNDS statements of batch_rows each.
const MAX_ROUNDS = 4;
const EVENT_BUDGET = MAX_ROUNDS * 2_000;
const RUN_BUDGET = MAX_ROUNDS * 500;

// Every Notion answer is a 401 after `slowNotion.delayMs`: a sync that takes a while.
let slowNotion;

let worker;
let account;
before(async () => {
  slowNotion = await startSlowNotion();
  worker = await startWorker({
    vars: {
      NOTION_API_BASE: slowNotion.url,
      DEBOUNCE_SECONDS: "0.3",
      DEBOUNCE_MAX_WAIT_SECONDS: "1",
      EVENT_HISTORY_DAYS: String(EVENT_DAYS),
      SYNC_HISTORY_DAYS: String(SYNC_DAYS),
    },
  });
  account = await createAccount(worker);
});
after(async () => {
  await worker?.stop();
  slowNotion.close();
});

const ago = (days) => new Date(Date.now() - days * DAY_MS).toISOString();
const count = async (sql, ...params) => (await worker.query(`SELECT COUNT(*) AS n FROM ${sql}`, ...params))[0].n;
const api = (path, opts = {}) => worker.fetch(path, { token: account.token, ...opts });

/**
 * Writes into the local D1 file in one transaction (the Worker reads and writes the same file):
 * the transaction takes the write lock first, waiting for workerd's (busy timeout), and is
 * tried again whole when the lock stays taken, rather than failing the test that asked.
 */
async function writeD1(write) {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = join(worker.persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = (await readdir(dir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  for (let attempt = 1; ; attempt++) {
    const db = new DatabaseSync(join(dir, file));
    try {
      db.exec("PRAGMA busy_timeout = 2000");
      db.exec("BEGIN IMMEDIATE");
      write({
        event: db.prepare("INSERT INTO webhook_events (event_id, project_id, type, entity_id, relevant, attempt_number, received_at) VALUES (?, ?, 'page.properties_updated', NULL, 1, 1, ?)"),
        run: db.prepare("INSERT INTO sync_runs (id, project_id, trigger, scope, status, started_at, finished_at) VALUES (?, ?, 'webhook', 'incremental', 'succeeded', ?, ?)"),
        raw: db,
      });
      db.exec("COMMIT");
      return;
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      if (!/database is locked|SQLITE_BUSY/u.test(String(e?.message)) || attempt >= 20) throw e;
    } finally {
      db.close();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const addEvents = (s, projectId, n, ageDays) => {
  for (let i = 0; i < n; i++) s.event.run(randomUUID(), projectId, ago(ageDays(i)));
};
const addRuns = (s, projectId, n, ageDays) => {
  for (let i = 0; i < n; i++) {
    const started = ago(ageDays(i));
    s.run.run(randomUUID(), projectId, started, started);
  }
};

/** Triggers the cron and returns its retention log line. */
async function cronRun() {
  const seen = worker.logLines().filter((l) => l.kind === "retention").length;
  const res = await fetch(`${worker.url}/__scheduled?cron=*/15+*+*+*+*`);
  assert.equal(res.status, 200);
  return waitFor(() => worker.logLines().filter((l) => l.kind === "retention")[seen], { what: "the cron's retention log line" });
}

async function quietProject() {
  const project = await createProject(worker, account.token, { auto_sync: false });
  return { project, secret: await verify(worker, webhookPath(project)) };
}

test("one cron run removes what is past the retention and keeps the rest, counters unchanged", async () => {
  const a = await quietProject();
  const quiet = await quietProject();
  const busy = await quietProject();
  // Three real deliveries: they move the counters and are recent, so they stay.
  for (let i = 0; i < 3; i++) {
    const res = await deliver(worker, webhookPath(a.project), pageEvent({ databaseId: a.project.notion.database_id }), { token: a.secret });
    assert.equal(res.json.outcome, "auto_sync_off");
  }
  await waitFor(async () => (await count("webhooks WHERE project_id = ? AND events_received = 3", a.project.id)) === 1, { what: "the deliveries counted in D1" });
  // History that versions before copied to D1 (the deliveries now stay in the objects).
  await writeD1((s) => {
    addEvents(s, a.project.id, 50, (i) => EVENT_DAYS + 1 + i); // 8..57 days old: removed
    addEvents(s, a.project.id, 10, (i) => EVENT_DAYS - 1 - i * 0.5); // 6..1.5 days old: kept
    // One run a day for 150 days: runs 61..99 days old are past the retention but among the
    // last 100, so only the 50 runs 100..149 days old go.
    addRuns(s, a.project.id, 150, (i) => i + 0.5);
    // A quiet project: 20 runs, all far past the retention, all among its last 100.
    addRuns(s, quiet.project.id, 20, (i) => 200 + i);
    // A busy one: 120 recent runs, 30 past the retention.
    addRuns(s, busy.project.id, 120, (i) => i * 0.4);
    addRuns(s, busy.project.id, 30, (i) => SYNC_DAYS + 1 + i);
    const pending = s.raw.prepare("INSERT INTO pending_verifications (id, token_enc, received_at, expires_at) VALUES (?, 'x', ?, ?)");
    pending.run("expired-1", ago(2), ago(2 - 1 / 24));
    pending.run("expired-2", ago(0.5), ago(0.5 - 1 / 24));
    pending.run("waiting", ago(0.01), ago(-1 / 24));
  });
  const counters = await worker.query("SELECT project_id, events_received, events_ignored, last_event_at FROM webhooks ORDER BY project_id");
  const before = (await api(`/api/v1/projects/${a.project.id}`)).json.project.webhook;
  assert.equal(before.events_received, 3);

  const line = await cronRun();
  assert.deepEqual(line.removed, { webhook_events: 50, sync_runs: 80, pending_verifications: 2 }, JSON.stringify(line));
  assert.deepEqual(line.more_left, { webhook_events: false, sync_runs: false, pending_verifications: false });
  assert.equal(line.d1_calls, 1, "everything fit in one round");
  assert.equal(line.error_code, undefined);

  const kept = await worker.query("SELECT received_at FROM webhook_events WHERE project_id = ? ORDER BY received_at", a.project.id);
  assert.equal(kept.length, 10);
  assert.ok(kept.every((e) => e.received_at >= ago(EVENT_DAYS)));
  const runsOf = (id) => worker.query("SELECT started_at FROM sync_runs WHERE project_id = ? ORDER BY started_at DESC", id);
  const aRuns = await runsOf(a.project.id);
  assert.equal(aRuns.length, 100, "the last 100 runs stay, however old");
  assert.ok(aRuns.at(-1).started_at < ago(99) && aRuns.at(-1).started_at > ago(100));
  assert.equal((await runsOf(quiet.project.id)).length, 20, "a quiet project keeps its whole history");
  const busyRuns = await runsOf(busy.project.id);
  assert.equal(busyRuns.length, 120);
  assert.ok(busyRuns.every((r) => r.started_at > ago(SYNC_DAYS)));
  assert.deepEqual((await worker.query("SELECT id FROM pending_verifications")).map((r) => r.id), ["waiting"]);

  // Counters are totals, not counts of the stored rows.
  assert.deepEqual(await worker.query("SELECT project_id, events_received, events_ignored, last_event_at FROM webhooks ORDER BY project_id"), counters);
  const project = (await api(`/api/v1/projects/${a.project.id}`)).json.project;
  assert.deepEqual(project.webhook, before);
  // The history says how far back it goes, and still pages to its end.
  assert.deepEqual(project.retention, { event_history_days: EVENT_DAYS, sync_history_days: SYNC_DAYS, keeps_last_runs: 100 });
  const page = (await api(`/api/v1/projects/${a.project.id}/syncs?limit=60`)).json;
  assert.deepEqual(page.retention, { sync_history_days: SYNC_DAYS, keeps_last_runs: 100 });
  const rest = (await api(`/api/v1/projects/${a.project.id}/syncs?limit=60&cursor=${page.next_cursor}`)).json;
  assert.equal(page.syncs.length + rest.syncs.length, 100);
  assert.equal(rest.next_cursor, null);

  // Nothing left: the next run removes nothing.
  const again = await cronRun();
  assert.deepEqual(again.removed, { webhook_events: 0, sync_runs: 0, pending_verifications: 0 });
});

test("a backlog larger than one run's budget is cleared over several cron runs, oldest first", async () => {
  const { project } = await quietProject();
  await writeD1((s) => {
    addEvents(s, project.id, EVENT_BUDGET + 5_000, (i) => EVENT_DAYS + 1 + i / 1_000);
    addEvents(s, project.id, 3_000, (i) => i / 1_000); // kept: within the last 3 days
    addRuns(s, project.id, 100, (i) => i * 0.5);
    addRuns(s, project.id, RUN_BUDGET + 600, (i) => SYNC_DAYS + 1 + i / 100);
  });
  const events = () => count("webhook_events WHERE project_id = ?", project.id);
  const runs = () => count("sync_runs WHERE project_id = ?", project.id);

  const first = await cronRun();
  assert.deepEqual(first.removed, { webhook_events: EVENT_BUDGET, sync_runs: RUN_BUDGET, pending_verifications: 0 }, JSON.stringify(first));
  assert.deepEqual(first.more_left, { webhook_events: true, sync_runs: true, pending_verifications: false });
  assert.equal(first.d1_calls, MAX_ROUNDS, "one run never makes more D1 calls than its budget");
  assert.equal(await events(), 8_000);
  assert.equal(await runs(), 700);
  // Oldest first: what is left of the backlog is its newest part.
  const [oldestEvent] = await worker.query("SELECT MIN(received_at) AS t FROM webhook_events WHERE project_id = ?", project.id);
  assert.ok(oldestEvent.t > ago(EVENT_DAYS + 1 + EVENT_BUDGET / 1_000), oldestEvent.t);
  const [oldestRun] = await worker.query("SELECT MIN(started_at) AS t FROM sync_runs WHERE project_id = ?", project.id);
  assert.ok(oldestRun.t > ago(SYNC_DAYS + 1 + RUN_BUDGET / 100), oldestRun.t);

  const second = await cronRun();
  assert.deepEqual(second.removed, { webhook_events: 5_000, sync_runs: 600, pending_verifications: 0 }, JSON.stringify(second));
  assert.deepEqual(second.more_left, { webhook_events: false, sync_runs: false, pending_verifications: false });
  assert.equal(second.d1_calls, 3);
  assert.equal(await events(), 3_000);
  assert.equal(await runs(), 100);

  // Nothing left past the retention, thousands of rows kept: an idle run reads next to nothing.
  const idle = await cronRun();
  assert.deepEqual(idle.removed, { webhook_events: 0, sync_runs: 0, pending_verifications: 0 });
  assert.equal(idle.d1_calls, 1);
  for (const line of [first, second, idle]) {
    const removed = Object.values(line.removed).reduce((a, b) => a + b, 0);
    console.log(`# cron run: removed ${JSON.stringify(line.removed)} in ${line.d1_calls} D1 calls; D1 rows read ${line.rows_read}, written ${line.rows_written}; ${line.duration_ms} ms`);
    // Index range scans: a few reads per row removed (its index entry, the row, its other
    // index entries) and one probe per project, never the rows that stay.
    assert.ok(line.rows_read <= 6 * removed + 1_000, `rows_read ${line.rows_read} for ${removed} removed`);
  }
});

/** What an object's SQLite file still holds: its tables and the rows in each. */
async function objectContents(path) {
  if (!existsSync(path)) return {};
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map((t) => t.name);
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT COUNT(*) AS n FROM "${t}"`).get().n]));
  } finally {
    db.close();
  }
}

test("deleting a project removes every D1 row of it and its object's storage, even mid-sync", async () => {
  const project = await createProject(worker, account.token);
  const secret = await verify(worker, webhookPath(project));
  for (let i = 0; i < 2; i++) {
    const res = await deliver(worker, webhookPath(project), pageEvent({ databaseId: project.notion.database_id }), { token: secret });
    assert.equal(res.json.outcome, "queued");
  }
  // The batch syncs (and fails fast against the 401 stand-in); the deliveries reach D1.
  await waitFor(async () => (await count("sync_runs WHERE project_id = ? AND status = 'failed'", project.id)) === 1, { what: "the webhook sync's record" });
  await waitFor(async () => (await count("webhooks WHERE project_id = ? AND events_received = 2", project.id)) === 1, { what: "the deliveries counted" });
  await writeD1((s) => {
    addEvents(s, project.id, 3, (i) => i);
    addRuns(s, project.id, 3, (i) => i + 1);
    s.raw.prepare("INSERT INTO synced_items (project_id, page_id, slug, slug_source, content_hash, last_edited_time, synced_at) VALUES (?, ?, 'a-post', 'title', 'h', NULL, ?)")
      .run(project.id, randomUUID(), ago(0));
    s.raw.prepare("INSERT INTO assets (project_id, file_key, kind, asset_id, asset_url, uploaded_at) VALUES (?, 'image:files.test/ws/f/a.png', 'image', 'a1', 'https://framerusercontent.com/images/a1.png', ?)")
      .run(project.id, ago(0));
  });
  const [file] = await worker.objectFilesOf(project.id);
  assert.ok(file, "the project's object holds its id");
  assert.equal((await objectContents(file)).events, 2, "and its ledger");

  const tables = ["projects WHERE id = ?", "webhooks WHERE project_id = ?", "webhook_events WHERE project_id = ?", "sync_runs WHERE project_id = ?", "synced_items WHERE project_id = ?", "assets WHERE project_id = ?"];
  /** Whether D1 holds no row of the project and its object's storage is empty. */
  const isGone = async () => {
    for (const table of tables) if ((await count(table, project.id)) !== 0) return false;
    return Object.values(await objectContents(file)).every((n) => n === 0);
  };

  // Delete while a sync is waiting on Notion: the run ends after the object was emptied.
  slowNotion.delayMs = 2_500;
  try {
    const answered = slowNotion.answered;
    const queued = await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} });
    assert.equal(queued.status, 202, queued.text);
    await waitFor(async () => (await count("sync_runs WHERE id = ? AND status = 'running'", queued.json.sync_id)) === 1, { what: "the manual run to start" });
    const deleted = await api(`/api/v1/projects/${project.id}`, { method: "DELETE" });
    assert.equal(deleted.status, 200, deleted.text);
    await waitFor(() => slowNotion.answered > answered, { what: "Notion to answer the running sync", timeoutMs: 10_000 });
    // The run goes on after Notion's answer: for the whole time it could still write, the
    // object stays empty and D1 holds nothing of the project.
    await waitFor(async () => await isGone(), { what: "the project's state to be gone" });
    await holdsFor(isGone, { forMs: 1_500, what: "nothing of the deleted project re-created after the run's last answer" });
  } finally {
    slowNotion.delayMs = 0;
  }
  // Nothing re-creates it afterwards: its webhook and its sync are gone.
  const late = await deliver(worker, webhookPath(project), pageEvent({ databaseId: project.notion.database_id }), { token: secret });
  assert.equal(late.status, 404);
  assert.equal((await api(`/api/v1/projects/${project.id}/sync`, { method: "POST", body: {} })).status, 404);
  await holdsFor(isGone, { forMs: 1_000, what: "nothing re-created by the late webhook or sync" });

  for (const table of tables) {
    assert.equal(await count(table, project.id), 0, `D1 ${table.split(" ")[0]} cascades`);
  }
  const left = await objectContents(file);
  assert.deepEqual(Object.entries(left).filter(([, n]) => n > 0), [], `the object's storage is empty: ${JSON.stringify(left)}`);
  assert.ok(!("events" in left), `the object's ledger table is gone: ${JSON.stringify(left)}`);
  assert.deepEqual(await worker.objectFilesOf(project.id), []);
});
