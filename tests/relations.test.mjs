// Relations between two synced databases become collection references in Framer: a Posts
// database whose Author property points at an Authors database that another project of the
// same account syncs into the same Framer project.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startFakeFramer } from "./fakes/framer.mjs";
import { startFakeNotion } from "./fakes/notion.mjs";
import { createAccount } from "./support/api.mjs";
import { startWorker, waitFor } from "./support/worker.mjs";

const NOTION_TOKEN = "ntn_relations_token_1";
const FRAMER_PROJECT = "RelationsProject0001";
const FRAMER_KEY = "fr_relations_key_1";

let notion;
let framer;
let worker;
before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url } });
});
after(async () => {
  await worker?.stop();
  await framer?.close();
  await notion?.close();
});

async function syncedProject(token, name, databaseId, collection) {
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name,
      notion: { token: NOTION_TOKEN, database_id: databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${FRAMER_PROJECT}`, api_key: FRAMER_KEY, collection_name: collection },
    },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.project.id;
  const queued = await worker.fetch(`/api/v1/projects/${id}/sync`, { method: "POST", token, body: {} });
  const run = await waitFor(async () => {
    const res = await worker.fetch(`/api/v1/projects/${id}/syncs`, { token });
    const found = res.json.syncs.find((s) => s.id === queued.json.sync_id);
    return found && found.status !== "running" && found;
  }, { what: `${name}'s sync` });
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  return id;
}

test("a relation into a synced database is a multiCollectionReference to its items", async () => {
  notion.addIntegration(NOTION_TOKEN);
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const authors = notion.addDatabase({ title: "Authors", properties: { Name: { type: "title" } }, token: NOTION_TOKEN });
  const ada = notion.addPage(authors.dataSourceId, { properties: { Name: "Ada" } });
  const grace = notion.addPage(authors.dataSourceId, { properties: { Name: "Grace" } });
  const posts = notion.addDatabase({
    title: "Posts",
    properties: { Title: { type: "title" }, Author: { type: "relation", dataSourceId: authors.dataSourceId } },
    token: NOTION_TOKEN,
  });
  const post = notion.addPage(posts.dataSourceId, { properties: { Title: "On engines", Author: [ada, grace] } });
  const { token } = await createAccount(worker, { name: "Relations" });

  await syncedProject(token, "Authors", authors.databaseId, "Authors");
  await syncedProject(token, "Posts", posts.databaseId, "Posts");

  const site = framer.project(FRAMER_PROJECT);
  const authorsCollection = site.collection("Authors");
  const postsCollection = site.collection("Posts");
  const field = postsCollection.fields.find((f) => f.name === "Author");
  assert.equal(field.type, "multiCollectionReference");
  assert.equal(field.collectionId, authorsCollection.id);
  const value = postsCollection.items.get(post).fieldData[field.id];
  assert.deepEqual({ type: value.type, value: [...value.value].sort() }, { type: "multiCollectionReference", value: [ada, grace].sort() });
  for (const id of value.value) assert.ok(authorsCollection.items.has(id), `referenced author ${id} is an item`);
});
