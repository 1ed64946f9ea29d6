// The live site is never emptied by mistake (issue 19), under workerd with fake Notion and
// Framer: the deletion guard holds large removals and empty reads, "Remove them" / "Keep them",
// a publish filter that stopped fitting its schema fails closed, a page gone before its body is
// read is a removal (not an unshared database), a page moved out is removed, and a run keeps
// the settings it started with while the owner's saves win.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startReceiver } from "../harness/receiver.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

const COLLECTION = "Posts";
const SCHEMA = {
  Name: { type: "title" },
  Live: { type: "checkbox" },
  Stage: { type: "status", options: ["Draft", "Published"] },
  Tag: { type: "select", options: ["News"] },
};

let notion;
let framer;
let worker;
let receiver;
let token;
let fixtures = 0;

before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  receiver = await startReceiver();
  worker = await startWorker({
    vars: {
      NOTION_API_BASE: notion.url,
      FRAMER_SERVER_URL: framer.url,
      DEBOUNCE_SECONDS: "0.2",
      DEBOUNCE_MAX_WAIT_SECONDS: "1",
      ALERT_RETRY_BASE_SECONDS: "0.1",
    },
  });
  ({ token } = await createAccount(worker, { name: "Data safety" }));
  const destination = await worker.fetch("/api/v1/alerts", { method: "POST", token, body: { url: receiver.url, format: "json", name: "Ops" } });
  assert.equal(destination.status, 201, destination.text);
});

after(async () => {
  await worker?.stop();
  await receiver?.stop();
  await framer?.close();
  await notion?.close();
});

/** A database of `rows` published rows synced once into its own Framer project (auto-publish on). */
async function syncedSite({ rows = 50, settings = {} } = {}) {
  fixtures += 1;
  const notionToken = `ntn_safety_token_${fixtures}`;
  const framerProject = `SafetyProject${String(fixtures).padStart(7, "0")}`;
  const framerKey = `fr_safety_key_${fixtures}`;
  notion.addIntegration(notionToken);
  const db = notion.addDatabase({ title: "Posts", properties: SCHEMA, token: notionToken });
  framer.addProject(framerProject, framerKey, { name: "Site" });
  const base = Date.parse("2024-05-01T10:00:00.000Z");
  const pages = [];
  for (let n = 0; n < rows; n += 1) {
    pages.push(notion.addPage(db.dataSourceId, {
      properties: { Name: `Post ${n}`, Live: true, Stage: "Published" },
      createdTime: base + n * 60_000,
    }));
  }
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: `Site ${fixtures}`,
      notion: { token: notionToken, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: COLLECTION },
      auto_sync: false,
      auto_publish: true,
      ...settings,
    },
  });
  assert.equal(created.status, 201, created.text);
  const site = new Site({ db, pages, notionToken, framerProject, id: created.json.project.id });
  const first = await site.sync();
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  assert.equal(site.items().size, rows);
  return site;
}

class Site {
  constructor(fields) {
    Object.assign(this, fields);
  }

  items() {
    return framer.project(this.framerProject).collection(COLLECTION).items;
  }

  publishes() {
    return framer.project(this.framerProject).publishes.length;
  }

  async project() {
    const res = await worker.fetch(`/api/v1/projects/${this.id}`, { token });
    assert.equal(res.status, 200, res.text);
    return res.json.project;
  }

  patch(body) {
    return worker.fetch(`/api/v1/projects/${this.id}`, { method: "PATCH", token, body });
  }

  /** The run serving `syncId`, once finished. */
  runOf(syncId, timeoutMs = 60_000) {
    return waitFor(async () => {
      const runs = (await worker.fetch(`/api/v1/projects/${this.id}/syncs?limit=100`, { token })).json.syncs;
      const run = runs.find((r) => r.id === syncId);
      return run && run.status !== "running" && run;
    }, { timeoutMs, intervalMs: 200, what: `run ${syncId}` });
  }

  async sync() {
    const res = await worker.fetch(`/api/v1/projects/${this.id}/sync`, { method: "POST", token, body: {} });
    assert.equal(res.status, 202, res.text);
    return this.runOf(res.json.sync_id);
  }

  /** Alerts of `kind` about this project that reached the receiver. */
  alerts(kind, event = "alert.raised") {
    return receiver.matching((j) => j?.kind === kind && j?.type === event && j?.project?.id === this.id);
  }
}

