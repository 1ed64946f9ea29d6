// Relations between two synced databases become collection references in Framer: a Posts
// database whose Author property points at an Authors database that another project of the
// same account syncs into the same Framer project.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, stackForFile, syncNow } from "../harness/stack.mjs";
import { waitFor } from "../harness/worker.mjs";

const NOTION_TOKEN = "ntn_relations_token_1";
const FRAMER_PROJECT = "RelationsProject0001";
const FRAMER_KEY = "fr_relations_key_1";

// Short debounce: a refresh one project asks of another runs like a webhook batch.
const stack = stackForFile({ vars: { DEBOUNCE_SECONDS: "0.5", DEBOUNCE_MAX_WAIT_SECONDS: "2" } });

/** A Tags database and a Posts database related to it, synced by two projects of one account. */
async function tagsAndPosts(suffix, { tagProps = {}, relation = {} } = {}) {
  const notionToken = `ntn_relations_${suffix}`;
  const framerProject = `RelationsProject${suffix}`.padEnd(20, "0").slice(0, 20);
  const framerKey = `fr_relations_${suffix}`;
  stack.notion.addIntegration(notionToken);
  stack.framer.addProject(framerProject, framerKey);
  const tags = stack.notion.addDatabase({ title: "Tags", properties: { Name: { type: "title" }, ...tagProps }, token: notionToken });
  const posts = stack.notion.addDatabase({
    title: "Posts",
    properties: { Title: { type: "title" }, Tags: { type: "relation", dataSourceId: tags.dataSourceId, ...relation } },
    token: notionToken,
  });
  const { token } = await createAccount(stack.worker, { name: `Relations ${suffix}` });
  const common = { notionToken, framerProject, framerKey };
  const project = (name, db) => createSyncProject(stack.worker, token, { name, databaseId: db.databaseId, ...common });
  const site = () => stack.framer.project(framerProject);
  const refs = (id) => {
    const collection = site().collection("Posts");
    const field = collection.fields.find((f) => f.name === "Tags");
    return collection.items.get(id)?.fieldData[field.id]?.value;
  };
  const runs = async (projectId) => (await stack.worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=100`, { token })).json.syncs;
  return { tags, posts, token, project, site, refs, runs };
}

async function syncedProject(token, name, databaseId, collection) {
  const { id } = await createSyncProject(stack.worker, token, { name, databaseId, collection, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY });
  const run = await syncNow(stack.worker, token, id);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  return id;
}

test("a relation into a synced database is a multiCollectionReference to its items", async () => {
  stack.notion.addIntegration(NOTION_TOKEN);
  stack.framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const authors = stack.notion.addDatabase({ title: "Authors", properties: { Name: { type: "title" } }, token: NOTION_TOKEN });
  const ada = stack.notion.addPage(authors.dataSourceId, { properties: { Name: "Ada" } });
  const grace = stack.notion.addPage(authors.dataSourceId, { properties: { Name: "Grace" } });
  const posts = stack.notion.addDatabase({
    title: "Posts",
    properties: { Title: { type: "title" }, Author: { type: "relation", dataSourceId: authors.dataSourceId } },
    token: NOTION_TOKEN,
  });
  const post = stack.notion.addPage(posts.dataSourceId, { properties: { Title: "On engines", Author: [ada, grace] } });
  const { token } = await createAccount(stack.worker, { name: "Relations" });

  await syncedProject(token, "Authors", authors.databaseId, "Authors");
  const postsProject = await createSyncProject(stack.worker, token, { name: "Posts", databaseId: posts.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY });
  // Before any sync of Posts, the mapping step already proposes what the sync will do.
  const schema = await stack.worker.fetch(`/api/v1/projects/${postsProject.id}/schema`, { token });
  assert.equal(schema.status, 200, schema.text);
  assert.equal(schema.json.mapping.fields.find((f) => f.property_name === "Author").kind, "multiCollectionReference");
  assert.equal((await syncNow(stack.worker, token, postsProject.id)).status, "succeeded");

  const site = stack.framer.project(FRAMER_PROJECT);
  const authorsCollection = site.collection("Authors");
  const postsCollection = site.collection("Posts");
  const field = postsCollection.fields.find((f) => f.name === "Author");
  assert.equal(field.type, "multiCollectionReference");
  assert.equal(field.collectionId, authorsCollection.id);
  const value = postsCollection.items.get(post).fieldData[field.id];
  assert.deepEqual({ type: value.type, value: [...value.value].sort() }, { type: "multiCollectionReference", value: [ada, grace].sort() });
  for (const id of value.value) assert.ok(authorsCollection.items.has(id), `referenced author ${id} is an item`);
});

const PROPERTY_ROUTE = "GET /v1/pages/:id/properties/:property";

test("a post related to 150 tags gets 150 references, reading Notion once more per 100 of them", async () => {
  const notionToken = "ntn_relations_token_150";
  const framerProject = "RelationsProject0150";
  const framerKey = "fr_relations_key_150";
  stack.notion.addIntegration(notionToken);
  stack.framer.addProject(framerProject, framerKey);
  const tags = stack.notion.addDatabase({ title: "Tags", properties: { Name: { type: "title" } }, token: notionToken });
  const tagIds = Array.from({ length: 150 }, (_, i) => stack.notion.addPage(tags.dataSourceId, { properties: { Name: `Tag ${i}` } }));
  const posts = stack.notion.addDatabase({
    title: "Posts",
    properties: { Title: { type: "title" }, Tags: { type: "relation", dataSourceId: tags.dataSourceId } },
    token: notionToken,
  });
  const post = stack.notion.addPage(posts.dataSourceId, { properties: { Title: "Everything", Tags: tagIds } });
  const few = stack.notion.addPage(posts.dataSourceId, { properties: { Title: "A few", Tags: tagIds.slice(0, 3) } });
  const { token } = await createAccount(stack.worker, { name: "Relations 150" });
  const common = { notionToken, framerProject, framerKey };
  const tagsProject = await createSyncProject(stack.worker, token, { name: "Tags", databaseId: tags.databaseId, ...common });
  assert.equal((await syncNow(stack.worker, token, tagsProject.id)).status, "succeeded");
  const postsProject = await createSyncProject(stack.worker, token, { name: "Posts", databaseId: posts.databaseId, ...common });

  stack.notion.resetStats();
  const run = await syncNow(stack.worker, token, postsProject.id);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.deepEqual(run.warnings, [], "nothing cut, nothing to warn about");

  const site = stack.framer.project(framerProject);
  const field = site.collection("Posts").fields.find((f) => f.name === "Tags");
  assert.equal(field.type, "multiCollectionReference");
  const refs = (id) => site.collection("Posts").items.get(id).fieldData[field.id].value;
  assert.deepEqual(refs(post), tagIds, "all 150, in Notion's order");
  assert.deepEqual(refs(few), tagIds.slice(0, 3));
  // The post's relation: ceil(150 / 100) = 2 extra calls; the short one none.
  const propertyCalls = stack.notion.requests.filter((r) => r.route === PROPERTY_ROUTE);
  assert.equal(propertyCalls.length, 2, JSON.stringify(propertyCalls.map((r) => r.path)));
  assert.ok(propertyCalls.every((r) => r.path.startsWith(`/v1/pages/${post}/`) || r.path.startsWith(`/v1/pages/${post.replaceAll("-", "")}/`)));
  assert.ok(propertyCalls.every((r) => r.path.includes("page_size=100")));
  // database + data source + one query page + the 2 property pages: what the run counted is
  // what Notion served.
  assert.equal(run.calls.notion, stack.notion.stats.requests);
  assert.equal(stack.notion.stats.requests, 3 + 2);
});

test("a reference to a tag the Tags project filters out is left out, and written once the tag is published", async () => {
  const { tags, posts, token, project, site, refs, runs } = await tagsAndPosts("Hidden", { tagProps: { Published: { type: "checkbox" } } });
  const shown = stack.notion.addPage(tags.dataSourceId, { properties: { Name: "Shown", Published: true } });
  const hidden = stack.notion.addPage(tags.dataSourceId, { properties: { Name: "Hidden", Published: false } });
  const post = stack.notion.addPage(posts.dataSourceId, { properties: { Title: "Tagged", Tags: [shown, hidden] } });
  const tagsProject = await project("Tags", tags);
  const schema = await stack.worker.fetch(`/api/v1/projects/${tagsProject.id}/schema`, { token });
  const published = schema.json.notion.properties.find((p) => p.name === "Published");
  const patched = await stack.worker.fetch(`/api/v1/projects/${tagsProject.id}`, {
    method: "PATCH", token, body: { publish_filter: { kind: "checkbox", property_id: published.id }, unpublished_mode: "remove" },
  });
  assert.equal(patched.status, 200, patched.text);
  assert.equal((await syncNow(stack.worker, token, tagsProject.id)).status, "succeeded");
  assert.deepEqual([...site().collection("Tags").items.keys()], [shown]);

  const postsProject = await project("Posts", posts);
  assert.equal((await syncNow(stack.worker, token, postsProject.id)).status, "succeeded");
  assert.deepEqual(refs(post), [shown], "no reference to an item the Tags collection does not hold");
  const postRuns = (await runs(postsProject.id)).length;

  // Published in Notion; the Tags project's next run adds it and asks Posts for the post,
  // whose own last edit did not change: an incremental run of Posts writes the reference.
  stack.notion.updatePage(hidden, { Published: true });
  assert.equal((await syncNow(stack.worker, token, tagsProject.id)).status, "succeeded");
  assert.ok(site().collection("Tags").items.has(hidden));
  await waitFor(() => refs(post)?.length === 2, { timeoutMs: 30_000, what: "the post to reference the published tag" });
  assert.deepEqual(refs(post), [shown, hidden]);
  const all = await runs(postsProject.id);
  const later = all.slice(0, all.length - postRuns);
  assert.ok(later.length >= 1, "Posts ran again on its own");
  assert.ok(later.every((r) => r.scope === "incremental" && r.trigger === "webhook"), JSON.stringify(later));
  assert.equal(later.reduce((n, r) => n + r.counts.updated, 0), 1, "exactly the post was rewritten");
});

test("a relation of a database to itself points at its own collection, and only at items it holds", async () => {
  const notionToken = "ntn_relations_self";
  const framerProject = "RelationsProjectSelf";
  const framerKey = "fr_relations_self";
  stack.notion.addIntegration(notionToken);
  stack.framer.addProject(framerProject, framerKey);
  // A relation without a target data source relates the database to itself.
  const pages = stack.notion.addDatabase({ title: "Pages", properties: { Name: { type: "title" }, Parent: { type: "relation" } }, token: notionToken });
  const { token } = await createAccount(stack.worker, { name: "Relations self" });
  const root = stack.notion.addPage(pages.dataSourceId, { properties: { Name: "Root" } });
  const child = stack.notion.addPage(pages.dataSourceId, { properties: { Name: "Child", Parent: [root] } });
  const project = await createSyncProject(stack.worker, token, { name: "Pages", databaseId: pages.databaseId, notionToken, framerProject, framerKey });
  assert.equal((await syncNow(stack.worker, token, project.id)).status, "succeeded");
  const collection = stack.framer.project(framerProject).collection("Pages");
  const field = collection.fields.find((f) => f.name === "Parent");
  assert.equal(field.type, "multiCollectionReference");
  assert.equal(field.collectionId, collection.id, "its own collection");
  // Root may have gone in the same batch as Child: then the next runs write the reference.
  await waitFor(() => collection.items.get(child)?.fieldData[field.id]?.value?.length === 1, { timeoutMs: 30_000, what: "the child to reference its parent" });
  assert.deepEqual(collection.items.get(child).fieldData[field.id].value, [root]);
});

test("a two-way relation edited on the Tags side only shows on the post after the next runs", async () => {
  const { tags, posts, token, project, refs, runs } = await tagsAndPosts("TwoWay", { relation: { syncedPropertyName: "Posts" } });
  const first = stack.notion.addPage(tags.dataSourceId, { properties: { Name: "First" } });
  const second = stack.notion.addPage(tags.dataSourceId, { properties: { Name: "Second" } });
  const post = stack.notion.addPage(posts.dataSourceId, { properties: { Title: "Two-way", Tags: [first] } });
  const tagsProject = await project("Tags", tags);
  assert.equal((await syncNow(stack.worker, token, tagsProject.id)).status, "succeeded");
  const postsProject = await project("Posts", posts);
  assert.equal((await syncNow(stack.worker, token, postsProject.id)).status, "succeeded");
  assert.deepEqual(refs(post), [first]);
  // Tags synced before Posts had a collection, so its side of the relation was text: the
  // default mapping now makes it a reference into Posts (and the Tags run sees its values).
  const cleared = await stack.worker.fetch(`/api/v1/projects/${tagsProject.id}`, { method: "PATCH", token, body: { mapping: null } });
  assert.equal(cleared.status, 200, cleared.text);
  const postRuns = (await runs(postsProject.id)).length;
  assert.equal((await syncNow(stack.worker, token, tagsProject.id)).status, "succeeded");
  // First seen, the tag's relation asks Posts for the post once: a run that changes nothing.
  await waitFor(async () => {
    const all = await runs(postsProject.id);
    return all.length === postRuns + 1 && all.every((r) => r.status !== "running");
  }, { timeoutMs: 30_000, what: "the post read again once" });

  // Edited on the Tags side only: Notion adds the tag to the post without editing the post.
  const before = (await runs(postsProject.id)).length;
  stack.notion.updatePage(second, { Posts: [post] });
  assert.equal((await syncNow(stack.worker, token, tagsProject.id)).status, "succeeded");
  await waitFor(() => refs(post)?.length === 2, { timeoutMs: 30_000, what: "the post to show the second tag" });
  assert.deepEqual([...refs(post)].sort(), [first, second].sort());
  const all = await runs(postsProject.id);
  const later = all.slice(0, all.length - before);
  assert.ok(later.length >= 1 && later.every((r) => r.scope === "incremental" && r.trigger === "webhook"), JSON.stringify(later));
  assert.equal(later.reduce((n, r) => n + r.counts.updated, 0), 1, "the post, rewritten once");
});
