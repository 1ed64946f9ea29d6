// One pacer per Notion token: projects that share a token share Notion's rate limit (3 req/s,
// burst 3 in the fake, per token), so "Sync now" on all of them at once must not make Notion
// answer 429; and a project on another token is not slowed by them (its own pacer).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

const RATE = 3;
const SHARED_TOKEN = "ntn_rate_shared_token_0123456789";
const OTHER_TOKEN = "ntn_rate_other_token_0123456789";
// 1,000 rows: the database, its data source and 10 query pages, 12 Notion requests a run.
const ROWS = 1_000;
const BASE_TIME = Date.parse("2024-01-01T00:00:00.000Z");

let notion;
let framer;
let worker;
let token;

before(async () => {
  notion = await startFakeNotion({ rateLimit: { requestsPerSecond: RATE, burst: RATE } });
  framer = await startFakeFramer();
  worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url } });
  ({ token } = await createAccount(worker, { name: "Rate share" }));
});

after(async () => {
  await worker?.stop();
  await framer?.close();
  await notion?.close();
});

/** A project syncing its own database of ROWS rows into its own Framer project. */
async function project(name, notionToken) {
  const db = notion.addDatabase({ title: name, properties: { Name: { type: "title" } }, token: notionToken });
  for (let i = 0; i < ROWS; i++) {
    notion.addPage(db.dataSourceId, { properties: { Name: `${name} ${i}` }, createdTime: BASE_TIME + i * 60_000 });
  }
  const framerProject = `RateShare${name.padEnd(11, "0")}`;
  const framerKey = `fr_rate_share_key_${name}`;
  framer.addProject(framerProject, framerKey, { name });
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name,
      notion: { token: notionToken, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: name },
      auto_sync: false,
    },
  });
  assert.equal(created.status, 201, created.text);
  return { name, id: created.json.project.id, notionToken };
}

async function syncNow(p) {
  const res = await worker.fetch(`/api/v1/projects/${p.id}/sync`, { method: "POST", token, body: {} });
  assert.equal(res.status, 202, res.text);
  p.syncId = res.json.sync_id;
}

function finished(p) {
  return waitFor(
    async () => {
      const res = await worker.fetch(`/api/v1/projects/${p.id}/syncs?limit=10`, { token });
      const run = res.json?.syncs?.find((s) => s.id === p.syncId);
      return run && run.status !== "running" ? run : null;
    },
    { timeoutMs: 120_000, intervalMs: 200, what: `${p.name}'s run to finish` },
  );
}

const seconds = (run) => (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;

describe("one pacer per Notion token", () => {
  test("three projects on one token synced at once: no 429, wall time near the token's rate; another token's project runs at its own", async () => {
    notion.addIntegration(SHARED_TOKEN);
    notion.addIntegration(OTHER_TOKEN);
    const shared = [];
    for (const name of ["Posts", "Authors", "Tags"]) shared.push(await project(name, SHARED_TOKEN));
    const other = await project("Other", OTHER_TOKEN);
    notion.resetStats();
    const firstRequest = notion.requests.length;

    for (const p of [...shared, other]) await syncNow(p);
    for (const p of [...shared, other]) p.run = await finished(p);

    for (const p of [...shared, other]) {
      assert.equal(p.run.status, "succeeded", `${p.name}: ${JSON.stringify(p.run)}`);
      assert.equal(p.run.counts.added, ROWS, p.name);
    }
    const served = notion.requests.slice(firstRequest);
    const sharedRequests = served.filter((r) => r.token === SHARED_TOKEN).length;
    const otherRequests = served.filter((r) => r.token === OTHER_TOKEN).length;
    const start = Math.min(...shared.map((p) => Date.parse(p.run.started_at)));
    const end = Math.max(...shared.map((p) => Date.parse(p.run.finished_at)));
    const wall = (end - start) / 1000;
    const floor = (sharedRequests - RATE) / RATE;
    const stepLines = worker.logLines().filter((l) => l.kind === "sync_step" && shared.some((p) => p.syncId === l.sync_id));
    const asks = stepLines.reduce((sum, l) => sum + l.pacer_asks, 0);
    console.log(
      `# shared token: ${sharedRequests} requests (${shared.map((p) => `${p.name} ${p.run.calls.notion}`).join(", ")}), ` +
        `${notion.stats.rateLimited} answered 429, wall ${wall.toFixed(1)} s (floor after the burst ${floor.toFixed(1)} s), ` +
        `${asks} pacer asks over ${stepLines.length} steps; other token: ${otherRequests} requests, its run ${seconds(other.run).toFixed(1)} s (the three's ${shared.map((p) => seconds(p.run).toFixed(1)).join(", ")} s)`,
    );

    // Each pacing itself at 3 req/s, the three sent 9 req/s against one limit: 429s by the dozen.
    assert.equal(notion.stats.rateLimited, 0, "no request of either token was answered 429");
    assert.ok(sharedRequests >= 3 * 12, `every run read its pages (${sharedRequests})`);
    // Paced together: never faster than the token allows, and no slower than its rate plus the
    // runs' own work (Framer writes, steps) beside it.
    assert.ok(wall >= floor * 0.95, `the three kept to 3 req/s together: ${wall} s for ${sharedRequests} requests`);
    assert.ok(wall <= sharedRequests / RATE + 6, `the token's slots were not left idle: ${wall} s for ${sharedRequests} requests`);
    assert.ok(asks > 0 && !worker.logLines().some((l) => l.kind === "notion_pacer"), "the steps took their slots from the shared pacer");
    // Another token has a timeline of its own: its run takes its own requests' time, not a
    // share of the token's (on one timeline with the three, it would take as long as they do).
    const quickestShared = Math.min(...shared.map((p) => seconds(p.run)));
    assert.ok(
      seconds(other.run) <= otherRequests / RATE + 6 && seconds(other.run) < 0.75 * quickestShared,
      `the other token's run was not held by the shared one: ${seconds(other.run)} s for ${otherRequests} requests, the quickest of the three ${quickestShared} s`,
    );
  });
});
