// Notion returns at most 10,000 rows per query and then says so in request_status; the sync must
// split by created_time windows to read the rest. The fake's cap is lowered so that this runs fast.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startFakeFramer } from "./fakes/framer.mjs";
import { startFakeNotion } from "./fakes/notion.mjs";
import { createAccount } from "./support/api.mjs";
import { startWorker, waitFor } from "./support/worker.mjs";

const CAP = 250;
const ROWS = 640;
let notion;
let framer;
let worker;
before(async () => {
  notion = await startFakeNotion({ queryResultLimit: CAP });
  framer = await startFakeFramer();
  worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url } });
});
after(async () => {
  await worker?.stop();
  await framer?.close();
  await notion?.close();
});

test("every row arrives although each query stops at the row cap", async () => {
  notion.addIntegration("ntn_cap_token_1");
  framer.addProject("CapProjectId00000001", "fr_cap_key_1");
  const db = notion.addDatabase({ title: "Many", properties: { Name: { type: "title" } }, token: "ntn_cap_token_1" });
  const base = Date.parse("2023-01-01T00:00:00.000Z");
  // Several rows share a created_time minute, as they do in Notion: windows must not lose them.
  for (let i = 0; i < ROWS; i++) notion.addPage(db.dataSourceId, { properties: { Name: `Row ${i}` }, createdTime: base + Math.floor(i / 3) * 60_000 });
  const { token } = await createAccount(worker, { name: "Cap" });
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: { name: "Many", notion: { token: "ntn_cap_token_1", database_id: db.databaseId }, framer: { project_url: "CapProjectId00000001", api_key: "fr_cap_key_1", collection_name: "Many" } },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.project.id;
  const queued = await worker.fetch(`/api/v1/projects/${id}/sync`, { method: "POST", token, body: {} });
  const run = await waitFor(async () => {
    const runs = (await worker.fetch(`/api/v1/projects/${id}/syncs`, { token })).json.syncs;
    const found = runs.find((r) => r.id === queued.json.sync_id);
    return found && found.status !== "running" && found;
  }, { what: "the sync", timeoutMs: 60_000 });
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.counts.added, ROWS);
  assert.equal(framer.project("CapProjectId00000001").collection("Many").items.size, ROWS);
  // Pages of 100 across ceil(640/250) = 3 windows: at least 7 queries.
  const queries = notion.stats.byRoute["POST /v1/data_sources/:id/query"];
  assert.ok(queries >= Math.ceil(ROWS / 100), `${queries} queries`);
});
