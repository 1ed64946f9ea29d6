// A site's whole graph (issue 21 parts 1, 2 and 5): the data sources a database relates to and
// its own other data sources are offered, one create request makes a sibling project for each
// one ticked, every collection of the site exists before any item is written, so relations are
// reference fields from the first run, and the project shows its site and each relation's state.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { addBlogDatabases } from "../harness/blog.mjs";
import { createSyncProject, stackForFile, syncNow } from "../harness/stack.mjs";

const NOTION_TOKEN = "ntn_graph_token_1";
const FRAMER_KEY = "fr_graph_key_1";
const stack = stackForFile();

function framerUrl(project) {
  return `https://framer.com/projects/Site--${project}`;
}

/** Authors, Tags and Posts relating to both, empty. */
function blogDatabases() {
  return addBlogDatabases(stack.notion, NOTION_TOKEN);
}

/** The same with two pages each. */
function blog() {
  const { notion } = stack;
  const { authors, tags, posts } = blogDatabases();
  const ada = notion.addPage(authors.dataSourceId, { properties: { Name: "Ada" } });
  const grace = notion.addPage(authors.dataSourceId, { properties: { Name: "Grace" } });
  const rust = notion.addPage(tags.dataSourceId, { properties: { Name: "Rust" } });
  const wasm = notion.addPage(tags.dataSourceId, { properties: { Name: "Wasm" } });
  notion.addPage(posts.dataSourceId, { properties: { Title: "On engines", Authors: [ada, grace], Tags: [rust] } });
  notion.addPage(posts.dataSourceId, { properties: { Title: "On workers", Authors: [grace], Tags: [rust, wasm] } });
  return { authors, tags, posts };
}

async function create(token, body) {
  return stack.worker.fetch("/api/v1/projects", { method: "POST", token, body });
}

function createBody(framerProject, databaseId, extra = {}) {
  return {
    name: "Posts",
    notion: { token: NOTION_TOKEN, database_id: databaseId },
    framer: { project_url: framerUrl(framerProject), api_key: FRAMER_KEY, collection_name: "Posts" },
    ...extra,
  };
}

