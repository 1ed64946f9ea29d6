// Sync benchmark: a 10,000-row fake Notion database rate-limited like Notion (3 requests/s),
// synced by the built Worker under workerd into the fake Framer.
//   node bench/sync.mjs        (make bench runs it)
// Prints, per run: wall time, Notion calls, Framer calls, bytes sent, items sent; and the wasm
// bundle's gzipped size.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { cpus } from "node:os";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { createSyncProject } from "../harness/stack.mjs";
import { ROOT, startWorker, waitFor } from "../harness/worker.mjs";

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const RATE = 3;
const NOTION_TOKEN = "ntn_bench_token_0123456789";
const FRAMER_PROJECT = "BenchProjectId000001";
const FRAMER_KEY = "fr_bench_key_0123456789";

const notion = await startFakeNotion({ rateLimit: { requestsPerSecond: RATE, burst: RATE } });
const framer = await startFakeFramer();
notion.addIntegration(NOTION_TOKEN);
const db = notion.addDatabase({
  title: "Posts",
  properties: { Name: { type: "title" }, Views: { type: "number" }, Tags: { type: "multi_select", options: ["a", "b", "c"] }, Published: { type: "date" } },
  token: NOTION_TOKEN,
});
framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
const base = Date.parse("2024-01-01T00:00:00.000Z");
const pageIds = [];
for (let i = 0; i < ROWS; i++) {
  pageIds.push(notion.addPage(db.dataSourceId, {
    properties: { Name: `Post number ${i}`, Views: i, Tags: [["a", "b", "c"][i % 3]], Published: "2024-02-03" },
    createdTime: base + i * 60_000,
    editedTime: base + i * 60_000,
  }));
}

const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "1", DEBOUNCE_MAX_WAIT_SECONDS: "5" } });
try {
  console.log(`machine: ${cpus().length} x ${cpus()[0].model}; ${ROWS} rows; fake Notion limited to ${RATE} req/s (burst ${RATE})`);
  const { token } = await createAccount(worker, { name: "Bench" });
  const project = await createSyncProject(worker, token, {
    name: "Bench", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, collection: "Posts",
  });
  const secret = await verify(worker, webhookPath(project));

  const runs = async () => (await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=100`, { token })).json.syncs;
  async function finished(count) {
    return waitFor(async () => {
      const all = await runs();
      return all.length >= count && all.every((r) => r.status !== "running") && all[0];
    }, { timeoutMs: 600_000, intervalMs: 250, what: `run ${count}` });
  }
  function report(label, run, extra = "") {
    const wall = (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;
    const sent = run.counts.added + run.counts.updated;
    console.log(`${label}: ${run.status}, ${run.scope}, wall ${wall.toFixed(1)} s, Notion calls ${run.calls.notion}, Framer calls ${run.calls.framer}, bytes sent ${run.calls.bytes_sent_to_framer}, items sent ${sent}, removed ${run.counts.removed}, unchanged ${run.counts.unchanged}${extra}`);
    return wall;
  }

  notion.resetStats();
  await worker.fetch(`/api/v1/projects/${project.id}/sync`, { method: "POST", token, body: {} });
  const first = await finished(1);
  const floor = Math.ceil(ROWS / 100) / RATE;
  const wall = report("full first sync", first);
  console.log(`  rate-limit floor ceil(${ROWS}/100)/${RATE} = ${floor.toFixed(1)} s; ratio ${(wall / floor).toFixed(2)}x (goal <= 1.15x); 429s seen ${notion.stats.rateLimited}; items in Framer ${framer.project(FRAMER_PROJECT).collection("Posts").items.size}`);

  await deliver(worker, webhookPath(project), pageEvent({ databaseId: db.databaseId, pageId: pageIds[5] }), { token: secret });
  report("nothing changed (webhook, incremental)", await finished(2));

  notion.updatePage(pageIds[42], { Views: 4242 });
  await deliver(worker, webhookPath(project), pageEvent({ databaseId: db.databaseId, pageId: pageIds[42] }), { token: secret });
  report("one row changed (webhook, incremental)", await finished(3));

  const wasm = readFileSync(`${ROOT}/build/index_bg.wasm`);
  console.log(`wasm bundle: ${(wasm.length / 1024).toFixed(0)} KiB, gzipped ${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KiB (goal < 1024 KiB)`);
} finally {
  await worker.stop();
  await framer.close();
  await notion.close();
}
