// End to end: the built Worker under workerd syncs a fake Notion database into a fake Framer
// collection through "Sync now", and every run's record says what happened.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

const NOTION_TOKEN = "ntn_sync_test_token_1";
const FRAMER_PROJECT = "AbCdEfGhIjKlMnOpQrSt";
const FRAMER_KEY = "fr_sync_test_key";
const COLLECTION = "Posts";
const SCHEMA = {
  Name: { type: "title" },
  Count: { type: "number" },
  Live: { type: "checkbox" },
  Stage: { type: "select", options: ["Draft", "Done"] },
  Site: { type: "url" },
};

let notion;
let framer;
let worker;
let db;
let token;
let projectId;
const pages = {};

async function syncNow() {
  const res = await worker.fetch(`/api/v1/projects/${projectId}/sync`, { method: "POST", token, body: {} });
  assert.equal(res.status, 202, res.text);
  return res.json.sync_id;
}

async function runOf(syncId, { timeoutMs = 30_000 } = {}) {
  return waitFor(
    async () => {
      const res = await worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=100`, { token });
      const run = res.json?.syncs?.find((s) => s.id === syncId);
      return run && run.status !== "running" ? run : null;
    },
    { timeoutMs, intervalMs: 200, what: `sync ${syncId} to finish` },
  );
}

async function syncAndWait() {
  const run = await runOf(await syncNow());
  return run;
}

function collection() {
  return framer.project(FRAMER_PROJECT).collection(COLLECTION);
}

/** Framer field id by field name. */
function fieldId(name) {
  const field = collection().fields.find((f) => f.name === name);
  assert.ok(field, `field ${name} exists in Framer`);
  return field.id;
}

/** The fake Framer collection as {pageId: {slug, draft, Name, Count, ...}} by field name. */
function framerItems() {
  const names = new Map(collection().fields.map((f) => [f.id, f.name]));
  const out = {};
  for (const item of collection().items.values()) {
    const values = {};
    for (const [id, entry] of Object.entries(item.fieldData)) values[names.get(id)] = entry.value;
    out[item.id] = { slug: item.slug, draft: item.draft, ...values };
  }
  return out;
}

function stageCase(name) {
  const field = collection().fields.find((f) => f.name === "Stage");
  return field.cases.find((c) => c.name === name).id;
}

before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  notion.addIntegration(NOTION_TOKEN);
  db = notion.addDatabase({ title: "Posts", properties: SCHEMA, token: NOTION_TOKEN });
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY, { name: "Site" });
  const base = Date.parse("2024-05-01T10:00:00.000Z");
  pages.hello = notion.addPage(db.dataSourceId, {
    properties: { Name: "Hello World", Count: 3, Live: true, Stage: "Done", Site: "https://example.com/a" },
    createdTime: base,
  });
  pages.second = notion.addPage(db.dataSourceId, {
    properties: { Name: "Second post", Count: 7.5, Live: false, Stage: "Draft" },
    createdTime: base + 60_000,
  });
  pages.third = notion.addPage(db.dataSourceId, { properties: { Name: "Ünïcödé Tïtle!" }, createdTime: base + 120_000 });
  worker = await startWorker({
    vars: {
      NOTION_API_BASE: notion.url,
      FRAMER_SERVER_URL: framer.url,
      DEBOUNCE_SECONDS: "0.2",
      DEBOUNCE_MAX_WAIT_SECONDS: "1",
    },
  });
  const account = await worker.fetch("/api/v1/accounts", {
    method: "POST",
    token: worker.adminToken,
    body: { name: "Sync test", plan: "paid" },
  });
  assert.equal(account.status, 201, account.text);
  token = account.json.token.token;
  const project = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Blog",
      notion: { token: NOTION_TOKEN, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${FRAMER_PROJECT}`, api_key: FRAMER_KEY, collection_name: COLLECTION },
      auto_sync: false,
      auto_publish: true,
    },
  });
  assert.equal(project.status, 201, project.text);
  projectId = project.json.project.id;
});

after(async () => {
  await worker?.stop();
  await framer?.close();
  await notion?.close();
});

