// Notion-hosted files come back with a new signed URL on every read. Framer must get a URL that
// is fresh at sync time, and an unchanged file must not count as a change.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startFakeFramer } from "./fakes/framer.mjs";
import { startFakeNotion } from "./fakes/notion.mjs";
import { createAccount } from "./support/api.mjs";
import { startWorker, waitFor } from "./support/worker.mjs";

const NOTION_TOKEN = "ntn_files_token_1";
const FRAMER_PROJECT = "FilesProjectId000001";
const FRAMER_KEY = "fr_files_key_1";

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

test("signed file URLs are sent fresh, and an unchanged file is not a change", async () => {
  notion.addIntegration(NOTION_TOKEN);
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const db = notion.addDatabase({ title: "Gallery", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: NOTION_TOKEN });
  const page = notion.addPage(db.dataSourceId, { properties: { Name: "Sunset", Cover: { file: "sunset.png" } } });
  const { token } = await createAccount(worker, { name: "Files" });
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Gallery",
      notion: { token: NOTION_TOKEN, database_id: db.databaseId },
      framer: { project_url: FRAMER_PROJECT, api_key: FRAMER_KEY, collection_name: "Gallery" },
    },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.project.id;
  const syncNow = async () => {
    const queued = await worker.fetch(`/api/v1/projects/${id}/sync`, { method: "POST", token, body: {} });
    return waitFor(async () => {
      const runs = (await worker.fetch(`/api/v1/projects/${id}/syncs`, { token })).json.syncs;
      const run = runs.find((r) => r.id === queued.json.sync_id);
      return run && run.status !== "running" && run;
    }, { what: "the sync" });
  };
  const coverValue = () => {
    const collection = framer.project(FRAMER_PROJECT).collection("Gallery");
    const field = collection.fields.find((f) => f.name === "Cover");
    assert.equal(field.type, "image");
    return collection.items.get(page).fieldData[field.id].value;
  };

  const first = await syncNow();
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  assert.equal(first.counts.added, 1);
  const firstUrl = new URL(coverValue());
  assert.match(firstUrl.pathname, /sunset\.png$/);
  assert.ok(firstUrl.searchParams.has("X-Amz-Signature"), "the Notion-hosted URL, signed");
  // The fake's signed URLs serve the file until they expire: the one Framer got works now.
  assert.equal((await fetch(firstUrl)).status, 200);

  const second = await syncNow();
  assert.equal(second.status, "succeeded");
  assert.deepEqual(second.counts, { added: 0, updated: 0, removed: 0, unchanged: 1, skipped: 0 }, "a re-signed URL is not a change");

  notion.updatePage(page, { Cover: { file: "sunrise.png" } });
  const third = await syncNow();
  assert.equal(third.counts.updated, 1, "a different file is a change");
  assert.match(new URL(coverValue()).pathname, /sunrise\.png$/);
});