async function projectView(token, id) {
  const res = await stack.worker.fetch(`/api/v1/projects/${id}`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json.project;
}

test("one create request for Posts with related Authors and Tags: three collections before the first item, references that resolve", async () => {
  stack.notion.addIntegration(NOTION_TOKEN);
  const FRAMER = "GraphBlogProject0001";
  stack.framer.addProject(FRAMER, FRAMER_KEY);
  const { authors, tags, posts } = blog();
  const { token } = await createAccount(stack.worker, { name: "Graph" });

  // The Connect step's offer, before any project exists.
  const offer = await stack.worker.fetch("/api/v1/notion/graph", {
    method: "POST", token, body: { notion: { token: NOTION_TOKEN, database_id: posts.databaseId }, framer: { project_url: framerUrl(FRAMER) } },
  });
  assert.equal(offer.status, 200, offer.text);
  const graph = offer.json.graph;
  assert.equal(graph.database.name, "Posts");
  assert.deepEqual(graph.data_sources.map((s) => [s.id, s.name, s.chosen]), [[posts.dataSourceId, "Posts", true]]);
  const related = Object.fromEntries(graph.related.map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(related).sort(), ["Authors", "Tags"]);
  assert.equal(related.Authors.id, authors.dataSourceId);
  assert.equal(related.Authors.via[0].property_name, "Authors");
  assert.equal(related.Authors.synced_by, null);

  const before = stack.framer.calls.length;
  const notionBefore = stack.notion.stats.requests;
  const created = await create(token, createBody(FRAMER, posts.databaseId, { related: [authors.dataSourceId, tags.dataSourceId.replaceAll("-", "")] }));
  assert.equal(created.status, 201, created.text);
  // The whole check: the database, then each data source of the graph once (Posts, Authors, Tags).
  assert.equal(stack.notion.stats.requests - notionBefore, 4);
  assert.equal(stack.framer.calls.length, before, "a create never touches Framer");
  const siblings = Object.fromEntries(created.json.siblings.map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(siblings).sort(), ["Authors", "Tags"]);
  assert.equal(siblings.Authors.collection_name, "Authors");
  assert.equal(siblings.Authors.database_id, authors.databaseId);
  assert.deepEqual(created.json.already_synced, []);
  const postsId = created.json.project.id;
  assert.equal(created.json.project.notion.data_source_id, posts.dataSourceId);

  assert.equal((await syncNow(stack.worker, token, postsId)).status, "succeeded");
  const calls = stack.framer.calls.slice(before).map((c) => c.method);
  const firstWrite = calls.indexOf("addManagedCollectionItems2");
  assert.ok(firstWrite > 0, calls.join(","));
  assert.equal(calls.slice(0, firstWrite).filter((m) => m === "createManagedCollection").length, 3, calls.join(","));

  const site = stack.framer.project(FRAMER);
  const [postsC, authorsC, tagsC] = ["Posts", "Authors", "Tags"].map((name) => site.collection(name));
  assert.ok(postsC && authorsC && tagsC);
  for (const [name, target] of [["Authors", authorsC], ["Tags", tagsC]]) {
    const field = postsC.fields.find((f) => f.name === name);
    assert.equal(field.type, "multiCollectionReference", name);
    assert.equal(field.collectionId, target.id, name);
  }
  /** Posts' references, each checked to be an item of its target collection. */
  const resolvingReferences = () => {
    let references = 0;
    for (const [name, target] of [["Authors", authorsC], ["Tags", tagsC]]) {
      const field = postsC.fields.find((f) => f.name === name);
      for (const item of postsC.items.values()) {
        for (const id of item.fieldData[field.id].value) {
          assert.ok(target.items.has(id), `${name} reference ${id} is an item of ${target.name}`);
          references++;
        }
      }
    }
    return references;
  };
  // Before its targets hold anything, Posts writes no reference: none may dangle.
  assert.equal(resolvingReferences(), 0);
  // The siblings run into the collections made for them; the items they add ask Posts to read
  // the rows that had to leave them out, and Posts' next run writes the references.
  for (const sibling of created.json.siblings) {
    assert.equal((await syncNow(stack.worker, token, sibling.id)).status, "succeeded");
  }
  assert.equal(site.collections.filter((c) => ["Posts", "Authors", "Tags"].includes(c.name)).length, 3, "no collection twice");
  assert.equal((await syncNow(stack.worker, token, postsId)).status, "succeeded");
  assert.equal(resolvingReferences(), 6);

  // The project page's view: the site's three projects and each relation's state.
  const view = await projectView(token, postsId);
  assert.equal(view.site.projects.length, 3);
  const me = view.site.projects.find((p) => p.current);
  assert.equal(me.id, postsId);
  assert.deepEqual(
    me.relations.map((r) => [r.property_name, r.state, r.target_project_id]).sort(),
    [["Authors", "reference", siblings.Authors.id], ["Tags", "reference", siblings.Tags.id]],
  );
  // The schema answer offers the same graph, marking what the site syncs.
  const schema = await stack.worker.fetch(`/api/v1/projects/${postsId}/schema`, { token });
  assert.equal(schema.status, 200, schema.text);
  assert.equal(schema.json.graph.related.find((r) => r.name === "Authors").synced_by, siblings.Authors.id);

  // Ticking them again creates nothing: the site syncs them.
  const again = await stack.worker.fetch(`/api/v1/projects/${postsId}/siblings`, { method: "POST", token, body: { related: [authors.dataSourceId] } });
  assert.equal(again.status, 201, again.text);
  assert.deepEqual(again.json, { siblings: [], already_synced: [{ data_source_id: authors.dataSourceId, project_id: siblings.Authors.id }] });
});

test("a database with two data sources: both offered, both synced into two collections when ticked", async () => {
  const FRAMER = "GraphCatalogProject1";
  stack.framer.addProject(FRAMER, FRAMER_KEY);
  const { notion } = stack;
  const catalog = notion.addDatabase({ title: "Products", properties: { Name: { type: "title" } }, token: NOTION_TOKEN });
  const services = notion.addDataSource(catalog.databaseId, { title: "Services", properties: { Name: { type: "title" }, Hours: { type: "number" } } });
  notion.addPage(catalog.dataSourceId, { properties: { Name: "Lamp" } });
  notion.addPage(services, { properties: { Name: "Repair", Hours: 2 } });
  notion.addPage(services, { properties: { Name: "Install", Hours: 1 } });
  const { token } = await createAccount(stack.worker, { name: "Catalog" });

  const offer = await stack.worker.fetch("/api/v1/notion/graph", { method: "POST", token, body: { notion: { token: NOTION_TOKEN, database_id: catalog.databaseId } } });
  assert.equal(offer.status, 200, offer.text);
  assert.deepEqual(offer.json.graph.data_sources.map((s) => [s.id, s.name, s.chosen]), [[catalog.dataSourceId, "Products", true], [services, "Services", false]]);

  const created = await create(token, { ...createBody(FRAMER, catalog.databaseId, { data_sources: [services] }), name: "Products", framer: { project_url: framerUrl(FRAMER), api_key: FRAMER_KEY, collection_name: "Products" } });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.siblings.map((s) => [s.name, s.data_source_id, s.database_id]), [["Services", services, catalog.databaseId]]);
  const ids = [created.json.project.id, created.json.siblings[0].id];
  for (const id of ids) {
    const run = await syncNow(stack.worker, token, id);
    assert.equal(run.status, "succeeded", JSON.stringify(run));
  }
  const site = stack.framer.project(FRAMER);
  const titles = (collection) => [...collection.items.values()].map((i) => i.slug).sort();
  assert.deepEqual(titles(site.collection("Products")), ["lamp"]);
  assert.deepEqual(titles(site.collection("Services")), ["install", "repair"]);

  // A data source id in database_id: the project syncs that source of its database.
  const bySource = await create(token, { ...createBody(FRAMER, services.replaceAll("-", "")), name: "Services again", framer: { project_url: framerUrl("GraphOtherProject01"), api_key: FRAMER_KEY, collection_name: "Services" } });
  assert.equal(bySource.status, 201, bySource.text);
  assert.equal(bySource.json.project.notion.database_id, catalog.databaseId);
  assert.equal(bySource.json.project.notion.data_source_id, services);

  // The same in a PATCH: the Products project moves to the Services source of its database.
  const moved = await stack.worker.fetch(`/api/v1/projects/${ids[0]}`, { method: "PATCH", token, body: { notion: { database_id: services.replaceAll("-", "") } } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json.project.notion.database_id, catalog.databaseId);
  assert.equal(moved.json.project.notion.data_source_id, services);
  const run = await syncNow(stack.worker, token, ids[0]);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.scope, "full", "another source: everything is read again");
  assert.ok(["install", "repair"].every((slug) => titles(site.collection("Products")).includes(slug)), titles(site.collection("Products")).join());
});