/** Notion answers every query of the data source with no rows (pages unshared, an incident). */
function emptyQueries(dataSourceId) {
  const ids = `${dataSourceId}|${dataSourceId.replaceAll("-", "")}`;
  notion.failNext({
    status: 200,
    times: 1_000_000,
    match: new RegExp(`^POST /v1/data_sources/(${ids})/query$`),
    body: JSON.stringify({ object: "list", results: [], next_cursor: null, has_more: false, type: "page_or_data_source", page_or_data_source: {} }),
  });
}

describe("the deletion guard", () => {
  test("an empty answer from Notion removes and publishes nothing, alerts once, and recovery releases the hold", async () => {
    const site = await syncedSite();
    const published = site.publishes();
    emptyQueries(site.db.dataSourceId);
    const held = await site.sync();
    assert.equal(held.status, "succeeded", JSON.stringify(held));
    assert.equal(held.removals_held, 50);
    assert.equal(held.counts.removed, 0);
    assert.equal(held.held_removals.reason, "empty_read");
    assert.equal(held.held_removals.items.length, 20);
    assert.match(held.held_removals.items[0].url, /^https:\/\/www\.notion\.so\/[0-9a-f]{32}$/);
    assert.equal(site.items().size, 50, "nothing removed");
    assert.equal(site.publishes(), published, "nothing published");
    const project = await site.project();
    assert.equal(project.removals.held.count, 50);
    assert.equal(project.sync.removals_held, 50);
    assert.equal(project.removals.held.reason, "empty_read");
    assert.ok(project.incidents.some((i) => i.kind === "removals_held"), JSON.stringify(project.incidents));
    await waitFor(() => site.alerts("removals_held").length === 1, { what: "the removals_held alert" });
    // Still empty: held again, no second alert.
    const again = await site.sync();
    assert.equal(again.removals_held, 50);
    await holdsFor(() => site.alerts("removals_held").length === 1, { forMs: 1_500, what: "one alert per incident" });

    notion.failures.length = 0;
    const recovered = await site.sync();
    assert.equal(recovered.status, "succeeded", JSON.stringify(recovered));
    assert.equal(recovered.removals_held, 0);
    assert.equal(recovered.held_removals, null);
    assert.equal(site.items().size, 50);
    assert.equal((await site.project()).removals.held.count, 0, "the hold is released");
    await waitFor(() => site.alerts("removals_held", "alert.resolved").length === 1, { what: "the recovery message" });
  });

  test("48 of 50 trashed are held; \"Remove them\" removes exactly those still gone and publishes once", async () => {
    const site = await syncedSite();
    for (const page of site.pages.slice(2)) notion.trashPage(page);
    const held = await site.sync();
    assert.equal(held.removals_held, 48);
    assert.equal(held.held_removals.reason, "over_threshold");
    assert.equal(site.items().size, 50);
    // One of them is restored before the owner decides: it stays.
    notion.restorePage(site.pages[10]);
    const published = site.publishes();
    const applied = await worker.fetch(`/api/v1/projects/${site.id}/removals/apply`, { method: "POST", token, body: {} });
    assert.equal(applied.status, 202, applied.text);
    const run = await site.runOf(applied.json.sync_id);
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.counts.removed, 47);
    assert.equal(run.removals_held, 0);
    assert.equal(site.items().size, 3);
    assert.ok(site.items().has(site.pages[10]));
    assert.equal(site.publishes(), published + 1, "published once");
    assert.equal((await site.project()).removals.held.count, 0);
    const nothing = await worker.fetch(`/api/v1/projects/${site.id}/removals/apply`, { method: "POST", token, body: {} });
    assert.equal(nothing.status, 422);
    assert.equal(nothing.json.error.code, "no_removals_held");
  });

  test("\"Keep them\" keeps all 50 and later runs do not hold them again", async () => {
    const site = await syncedSite();
    for (const page of site.pages.slice(2)) notion.trashPage(page);
    assert.equal((await site.sync()).removals_held, 48);
    const kept = await worker.fetch(`/api/v1/projects/${site.id}/removals/dismiss`, { method: "POST", token, body: {} });
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.json.kept, 48);
    const next = await site.sync();
    assert.equal(next.status, "succeeded", JSON.stringify(next));
    assert.equal(next.removals_held, 0);
    assert.equal(next.counts.removed, 0);
    assert.equal(site.items().size, 50);
    const project = await site.project();
    assert.equal(project.removals.held.count, 0);
    assert.equal(project.removals.kept.count, 48);
  });

  test("3 of 50 trashed are removed at once, under the threshold", async () => {
    const site = await syncedSite();
    for (const page of site.pages.slice(0, 3)) notion.trashPage(page);
    const run = await site.sync();
    assert.equal(run.counts.removed, 3);
    assert.equal(run.removals_held, 0);
    assert.equal(site.items().size, 47);
  });

  test("a project can raise its threshold or turn the guard off", async () => {
    const site = await syncedSite({ rows: 10 });
    const bad = await site.patch({ deletion_guard: { percent: 0 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, "deletion_guard.percent");
    const off = await site.patch({ deletion_guard: { enabled: false } });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.project.deletion_guard.enabled, false);
    for (const page of site.pages.slice(0, 8)) notion.trashPage(page);
    const run = await site.sync();
    assert.equal(run.counts.removed, 8, "bulk deletes on purpose go through");
    assert.equal(site.items().size, 2);
  });
});

