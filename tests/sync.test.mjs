// End to end: the built Worker under workerd syncs a fake Notion database into a fake Framer
// collection through "Sync now", and every run's record says what happened.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

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
let token;
let fixtures = 0;

before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
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
});

after(async () => {
  await worker?.stop();
  await framer?.close();
  await notion?.close();
});

/**
 * What every test starts from: its own Notion integration token and database with three rows,
 * its own Framer project, and a project syncing one into the other (auto-sync off, auto-publish
 * on). `synced: true` runs the first sync before the test goes on.
 */
async function freshProject({ synced = false, ...settings } = {}) {
  fixtures += 1;
  const notionToken = `ntn_sync_test_token_${fixtures}`;
  const framerProject = `SyncTestProject${String(fixtures).padStart(5, "0")}`;
  const framerKey = `fr_sync_test_key_${fixtures}`;
  notion.addIntegration(notionToken);
  const db = notion.addDatabase({ title: "Posts", properties: SCHEMA, token: notionToken });
  framer.addProject(framerProject, framerKey, { name: "Site" });
  const base = Date.parse("2024-05-01T10:00:00.000Z");
  const pages = {
    hello: notion.addPage(db.dataSourceId, {
      properties: { Name: "Hello World", Count: 3, Live: true, Stage: "Done", Site: "https://example.com/a" },
      createdTime: base,
    }),
    second: notion.addPage(db.dataSourceId, {
      properties: { Name: "Second post", Count: 7.5, Live: false, Stage: "Draft" },
      createdTime: base + 60_000,
    }),
    third: notion.addPage(db.dataSourceId, { properties: { Name: "Ünïcödé Tïtle!" }, createdTime: base + 120_000 }),
  };
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Blog",
      notion: { token: notionToken, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: COLLECTION },
      auto_sync: false,
      auto_publish: true,
      ...settings,
    },
  });
  assert.equal(created.status, 201, created.text);
  const fixture = new Fixture({ db, pages, notionToken, framerProject, projectId: created.json.project.id });
  if (synced) {
    const first = await fixture.syncAndWait();
    assert.equal(first.status, "succeeded", JSON.stringify(first));
  }
  return fixture;
}

class Fixture {
  constructor(fields) {
    Object.assign(this, fields);
  }

  async syncNow() {
    const res = await worker.fetch(`/api/v1/projects/${this.projectId}/sync`, { method: "POST", token, body: {} });
    assert.equal(res.status, 202, res.text);
    return res.json.sync_id;
  }

  runOf(syncId, { timeoutMs = 30_000 } = {}) {
    return waitFor(
      async () => {
        const res = await worker.fetch(`/api/v1/projects/${this.projectId}/syncs?limit=100`, { token });
        const run = res.json?.syncs?.find((s) => s.id === syncId);
        return run && run.status !== "running" ? run : null;
      },
      { timeoutMs, intervalMs: 200, what: `sync ${syncId} to finish` },
    );
  }

  async syncAndWait() {
    return this.runOf(await this.syncNow());
  }

  patch(body) {
    return worker.fetch(`/api/v1/projects/${this.projectId}`, { method: "PATCH", token, body });
  }

  framerSite() {
    return framer.project(this.framerProject);
  }

  collection() {
    return this.framerSite().collection(COLLECTION);
  }

  /** Framer field id by field name. */
  fieldId(name) {
    const field = this.collection().fields.find((f) => f.name === name);
    assert.ok(field, `field ${name} exists in Framer`);
    return field.id;
  }

  /** The fake Framer collection as {pageId: {slug, draft, Name, Count, ...}} by field name. */
  framerItems() {
    const names = new Map(this.collection().fields.map((f) => [f.id, f.name]));
    const out = {};
    for (const item of this.collection().items.values()) {
      const values = {};
      for (const [id, entry] of Object.entries(item.fieldData)) values[names.get(id)] = entry.value;
      out[item.id] = { slug: item.slug, draft: item.draft, ...values };
    }
    return out;
  }

  stageCase(name) {
    const field = this.collection().fields.find((f) => f.name === "Stage");
    return field.cases.find((c) => c.name === name).id;
  }
}

