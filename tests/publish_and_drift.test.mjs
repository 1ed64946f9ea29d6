// The publish filter (unpublished rows removed, or written as drafts) and the full reconcile
// repairing changes made by hand in Framer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, stackForFile, syncNow } from "../harness/stack.mjs";

const NOTION_TOKEN = "ntn_publish_token_1";
const FRAMER_PROJECT = "PublishProjectId0001";
const FRAMER_KEY = "fr_publish_key_1";

const stack = stackForFile();

test("unpublished rows are removed or drafted, and hand-made drift in Framer is repaired", async () => {
  const { notion, framer, worker } = stack;
  notion.addIntegration(NOTION_TOKEN);
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const db = notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" }, Published: { type: "checkbox" } }, token: NOTION_TOKEN });
  const live = notion.addPage(db.dataSourceId, { properties: { Name: "Live post", Published: true } });
  const hidden = notion.addPage(db.dataSourceId, { properties: { Name: "Hidden post", Published: false } });
  const { token } = await createAccount(worker, { name: "Publish" });
  const project = await createSyncProject(worker, token, { name: "Posts", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY });
  const schema = await worker.fetch(`/api/v1/projects/${project.id}/schema`, { token });
  const published = schema.json.notion.properties.find((p) => p.name === "Published");
  const patch = (body) => worker.fetch(`/api/v1/projects/${project.id}`, { method: "PATCH", token, body });
  assert.equal((await patch({ publish_filter: { kind: "checkbox", property_id: published.id }, unpublished_mode: "remove" })).status, 200);
  const items = () => framer.project(FRAMER_PROJECT).collection("Posts").items;

  const first = await syncNow(worker, token, project.id);
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  assert.deepEqual([...items().keys()], [live], "only the published row goes live");

  assert.equal((await patch({ unpublished_mode: "draft" })).status, 200);
  const drafted = await syncNow(worker, token, project.id);
  assert.equal(drafted.status, "succeeded");
  assert.equal(items().get(hidden)?.draft, true, "the unpublished row is written as a draft");
  assert.equal(items().get(live).draft, false);

  // Someone deletes an item and adds another by hand in Framer.
  items().delete(live);
  items().set("stray-item", { id: "stray-item", slug: "stray", draft: false, fieldData: {} });
  const repaired = await syncNow(worker, token, project.id);
  assert.equal(repaired.status, "succeeded", JSON.stringify(repaired));
  assert.deepEqual([...items().keys()].sort(), [live, hidden].sort(), "the missing item is re-sent and the stray one removed");
  assert.equal(repaired.counts.removed, 1);
  assert.equal(repaired.counts.updated + repaired.counts.added, 1);
});