describe("sync", { concurrency: false }, () => {
  test("first sync writes every row field by field and publishes once", async () => {
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.scope, "full");
    assert.deepEqual(run.counts, { added: 3, updated: 0, removed: 0, unchanged: 0, skipped: 0 });
    assert.ok(run.calls.notion >= 3 && run.calls.notion <= 4, `notion calls ${run.calls.notion}`);
    assert.ok(run.calls.framer >= 5, `framer calls ${run.calls.framer}`);
    assert.ok(run.calls.bytes_sent_to_framer > 0);
    assert.equal(run.published, true);
    assert.equal(run.error, null);

    assert.deepEqual(Object.fromEntries(collection().fields.map((f) => [f.name, f.type])), {
      Name: "string", Count: "number", Live: "boolean", Stage: "enum", Site: "link",
    });
    const items = framerItems();
    assert.deepEqual(Object.keys(items).sort(), [pages.hello, pages.second, pages.third].sort());
    assert.deepEqual(items[pages.hello], {
      slug: "hello-world", draft: false, Name: "Hello World", Count: 3, Live: true, Stage: stageCase("Done"), Site: "https://example.com/a",
    });
    assert.deepEqual(items[pages.second], {
      slug: "second-post", draft: false, Name: "Second post", Count: 7.5, Live: false, Stage: stageCase("Draft"), Site: null,
    });
    assert.equal(items[pages.third].slug, "unicode-title");
    assert.equal(items[pages.third].Name, "Ünïcödé Tïtle!");

    const project = framer.project(FRAMER_PROJECT);
    assert.equal(project.publishes.length, 1);
    assert.equal(project.deploys.length, 1);
    assert.equal(project.deploys[0].deploymentId, project.publishes[0].deployment.id);

    const stored = await worker.query("SELECT page_id, slug FROM synced_items WHERE project_id = ? ORDER BY slug", projectId);
    assert.deepEqual(stored.map((r) => r.slug), ["hello-world", "second-post", "unicode-title"]);
    const row = (await worker.query("SELECT framer_collection_id, last_full_sync_at, notion_data_source_ids FROM projects WHERE id = ?", projectId))[0];
    assert.equal(row.framer_collection_id, collection().id);
    assert.ok(row.last_full_sync_at);
    assert.deepEqual(JSON.parse(row.notion_data_source_ids), [db.dataSourceId]);
  });

  test("the schema endpoint shows Notion properties, Framer fields and the mapping", async () => {
    const res = await worker.fetch(`/api/v1/projects/${projectId}/schema`, { token });
    assert.equal(res.status, 200, res.text);
    const { notion: n, framer: f, mapping, changes } = res.json;
    assert.equal(n.data_source_id, db.dataSourceId);
    assert.deepEqual(n.properties.map((p) => [p.name, p.type]).sort(), [
      ["Count", "number"], ["Live", "checkbox"], ["Name", "title"], ["Site", "url"], ["Stage", "select"],
    ]);
    assert.equal(f.collection_id, collection().id);
    assert.deepEqual(f.fields.map((x) => x.id).sort(), collection().fields.map((x) => x.id).sort());
    assert.deepEqual(mapping.fields.map((x) => [x.property_name, x.kind]).sort(), [
      ["Count", "number"], ["Live", "boolean"], ["Name", "string"], ["Site", "link"], ["Stage", "enum"],
    ]);
    assert.deepEqual(changes, []);
  });

  test("a sync with nothing changed sends no item and does not publish", async () => {
    const callsBefore = framer.calls.length;
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 0, unchanged: 3, skipped: 0 });
    assert.equal(run.published, false);
    const methods = framer.calls.slice(callsBefore).map((c) => c.method ?? c.methodName ?? c.name);
    assert.ok(!methods.includes("addManagedCollectionItems2"), methods.join(","));
    assert.equal(framer.project(FRAMER_PROJECT).publishes.length, 1);
  });

  test("an edit updates exactly that item", async () => {
    notion.updatePage(pages.second, { Count: 8, Stage: "Done" });
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.counts, { added: 0, updated: 1, removed: 0, unchanged: 2, skipped: 0 });
    const items = framerItems();
    assert.equal(items[pages.second].Count, 8);
    assert.equal(items[pages.second].Stage, stageCase("Done"));
    assert.equal(items[pages.hello].Count, 3);
  });

  test("a deleted row is removed from Framer and from D1", async () => {
    notion.trashPage(pages.third);
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 1, unchanged: 2, skipped: 0 });
    assert.deepEqual(Object.keys(framerItems()).sort(), [pages.hello, pages.second].sort());
    const stored = await worker.query("SELECT page_id FROM synced_items WHERE project_id = ?", projectId);
    assert.equal(stored.length, 2);
  });

  test("a renamed property keeps its field id and is reported", async () => {
    const countId = fieldId("Count");
    notion.renameProperty(db.dataSourceId, "Count", "Score");
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.ok(run.warnings.some((w) => w.includes('"Count" renamed to "Score"')), JSON.stringify(run.warnings));
    assert.equal(fieldId("Score"), countId);
    assert.equal(framerItems()[pages.hello].Score, 3);
    assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 0, unchanged: 2, skipped: 0 });
  });

  test("duplicate titles get suffixed slugs and a warning", async () => {
    pages.dupA = notion.addPage(db.dataSourceId, { properties: { Name: "Same Title" } });
    pages.dupB = notion.addPage(db.dataSourceId, { properties: { Name: "Same Title" } });
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.counts.added, 2);
    const slugs = [framerItems()[pages.dupA].slug, framerItems()[pages.dupB].slug].sort();
    assert.deepEqual(slugs, ["same-title", "same-title-2"]);
    assert.ok(run.warnings.some((w) => w.startsWith("duplicate_slugs") && w.includes("same-title")), JSON.stringify(run.warnings));
  });

  test("page bodies are rendered into a field and fetched again only for edited rows", async () => {
    notion.setChildren(pages.hello, [
      { heading_1: "Intro" },
      { paragraph: [{ text: "bold", bold: true }, " and plain"] },
      { bulleted_list_item: "outer", children: [{ paragraph: "inner" }] },
    ]);
    const patch = await worker.fetch(`/api/v1/projects/${projectId}`, { method: "PATCH", token, body: { page_body: true } });
    assert.equal(patch.status, 200, patch.text);
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(fieldId("Page content"), "page_body");
    const body = framerItems()[pages.hello]["Page content"];
    assert.ok(body.startsWith("<h1>Intro</h1><p><strong>bold</strong> and plain</p><ul><li>outer"), body);
    assert.ok(body.includes("<p>inner</p>"), body);
    assert.equal(framerItems()[pages.second]["Page content"], "");

    notion.resetStats();
    const again = await syncAndWait();
    assert.equal(again.status, "succeeded", JSON.stringify(again));
    assert.equal(again.counts.unchanged, 4);
    const blockReads = notion.requests.filter((r) => /\/v1\/blocks\//.test(r.path ?? r.url ?? ""));
    assert.equal(blockReads.length, 0, "no body fetched for unchanged rows");
    assert.equal(again.calls.notion, 3);
  });

  test("Notion rate limiting is waited out (Retry-After) and the run succeeds", async () => {
    notion.failNext({ status: 429, retryAfter: 1, times: 2, match: "POST /v1/data_sources/:id/query" });
    const started = Date.now();
    const run = await syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.calls.notion, 5, "two refused queries were retried");
    assert.ok(Date.now() - started >= 2000, "waited the Retry-After twice");
  });

  test("webhook events run incremental syncs: an edit, then a deletion re-checked by id", async () => {
    const patch = await worker.fetch(`/api/v1/projects/${projectId}`, { method: "PATCH", token, body: { auto_sync: true } });
    assert.equal(patch.status, 200, patch.text);
    const path = webhookPath(patch.json.project);
    const secret = await verify(worker, path);
    const webhookRun = async (event) => {
      const known = new Set((await worker.query("SELECT id FROM sync_runs WHERE project_id = ?", projectId)).map((r) => r.id));
      const res = await deliver(worker, path, event, { token: secret });
      assert.equal(res.status, 200, res.text);
      return waitFor(async () => {
        const runs = (await worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=10`, { token })).json.syncs;
        return runs.find((r) => !known.has(r.id) && r.status !== "running");
      }, { timeoutMs: 30_000, what: "the webhook-triggered run" });
    };

    notion.updatePage(pages.second, { Name: "Second post, edited" });
    const edited = await webhookRun(pageEvent({ databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: pages.second }));
    assert.equal(edited.status, "succeeded", JSON.stringify(edited));
    assert.equal(edited.trigger, "webhook");
    assert.equal(edited.scope, "incremental");
    assert.equal(edited.counts.updated, 1);
    assert.equal(edited.counts.removed, 0);
    assert.equal(edited.calls.notion, 3, "data source, query, and the edited row's body");
    assert.equal(framerItems()[pages.second].Name, "Second post, edited");
    assert.equal(framerItems()[pages.second].slug, "second-post-edited");

    notion.trashPage(pages.dupB);
    const deleted = await webhookRun(pageEvent({ type: "page.deleted", databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: pages.dupB }));
    assert.equal(deleted.status, "succeeded", JSON.stringify(deleted));
    assert.equal(deleted.scope, "incremental");
    assert.equal(deleted.counts.removed, 1);
    assert.ok(!(pages.dupB in framerItems()));
    const stored = await worker.query("SELECT page_id FROM synced_items WHERE project_id = ? AND page_id = ?", projectId, pages.dupB);
    assert.equal(stored.length, 0);
  });

  test("a connection dropped mid-sync fails the run as retryable, and the retry converges", async () => {
    notion.updatePage(pages.hello, { Name: "Hello again" });
    // Three calls answered (collections, fields, item ids), then the socket closes on the write.
    framer.inject({ closeAfterCalls: 3 });
    const syncId = await syncNow();
    const failed = await runOf(syncId);
    assert.equal(failed.status, "failed", JSON.stringify(failed));
    assert.equal(failed.error.code, "framer_connection_lost");
    assert.match(failed.error.message, /retry/);
    assert.equal(framerItems()[pages.hello].Name, "Hello World", "nothing written by the failed run");
    const stored = await worker.query("SELECT content_hash FROM synced_items WHERE project_id = ? AND page_id = ?", projectId, pages.hello);
    assert.equal(stored.length, 1);
    // The Durable Object retries the alarm by itself; the next run sends the change.
    await waitFor(() => framerItems()[pages.hello].Name === "Hello again", { timeoutMs: 30_000, what: "the retry to write the edit" });
    const history = await worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=5`, { token });
    const latest = await waitFor(async () => {
      const res = await worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=5`, { token });
      const run = res.json.syncs[0];
      return run.status === "succeeded" ? run : null;
    }, { what: "the retry run record" });
    assert.ok(history.status === 200);
    assert.equal(latest.counts.updated, 1);
  });

  test("another integration's collection of the same name is refused clearly", async () => {
    framer.createForeignCollection(FRAMER_PROJECT, "Taken");
    const patch = await worker.fetch(`/api/v1/projects/${projectId}`, { method: "PATCH", token, body: { framer: { collection_name: "Taken" } } });
    assert.equal(patch.status, 200, patch.text);
    const run = await syncAndWait();
    assert.equal(run.status, "failed");
    assert.equal(run.error.code, "framer_collection_managed_elsewhere");
    assert.match(run.error.message, /Taken/);
    const back = await worker.fetch(`/api/v1/projects/${projectId}`, { method: "PATCH", token, body: { framer: { collection_name: COLLECTION } } });
    assert.equal(back.status, 200, back.text);
  });

  test("a database no longer shared with the integration is reported as such", async () => {
    notion.unshare(db.databaseId, NOTION_TOKEN);
    const run = await syncAndWait();
    notion.share(db.databaseId, NOTION_TOKEN);
    assert.equal(run.status, "failed");
    assert.equal(run.error.code, "notion_database_not_shared");
    assert.match(run.error.message, /Connections/);
  });

  test("a revoked Notion token fails with an actionable message and writes nothing", async () => {
    const before = JSON.stringify(framerItems());
    notion.revoke(NOTION_TOKEN);
    const run = await syncAndWait();
    assert.equal(run.status, "failed");
    assert.equal(run.error.code, "notion_unauthorized");
    assert.match(run.error.message, /token/);
    assert.equal(JSON.stringify(framerItems()), before);
  });
});