describe("sync", { concurrency: false }, () => {
  test("first sync writes every row field by field and publishes once", async () => {
    const p = await freshProject();
    const { pages } = p;
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.scope, "full");
    assert.deepEqual(run.counts, { added: 3, updated: 0, removed: 0, unchanged: 0, skipped: 0 });
    assert.ok(run.calls.notion >= 3 && run.calls.notion <= 4, `notion calls ${run.calls.notion}`);
    assert.ok(run.calls.framer >= 5, `framer calls ${run.calls.framer}`);
    assert.ok(run.calls.bytes_sent_to_framer > 0);
    assert.equal(run.published, true);
    assert.equal(run.error, null);

    assert.deepEqual(Object.fromEntries(p.collection().fields.map((f) => [f.name, f.type])), {
      Name: "string", Count: "number", Live: "boolean", Stage: "enum", Site: "link",
    });
    const items = p.framerItems();
    assert.deepEqual(Object.keys(items).sort(), [pages.hello, pages.second, pages.third].sort());
    assert.deepEqual(items[pages.hello], {
      slug: "hello-world", draft: false, Name: "Hello World", Count: 3, Live: true, Stage: p.stageCase("Done"), Site: "https://example.com/a",
    });
    assert.deepEqual(items[pages.second], {
      slug: "second-post", draft: false, Name: "Second post", Count: 7.5, Live: false, Stage: p.stageCase("Draft"), Site: null,
    });
    assert.equal(items[pages.third].slug, "unicode-title");
    assert.equal(items[pages.third].Name, "Ünïcödé Tïtle!");

    const site = p.framerSite();
    assert.equal(site.publishes.length, 1);
    assert.equal(site.deploys.length, 1);
    assert.equal(site.deploys[0].deploymentId, site.publishes[0].deployment.id);

    const stored = await worker.objectQuery(p.projectId, "SELECT page_id, slug FROM items ORDER BY slug");
    assert.deepEqual(stored.map((r) => r.slug), ["hello-world", "second-post", "unicode-title"]);
    const row = (await worker.query("SELECT framer_collection_id, last_full_sync_at, notion_data_source_ids FROM projects WHERE id = ?", p.projectId))[0];
    assert.equal(row.framer_collection_id, p.collection().id);
    assert.ok(row.last_full_sync_at);
    assert.deepEqual(JSON.parse(row.notion_data_source_ids), [p.db.dataSourceId]);
  });

  test("the schema endpoint shows Notion properties, Framer fields and the mapping", async () => {
    const p = await freshProject({ synced: true });
    const res = await worker.fetch(`/api/v1/projects/${p.projectId}/schema`, { token });
    assert.equal(res.status, 200, res.text);
    const { notion: n, framer: f, mapping, changes } = res.json;
    assert.equal(n.data_source_id, p.db.dataSourceId);
    assert.deepEqual(n.properties.map((x) => [x.name, x.type]).sort(), [
      ["Count", "number"], ["Live", "checkbox"], ["Name", "title"], ["Site", "url"], ["Stage", "select"],
    ]);
    assert.equal(f.collection_id, p.collection().id);
    assert.deepEqual(f.fields.map((x) => x.id).sort(), p.collection().fields.map((x) => x.id).sort());
    assert.deepEqual(mapping.fields.map((x) => [x.property_name, x.kind]).sort(), [
      ["Count", "number"], ["Live", "boolean"], ["Name", "string"], ["Site", "link"], ["Stage", "enum"],
    ]);
    assert.deepEqual(changes, []);
  });

  test("a sync with nothing changed sends no item and does not publish", async () => {
    const p = await freshProject({ synced: true });
    const callsBefore = framer.calls.length;
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 0, unchanged: 3, skipped: 0 });
    assert.equal(run.published, false);
    const methods = framer.calls.slice(callsBefore).map((c) => c.method ?? c.methodName ?? c.name);
    assert.ok(!methods.includes("addManagedCollectionItems2"), methods.join(","));
    assert.equal(p.framerSite().publishes.length, 1);
  });

  test("an edit updates exactly that item", async () => {
    const p = await freshProject({ synced: true });
    const { pages } = p;
    notion.updatePage(pages.second, { Count: 8, Stage: "Done" });
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.counts, { added: 0, updated: 1, removed: 0, unchanged: 2, skipped: 0 });
    const items = p.framerItems();
    assert.equal(items[pages.second].Count, 8);
    assert.equal(items[pages.second].Stage, p.stageCase("Done"));
    assert.equal(items[pages.hello].Count, 3);
  });

  test("a deleted row is removed from Framer and from D1", async () => {
    const p = await freshProject({ synced: true });
    const { pages } = p;
    notion.trashPage(pages.third);
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 1, unchanged: 2, skipped: 0 });
    assert.deepEqual(Object.keys(p.framerItems()).sort(), [pages.hello, pages.second].sort());
    const stored = await worker.objectQuery(p.projectId, "SELECT page_id FROM items");
    assert.equal(stored.length, 2);
  });

  test("a renamed property keeps its field id and is reported", async () => {
    const p = await freshProject({ synced: true });
    const countId = p.fieldId("Count");
    notion.renameProperty(p.db.dataSourceId, "Count", "Score");
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.ok(run.warnings.some((w) => w.includes('"Count" renamed to "Score"')), JSON.stringify(run.warnings));
    assert.equal(p.fieldId("Score"), countId);
    assert.equal(p.framerItems()[p.pages.hello].Score, 3);
    assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 0, unchanged: 3, skipped: 0 });
  });

  test("duplicate titles get suffixed slugs and a warning", async () => {
    const p = await freshProject({ synced: true });
    const dupA = notion.addPage(p.db.dataSourceId, { properties: { Name: "Same Title" } });
    const dupB = notion.addPage(p.db.dataSourceId, { properties: { Name: "Same Title" } });
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.counts.added, 2);
    const slugs = [p.framerItems()[dupA].slug, p.framerItems()[dupB].slug].sort();
    assert.deepEqual(slugs, ["same-title", "same-title-2"]);
    assert.ok(run.warnings.some((w) => w.startsWith("duplicate_slugs") && w.includes("same-title")), JSON.stringify(run.warnings));
  });

  test("two rows that swap titles swap slugs, without a suffix", async () => {
    const p = await freshProject({ synced: true });
    const one = notion.addPage(p.db.dataSourceId, { properties: { Name: "Swap One" } });
    const two = notion.addPage(p.db.dataSourceId, { properties: { Name: "Swap Two" } });
    assert.equal((await p.syncAndWait()).status, "succeeded");
    const slugs = () => [p.framerItems()[one].slug, p.framerItems()[two].slug];
    assert.deepEqual(slugs(), ["swap-one", "swap-two"]);
    notion.updatePage(one, { Name: "Swap Two" });
    notion.updatePage(two, { Name: "Swap One" });
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(slugs(), ["swap-two", "swap-one"]);
    assert.deepEqual([run.counts.updated, run.counts.skipped], [2, 0], JSON.stringify(run.counts));
    assert.ok(!run.warnings.some((w) => w.startsWith("duplicate_slugs")), JSON.stringify(run.warnings));
  });

  test("page bodies are rendered into a field and fetched again only for edited rows", async () => {
    const p = await freshProject({ synced: true });
    const { pages } = p;
    notion.setChildren(pages.hello, [
      { heading_1: "Intro" },
      { paragraph: [{ text: "bold", bold: true }, " and plain"] },
      { bulleted_list_item: "outer", children: [{ paragraph: "inner" }] },
    ]);
    const patch = await p.patch({ page_body: true });
    assert.equal(patch.status, 200, patch.text);
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(p.fieldId("Page content"), "page_body");
    const body = p.framerItems()[pages.hello]["Page content"];
    assert.ok(body.startsWith("<h1>Intro</h1><p><strong>bold</strong> and plain</p><ul><li>outer"), body);
    assert.ok(body.includes("<p>inner</p>"), body);
    assert.equal(p.framerItems()[pages.second]["Page content"], "");

    notion.resetStats();
    const again = await p.syncAndWait();
    assert.equal(again.status, "succeeded", JSON.stringify(again));
    assert.equal(again.counts.unchanged, 3);
    const blockReads = notion.requests.filter((r) => /\/v1\/blocks\//.test(r.path ?? r.url ?? ""));
    assert.equal(blockReads.length, 0, "no body fetched for unchanged rows");
    assert.equal(again.calls.notion, 3);
  });

  test("Notion rate limiting is waited out (Retry-After) and the run succeeds", async () => {
    const p = await freshProject({ synced: true });
    notion.failNext({ status: 429, retryAfter: 1, times: 2, match: "POST /v1/data_sources/:id/query" });
    const started = Date.now();
    const run = await p.syncAndWait();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.calls.notion, 5, "two refused queries were retried");
    assert.ok(Date.now() - started >= 2000, "waited the Retry-After twice");
  });

  test("webhook events run incremental syncs: an edit, then a deletion re-checked by id", async () => {
    // Page bodies on: an incremental run reads the body of the row it updates.
    const p = await freshProject({ synced: true, page_body: true });
    const { pages, db } = p;
    const patch = await p.patch({ auto_sync: true });
    assert.equal(patch.status, 200, patch.text);
    const path = webhookPath(patch.json.project);
    const secret = await verify(worker, path);
    const webhookRun = async (event) => {
      const known = new Set((await worker.runsOf(p.projectId)).map((r) => r.id));
      const res = await deliver(worker, path, event, { token: secret });
      assert.equal(res.status, 200, res.text);
      return waitFor(async () => {
        const runs = (await worker.fetch(`/api/v1/projects/${p.projectId}/syncs?limit=10`, { token })).json.syncs;
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
    assert.equal(p.framerItems()[pages.second].Name, "Second post, edited");
    assert.equal(p.framerItems()[pages.second].slug, "second-post-edited");

    notion.trashPage(pages.third);
    const deleted = await webhookRun(pageEvent({ type: "page.deleted", databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: pages.third }));
    assert.equal(deleted.status, "succeeded", JSON.stringify(deleted));
    assert.equal(deleted.scope, "incremental");
    assert.equal(deleted.counts.removed, 1);
    assert.ok(!(pages.third in p.framerItems()));
    const stored = await worker.objectQuery(p.projectId, "SELECT page_id FROM items WHERE page_id = ?", pages.third);
    assert.equal(stored.length, 0);
  });

  test("a connection dropped mid-sync fails the run as retryable, and the retry converges", async () => {
    const p = await freshProject({ synced: true });
    const { pages } = p;
    notion.updatePage(pages.hello, { Name: "Hello again" });
    // Three calls answered (collections, fields, item ids), then the socket closes on the write.
    framer.inject({ closeAfterCalls: 3 });
    const syncId = await p.syncNow();
    const failed = await p.runOf(syncId);
    assert.equal(failed.status, "failed", JSON.stringify(failed));
    assert.equal(failed.error.code, "framer_connection_lost");
    // Our words only: no socket stage, method name or runtime text on the record...
    assert.equal(failed.error.message, "the connection to Framer was lost before Framer answered; the sync will retry automatically");
    // ...they are on the run's log line, with its id.
    const logged = worker.logLines().find((l) => l.kind === "sync_step" && l.sync_id === syncId && l.outcome === "failed");
    assert.ok(logged, "the failed step's log line");
    assert.equal(logged.error_code, "framer_connection_lost");
    assert.match(logged.detail, /^framer: connection closed during \w+/u);
    assert.equal(p.framerItems()[pages.hello].Name, "Hello World", "nothing written by the failed run");
    const stored = await worker.objectQuery(p.projectId, "SELECT item FROM items WHERE page_id = ?", pages.hello);
    assert.equal(stored.length, 1);
    // The Durable Object retries the alarm by itself; the next run sends the change.
    await waitFor(() => p.framerItems()[pages.hello].Name === "Hello again", { timeoutMs: 30_000, what: "the retry to write the edit" });
    const latest = await waitFor(async () => {
      const res = await worker.fetch(`/api/v1/projects/${p.projectId}/syncs?limit=5`, { token });
      assert.equal(res.status, 200, res.text);
      const run = res.json.syncs[0];
      return run.status === "succeeded" ? run : null;
    }, { what: "the retry run record" });
    assert.equal(latest.counts.updated, 1);
  });

  test("another integration's collection of the same name is refused clearly", async () => {
    const p = await freshProject();
    framer.createForeignCollection(p.framerProject, "Taken");
    const patch = await p.patch({ framer: { collection_name: "Taken" } });
    assert.equal(patch.status, 200, patch.text);
    const run = await p.syncAndWait();
    assert.equal(run.status, "failed");
    assert.equal(run.error.code, "framer_collection_managed_elsewhere");
    assert.match(run.error.message, /Taken/);
  });

  test("a database no longer shared with the integration is reported as such", async () => {
    const p = await freshProject();
    notion.unshare(p.db.databaseId, p.notionToken);
    const run = await p.syncAndWait();
    assert.equal(run.status, "failed");
    assert.equal(run.error.code, "notion_database_not_shared");
    assert.match(run.error.message, /Connections/);
  });

  test("a revoked Notion token fails with an actionable message and writes nothing", async () => {
    const p = await freshProject({ synced: true });
    const before = JSON.stringify(p.framerItems());
    notion.revoke(p.notionToken);
    const run = await p.syncAndWait();
    assert.equal(run.status, "failed");
    assert.equal(run.error.code, "notion_unauthorized");
    assert.match(run.error.message, /token/);
    assert.equal(JSON.stringify(p.framerItems()), before);
  });
});