describe("reads that fail closed", () => {
  test("the publish filter's property deleted in Notion fails the run with an alert; nothing removed", async () => {
    const site = await syncedSite({ settings: { auto_sync: true } });
    const schema = (await worker.fetch(`/api/v1/projects/${site.id}/schema`, { token })).json;
    const live = schema.notion.properties.find((p) => p.name === "Live");
    const saved = await site.patch({ publish_filter: { kind: "checkbox", property_id: live.id } });
    assert.equal(saved.status, 200, saved.text);
    const path = webhookPath(await site.project());
    const secret = await verify(worker, path);
    assert.equal((await worker.fetch(`/api/v1/projects/${site.id}/webhook/confirm`, { method: "POST", token, body: {} })).status, 200);

    notion.removeProperty(site.db.dataSourceId, "Live");
    const known = new Set((await worker.fetch(`/api/v1/projects/${site.id}/syncs?limit=100`, { token })).json.syncs.map((r) => r.id));
    const event = {
      ...pageEvent({ type: "data_source.schema_updated", databaseId: site.db.databaseId }),
      entity: { id: site.db.dataSourceId, type: "data_source" },
      data: { parent: { id: site.db.databaseId, type: "database" }, updated_properties: [{ id: live.id, name: "Live", action: "deleted" }] },
    };
    const res = await deliver(worker, path, event, { token: secret });
    assert.equal(res.status, 200, res.text);
    const run = await waitFor(async () => {
      const runs = (await worker.fetch(`/api/v1/projects/${site.id}/syncs?limit=100`, { token })).json.syncs;
      return runs.find((r) => !known.has(r.id) && r.status !== "running");
    }, { timeoutMs: 30_000, what: "the run the schema change started" });
    assert.equal(run.status, "failed", JSON.stringify(run));
    assert.equal(run.error.code, "publish_filter_invalid");
    assert.match(run.error.message, /"Live"/);
    assert.match(run.error.message, /Nothing was removed/);
    assert.equal(site.items().size, 50);
    await waitFor(() => receiver.matching((j) => j?.kind === "sync_failing" && j?.project?.id === site.id).length === 1, { what: "the failure alert" });
  });

  test("a filter value that is not an option is refused with the field named; one Notion shows differently is stored as Notion shows it", async () => {
    const site = await syncedSite({ rows: 3 });
    const schema = (await worker.fetch(`/api/v1/projects/${site.id}/schema`, { token })).json;
    const stage = schema.notion.properties.find((p) => p.name === "Stage");
    const bad = await site.patch({ publish_filter: { kind: "status", property_id: stage.id, values: ["Live"] } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.field, "publish_filter.values");
    assert.match(bad.json.error.message, /"Live" is not an option of "Stage"/);
    const wrongType = await site.patch({ publish_filter: { kind: "checkbox", property_id: stage.id } });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.json.error.field, "publish_filter.property_id");
    const missing = await site.patch({ publish_filter: { kind: "checkbox", property_id: "nope" } });
    assert.equal(missing.status, 400);
    const good = await site.patch({ publish_filter: { kind: "status", property_id: stage.id, values: [" published "] } });
    assert.equal(good.status, 200, good.text);
    assert.deepEqual(good.json.project.publish_filter.values, ["Published"]);
    assert.equal(good.json.project.publish_filter.option_ids.length, 1);
    const run = await site.sync();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(site.items().size, 3);
  });

  test("a page deleted between the query and its body fetch is a removal, never an unshared database", async () => {
    const site = await syncedSite({ rows: 20, settings: { page_body: true } });
    const victim = site.pages[5];
    notion.updatePage(victim, { Name: "Edited then deleted" });
    const ids = `${victim}|${victim.replaceAll("-", "")}`;
    notion.failNext({ status: 404, code: "object_not_found", times: 5, match: new RegExp(`^GET /v1/blocks/(${ids})/children$`) });
    const run = await site.sync();
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.counts.removed, 1);
    assert.ok(!site.items().has(victim));
    await holdsFor(() => receiver.matching((j) => j?.project?.id === site.id && j?.type === "alert.raised").length === 0, { forMs: 1_000, what: "no alert" });
  });

  test("a page moved to another database is removed from this one's collection", async () => {
    const site = await syncedSite({ rows: 10, settings: { auto_sync: true } });
    const elsewhere = notion.addDatabase({ title: "Archive", properties: SCHEMA, token: site.notionToken });
    const path = webhookPath(await site.project());
    const secret = await verify(worker, path);
    assert.equal((await worker.fetch(`/api/v1/projects/${site.id}/webhook/confirm`, { method: "POST", token, body: {} })).status, 200);
    const moved = site.pages[3];
    notion.movePage(moved, elsewhere.dataSourceId);
    const known = new Set((await worker.fetch(`/api/v1/projects/${site.id}/syncs?limit=100`, { token })).json.syncs.map((r) => r.id));
    // Notion's page.moved names the page's new parent: the other database.
    const event = pageEvent({ type: "page.moved", databaseId: elsewhere.databaseId, dataSourceId: elsewhere.dataSourceId, pageId: moved });
    const res = await deliver(worker, path, event, { token: secret });
    assert.equal(res.status, 200, res.text);
    const run = await waitFor(async () => {
      const runs = (await worker.fetch(`/api/v1/projects/${site.id}/syncs?limit=100`, { token })).json.syncs;
      return runs.find((r) => !known.has(r.id) && r.status !== "running");
    }, { timeoutMs: 30_000, what: "the run the move started" });
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.equal(run.scope, "incremental");
    assert.equal(run.counts.removed, 1);
    assert.ok(!site.items().has(moved));
    assert.equal(site.items().size, 9);
  });
});

