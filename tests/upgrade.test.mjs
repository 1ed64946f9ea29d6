// Upgrading from the version that kept the record of Framer's items (`synced_items`), the
// re-hosted files (`assets`) and the run history (`sync_runs`) in D1 to the one that keeps them in each project's Durable Object
// (migration 0009): the object adopts D1's rows on its next run, then D1's copies go; nothing
// is lost, re-uploaded or re-written.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createSyncProject, stackForFile, syncNow } from "../harness/stack.mjs";
import { waitFor } from "../harness/worker.mjs";

const stack = stackForFile({ vars: { DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" } });

/** The local D1 file, opened read-write (only while the Worker is killed). */
async function openD1(worker) {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = join(worker.persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = (await readdir(dir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  return new DatabaseSync(join(dir, file));
}

test("a project synced by the version before keeps its items and history: adopted from D1, nothing re-written, D1's copies dropped", async () => {
  const { notion, framer, worker } = stack;
  const account = await worker.fetch("/api/v1/accounts", { method: "POST", token: worker.adminToken, body: { name: "Upgrade", plan: "paid" } });
  assert.equal(account.status, 201, account.text);
  const token = account.json.token.token;
  const notionToken = "ntn_upgrade_test_token";
  notion.addIntegration(notionToken);
  const db = notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: notionToken });
  const titles = ["Alpha", "Beta", "Gamma", "Delta"];
  for (const name of titles) notion.addPage(db.dataSourceId, { properties: { Name: name, Cover: { file: `${name.toLowerCase()}.png` } } });
  framer.addProject("UpgradeSiteProject01", "fr_upgrade_key", { name: "Site" });
  const project = await createSyncProject(worker, token, {
    name: "Blog", databaseId: db.databaseId, notionToken, framerProject: "UpgradeSiteProject01", framerKey: "fr_upgrade_key", auto_sync: false, auto_publish: false,
  });
  const first = await syncNow(worker, token, project.id);
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  assert.equal(first.counts.added, 4);
  const recorded = await worker.objectQuery(project.id, "SELECT page_id, item FROM items ORDER BY page_id");
  assert.equal(recorded.length, 4);
  const second = await syncNow(worker, token, project.id);
  assert.equal(second.status, "succeeded", JSON.stringify(second));
  const assets = await worker.objectQuery(project.id, "SELECT file_key, asset FROM assets ORDER BY file_key");
  assert.equal(assets.length, 4, "a cover per row, re-hosted");
  const history = await worker.objectQuery(project.id, "SELECT run FROM runs ORDER BY started_at");
  assert.deepEqual(history.map((r) => JSON.parse(r.run).id), [first.id, second.id]);

  // Back to what the version before left: the record in D1's synced_items, none in the object
  // (its tables did not exist), the database before migration 0009.
  await worker.kill();
  const d1 = await openD1(worker);
  try {
    d1.exec("ALTER TABLE projects DROP COLUMN items_in_framer; ALTER TABLE webhooks DROP COLUMN events_tally_seq; ALTER TABLE projects DROP COLUMN last_success_started_at");
    const asset = d1.prepare("INSERT INTO assets (project_id, file_key, kind, asset_id, asset_url, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)");
    for (const row of assets) {
      const a = JSON.parse(row.asset);
      asset.run(project.id, row.file_key, a.kind, a.id, a.url, new Date().toISOString());
    }
    // The whole history in D1, as versions before kept it.
    for (const { run } of history) {
      const row = JSON.parse(run);
      const columns = Object.keys(row);
      d1.prepare(`INSERT OR REPLACE INTO sync_runs (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
        .run(...columns.map((c) => row[c]));
    }
    d1.prepare("DELETE FROM d1_migrations WHERE name = ?").run("0009_bulk_state_in_the_objects.sql");
    const insert = d1.prepare(
      "INSERT INTO synced_items (project_id, page_id, slug, slug_source, content_hash, last_edited_time, synced_at, fields_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    for (const { page_id, item } of recorded) {
      const it = JSON.parse(item);
      insert.run(project.id, page_id, it.slug, it.slug_source, it.content_hash, it.last_edited_time, new Date().toISOString(), it.fields_hash ?? null);
    }
  } finally {
    d1.close();
  }
  const [objectFile] = await worker.objectFilesOf(project.id);
  const { DatabaseSync } = await import("node:sqlite");
  const object = new DatabaseSync(objectFile);
  try {
    object.exec("DROP TABLE items; DROP TABLE assets; DROP TABLE sync_meta; DROP TABLE runs; DROP TABLE runs_meta");
  } finally {
    object.close();
  }
  await worker.applyMigrations();
  await worker.start();

  const view = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
  assert.equal(view.json.project.sync.items_in_framer, 4, "the migration counts D1's record");
  const [migrated] = await worker.query("SELECT last_success_started_at AS at FROM projects WHERE id = ?", project.id);
  assert.equal(migrated.at, second.started_at, "the migration finds the newest success");
  const listed = async () => (await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=100`, { token })).json.syncs.map((r) => r.id);
  assert.deepEqual(await listed(), [second.id, first.id], "the history from D1, before any run");
  const framerCalls = framer.calls.length;
  const uploads = framer.uploadStats.uploads;
  // A full run: every row is compared with the record, so a lost record would re-write them.
  const full = await worker.fetch(`/api/v1/projects/${project.id}/sync`, { method: "POST", token, body: { full: true } });
  assert.equal(full.status, 202, full.text);
  const run = await waitFor(async () => {
    const runs = (await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=10`, { token })).json.syncs;
    return runs.find((r) => r.id === full.json.sync_id && r.status !== "running");
  }, { timeoutMs: 60_000, what: "the full run after the upgrade" });
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.scope, "full");
  assert.deepEqual(run.counts, { added: 0, updated: 0, removed: 0, unchanged: 4, skipped: 0 });
  const written = framer.calls.slice(framerCalls).filter((c) => /^(add|remove|upload)/u.test(c.method));
  assert.deepEqual(written, [], "nothing re-written or re-uploaded to Framer");
  assert.equal(framer.uploadStats.uploads, uploads);
  assert.deepEqual(await worker.objectQuery(project.id, "SELECT page_id, item FROM items ORDER BY page_id"), recorded);
  assert.deepEqual(await worker.query("SELECT page_id FROM synced_items WHERE project_id = ?", project.id), [], "D1's copy dropped");
  assert.deepEqual(await worker.objectQuery(project.id, "SELECT file_key, asset FROM assets ORDER BY file_key"), assets);
  assert.deepEqual(await worker.query("SELECT file_key FROM assets WHERE project_id = ?", project.id), [], "D1's assets dropped");
  const after = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
  assert.equal(after.json.project.sync.items_in_framer, 4);
  // The history moved to the object; D1 keeps the newest run only.
  assert.deepEqual(await listed(), [run.id, second.id, first.id]);
  assert.deepEqual((await worker.query("SELECT id FROM sync_runs WHERE project_id = ?", project.id)).map((r) => r.id), [run.id]);
  const kept = await worker.objectQuery(project.id, "SELECT id FROM runs ORDER BY started_at");
  assert.deepEqual(kept.map((r) => r.id), [first.id, second.id, run.id]);
});
