// Notion returns at most 10,000 rows per query and then says so in request_status; the sync must
// split by created_time windows to read the rest. The fake's cap is lowered so that this runs fast.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createAccount } from "./support/api.mjs";
import { createSyncProject, startStack, syncNow } from "./support/stack.mjs";

const CAP = 250;
const ROWS = 640;
let stack;
let notion;
let framer;
let worker;
before(async () => {
  stack = await startStack({ notion: { queryResultLimit: CAP } });
  ({ notion, framer, worker } = stack);
});
after(async () => stack?.stop());

test("every row arrives although each query stops at the row cap", async () => {
  notion.addIntegration("ntn_cap_token_1");
  framer.addProject("CapProjectId00000001", "fr_cap_key_1");
  const db = notion.addDatabase({ title: "Many", properties: { Name: { type: "title" } }, token: "ntn_cap_token_1" });
  const base = Date.parse("2023-01-01T00:00:00.000Z");
  // Several rows share a created_time minute, as they do in Notion: windows must not lose them.
  for (let i = 0; i < ROWS; i++) notion.addPage(db.dataSourceId, { properties: { Name: `Row ${i}` }, createdTime: base + Math.floor(i / 3) * 60_000 });
  const { token } = await createAccount(worker, { name: "Cap" });
  const { id } = await createSyncProject(worker, token, {
    name: "Many", databaseId: db.databaseId, notionToken: "ntn_cap_token_1", framerProject: "CapProjectId00000001", framerKey: "fr_cap_key_1",
  });
  const run = await syncNow(worker, token, id);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.counts.added, ROWS);
  assert.equal(framer.project("CapProjectId00000001").collection("Many").items.size, ROWS);
  // Pages of 100 across ceil(640/250) = 3 windows: at least 7 queries.
  const queries = notion.stats.byRoute["POST /v1/data_sources/:id/query"];
  assert.ok(queries >= Math.ceil(ROWS / 100), `${queries} queries`);
});
