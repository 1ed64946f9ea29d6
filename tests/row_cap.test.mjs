// Notion returns at most 10,000 rows per query and then says so in request_status; the sync must
// split by created_time windows to read the rest. The fake's cap is lowered so that this runs fast.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, stackForFile, syncNow } from "../harness/stack.mjs";

const CAP = 250;
const ROWS = 640;
const stack = stackForFile({ notion: { queryResultLimit: CAP } });

test("every row arrives although each query stops at the row cap", async () => {
  stack.notion.addIntegration("ntn_cap_token_1");
  stack.framer.addProject("CapProjectId00000001", "fr_cap_key_1");
  const db = stack.notion.addDatabase({ title: "Many", properties: { Name: { type: "title" } }, token: "ntn_cap_token_1" });
  const base = Date.parse("2023-01-01T00:00:00.000Z");
  // Several rows share a created_time minute, as they do in Notion: windows must not lose them.
  for (let i = 0; i < ROWS; i++) stack.notion.addPage(db.dataSourceId, { properties: { Name: `Row ${i}` }, createdTime: base + Math.floor(i / 3) * 60_000 });
  const { token } = await createAccount(stack.worker, { name: "Cap" });
  const { id } = await createSyncProject(stack.worker, token, {
    name: "Many", databaseId: db.databaseId, notionToken: "ntn_cap_token_1", framerProject: "CapProjectId00000001", framerKey: "fr_cap_key_1",
  });
  const run = await syncNow(stack.worker, token, id);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.counts.added, ROWS);
  assert.equal(stack.framer.project("CapProjectId00000001").collection("Many").items.size, ROWS);
  // Pages of 100 across ceil(640/250) = 3 windows: at least 7 queries.
  const queries = stack.notion.stats.byRoute["POST /v1/data_sources/:id/query"];
  assert.ok(queries >= Math.ceil(ROWS / 100), `${queries} queries`);
});
