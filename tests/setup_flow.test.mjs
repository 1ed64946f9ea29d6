// The product's setup guide, end to end through the real entry points: create a project, the
// first manual sync, Notion's verification, refresh token, "I've verified in Notion", then an
// edit in Notion reaches Framer through a signed webhook and the debounced auto-sync alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount, deliver, pageEvent, webhookPath } from "../harness/api.mjs";
import { stackForFile } from "../harness/stack.mjs";
import { waitFor } from "../harness/worker.mjs";

const NOTION_TOKEN = "ntn_setup_flow_token_1";
const FRAMER_PROJECT = "SetupFlowProject0001";
const FRAMER_KEY = "fr_setup_flow_key_1";

const stack = stackForFile({ vars: { DEBOUNCE_SECONDS: "1", DEBOUNCE_MAX_WAIT_SECONDS: "5" } });

test("the setup guide, from project creation to a hands-off sync", async () => {
  stack.notion.addIntegration(NOTION_TOKEN);
  const db = stack.notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" }, Views: { type: "number" } }, token: NOTION_TOKEN });
  const first = stack.notion.addPage(db.dataSourceId, { properties: { Name: "First post", Views: 1 } });
  stack.notion.addPage(db.dataSourceId, { properties: { Name: "Second post", Views: 2 } });
  stack.framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const { token } = await createAccount(stack.worker, { name: "Guide", plan: "paid" });
  const get = async (id) => (await stack.worker.fetch(`/api/v1/projects/${id}`, { token })).json.project;

  // 1. Create the project.
  const created = await stack.worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Blog",
      notion: { token: NOTION_TOKEN, database_id: db.databaseId.replaceAll("-", "") },
      framer: { project_url: `https://framer.com/projects/Site--${FRAMER_PROJECT}`, api_key: FRAMER_KEY, collection_name: "Posts" },
    },
  });
  assert.equal(created.status, 201, created.text);
  const project = created.json.project;
  assert.equal(project.webhook.status, "setup_required");
  assert.equal(project.pipeline.banner, "Webhook setup required");
  assert.equal(project.sync.last_sync, null);

  // 2. The first manual sync succeeds before the webhook is verified.
  const now = await stack.worker.fetch(`/api/v1/projects/${project.id}/sync`, { method: "POST", token, body: {} });
  assert.equal(now.status, 202);
  const afterFirst = await waitFor(async () => {
    const p = await get(project.id);
    return p.sync.last_sync?.status === "succeeded" && p;
  }, { what: "the first sync" });
  assert.equal(afterFirst.sync.last_sync.id, now.json.sync_id);
  assert.equal(afterFirst.sync.last_sync.trigger, "manual");
  assert.equal(afterFirst.sync.items_in_framer, 2);
  assert.equal(afterFirst.webhook.status, "setup_required");
  assert.equal(afterFirst.pipeline.banner, "Webhook setup required");
  assert.equal(stack.framer.project(FRAMER_PROJECT).collection("Posts").items.size, 2);

  // 3. Notion's verification POST arrives; Refresh token shows it; "I've verified in Notion".
  const verificationToken = "secret_guideFlowVerificationToken0123456789";
  const verification = await deliver(stack.worker, webhookPath(project), { verification_token: verificationToken });
  assert.equal(verification.status, 200);
  const refreshed = await stack.worker.fetch(`/api/v1/projects/${project.id}/webhook/refresh-token`, { method: "POST", token });
  assert.equal(refreshed.json.token, verificationToken);
  assert.equal((await get(project.id)).webhook.status, "token_received");
  const confirmed = await stack.worker.fetch(`/api/v1/projects/${project.id}/webhook/confirm`, { method: "POST", token });
  assert.equal(confirmed.status, 200);
  const active = await get(project.id);
  assert.equal(active.webhook.status, "active");
  assert.equal(active.pipeline.banner, "Sync pipeline active");

  // 4. An edit in Notion, its signed event, and the debounced auto-sync: no manual sync.
  stack.notion.updatePage(first, { Name: "First post, edited", Views: 10 });
  const event = await deliver(stack.worker, webhookPath(project), pageEvent({ databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: first }), { token: verificationToken });
  assert.equal(event.json.outcome, "queued");
  const pending = await get(project.id);
  assert.equal(pending.sync.pending.events, 1);
  assert.ok(pending.sync.pending.alarm_at);
  const synced = await waitFor(async () => {
    const p = await get(project.id);
    return p.sync.last_sync?.trigger === "webhook" && p.sync.last_sync.status === "succeeded" && p;
  }, { what: "the auto-sync" });
  assert.equal(synced.sync.last_sync.counts.updated, 1);
  assert.equal(synced.sync.items_in_framer, 2);
  assert.equal(synced.webhook.events_received, 1);
  const item = stack.framer.project(FRAMER_PROJECT).collection("Posts").items.get(first);
  assert.ok(Object.values(item.fieldData).some((f) => f.value === "First post, edited"), JSON.stringify(item));
  const history = await stack.worker.fetch(`/api/v1/projects/${project.id}/syncs`, { token });
  assert.deepEqual(history.json.syncs.map((s) => s.trigger), ["webhook", "manual"]);
});
