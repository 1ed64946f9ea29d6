// Storage benchmark (issue 20 part 5): what one project keeps in D1, the catalog shared by every
// project (10 GB in all), and in its own Durable Object's SQLite (10 GB per object), at steady
// state; and from that the D1 size for 100,000 such projects. Measured on the built Worker under
// workerd, in its local D1 file and the project's object file (SQLite's dbstat).
//   node bench/storage.mjs      (make bench runs it)
//   BENCH_STORE_ITEMS=1000      rows of the database, each with a cover file (re-hosted: `assets`)
//   BENCH_STORE_EVENTS=1000     signed webhook deliveries through the real path (a day's worth)
//   BENCH_STORE_RUNS=30         webhook runs those deliveries make (the events split between them)
// Steps: a first sync (full); the deliveries, BENCH_STORE_RUNS batches each editing a few rows
// and waiting for its run; a last full run ("Sync now"). D1's share of the project is measured
// after the first sync and again at the end: whatever a run or an event left in D1 would show
// as growth.
//
// How D1 bytes are attributed to the project: per table, the bytes in use (dbstat: page size
// minus unused bytes, over the table and its indexes) divided by the table's rows, times the
// project's rows there (`projects` by id, every table with a `project_id` column by that).
// That is what the project's rows occupy once pages are shared with other projects' rows; the
// file delta of one project alone says little (4 KiB pages: the migrations' empty tables
// already hold a page each, and one project's rows fit in them), so it is printed only beside.
// A "pages 2/3 full" figure is printed too: B-tree pages filled by random keys end up about
// that full. The account's own rows (accounts, api_tokens, ...) are per account, not per
// project, and listed apart.
//
// The retention part of the benchmark before (60 days of D1 history pruned by the cron) is
// gone: D1 no longer keeps history that grows with age (events stay in the objects for 48 h,
// D1 keeps two runs per project), and `tests/retention.test.mjs` covers the pruning of what
// earlier versions left there.
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { createSyncProject, syncNow } from "../harness/stack.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

const ITEMS = Number(process.env.BENCH_STORE_ITEMS ?? 1_000);
const EVENTS = Number(process.env.BENCH_STORE_EVENTS ?? 1_000);
const RUNS = Number(process.env.BENCH_STORE_RUNS ?? 30);
const PROJECTS = 100_000;
const D1_GOAL = 16 * 1024;
// The retention of the object's tables (core/src/sync/ledger.rs, sync/retention.rs).
const LEDGER_HOURS = 48;
const RUN_HISTORY_DAYS = 90;
const EVENTS_PER_DAY = 1_000;
const NOTION_TOKEN = "ntn_bench_store_0123456789";
const FRAMER_PROJECT = "BenchStoreProject001";
const FRAMER_KEY = "fr_bench_store_0123456789";
const BASE_TIME = Date.parse("2024-01-01T00:00:00.000Z");

const notion = await startFakeNotion();
const framer = await startFakeFramer();
notion.addIntegration(NOTION_TOKEN);
framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
const database = notion.addDatabase({
  title: "Posts",
  properties: { Name: { type: "title" }, Views: { type: "number" }, Cover: { type: "files" } },
  token: NOTION_TOKEN,
});
const pageIds = [];
for (let i = 0; i < ITEMS; i++) {
  pageIds.push(notion.addPage(database.dataSourceId, {
    properties: { Name: `Post number ${i}`, Views: i, Cover: { file: `cover-${i}.png` } },
    // In the past, so that the incremental runs read only the rows the bench edits.
    createdTime: BASE_TIME + i * 60_000,
    editedTime: BASE_TIME + i * 60_000,
  }));
}
const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" } });

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const gib = (n) => `${(n / 1024 ** 3).toFixed(2)} GiB`;

async function open(file) {
  const { DatabaseSync } = await import("node:sqlite");
  return new DatabaseSync(file, { readOnly: true });
}