test("ticked sources the graph does not offer are a 400 naming the entry, and nothing is created", async () => {
  const FRAMER = "GraphRefusedProject1";
  stack.framer.addProject(FRAMER, FRAMER_KEY);
  const { authors, posts } = blog();
  const lonely = stack.notion.addDatabase({ title: "Lonely", properties: { Name: { type: "title" } }, token: NOTION_TOKEN });
  const { token } = await createAccount(stack.worker, { name: "Refused" });
  const cases = [
    [{ related: [authors.dataSourceId, lonely.dataSourceId] }, "related[1]"],
    [{ data_sources: [authors.dataSourceId] }, "data_sources[0]"],
    [{ related: ["not an id"] }, "related[0]"],
    [{ related: [authors.dataSourceId], data_sources: [authors.dataSourceId] }, "related[0]"],
  ];
  for (const [extra, field] of cases) {
    const res = await create(token, createBody(FRAMER, posts.databaseId, extra));
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, "validation_error");
    assert.equal(res.json.error.field, field);
    assert.ok(res.json.error.message.includes(field), res.json.error.message);
  }
  const list = await stack.worker.fetch("/api/v1/projects", { token });
  assert.deepEqual(list.json.projects, []);
});

test("a relation whose target is not synced stays text, and becomes a reference (a schema change) once the target joins", async () => {
  const FRAMER = "GraphJoinProject0001";
  stack.framer.addProject(FRAMER, FRAMER_KEY);
  const { authors, posts } = blog();
  const { token } = await createAccount(stack.worker, { name: "Join" });
  const postsProject = await createSyncProject(stack.worker, token, {
    name: "Posts", databaseId: posts.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER, framerKey: FRAMER_KEY,
  });
  assert.equal((await syncNow(stack.worker, token, postsProject.id)).status, "succeeded");
  const postsC = () => stack.framer.project(FRAMER).collection("Posts");
  assert.equal(postsC().fields.find((f) => f.name === "Authors").type, "string");
  let view = await projectView(token, postsProject.id);
  const states = (v) => Object.fromEntries(v.site.projects.find((p) => p.current).relations.map((r) => [r.property_name, r.state]));
  assert.deepEqual(states(view), { Authors: "text", Tags: "text" });

  const joined = await stack.worker.fetch(`/api/v1/projects/${postsProject.id}/siblings`, { method: "POST", token, body: { related: [authors.dataSourceId] } });
  assert.equal(joined.status, 201, joined.text);
  view = await projectView(token, postsProject.id);
  assert.deepEqual(states(view), { Authors: "waiting_for_target", Tags: "text" });

  const run = await syncNow(stack.worker, token, postsProject.id);
  assert.equal(run.status, "succeeded");
  assert.ok(run.warnings.some((w) => w.includes('relation "Authors" now points into a synced collection')), JSON.stringify(run.warnings));
  const field = postsC().fields.find((f) => f.name === "Authors");
  assert.equal(field.type, "multiCollectionReference");
  assert.equal(field.collectionId, stack.framer.project(FRAMER).collection("Authors").id);
  view = await projectView(token, postsProject.id);
  assert.deepEqual(states(view), { Authors: "reference", Tags: "text" });
});

