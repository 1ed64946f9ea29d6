// Webhook ingest benchmark against the built Worker under workerd (local, loopback only).
//   node bench/ingest.mjs            (make bench runs it)
// 1. Throughput and latency: 32 concurrent connections for 10 s on the signed webhook route,
//    beside the trivial /livez route of the same Worker.
// 2. Coalescing: 5,000 signed events over 50 databases in a few seconds -> exactly 50 syncs,
//    every accepted event id recorded.
import { cpus } from "node:os";
import { createAccount, createProject, deliver, pageEvent, sign, verify, webhookPath } from "../tests/support/api.mjs";
import { startFakeNotion } from "../tests/fakes/notion.mjs";
import { startWorker, waitFor } from "../tests/support/worker.mjs";

const CONNECTIONS = 32;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function load(name, makeRequest) {
  const latencies = [];
  let errors = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const t0 = performance.now();
        const res = await makeRequest();
        latencies.push(performance.now() - t0);
        if (res.status !== 200) errors++;
        await res.arrayBuffer();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const result = { name, requests: latencies.length, errors, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  console.log(`${name.padEnd(8)} ${result.requests} requests, ${errors} non-200, ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms`);
  return result;
}

const notion = await startFakeNotion();
const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, DEBOUNCE_SECONDS: "3", DEBOUNCE_MAX_WAIT_SECONDS: "30" } });
try {
  console.log(`machine: ${cpus().length} x ${cpus()[0].model}; Worker under wrangler dev (workerd), load from this process`);
  const { token } = await createAccount(worker, { name: "Bench" });

  // 1. Throughput: one project. Auto-sync off (default) measures ingestion alone; with
  // BENCH_AUTO_SYNC=1 every event also goes through the Durable Object (and syncs run).
  const autoSync = process.env.BENCH_AUTO_SYNC === "1";
  const quiet = await createProject(worker, token, { auto_sync: autoSync });
  console.log(`webhook project: auto-sync ${autoSync ? "on (events reach the Durable Object)" : "off (no Durable Object call)"}`);
  const secret = await verify(worker, webhookPath(quiet));
  const path = webhookPath(quiet);
  const trivial = await load("livez", () => fetch(`${worker.url}/livez`));
  const webhook = await load("webhook", () => {
    const body = JSON.stringify(pageEvent({ databaseId: quiet.notion.database_id }));
    return fetch(worker.url + path, { method: "POST", body, headers: { "content-type": "application/json", "x-notion-signature": sign(secret, body) } });
  });
  console.log(`ratio: throughput ${(webhook.rps / trivial.rps * 100).toFixed(0)}% of trivial (goal >= 70%), p99 ${(webhook.p99 / trivial.p99).toFixed(2)}x (goal <= 2x)`);

  // 2. Coalescing.
  const projects = [];
  for (let i = 0; i < 50; i++) {
    const project = await createProject(worker, token, { name: `db-${i}` });
    projects.push({ project, secret: await verify(worker, webhookPath(project)) });
  }
  const events = projects.flatMap(({ project, secret }) => Array.from({ length: 100 }, () => ({ project, secret, event: pageEvent({ databaseId: project.notion.database_id }) })));
  const t0 = performance.now();
  let accepted = 0;
  for (let i = 0; i < events.length; i += CONNECTIONS) {
    const results = await Promise.all(events.slice(i, i + CONNECTIONS).map(({ project, secret, event }) => deliver(worker, webhookPath(project), event, { token: secret })));
    accepted += results.filter((r) => r.status === 200 && r.json.outcome === "queued").length;
  }
  const sendSeconds = (performance.now() - t0) / 1000;
  const ids = new Set(projects.map((p) => p.project.id));
  await waitFor(async () => {
    const rows = await worker.query("SELECT project_id, status FROM sync_runs");
    const done = rows.filter((r) => ids.has(r.project_id) && r.status !== "running");
    return new Set(done.map((r) => r.project_id)).size === ids.size;
  }, { timeoutMs: 120_000, what: "a run per database" });
  await new Promise((r) => setTimeout(r, 5_000));
  const runs = (await worker.query("SELECT project_id FROM sync_runs")).filter((r) => ids.has(r.project_id)).length;
  const recorded = (await worker.query("SELECT project_id FROM webhook_events WHERE relevant = 1")).filter((r) => ids.has(r.project_id)).length;
  console.log(`coalescing: ${events.length} events sent in ${sendSeconds.toFixed(1)} s, ${accepted} accepted, ${runs} syncs for ${ids.size} databases (goal exactly ${ids.size}), ${accepted - recorded} accepted events unaccounted for (goal 0)`);
} finally {
  await worker.stop();
  await notion.close();
}
