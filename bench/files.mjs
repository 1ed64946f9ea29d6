// Re-hosting benchmark: a first sync of BENCH_FILE_ROWS rows (default 300), each with a cover
// image (files property) and an image in its page body, then a run with nothing changed.
// Prints uploads and bytes for each run (goal for the second: 0 uploads), the wall time against
// the floor the data sets at Notion's 3 requests/s (query pages, database + data source, and on
// the first run one body per row) beside the requests the fake Notion served. A run with
// warnings fails.
//   node bench/files.mjs        (make bench runs it)
import assert from "node:assert/strict";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, syncNow } from "../harness/stack.mjs";
import { startWorker } from "../harness/worker.mjs";

const ROWS = Number(process.env.BENCH_FILE_ROWS ?? 300);
const NOTION_TOKEN = "ntn_bench_files_0123456789";
const FRAMER_PROJECT = "BenchFilesProject001";
const FRAMER_KEY = "fr_bench_files_0123456789";

const RATE = 3;
const notion = await startFakeNotion({ rateLimit: { requestsPerSecond: RATE, burst: RATE } });
const framer = await startFakeFramer();
notion.addIntegration(NOTION_TOKEN);
framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
const db = notion.addDatabase({ title: "Gallery", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: NOTION_TOKEN });
for (let i = 0; i < ROWS; i++) {
  notion.addPage(db.dataSourceId, {
    properties: { Name: `Photo ${i}`, Cover: { file: `cover-${i}.png` } },
    children: [{ image: { file: `inline-${i}.png`, caption: `Photo ${i}` } }],
  });
}
const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url } });
try {
  const { token } = await createAccount(worker, { name: "Bench files" });
  const project = await createSyncProject(worker, token, {
    name: "Gallery", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, page_body: true,
  });
  const pages = Math.max(1, Math.ceil(ROWS / 100));
  const measure = async (label, bodies) => {
    const before = framer.uploadStats;
    const callsBefore = framer.calls.filter((c) => c.method.startsWith("upload")).length;
    notion.resetStats();
    const started = Date.now();
    const run = await syncNow(worker, token, project.id, { timeoutMs: 3_600_000 });
    const after = framer.uploadStats;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const uploadCalls = framer.calls.filter((c) => c.method.startsWith("upload")).length - callsBefore;
    const need = pages + 2 + bodies;
    console.log(
      `${label}: ${run.status}, ${after.uploads - before.uploads} uploads in ${uploadCalls} upload calls, ${after.bytes - before.bytes} bytes, ` +
        `${run.counts.added + run.counts.updated} items written, ${run.steps} steps, ${seconds} s; ` +
        `data floor (${pages} query pages + 2 setup + ${bodies} bodies) / ${RATE} per s = ${(need / RATE).toFixed(1)} s ` +
        `(${(Math.max(0, need - RATE) / RATE).toFixed(1)} s after the fake's burst of ${RATE}), ` +
        `the fake Notion served ${notion.stats.requests} requests (${notion.stats.rateLimited} rate-limited)`,
    );
    assert.deepEqual(run.warnings, [], `${label}: the run warned`);
  };
  console.log(`re-hosting: ${ROWS} rows, each with a cover image and a body image`);
  await measure("first sync", ROWS);
  await measure("nothing changed", 0);
} finally {
  await worker.stop();
  await framer.close();
  await notion.close();
}
