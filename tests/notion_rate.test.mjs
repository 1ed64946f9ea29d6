// One pacer per Notion token: projects that share a token share Notion's rate limit (3 req/s,
// burst 3 in the fake, per token), so "Sync now" on all of them at once must not make Notion
// answer 429; and a project on another token is not slowed by them (its own pacer).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject } from "../harness/stack.mjs";
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
  const created = await createSyncProject(worker, token, {
    name, databaseId: db.databaseId, notionToken, framerProject, framerKey, auto_sync: false,
  });
  return { name, id: created.id, notionToken };
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
    const linesOf = (p) => worker.logLines().filter((l) => l.kind === "sync_step" && l.sync_id === p.syncId);
    const asksOf = (p) => linesOf(p).reduce((sum, l) => sum + l.pacer_asks, 0);
    const asks = shared.reduce((sum, p) => sum + asksOf(p), 0);
    const steps = shared.reduce((sum, p) => sum + linesOf(p).length, 0);
    console.log(
      `# shared token: ${sharedRequests} requests (${shared.map((p) => `${p.name} ${p.run.calls.notion}`).join(", ")}), ` +
        `${notion.stats.rateLimited} answered 429, wall ${wall.toFixed(1)} s (floor after the burst ${floor.toFixed(1)} s), ` +
        `${asks} pacer asks over ${steps} steps; other token: ${otherRequests} requests, ${asksOf(other)} asks over ${linesOf(other).length} steps, ` +
        `its run ${seconds(other.run).toFixed(1)} s (the three's ${shared.map((p) => seconds(p.run).toFixed(1)).join(", ")} s)`,
    );

    // Each pacing itself at 3 req/s, the three sent 9 req/s against one limit: 429s by the
    // dozen, and a run failed after its retries. Paced together, none; one is allowed because
    // the fake's bucket counts arrivals, and under load a request sent at its slot can reach
    // the fake right behind the one before it (measured: 0 in this test, 1 of 175 in
    // bench/site.mjs).
    assert.ok(notion.stats.rateLimited <= 1, `${notion.stats.rateLimited} requests were answered 429`);
    assert.ok(sharedRequests >= 3 * 12, `every run read its pages (${sharedRequests})`);
    assert.ok(steps > 0 && asks > 0, "the steps took their slots from the shared pacer");
    assert.ok(!worker.logLines().some((l) => l.kind === "notion_pacer"), "no step had to pace itself");
    // Paced together: never faster than the token allows, and not much slower than its rate.
    // Alone on the machine the three take 11.8 s for 36 requests; beside other test files their
    // own work (Framer writes of 3,000 items) stretches that to about 18 s, hence the margin.
    assert.ok(wall >= floor * 0.95, `the three kept to 3 req/s together: ${wall} s for ${sharedRequests} requests`);
    assert.ok(wall <= 2 * (sharedRequests / RATE), `the token's slots were not left idle: ${wall} s for ${sharedRequests} requests`);
    // Another token has a timeline of its own, where the project is alone: grants of up to 9
    // slots (one ask per step and step's 9 requests), not the 3 of a shared timeline, which
    // would take at least 4 asks for its 12 requests. And its run is not held for the three.
    // (A run's first grant is 3 slots even alone, then 9.)
    const alone = linesOf(other).reduce((sum, l, i) => sum + (i === 0 ? 1 + Math.ceil(Math.max(0, l.notion_calls - 3) / 9) : Math.max(1, Math.ceil(l.notion_calls / 9))), 0);
    assert.ok(asksOf(other) <= alone && asksOf(other) < Math.ceil(otherRequests / 3), `the other token's project asked ${asksOf(other)} times for ${otherRequests} requests`);
    assert.ok(seconds(other.run) < Math.max(...shared.map((p) => seconds(p.run))), "the other token's run ended before the slowest of the three");
  });

  test("the dashboard's Notion reads beside a sync of the same token take their slots from its pacer: no 429", async () => {
    notion.addIntegration(SHARED_TOKEN);
    const syncing = await project("Busy", SHARED_TOKEN);
    const reading = await project("Reader", SHARED_TOKEN);
    notion.resetStats();
    await syncNow(syncing);
    // While the run reads its pages at the token's rate, the owner opens another project's
    // mapping step a few times (each a schema read: the database and its data source).
    await waitFor(() => notion.stats.requests >= 2, { timeoutMs: 20_000, what: "the run to be reading" });
    for (let i = 0; i < 4; i++) {
      const schema = await worker.fetch(`/api/v1/projects/${reading.id}/schema`, { token });
      assert.equal(schema.status, 200, schema.text);
    }
    const run = await finished(syncing);
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    const schemaReads = notion.stats.requests - run.calls.notion;
    assert.ok(schemaReads >= 8, `${schemaReads} requests of the schema reads`);
    // Paced apart, the reads came on top of a run already at 3 req/s: 429s (the API retries
    // them, so the page still loads, but every sync of the token waits out the pause too).
    // One is allowed, as above, for arrival jitter on a loaded machine.
    assert.ok(notion.stats.rateLimited <= 1, `${notion.stats.rateLimited} requests were answered 429`);
  });
});
