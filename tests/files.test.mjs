// Notion-hosted files come back with a new signed URL on every read. Framer must get a URL that
// is fresh at sync time, and an unchanged file must not count as a change.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, stackForFile, syncNow as syncAndWait } from "../harness/stack.mjs";

const NOTION_TOKEN = "ntn_files_token_1";
const FRAMER_PROJECT = "FilesProjectId000001";
const FRAMER_KEY = "fr_files_key_1";

const stack = stackForFile();

test("signed file URLs are sent fresh, and an unchanged file is not a change", async () => {
  stack.notion.addIntegration(NOTION_TOKEN);
  stack.framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const db = stack.notion.addDatabase({ title: "Gallery", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: NOTION_TOKEN });
  const page = stack.notion.addPage(db.dataSourceId, { properties: { Name: "Sunset", Cover: { file: "sunset.png" } } });
  const { token } = await createAccount(stack.worker, { name: "Files" });
  const { id } = await createSyncProject(stack.worker, token, {
    name: "Gallery", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY,
  });
  const syncNow = () => syncAndWait(stack.worker, token, id);
  const coverValue = () => {
    const collection = stack.framer.project(FRAMER_PROJECT).collection("Gallery");
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

  stack.notion.updatePage(page, { Cover: { file: "sunrise.png" } });
  const third = await syncNow();
  assert.equal(third.counts.updated, 1, "a different file is a change");
  assert.match(new URL(coverValue()).pathname, /sunrise\.png$/);
});
