// Notion-hosted files (file properties, images and file links in page bodies) come with signed
// URLs that expire within the hour. Every one of them is uploaded to Framer once and the item
// points at the Framer asset: after Notion's URLs expire everything still resolves, an
// unchanged file is never uploaded again, a replaced one once, and a file that cannot be
// fetched leaves its row written without it, with a warning, for the next run to retry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, stackForFile, syncNow as syncAndWait } from "../harness/stack.mjs";

const NOTION_TOKEN = "ntn_files_token_1";
const FRAMER_PROJECT = "FilesProjectId000001";
const FRAMER_KEY = "fr_files_key_1";

const stack = stackForFile();

/** Every URL an item's fields and body hold. */
function urlsOf(item) {
  const urls = [];
  for (const entry of Object.values(item.fieldData)) {
    if (typeof entry.value !== "string") continue;
    if (entry.type === "formattedText") {
      for (const match of entry.value.matchAll(/(?:src|href)="([^"]+)"/g)) urls.push(match[1].replaceAll("&amp;", "&"));
    } else if (/^https?:/.test(entry.value)) {
      urls.push(entry.value);
    }
  }
  return urls;
}

test("Notion files are re-hosted in Framer once and still resolve after Notion's URLs expire", async () => {
  const { notion, framer, worker } = stack;
  notion.addIntegration(NOTION_TOKEN);
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
  const db = notion.addDatabase({
    title: "Gallery",
    properties: { Name: { type: "title" }, Cover: { type: "files" }, Attachment: { type: "files" } },
    token: NOTION_TOKEN,
  });
  const pages = ["Sunset", "Sunrise", "Dusk"].map((name, i) => notion.addPage(db.dataSourceId, {
    properties: { Name: name, Cover: { file: `${name.toLowerCase()}.png` }, Attachment: { file: `notes-${i}.pdf` } },
    children: [
      { paragraph: `About ${name}` },
      { image: { file: `${name.toLowerCase()}-inline.png`, caption: `${name} over the sea` } },
      { file: { file: `${name.toLowerCase()}.txt`, name: `${name}.txt` } },
    ],
  }));
  const { token } = await createAccount(worker, { name: "Files" });
  const { id } = await createSyncProject(worker, token, {
    name: "Gallery", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, page_body: true,
  });
  // Attachment holds PDFs: map it to a file field (the proposal makes files properties images).
  const proposed = (await worker.fetch(`/api/v1/projects/${id}/schema`, { token })).json.mapping;
  const mapping = { ...proposed, fields: proposed.fields.map((f) => (f.property_name === "Attachment" ? { ...f, kind: "file" } : f)) };
  const patched = await worker.fetch(`/api/v1/projects/${id}`, { method: "PATCH", token, body: { mapping } });
  assert.equal(patched.status, 200, patched.text);
  const syncNow = () => syncAndWait(worker, token, id);
  const collection = () => framer.project(FRAMER_PROJECT).collection("Gallery");
  const field = (name) => collection().fields.find((f) => f.name === name);

  const first = await syncNow();
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  assert.equal(first.counts.added, 3);
  const uploadsAfterFirst = framer.uploadStats.uploads;
  assert.equal(uploadsAfterFirst, 12, "3 covers, 3 attachments, 3 body images, 3 body files");

  notion.expireFileUrls();
  const items = [...collection().items.values()];
  assert.equal(items.length, 3);
  for (const item of items) {
    const urls = urlsOf(item);
    assert.ok(urls.length >= 4, JSON.stringify(item.fieldData));
    for (const url of urls) {
      assert.ok(framer.asset(url), `a Framer asset, not Notion's file host: ${url}`);
      assert.equal((await fetch(url)).status, 200, `resolves: ${url}`);
    }
    const body = item.fieldData.page_body.value;
    assert.match(body, /alt="(Sunset|Sunrise|Dusk) over the sea"/, "the caption is the image's alt text");
  }
  assert.equal(field("Cover").type, "image");
  assert.equal(field("Attachment").type, "file");

  const second = await syncNow();
  assert.equal(second.status, "succeeded");
  assert.deepEqual(second.counts, { added: 0, updated: 0, removed: 0, unchanged: 3, skipped: 0 });
  assert.equal(framer.uploadStats.uploads, uploadsAfterFirst, "nothing changed, nothing uploaded");

  const coverKey = notion.hostedFiles().find((f) => f.pageId === pages[0] && f.name === "sunset.png").key;
  notion.replaceFile(coverKey, { content: "a new sunset" });
  const third = await syncNow();
  assert.equal(third.counts.updated, 1, JSON.stringify(third));
  assert.equal(framer.uploadStats.uploads, uploadsAfterFirst + 1, "exactly the replaced file is uploaded");
});

test("a file Notion cannot serve leaves its row written, with a warning, and the run succeeds", async () => {
  const { notion, framer, worker } = stack;
  const notionToken = "ntn_files_token_2";
  const framerProject = "FilesProjectId000002";
  notion.addIntegration(notionToken);
  framer.addProject(framerProject, "fr_files_key_2");
  const db = notion.addDatabase({ title: "Docs", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: notionToken });
  notion.addPage(db.dataSourceId, { properties: { Name: "Fine", Cover: { file: "fine.png" } } });
  const broken = notion.addPage(db.dataSourceId, { properties: { Name: "Broken", Cover: { file: "broken.png" } } });
  const brokenKey = notion.hostedFiles().find((f) => f.pageId === broken).key;
  notion.failFile(brokenKey, 404);
  const { token } = await createAccount(worker, { name: "Docs" });
  const { id } = await createSyncProject(worker, token, {
    name: "Docs", databaseId: db.databaseId, notionToken, framerProject, framerKey: "fr_files_key_2",
  });
  const run = await syncAndWait(worker, token, id);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.equal(run.counts.added, 2);
  const collection = framer.project(framerProject).collection("Docs");
  const cover = collection.fields.find((f) => f.name === "Cover").id;
  assert.equal(collection.items.get(broken).fieldData[cover]?.value ?? null, null, "written without the file");
  const warning = run.warnings.find((w) => w.includes("Broken"));
  assert.ok(warning, JSON.stringify(run.warnings));
  assert.match(warning, /Cover/);
  assert.match(warning, /404|download/i);

  // The next run retries it: once Notion serves it again, it is uploaded and written.
  notion.restoreFile(brokenKey);
  const retry = await syncAndWait(worker, token, id);
  assert.equal(retry.counts.updated, 1, JSON.stringify(retry));
  assert.ok(framer.asset(collection.items.get(broken).fieldData[cover].value), "now a Framer asset");
});