async function d1File() {
  const dir = `${worker.persist}/v3/d1/miniflare-D1DatabaseObject`;
  const { readdir } = await import("node:fs/promises");
  const file = (await readdir(dir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  return `${dir}/${file}`;
}

/**
 * Per table of a SQLite file: rows, bytes of its pages (table + indexes) and bytes in use, and
 * the file's pages in use (page count minus free pages) in bytes.
 */
function tables(db) {
  const byTable = new Map();
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
  for (const { name } of names) {
    const stat = db
      .prepare(
        "SELECT COALESCE(SUM(pgsize), 0) AS bytes, COALESCE(SUM(pgsize - unused), 0) AS used FROM dbstat " +
          "WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = ? AND type IN ('table', 'index'))",
      )
      .get(name);
    const rows = db.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).get().n;
    const columns = db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name).map((c) => c.name);
    byTable.set(name, { rows, bytes: stat.bytes, used: stat.used, columns });
  }
  const pages = db.prepare("PRAGMA page_count").get().page_count;
  const free = db.prepare("PRAGMA freelist_count").get().freelist_count;
  const size = db.prepare("PRAGMA page_size").get().page_size;
  return { byTable, inUse: (pages - free) * size, file: pages * size };
}

/** The project's rows in D1 and the bytes attributed to them (see the header). */
async function d1Share(projectId) {
  const db = await open(await d1File());
  try {
    const { byTable, inUse } = tables(db);
    const perProject = [];
    const other = [];
    for (const [name, t] of byTable) {
      if (t.rows === 0 || name === "d1_migrations" || name.startsWith("_cf")) continue;
      const where = name === "projects" ? "id" : t.columns.includes("project_id") ? "project_id" : null;
      const entry = { name, rows: t.rows, perRow: t.used / t.rows };
      if (!where) {
        other.push(entry);
        continue;
      }
      entry.mine = db.prepare(`SELECT COUNT(*) AS n FROM "${name}" WHERE ${where} = ?`).get(projectId).n;
      if (entry.mine > 0) perProject.push(entry);
    }
    const bytes = perProject.reduce((sum, t) => sum + t.mine * t.perRow, 0);
    return { bytes, perProject, other, inUse };
  } finally {
    db.close();
  }
}

async function objectShare(projectId) {
  const [file] = await worker.objectFilesOf(projectId);
  const db = await open(file);
  try {
    return tables(db);
  } finally {
    db.close();
  }
}

const tableList = (entries, rows) => entries.map((t) => `${t.name} ${rows(t)} x ${t.perRow.toFixed(0)} B`).join(", ");

