// Retention benchmark: what the D1 history costs and that the cron keeps it bounded, measured in
// the local D1 file of the built Worker under workerd (SQLite's dbstat: the pages each table and
// its indexes occupy).
//   node bench/retention.mjs      (make bench runs it)
// 1. D1 bytes per 1,000 webhook events: BENCH_EVENTS (5,000) signed deliveries through the real
//    path (webhook -> the project's object -> copied to D1).
// 2. D1 bytes per sync run: BENCH_RUNS (100) "Sync now" runs of a 20-row database against the
//    fake Notion and Framer.
// 3. The steady-state size of a project receiving 1,000 events a day under the default retention
//    (EVENT_HISTORY_DAYS 30, SYNC_HISTORY_DAYS 90, each project's last 100 runs kept).
// 4. That the cron gets there: 60 days of history at 1,000 events and 100 runs a day, written
//    into D1 directly, pruned by cron runs until nothing is left past the retention.
import { randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { createSyncProject, syncNow } from "../harness/stack.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const EVENTS_PER_DAY = 1_000;
const EVENT_DAYS = 30;
const SYNC_DAYS = 90;
const KEEP_LAST_RUNS = 100;
const DAY_MS = 86_400_000;
const NOTION_TOKEN = "ntn_bench_token_0123456789";
const FRAMER_PROJECT = "BenchProjectId000001";
const FRAMER_KEY = "fr_bench_key_0123456789";

const notion = await startFakeNotion();
const framer = await startFakeFramer();
notion.addIntegration(NOTION_TOKEN);
const database = notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" }, Views: { type: "number" } }, token: NOTION_TOKEN });
for (let i = 0; i < 20; i++) notion.addPage(database.dataSourceId, { properties: { Name: `Post ${i}`, Views: i } });
framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" } });

async function openD1(options = {}) {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = join(worker.persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = (await readdir(dir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  return new DatabaseSync(join(dir, file), options);
}

/** Bytes of the pages a table and its indexes occupy, and the bytes of those pages in use. */
async function footprint(table) {
  const db = await openD1({ readOnly: true });
  try {
    return db
      .prepare(
        "SELECT COUNT(*) AS pages, SUM(pgsize) AS bytes, SUM(pgsize - unused) AS used FROM dbstat " +
          "WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = ? AND type IN ('table', 'index'))",
      )
      .get(table);
  } finally {
    db.close();
  }
}

async function fileStats() {
  const db = await openD1({ readOnly: true });
  try {
    const pages = db.prepare("PRAGMA page_count").get().page_count;
    const free = db.prepare("PRAGMA freelist_count").get().freelist_count;
    const size = db.prepare("PRAGMA page_size").get().page_size;
    return { bytes: pages * size, freeBytes: free * size };
  } finally {
    db.close();
  }
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const count = async (sql, ...args) => (await worker.query(`SELECT COUNT(*) AS n FROM ${sql}`, ...args))[0].n;

/** Triggers the cron and returns its retention log line. */
async function cronRun() {
  const lines = () => worker.logLines().filter((l) => l.kind === "retention");
  const seen = lines().length;
  await fetch(`${worker.url}/__scheduled?cron=*/15+*+*+*+*`);
  return waitFor(() => lines()[seen], { what: "the cron's retention line", timeoutMs: 60_000 });
}

try {
  const { token } = await createAccount(worker, { name: "Bench" });
  const project = await createSyncProject(worker, token, {
    name: "Bench", databaseId: database.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, auto_sync: false,
  });
  const secret = await verify(worker, webhookPath(project));

  // 1. Webhook events, through the real path.
  const eventsBefore = await footprint("webhook_events");
  let next = 0;
  await Promise.all(Array.from({ length: 25 }, async () => {
    while (next < EVENTS) {
      next++;
      const res = await deliver(worker, webhookPath(project), pageEvent({ databaseId: database.databaseId }), { token: secret });
      if (res.status !== 200) throw new Error(`delivery answered ${res.status}: ${res.text}`);
    }
  }));
  await waitFor(async () => (await count("webhook_events WHERE project_id = ?", project.id)) === EVENTS, { what: "every event copied to D1", timeoutMs: 120_000 });
  const eventsAfter = await footprint("webhook_events");
  const perThousandEvents = ((eventsAfter.bytes - eventsBefore.bytes) / EVENTS) * 1_000;
  const usedPerThousandEvents = ((eventsAfter.used - eventsBefore.used) / EVENTS) * 1_000;
  console.log(`webhook_events: ${EVENTS} deliveries -> ${eventsAfter.pages - eventsBefore.pages} pages; ${kib(perThousandEvents)} per 1,000 events (${kib(usedPerThousandEvents)} of it in use), table + 2 indexes`);

  // 2. Sync runs, real ones.
  const started = Date.now();
  const runsBefore = await footprint("sync_runs");
  for (let i = 0; i < RUNS; i++) {
    const run = await syncNow(worker, token, project.id);
    if (run.status !== "succeeded") throw new Error(`run ${i} ${run.status}: ${JSON.stringify(run.error)}`);
  }
  const runsAfter = await footprint("sync_runs");
  const perRun = (runsAfter.bytes - runsBefore.bytes) / RUNS;
  const usedPerRun = (runsAfter.used - runsBefore.used) / RUNS;
  console.log(`sync_runs: ${RUNS} runs (${((Date.now() - started) / 1000).toFixed(0)} s) -> ${runsAfter.pages - runsBefore.pages} pages; ${perRun.toFixed(0)} bytes per run (${usedPerRun.toFixed(0)} in use), table + 2 indexes`);

  // 3. Steady state under the default retention, from the figures above.
  const events = EVENTS_PER_DAY * EVENT_DAYS;
  const eventBytes = (events / 1_000) * perThousandEvents;
  console.log(`steady state, one project at ${EVENTS_PER_DAY} events/day: ${events} events kept (${EVENT_DAYS} days) = ${mib(eventBytes)}`);
  for (const [label, runsPerDay] of [["100 runs/day (one per 10 events)", EVENTS_PER_DAY / 10], ["1,000 runs/day (one per event)", EVENTS_PER_DAY]]) {
    const runs = Math.max(KEEP_LAST_RUNS, runsPerDay * SYNC_DAYS);
    const runBytes = runs * perRun;
    console.log(`  + ${label}: ${runs} runs kept (${SYNC_DAYS} days) = ${mib(runBytes)}; total ${mib(eventBytes + runBytes)} per project, ${((eventBytes + runBytes) * 1_000 / 1024 ** 3).toFixed(1)} GiB for 1,000 such projects`);
  }

  // 4. The cron gets there: 60 days of history, pruned down to the retention.
  const aged = await createSyncProject(worker, token, {
    name: "Aged", databaseId: randomUUID(), notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, collection: "Aged", auto_sync: false,
  });
  const db = await openD1();
  try {
    db.exec("BEGIN");
    const event = db.prepare("INSERT INTO webhook_events (event_id, project_id, type, entity_id, relevant, attempt_number, received_at) VALUES (?, ?, 'page.properties_updated', ?, 1, 1, ?)");
    const run = db.prepare("INSERT INTO sync_runs (id, project_id, trigger, status, started_at, finished_at, events, unchanged, notion_calls, framer_calls) VALUES (?, ?, 'webhook', 'succeeded', ?, ?, 10, 20, 2, 3)");
    const now = Date.now();
    for (let i = 0; i < 60 * EVENTS_PER_DAY; i++) event.run(randomUUID(), aged.id, randomUUID(), new Date(now - (i * DAY_MS) / EVENTS_PER_DAY).toISOString());
    for (let i = 0; i < 120 * 100; i++) {
      const at = new Date(now - (i * DAY_MS) / 100).toISOString();
      run.run(randomUUID(), aged.id, at, at);
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  const grown = { events: await footprint("webhook_events"), runs: await footprint("sync_runs"), file: await fileStats() };
  console.log(`aged project: 60 days x ${EVENTS_PER_DAY} events, 120 days x 100 runs written -> webhook_events ${mib(grown.events.bytes)}, sync_runs ${mib(grown.runs.bytes)}, file ${mib(grown.file.bytes)}`);
  const allRuns = await count("sync_runs");
  console.log(`  sync_runs at ${allRuns} rows: ${(grown.runs.bytes / allRuns).toFixed(0)} bytes per run (${(grown.runs.used / allRuns).toFixed(0)} in use)`);
  for (let i = 1; ; i++) {
    const line = await cronRun();
    console.log(`  cron run ${i}: removed ${JSON.stringify(line.removed)} in ${line.d1_calls} D1 calls (D1 rows read ${line.rows_read}, written ${line.rows_written}), ${line.duration_ms} ms; more left: ${Object.values(line.more_left).some(Boolean)}`);
    if (!Object.values(line.more_left).some(Boolean)) break;
  }
  const pruned = { events: await footprint("webhook_events"), runs: await footprint("sync_runs"), file: await fileStats() };
  const kept = { events: await count("webhook_events WHERE project_id = ?", aged.id), runs: await count("sync_runs WHERE project_id = ?", aged.id) };
  const [allEvents, allRunsLeft] = [await count("webhook_events"), await count("sync_runs")];
  const [eventRow, runRow] = [pruned.events.bytes / allEvents, pruned.runs.bytes / allRunsLeft];
  const steady = kept.events * eventRow + kept.runs * runRow;
  console.log(`  kept ${kept.events} events (${EVENT_DAYS} days) and ${kept.runs} runs (${SYNC_DAYS} days); webhook_events ${mib(pruned.events.bytes)}, sync_runs ${mib(pruned.runs.bytes)}; file ${mib(pruned.file.bytes)} of which ${mib(pruned.file.freeBytes)} free pages that new rows reuse`);
  // The aged project is now that steady state (100 runs a day), pages partly emptied by the
  // pruning included: the tables' bytes per row now, times its rows.
  console.log(`  after pruning: ${(eventRow * 1_000 / 1024).toFixed(1)} KiB per 1,000 events, ${runRow.toFixed(0)} bytes per run -> the aged project's steady state ${mib(steady)}`);
} finally {
  await worker.stop();
  await framer.close();
  await notion.close();
}