test("a database's new data source (data_source.created) is offered on the project, not synced", async () => {
  const FRAMER = "GraphOfferedProject1";
  stack.framer.addProject(FRAMER, FRAMER_KEY);
  const { notion } = stack;
  const db = notion.addDatabase({ title: "Docs", properties: { Name: { type: "title" } }, token: NOTION_TOKEN });
  const { token } = await createAccount(stack.worker, { name: "Offered" });
  const project = await createSyncProject(stack.worker, token, {
    name: "Docs", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER, framerKey: FRAMER_KEY,
  });
  assert.equal((await syncNow(stack.worker, token, project.id)).status, "succeeded");
  const path = webhookPath(project);
  const secret = await verify(stack.worker, path);
  assert.equal((await stack.worker.fetch(`/api/v1/projects/${project.id}/webhook/confirm`, { method: "POST", token })).status, 200);

  const drafts = notion.addDataSource(db.databaseId, { title: "Drafts", properties: { Name: { type: "title" } } });
  const event = { ...pageEvent({ type: "data_source.created", databaseId: db.databaseId }), entity: { id: drafts, type: "data_source" } };
  const delivered = await deliver(stack.worker, path, event, { token: secret });
  assert.equal(delivered.status, 200, delivered.text);
  assert.equal(delivered.json.outcome, "ignored", "never synced silently");
  let view = await projectView(token, project.id);
  assert.deepEqual(view.offered_data_sources.map((o) => o.data_source_id), [drafts]);

  const added = await stack.worker.fetch(`/api/v1/projects/${project.id}/siblings`, { method: "POST", token, body: { data_sources: [drafts] } });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.json.siblings[0].name, "Drafts");
  view = await projectView(token, project.id);
  assert.deepEqual(view.offered_data_sources, []);
  assert.equal(view.site.projects.length, 2);
});

test("\"Sync now\" on a site's three projects at once: Posts' rows wait for the targets' runs and are written once, whole", async () => {
  stack.notion.addIntegration(NOTION_TOKEN);
  const FRAMER = "GraphTogetherProjec1";
  stack.framer.addProject(FRAMER, FRAMER_KEY);
  const { notion } = stack;
  const { authors, tags, posts } = blogDatabases();
  const ada = notion.addPage(authors.dataSourceId, { properties: { Name: "Ada" } });
  // Three query pages of tags: the Tags run is still writing when Posts has read its rows.
  const tagIds = Array.from({ length: 250 }, (_, i) => notion.addPage(tags.dataSourceId, { properties: { Name: `Tag ${i}` } }));
  const expected = new Map();
  for (let i = 0; i < 4; i++) {
    const rel = { authors: [ada], tags: [tagIds[i], tagIds[249 - i]] };
    expected.set(notion.addPage(posts.dataSourceId, { properties: { Title: `Post ${i}`, Authors: rel.authors, Tags: rel.tags } }), rel);
  }
  const { token } = await createAccount(stack.worker, { name: "Together" });
  const created = await create(token, createBody(FRAMER, posts.databaseId, { related: [authors.dataSourceId, tags.dataSourceId] }));
  assert.equal(created.status, 201, created.text);
  const postsId = created.json.project.id;

  // Clicked as an owner would, Posts first: all three run side by side.
  const runs = await Promise.all([postsId, ...created.json.siblings.map((s) => s.id)].map((id) => syncNow(stack.worker, token, id)));
  for (const run of runs) assert.equal(run.status, "succeeded", JSON.stringify(run));
  const [postsRun] = runs;
  assert.equal(postsRun.counts.added, 4);

  const site = stack.framer.project(FRAMER);
  const [postsC, authorsC, tagsC] = ["Posts", "Authors", "Tags"].map((name) => site.collection(name));
  assert.equal(tagsC.items.size, 250);
  for (const [name, target, key] of [["Authors", authorsC, "authors"], ["Tags", tagsC, "tags"]]) {
    const field = postsC.fields.find((f) => f.name === name);
    for (const [id, rel] of expected) {
      const value = postsC.items.get(id).fieldData[field.id].value;
      assert.deepEqual(value, rel[key], `post ${id}: every ${name} reference from its first write`);
      for (const ref of value) assert.ok(target.items.has(ref));
    }
  }
  // Written once: no post was left without a reference, so no run asked Posts for its rows again.
  const view = await projectView(token, postsId);
  assert.equal(view.sync.pending.since, null, "no refresh queued on Posts");
  const history = (await stack.worker.fetch(`/api/v1/projects/${postsId}/syncs?limit=100`, { token })).json.syncs;
  assert.equal(history.length, 1, JSON.stringify(history.map(({ id, trigger, scope, started_at, finished_at, counts, calls }) => ({ id, trigger, scope, started_at, finished_at, counts, calls, first: id === postsRun.id }))));
  assert.equal(history[0].counts.updated, 0);
});