try {
  console.log(`machine: ${cpus().length} x ${cpus()[0].model}; ${ITEMS} items with a cover file each, ${EVENTS} webhook events, ${RUNS} webhook runs`);
  const empty = (await d1Share("none")).inUse;
  const { token } = await createAccount(worker, { name: "Bench" });
  const project = await createSyncProject(worker, token, {
    name: "Bench", databaseId: database.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, collection: "Posts",
  });
  const secret = await verify(worker, webhookPath(project));
  const runs = async () => (await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=100`, { token })).json.syncs;

  const first = await syncNow(worker, token, project.id, { timeoutMs: 600_000 });
  assert.equal(first.status, "succeeded", JSON.stringify(first.error));
  assert.deepEqual(first.warnings, [], "the first sync warned");
  const afterFirst = await d1Share(project.id);
  console.log(`first sync: ${first.counts.added} items added, ${first.steps} steps; the project's D1 rows: ${tableList(afterFirst.perProject, (t) => t.mine)} = ${(afterFirst.bytes).toFixed(0)} B`);

  // The deliveries, BENCH_STORE_RUNS batches: each edits three rows, delivers its share of the
  // events (signed, through the webhook route) and waits for the run they make.
  const started = Date.now();
  let delivered = 0;
  let before = (await runs()).length;
  for (let r = 0; r < RUNS; r++) {
    const edited = [0, 1, 2].map((k) => pageIds[(r * 3 + k) % ITEMS]);
    for (const id of edited) notion.updatePage(id, { Views: 100_000 + r });
    const share = Math.floor(EVENTS / RUNS) + (r < EVENTS % RUNS ? 1 : 0);
    await Promise.all(Array.from({ length: share }, (_, k) =>
      deliver(worker, webhookPath(project), pageEvent({ databaseId: database.databaseId, pageId: edited[k % 3] }), { token: secret }).then((res) => {
        if (res.status !== 200) throw new Error(`delivery answered ${res.status}: ${res.text}`);
      })));
    delivered += share;
    const done = await waitFor(async () => {
      const all = await runs();
      return all.length > before && all.every((run) => run.status !== "running") && all;
    }, { timeoutMs: 120_000, intervalMs: 200, what: `webhook run ${r + 1}` });
    assert.equal(done[0].status, "succeeded", JSON.stringify(done[0].error));
    before = done.length;
  }
  const last = await syncNow(worker, token, project.id, { timeoutMs: 600_000 });
  assert.equal(last.status, "succeeded", JSON.stringify(last.error));
  const allRuns = await runs();
  // Every event counted into D1's counters (the tally), none left behind in the ledger.
  await waitFor(async () => (await worker.eventsOf(project.id)).every((e) => e.flushed), { what: "every event tallied", timeoutMs: 60_000 });
  console.log(`${delivered} events delivered in ${RUNS} batches, ${allRuns.length} runs in all (${((Date.now() - started) / 1000).toFixed(0)} s), the last one full`);

  const d1 = await d1Share(project.id);
  const growth = d1.bytes - afterFirst.bytes;
  console.log(`D1, the project's rows: ${tableList(d1.perProject, (t) => t.mine)} = ${d1.bytes.toFixed(0)} B (${growth >= 0 ? "+" : ""}${growth.toFixed(0)} B since the first sync, ${allRuns.length - 1} runs and ${delivered} events ago)`);
  console.log(`  per account, not per project: ${tableList(d1.other, (t) => t.rows)}`);
  console.log(`  D1 file: pages in use grew by ${kib(d1.inUse - empty)} since before the account and project existed (4 KiB pages; the empty tables' pages held them)`);
  const pessimistic = d1.bytes * 1.5;
  console.log(`D1 bytes per project: ${kib(d1.bytes)} in use, ${kib(pessimistic)} with pages 2/3 full (goal <= ${kib(D1_GOAL)})`);
  console.log(`D1 for ${PROJECTS.toLocaleString("en")} such projects: ${gib(d1.bytes * PROJECTS)} in use, ${gib(pessimistic * PROJECTS)} with pages 2/3 full (goal < 2 GB; D1's limit 10 GB)`);

  const object = await objectShare(project.id);
  const rowsOf = (name) => object.byTable.get(name)?.rows ?? 0;
  const perRowOf = (name) => (rowsOf(name) ? object.byTable.get(name).used / rowsOf(name) : 0);
  const list = [...object.byTable].filter(([, t]) => t.rows > 0).map(([name, t]) => `${name} ${t.rows} rows ${kib(t.used)}`).join(", ");
  console.log(`object SQLite: file ${kib(object.file)} (${kib(object.inUse)} of pages in use); ${list}`);
  // Steady state at 1,000 events a day: the ledger keeps 48 h of deliveries; the run history
  // 90 days (and always the last 100 runs), here one run per ~33 events as measured.
  const ledgerRows = (EVENTS_PER_DAY * LEDGER_HOURS) / 24;
  const runsPerDay = (allRuns.length / delivered) * EVENTS_PER_DAY;
  const historyRows = Math.max(100, runsPerDay * RUN_HISTORY_DAYS);
  const steady = object.inUse - rowsOf("events") * perRowOf("events") - rowsOf("runs") * perRowOf("runs") + ledgerRows * perRowOf("events") + historyRows * perRowOf("runs");
  console.log(`object bytes per project at steady state (${EVENTS_PER_DAY} events/day: ${ledgerRows} events in the 48 h ledger at ${perRowOf("events").toFixed(0)} B, ${historyRows.toFixed(0)} runs in the 90-day history at ${perRowOf("runs").toFixed(0)} B, ${ITEMS} items and their assets as measured): ${kib(steady)} (object limit 10 GB)`);
} finally {
  await worker.stop();
  await framer.close();
  await notion.close();
}