describe("runs that stay consistent", () => {
  /** Starts a slow run (Notion paced) and waits until it is in flight. */
  async function slowRun(site) {
    notion.setRateLimit({ requestsPerSecond: 2, burst: 1 });
    const res = await worker.fetch(`/api/v1/projects/${site.id}/sync`, { method: "POST", token, body: {} });
    assert.equal(res.status, 202, res.text);
    await waitFor(async () => (await site.project()).sync.running, { what: "the run to be in flight" });
    return res.json.sync_id;
  }

  test("a mapping saved while a run is in flight is the one the project holds after the run", async () => {
    const site = await syncedSite({ rows: 2_000 });
    try {
      const syncId = await slowRun(site);
      const mapping = (await site.project()).mapping;
      const stage = mapping.fields.find((f) => f.property_name === "Stage");
      stage.enabled = false;
      const saved = await site.patch({ mapping });
      assert.equal(saved.status, 200, saved.text);
      // A row read later in the run uses a Tag option the run's schema did not list: the run
      // learns the case, and would write its own mapping back if it were allowed to.
      notion.updatePage(site.pages.at(-1), { Tag: "Brand new" });
      const run = await site.runOf(syncId);
      assert.equal(run.status, "succeeded", JSON.stringify(run));
      const after = (await site.project()).mapping;
      assert.equal(after.fields.find((f) => f.property_name === "Stage").enabled, false, "the owner's mapping wins");
    } finally {
      notion.setRateLimit(null);
    }
  });

  test("changing the database mid-run cancels the run and the next run is full", async () => {
    const site = await syncedSite({ rows: 2_000 });
    const other = notion.addDatabase({ title: "Other", properties: SCHEMA, token: site.notionToken });
    notion.addPage(other.dataSourceId, { properties: { Name: "Elsewhere", Live: true, Stage: "Published" } });
    let syncId;
    try {
      syncId = await slowRun(site);
      const changed = await site.patch({ notion: { database_id: other.databaseId } });
      assert.equal(changed.status, 200, changed.text);
    } finally {
      notion.setRateLimit(null);
    }
    const cancelled = await site.runOf(syncId);
    assert.equal(cancelled.status, "cancelled", JSON.stringify(cancelled));
    assert.equal(cancelled.error.code, "cancelled");
    const next = await site.sync();
    assert.equal(next.scope, "full");
    assert.equal(next.status, "succeeded", JSON.stringify(next));
    assert.equal(next.counts.added, 1, "the new database's row");
    assert.equal(next.removals_held, 2_000, "the old database's items are held for review, not silently removed");
  });
});

test("the guard's defaults are the documented ones", async () => {
  const site = await syncedSite({ rows: 1 });
  const project = await site.project();
  assert.deepEqual(project.deletion_guard, { enabled: true, percent: null, effective_percent: 20, min_items: 5 });
  assert.equal(project.notion.data_source_id, site.db.dataSourceId);
});
