// Proves fakes/framer.mjs against the official framer-api 5.0.0 client and
// against RFC 6455 traffic from a `ws` client. Run: node_modules/.bin/node --test tests/fake-framer.test.mjs

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect as netConnect } from "node:net";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import * as devalue from "devalue";
import { startFakeFramer } from "../fakes/framer.mjs";
import { WebSocket as WsClient } from "ws";
import { uploadVectorOptions } from "../scripts/make-vectors.mjs";

// The client reads its log level once, at import: keep expected server errors quiet.
process.env.FRAMER_API_LOG_LEVEL = "silent";
const { connect, FramerAPIError, FramerPluginError, isFileAsset, isImageAsset, isRetryableError } = await import("framer-api");

const PROJECT_ID = "AbCdEfGhIjKlMnOpQrSt";
const OTHER_PROJECT_ID = "ZyXwVuTsRqPoNmLkJiHg";
const API_KEY = "fr_test_key_1";

const transcript = JSON.parse(
  readFileSync(new URL("../vectors/framer-transcript.json", import.meta.url), "utf8"),
);
const CLIENT_FRAMES = transcript.frames.filter((frame) => frame.from === "official client").map((f) => f.raw);
const SERVER_MESSAGES = transcript.frames.filter((frame) => frame.from !== "official client").map((f) => devalue.parse(f.raw));
const TRANSCRIPT_COLLECTION_ID = "nEis1iUBl";
const TRANSCRIPT_DEPLOYMENT_ID = "4n20esofBvG33mHn";

/** The decoded args of the transcript's invocation of `methodName`. */
function transcriptArgs(methodName) {
  const frame = CLIENT_FRAMES.map((raw) => devalue.parse(raw)).find((message) => message.methodName === methodName);
  return frame.args;
}

/** The transcript's server reply to the invocation of `methodName`. */
function transcriptResult(methodName) {
  const invocation = CLIENT_FRAMES.map((raw) => devalue.parse(raw)).find((message) => message.methodName === methodName);
  return SERVER_MESSAGES.find((message) => message.type === "methodResponse" && message.id === invocation.id).result;
}

const TRANSCRIPT_FIELDS = transcriptArgs("setManagedCollectionFields")[1];
const TRANSCRIPT_ITEMS = transcriptArgs("addManagedCollectionItems2")[1];

async function withFake(opts, body) {
  const fake = await startFakeFramer(opts);
  try {
    return await body(fake);
  } finally {
    await fake.close();
  }
}

async function connectClient(fake, projectId = PROJECT_ID, key = API_KEY) {
  return connect(projectId, key, { serverUrl: fake.url });
}

// ---------------------------------------------------------------------------
// A raw protocol client on Node's WebSocket, for what the official client
// cannot send (unknown ids, no key, keep-alive pings).

function openRaw(url, headers) {
  const ws = new WebSocket(url, { headers });
  const inbox = [];
  const waiters = [];
  ws.addEventListener("message", (event) => {
    const message = devalue.parse(event.data);
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else inbox.push(message);
  });
  const closed = new Promise((resolve) => ws.addEventListener("close", (event) => resolve(event.code)));
  return {
    ws,
    closed,
    next: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiters.push(resolve))),
    send: (message) => ws.send(devalue.stringify(message)),
    pending: () => inbox.length,
  };
}

async function rawSession(fake, projectId = PROJECT_ID, key = API_KEY) {
  const raw = openRaw(`${fake.url}?projectId=${projectId}`, { Authorization: `Token ${key}` });
  assert.equal((await raw.next()).type, "ready");
  raw.send({ type: "pluginReadySignal" });
  assert.equal((await raw.next()).type, "pluginReadyResponse");
  let nextId = 0;
  raw.invoke = async (methodName, ...args) => {
    const id = nextId;
    nextId += 1;
    raw.send({ type: "methodInvocation", methodName, id, args });
    const reply = await raw.next();
    assert.equal(reply.id, id);
    return reply;
  };
  return raw;
}

// ---------------------------------------------------------------------------

describe("the official client replaying the transcript", () => {
  test("sends the transcript's frames and sees the expected state after each step", async () => {
    const frames = [];
    await withFake({ onFrame: (from, text) => frames.push({ from, text }) }, async (fake) => {
      const project = fake.addProject(PROJECT_ID, API_KEY);
      const framer = await connectClient(fake);
      assert.equal(fake.connections, 1);
      assert.deepEqual(fake.connectionLog[0].query, {
        projectId: PROJECT_ID,
        sdkVersion: "5.0.0",
        clientId: "framer-api/5.0.0",
      });

      const collection = await framer.createManagedCollection("Blog");
      assert.equal(collection.name, "Blog");
      assert.equal(collection.managedBy, "thisPlugin");
      assert.equal(project.collections.length, 1);
      const stored = project.collection("Blog");
      assert.equal(stored.id, collection.id);
      assert.equal(stored.managedBy, "thisPlugin");

      await collection.setFields(TRANSCRIPT_FIELDS);
      assert.deepEqual(
        stored.fields.map((field) => [field.id, field.type]),
        TRANSCRIPT_FIELDS.map((field) => [field.id, field.type]),
      );
      assert.deepEqual(
        stored.fields.find((field) => field.id === "status").cases.map((c) => c.id),
        ["draft", "live"],
      );

      const fields = await collection.getFields();
      assert.deepEqual(fields, transcriptResult("getManagedCollectionFields3"));

      await collection.addItems(TRANSCRIPT_ITEMS);
      const [input] = TRANSCRIPT_ITEMS;
      assert.deepEqual(stored.items.get(input.id), {
        id: input.id,
        slug: "hello-world",
        draft: false,
        fieldData: input.fieldData,
      });

      assert.deepEqual(await collection.getItemIds(), [input.id]);

      await collection.removeItems([input.id]);
      assert.equal(stored.items.size, 0);

      await collection.setPluginData("lastSync", "2024-12-05T00:00:00.000Z");
      assert.equal(stored.pluginData.get("lastSync"), "2024-12-05T00:00:00.000Z");

      const published = await framer.publish();
      assert.equal(project.publishes.length, 1);
      assert.equal(project.publishes[0].deployment.id, published.deployment.id);
      assert.deepEqual(project.publishes[0].items, { Blog: [] });
      const expectedPublish = transcriptResult("publish");
      assert.deepEqual(Object.keys(published).sort(), Object.keys(expectedPublish).sort());
      assert.deepEqual(Object.keys(published.deployment).sort(), Object.keys(expectedPublish.deployment).sort());
      assert.equal(published.deployment.status, "ready");
      assert.deepEqual(published.hostnames, [
        {
          hostname: "abcdefghijklmnopqrst.framer.website",
          type: "default",
          isPrimary: true,
          isPublished: true,
          deploymentId: published.deployment.id,
        },
      ]);

      const hostnames = await framer.deploy(published.deployment.id);
      const expectedHostnames = transcriptResult("deploy").map((entry) => ({
        ...entry,
        deploymentId: published.deployment.id,
      }));
      assert.deepEqual(hostnames, expectedHostnames);
      assert.deepEqual(project.deploys, [
        { deploymentId: published.deployment.id, domains: ["www.abcdefghijklmnopqrst.example.com"], hostnames },
      ]);

      await framer.disconnect();
      const clientFrames = frames
        .filter((frame) => frame.from === "client")
        .map((frame) =>
          frame.text
            .replaceAll(collection.id, TRANSCRIPT_COLLECTION_ID)
            .replaceAll(published.deployment.id, TRANSCRIPT_DEPLOYMENT_ID),
        );
      assert.deepEqual(clientFrames, CLIENT_FRAMES);
      assert.equal(frames.at(-1).text, '[{"type":1},"disconnect-ack"]');
      assert.deepEqual(
        fake.calls.map((call) => call.method),
        CLIENT_FRAMES.map((raw) => devalue.parse(raw).methodName).filter(Boolean),
      );
      assert.ok(fake.calls.every((call) => call.projectId === PROJECT_ID && call.bytes > 0));
    });
  });

  test("graceful disconnect gets its ack at once (the client would wait 15 s without it)", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const framer = await connectClient(fake);
      const started = performance.now();
      await framer.disconnect();
      assert.ok(performance.now() - started < 2000);
    });
  });
});

describe("CMS behaviour through the official client", () => {
  // Every test gets its own fake and connection, and builds the collections it needs.
  let fake;
  let framer;
  let project;

  beforeEach(async () => {
    fake = await startFakeFramer();
    project = fake.addProject(PROJECT_ID, API_KEY);
    framer = await connectClient(fake);
  });

  afterEach(async () => {
    await framer.disconnect();
    await fake.close();
  });

  const postFields = (authorsId) => [
    { id: "title", name: "Title", type: "string" },
    { id: "body", name: "Body", type: "formattedText" },
    { id: "attachment", name: "Attachment", type: "file", allowedFileTypes: ["pdf"] },
    { id: "accent", name: "Accent", type: "color" },
    { id: "author", name: "Author", type: "collectionReference", collectionId: authorsId },
    { id: "coauthors", name: "Co-authors", type: "multiCollectionReference", collectionId: authorsId },
    {
      id: "gallery",
      name: "Gallery",
      type: "array",
      fields: [
        { id: "photo", name: "Photo", type: "image" },
        { id: "caption", name: "Caption", type: "string" },
      ],
    },
    { id: "published", name: "Published", type: "date", displayTime: true },
    { id: "notes", name: "Notes", type: "string", userEditable: true },
  ];

  const fullItem = {
    id: "post-1",
    slug: "post-one",
    draft: true,
    fieldData: {
      title: { type: "string", value: "Post one" },
      body: { type: "formattedText", value: "# Hi", contentType: "markdown" },
      attachment: { type: "file", value: "https://example.com/a.pdf" },
      accent: { type: "color", value: "rgb(255, 0, 0)" },
      author: { type: "collectionReference", value: "author-1" },
      coauthors: { type: "multiCollectionReference", value: ["author-1", "author-2"] },
      gallery: {
        type: "array",
        value: [
          { id: "g1", fieldData: { photo: { type: "image", value: "https://example.com/1.png", alt: "One" } } },
          { id: "g2", fieldData: { caption: { type: "string", value: "Two" } } },
        ],
      },
      published: { type: "date", value: "2024-12-05T10:30:00.000Z" },
    },
  };

  const secondItem = { id: "post-2", slug: "post-two", fieldData: { title: { type: "string", value: "Two" } } };

  /** Authors and Posts (every managed field type), Posts holding `items`. */
  async function postsHolding(items) {
    const authors = await framer.createManagedCollection("Authors");
    const posts = await framer.createManagedCollection("Posts");
    await posts.setFields(postFields(authors.id));
    await posts.addItems(items);
    return posts;
  }

  test("every managed field type is stored and read back", async () => {
    const authors = await framer.createManagedCollection("Authors");
    const posts = await framer.createManagedCollection("Posts");
    await posts.setFields(postFields(authors.id));
    const fields = await posts.getFields();
    assert.deepEqual(fields.find((field) => field.id === "attachment"), {
      id: "attachment",
      name: "Attachment",
      type: "file",
      userEditable: false,
      required: false,
      allowedFileTypes: ["pdf"],
    });
    assert.equal(fields.find((field) => field.id === "author").collectionId, authors.id);
    assert.deepEqual(
      fields.find((field) => field.id === "gallery").fields.map((field) => [field.id, field.type]),
      [
        ["photo", "image"],
        ["caption", "string"],
      ],
    );
    assert.equal(fields.find((field) => field.id === "published").displayTime, true);
    assert.equal(fields.find((field) => field.id === "notes").userEditable, true);

    await posts.addItems([fullItem]);
    assert.deepEqual(project.collection("Posts").items.get("post-1"), fullItem);
    assert.deepEqual(
      (await framer.getManagedCollections()).map((collection) => collection.name),
      ["Authors", "Posts"],
    );
  });

  test("addItems upserts by id, keeps omitted fields and ignores userEditable values", async () => {
    const posts = await postsHolding([fullItem]);
    await posts.addItems([
      {
        id: "post-1",
        slug: "post-one-renamed",
        fieldData: {
          title: { type: "string", value: "Renamed" },
          notes: { type: "string", value: "written by the user only" },
        },
      },
      secondItem,
    ]);
    const stored = project.collection("Posts").items;
    const updated = stored.get("post-1");
    assert.equal(updated.slug, "post-one-renamed");
    assert.equal(updated.draft, true);
    assert.deepEqual(updated.fieldData.title, { type: "string", value: "Renamed" });
    assert.deepEqual(updated.fieldData.body, fullItem.fieldData.body);
    assert.equal(updated.fieldData.notes, undefined);
    assert.deepEqual(await posts.getItemIds(), ["post-1", "post-2"]);

    await posts.setItemOrder(["post-2", "unknown", "post-1"]);
    assert.deepEqual(await posts.getItemIds(), ["post-2", "post-1"]);
  });

  test("setFields drops the values of removed fields", async () => {
    const posts = await postsHolding([fullItem]);
    const authorsId = project.collection("Authors").id;
    assert.ok(project.collection("Posts").items.get("post-1").fieldData.accent);
    await posts.setFields(postFields(authorsId).filter((field) => field.id !== "accent"));
    assert.equal(project.collection("Posts").items.get("post-1").fieldData.accent, undefined);
    assert.deepEqual(project.collection("Posts").items.get("post-1").fieldData.title, fullItem.fieldData.title);
  });

  test("publish snapshots non-draft items", async () => {
    await postsHolding([fullItem, secondItem]);
    await framer.publish();
    assert.deepEqual(project.publishes.at(-1).items, { Authors: [], Posts: ["post-2"] });
  });

  test("plugin data on collections", async () => {
    const posts = await postsHolding([]);
    await posts.setPluginData("cursor", "abc");
    await posts.setPluginData("databaseId", "db-1");
    assert.equal(await posts.getPluginData("cursor"), "abc");
    assert.equal(await posts.getPluginData("missing"), null);
    assert.deepEqual(await posts.getPluginDataKeys(), ["cursor", "databaseId"]);
    await posts.setPluginData("cursor", null);
    assert.deepEqual([...project.collection("Posts").pluginData.entries()], [["databaseId", "db-1"]]);
    assert.equal(project.pluginData.get(posts.id), project.collection("Posts").pluginData);
  });

  test("invalid items are rejected with a message and nothing is written", async () => {
    const posts = await postsHolding([fullItem, secondItem]);
    const before = structuredClone([...project.collection("Posts").items.entries()]);
    const good = { id: "post-3", slug: "post-three", fieldData: { title: { type: "string", value: "3" } } };
    const bad = { id: "post-4", slug: "post-four", fieldData: {} };
    const cases = [
      [{ ...bad, fieldData: { nope: { type: "string", value: "x" } } }, /unknown field id 'nope'/u],
      [{ ...bad, fieldData: { title: { type: "number", value: 3 } } }, /has type 'string'/u],
      [{ ...bad, fieldData: { title: { type: "string", value: 3 } } }, /must be a string/u],
      [{ ...bad, slug: "" }, /slug must be a non-empty string/u],
      [{ ...bad, slug: "post-two" }, /Duplicate slug 'post-two'/u],
      [{ ...bad, fieldData: { attachment: { type: "file", value: "not a url" } } }, /http\(s\) URL/u],
      [{ ...bad, fieldData: { published: { type: "date", value: "yesterday" } } }, /ISO 8601/u],
      [{ ...bad, draft: "yes" }, /draft must be a boolean/u],
      [{ ...good }, /the same id appears twice/u],
    ];
    for (const [item, message] of cases) {
      await assert.rejects(posts.addItems([good, item]), { name: "FramerPluginError", message });
    }
    await assert.rejects(posts.addItems([good, { ...good, id: "post-4" }]), { message: /Duplicate slug 'post-three'/u });
    assert.deepEqual([...project.collection("Posts").items.entries()], before);
  });

  test("image and file values must be absolute http(s) URLs: the refusal is a method error, not retryable", async () => {
    const covers = await framer.createManagedCollection("Covers");
    await covers.setFields([
      { id: "cover", name: "Cover", type: "image" },
      { id: "doc", name: "Doc", type: "file", allowedFileTypes: ["pdf"] },
    ]);
    const row = (fieldData) => ({ id: "row-1", slug: "row-one", fieldData });
    // Scheme-less (as Notion stores a typed "www..."), unparseable (a space in the host),
    // parseable but not http(s), and relative.
    const refused = ["www.example.com/c.png", "https://exa mple.com/c.png", "ftp://files.example.com/c.png", "/c.png"];
    for (const url of refused) {
      for (const [id, type] of [["cover", "image"], ["doc", "file"]]) {
        const error = await covers.addItems([row({ [id]: { type, value: url } })]).then(() => null, (e) => e);
        assert.ok(error instanceof FramerPluginError, `${type} ${url}: ${error}`);
        assert.match(error.message, new RegExp(`Invalid item 0 \\('row-1'\\): fieldData\\.${id}: value must be an absolute http\\(s\\) URL`, "u"));
        assert.equal(isRetryableError(error), false, `${type} ${url} is a refusal of the data`);
      }
    }
    assert.equal(project.collection("Covers").items.size, 0, "nothing written by a refused call");
    await covers.addItems([
      row({
        cover: { type: "image", value: "https://www.example.com/c.png" },
        doc: { type: "file", value: "http://example.com/a.pdf" },
      }),
    ]);
    assert.equal(project.collection("Covers").items.get("row-1").fieldData.cover.value, "https://www.example.com/c.png");
  });

  test("enum values must be case ids, not case names", async () => {
    const blog = await framer.createManagedCollection("Enum test");
    await blog.setFields(TRANSCRIPT_FIELDS);
    const item = structuredClone(TRANSCRIPT_ITEMS[0]);
    item.fieldData.status = { type: "enum", value: "Live" };
    await assert.rejects(blog.addItems([item]), { message: /'Live' is not a case id \(case ids: draft, live\)/u });
    item.fieldData.status = { type: "enum", value: "draft" };
    await blog.addItems([item]);
    assert.equal(project.collection("Enum test").items.get(item.id).fieldData.status.value, "draft");
  });

  test("invalid field definitions are rejected", async () => {
    const collection = await framer.createManagedCollection("Schema test");
    const cases = [
      [
        [
          { id: "a", name: "A", type: "string" },
          { id: "a", name: "B", type: "number" },
        ],
        /Duplicate field id 'a'/u,
      ],
      [[{ id: "d", name: "D", type: "divider" }], /unsupported type 'divider'/u],
      [[{ id: "r", name: "R", type: "collectionReference", collectionId: "missing" }], /unknown collection/u],
      [[{ id: "x".repeat(65), name: "Long", type: "string" }], /at most 64 characters/u],
      [Array.from({ length: 31 }, (_, i) => ({ id: `f${i}`, name: `F${i}`, type: "string" })), /at most 30 fields/u],
    ];
    for (const [fields, message] of cases) {
      await assert.rejects(collection.setFields(fields), { name: "FramerPluginError", message });
    }
    assert.deepEqual(project.collection("Schema test").fields, []);
  });

  test("deploy of an unknown deployment fails", async () => {
    await assert.rejects(framer.deploy("nope"), { message: /Deployment not found: nope/u });
  });
});

// ---------------------------------------------------------------------------
// Uploads

// 1x1 transparent PNG.
const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  "base64",
);
const PDF = Buffer.from("%PDF-1.4 a small document\n");

/** An HTTP server standing in for Notion's file host: path -> {status, type, body, delayMs}; logs hits. */
async function startFileHost(files) {
  const hits = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://host.invalid").pathname;
    hits.push(path);
    const file = files[path];
    if (!file) return res.writeHead(404, { "Content-Type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
    const answer = () => res.writeHead(file.status ?? 200, { "Content-Type": file.type }).end(file.body);
    return file.delayMs ? setTimeout(answer, file.delayMs) : answer();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, hits, url: (path) => `${base}${path}?X-Amz-Signature=abc&X-Amz-Expires=3600`, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function download(url) {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get("content-type"), body: Buffer.from(await response.arrayBuffer()) };
}

describe("uploads through the official client", () => {
  let fake;
  let framer;
  let project;
  let host;

  beforeEach(async () => {
    host = await startFileHost({
      "/ws/1/cover.png": { type: "image/png", body: TINY_PNG },
      "/ws/1/slow.png": { type: "image/png", body: TINY_PNG, delayMs: 200 },
      "/ws/2/photo.bin": { type: "application/octet-stream", body: TINY_PNG },
      "/ws/3/Spec%20v2.pdf": { type: "application/pdf", body: PDF },
      "/ws/4/page.html": { type: "text/html", body: Buffer.from("<html>not an image</html>") },
      "/ws/5/expired.png": { status: 403, type: "application/xml", body: Buffer.from("<Error><Code>AccessDenied</Code></Error>") },
    });
    fake = await startFakeFramer();
    project = fake.addProject(PROJECT_ID, API_KEY);
    framer = await connectClient(fake);
  });

  afterEach(async () => {
    await framer.disconnect();
    await fake.close();
    await host.close();
  });

  test("uploadImage by URL downloads the URL once and serves the image at the returned url", async () => {
    const image = await framer.uploadImage({ image: host.url("/ws/1/cover.png"), name: "cover.png", altText: "A cover", resolution: "full" });
    assert.ok(isImageAsset(image), "the reply unmarshals to the client's ImageAsset class");
    assert.equal(image.altText, "A cover");
    assert.equal(image.resolution, "full");
    assert.match(image.id, /^[A-Za-z0-9]{25}$/u);
    assert.equal(image.url, `${fake.assetOrigin}/images/${image.id}.png`);
    assert.deepEqual(host.hits, ["/ws/1/cover.png"]);
    assert.deepEqual(await download(image.url), { status: 200, type: "image/png", body: TINY_PNG });
    assert.equal((await download(image.thumbnailUrl)).status, 200);
    assert.deepEqual(fake.uploadStats, { uploads: 1, bytes: TINY_PNG.length, fetches: 1, failed: 0, downloads: 2 });
    assert.deepEqual(project.uploads, [
      {
        method: "uploadImage",
        projectId: PROJECT_ID,
        kind: "image",
        assetId: image.id,
        url: image.url,
        source: { type: "url", url: host.url("/ws/1/cover.png") },
        bytes: TINY_PNG.length,
      },
    ]);
    assert.equal(fake.asset(image.thumbnailUrl).id, image.id);
  });

  test("an image served as octet-stream is recognised by its bytes; defaults are auto and no alt", async () => {
    const image = await framer.uploadImage({ image: host.url("/ws/2/photo.bin") });
    assert.equal(image.resolution, "auto");
    assert.equal(image.altText, undefined);
    assert.ok(image.url.endsWith(".png"));
    assert.equal((await download(image.url)).type, "image/png");
  });

  test("uploadFile keeps the file's bytes and its name's extension", async () => {
    const file = await framer.uploadFile({ file: host.url("/ws/3/Spec%20v2.pdf"), name: "Spec v2.pdf" });
    assert.ok(isFileAsset(file), "the reply unmarshals to the client's FileAsset class");
    assert.equal(file.extension, "pdf");
    assert.equal(file.url, `${fake.assetOrigin}/assets/${file.id}.pdf`);
    assert.deepEqual(await download(file.url), { status: 200, type: "application/pdf", body: PDF });
    // A file upload takes any content, even what an image upload refuses.
    const page = await framer.uploadFile({ file: host.url("/ws/4/page.html") });
    assert.equal(page.extension, "html");
  });

  test("uploadImages and uploadFiles answer one asset per input, in order", async () => {
    const images = await framer.uploadImages([
      { image: host.url("/ws/1/cover.png"), altText: "First" },
      { image: { bytes: new Uint8Array(TINY_PNG), mimeType: "image/png" }, name: "dot.png" },
    ]);
    assert.equal(images.length, 2);
    assert.ok(images.every(isImageAsset));
    assert.equal(images[0].altText, "First");
    assert.notEqual(images[0].url, images[1].url);
    const files = await framer.uploadFiles([{ file: host.url("/ws/3/Spec%20v2.pdf") }, { file: { bytes: new Uint8Array(PDF), mimeType: "application/pdf" }, name: "b.pdf" }]);
    assert.deepEqual(files.map((file) => file.extension), ["pdf", "pdf"]);
    for (const asset of [...images, ...files]) assert.equal((await download(asset.url)).status, 200);
    assert.deepEqual(fake.uploadStats, {
      uploads: 4,
      bytes: 2 * TINY_PNG.length + 2 * PDF.length,
      fetches: 2,
      failed: 0,
      downloads: 4,
    });
    assert.deepEqual(project.uploads.map((upload) => [upload.method, upload.source.type]), [
      ["uploadImages", "url"],
      ["uploadImages", "bytes"],
      ["uploadFiles", "url"],
      ["uploadFiles", "bytes"],
    ]);
  });

  test("bytes uploads store exactly the bytes sent and download nothing", async () => {
    const image = await framer.uploadImage({ image: { bytes: new Uint8Array(TINY_PNG), mimeType: "image/png" } });
    assert.deepEqual((await download(image.url)).body, TINY_PNG);
    assert.deepEqual(host.hits, []);
    assert.equal(fake.uploadStats.fetches, 0);
  });

  test("a URL that answers 403 or 404, or cannot be reached, fails the call and stores nothing", async () => {
    await assert.rejects(framer.uploadImage({ image: host.url("/ws/5/expired.png") }), {
      name: "FramerPluginError",
      message: "Could not download the asset from its URL: it answered HTTP 403",
    });
    await assert.rejects(framer.uploadFile({ file: host.url("/ws/9/missing.pdf") }), /answered HTTP 404/u);
    await assert.rejects(framer.uploadImage({ image: "http://127.0.0.1:1/refused.png" }), /Could not download the asset/u);
    // One bad input fails the whole batch: the good one is not stored either.
    await assert.rejects(framer.uploadImages([{ image: host.url("/ws/1/cover.png") }, { image: host.url("/ws/5/expired.png") }]), /HTTP 403/u);
    assert.deepEqual(project.uploads, []);
    assert.deepEqual(fake.uploadStats, { uploads: 0, bytes: 0, fetches: 5, failed: 4, downloads: 0 });
  });

  test("uploadImage refuses content that is not an image", async () => {
    await assert.rejects(framer.uploadImage({ image: host.url("/ws/4/page.html") }), {
      message: "The asset is not an image (content type text/html)",
    });
    await assert.rejects(framer.uploadImage({ image: { bytes: new Uint8Array(PDF), mimeType: "application/pdf" } }), /not an image/u);
    assert.equal(fake.uploadStats.uploads, 0);
  });

  test("an asset URL the fake never issued answers 404; the channel path still asks for a WebSocket", async () => {
    assert.equal((await download(`${fake.assetOrigin}/images/nothing.png`)).status, 404);
    assert.equal((await download(`${fake.assetOrigin}/assets/nothing.pdf`)).status, 404);
    assert.equal((await fetch(fake.httpUrl)).status, 426);
  });

  test("an upload in flight holds back later replies, which still arrive in call order", async () => {
    const order = [];
    const upload = framer.uploadImage({ image: host.url("/ws/1/slow.png") }).then(() => order.push("upload"));
    // The client builds the transfer asynchronously: wait until the upload reached the fake.
    while (!fake.calls.some((call) => call.method === "uploadImage")) await new Promise((resolve) => setTimeout(resolve, 5));
    const collections = framer.getManagedCollections().then(() => order.push("collections"));
    await Promise.all([upload, collections]);
    assert.deepEqual(order, ["upload", "collections"]);
  });
});

describe("uploads on the raw protocol", () => {
  test("malformed transfers are refused with a message", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const raw = await rawSession(fake);
      const cases = [
        [["uploadImage", "https://example.com/a.png"], "image must be an object"],
        [["uploadImage", { type: "ftp", url: "ftp://example.com/a.png" }], 'image.type must be "url" or "bytes"'],
        [["uploadImage", { type: "url", url: "/relative.png" }], "image.url must be an absolute http(s) URL"],
        [["uploadImage", { type: "url", url: "https://example.com/a.png", resolution: "huge" }], "image.resolution must be one of auto, lossless, small, medium, large, full"],
        [["uploadImage", { type: "url", url: "https://example.com/a.png", altText: 3 }], "image.altText must be a string"],
        [["uploadImage", { type: "bytes", bytes: "AAAA", mimeType: "image/png" }], "image.bytes must be a Uint8Array"],
        [["uploadImages", { type: "url", url: "https://example.com/a.png" }], "uploadImages takes an array"],
        [["uploadFiles", [{ type: "url", url: "https://example.com/a.pdf" }, { type: "url", url: 7 }]], "files[1].url must be an absolute http(s) URL"],
        [["uploadFile", { type: "url", url: "https://example.com/a.pdf", name: 5 }], "file.name must be a string"],
      ];
      for (const [[method, ...args], message] of cases) {
        const reply = await raw.invoke(method, ...args);
        assert.equal(reply.error, message, method);
      }
      assert.equal(fake.uploadStats.fetches, 0);
      raw.ws.close();
    });
  });

  test("the official client's upload frames of vectors/framer-uploads.json get the recorded replies", async () => {
    const vectors = JSON.parse(readFileSync(new URL("../vectors/framer-uploads.json", import.meta.url), "utf8"));
    const official = vectors.frames.filter((frame) => frame.from === "official client").map((frame) => frame.raw);
    const replies = vectors.frames
      .filter((frame) => frame.from !== "official client" && devalue.parse(frame.raw).type === "methodResponse")
      .map((frame) => frame.raw);
    const served = [];
    await withFake({ ...uploadVectorOptions(), onFrame: (from, text) => from === "server" && served.push(text) }, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const raw = openRaw(`${fake.url}?projectId=${PROJECT_ID}`, { Authorization: `Token ${API_KEY}` });
      await raw.next();
      const invocations = official.filter((text) => devalue.parse(text).type === "methodInvocation");
      raw.ws.send(official[0]);
      await raw.next();
      for (const text of invocations) {
        raw.ws.send(text);
        await raw.next();
      }
      assert.deepEqual(served.filter((text) => devalue.parse(text).type === "methodResponse"), replies);
      raw.ws.close();
    });
  });
});

describe("collections of another plugin", () => {
  test("are listed only by getCollections and cannot be written", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const foreign = fake.createForeignCollection(PROJECT_ID, "Shop");
      const framer = await connectClient(fake);
      assert.deepEqual(await framer.getManagedCollections(), []);
      const all = await framer.getCollections();
      assert.deepEqual(
        all.map((collection) => [collection.id, collection.managedBy, collection.readonly]),
        [[foreign.id, "anotherPlugin", true]],
      );
      await assert.rejects(framer.createManagedCollection("Shop"), { message: /already exists/u });
      await framer.disconnect();

      const raw = await rawSession(fake);
      const item = { id: "i", slug: "i", fieldData: {} };
      for (const [method, args] of [
        ["addManagedCollectionItems2", [[item]]],
        ["setManagedCollectionFields", [[]]],
        ["removeManagedCollectionItems", [["i"]]],
        ["setPluginDataForNode", ["k", "v"]],
      ]) {
        const reply = await raw.invoke(method, foreign.id, ...args);
        assert.match(reply.error, /managed by another plugin/u, method);
      }
      assert.deepEqual((await raw.invoke("getManagedCollectionItemIds", foreign.id)).result, []);
      assert.equal(foreign.items.size, 0);
      raw.ws.close();
    });
  });

  test("an unknown collection id is an error, an unknown method too", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const raw = await rawSession(fake);
      const reply = await raw.invoke("addManagedCollectionItems2", "missing", []);
      assert.deepEqual(reply, { type: "methodResponse", id: 0, error: "Collection not found: missing" });
      assert.equal((await raw.invoke("getManagedCollectionItemIds", "missing")).error, "Collection not found: missing");
      assert.equal((await raw.invoke("makeCoffee")).error, "Unknown method: makeCoffee");
      raw.ws.close();
    });
  });
});

describe("authentication", () => {
  test("a wrong key or an unknown project fails the handshake with UNAUTHORIZED", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      await assert.rejects(connectClient(fake, PROJECT_ID, "wrong"), (error) => {
        assert.ok(error instanceof FramerAPIError);
        assert.equal(error.code, "UNAUTHORIZED");
        assert.match(error.message, /not valid for project AbCdEfGhIjKlMnOpQrSt/u);
        return true;
      });
      await assert.rejects(connectClient(fake, OTHER_PROJECT_ID, API_KEY), { code: "UNAUTHORIZED" });
      assert.equal(fake.connections, 0);
      assert.deepEqual(
        fake.connectionLog.map((entry) => entry.authorized),
        [false, false],
      );
    });
  });

  test("a missing key gets an error frame, then the socket closes", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const raw = openRaw(`${fake.url}?projectId=${PROJECT_ID}`, {});
      assert.deepEqual(await raw.next(), {
        type: "error",
        retryable: false,
        code: "UNAUTHORIZED",
        message: "Missing API key",
      });
      assert.equal(await raw.closed, 1008);
    });
  });

  test("the Deno-style token subprotocol is accepted and echoed", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const ws = new WebSocket(`${fake.url}?projectId=${PROJECT_ID}`, [`token.${API_KEY}`]);
      const first = await new Promise((resolve) => ws.addEventListener("message", (e) => resolve(devalue.parse(e.data))));
      assert.equal(first.type, "ready");
      assert.equal(ws.protocol, `token.${API_KEY}`);
      ws.close();
    });
  });

  test("authFailure 'http' answers 401, which the client reports as INTERNAL", async () => {
    await withFake({ authFailure: "http" }, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      await assert.rejects(connectClient(fake, PROJECT_ID, "wrong"), {
        code: "INTERNAL",
        message: "No connection to the server",
      });
    });
  });
});

describe("fault injection", () => {
  test("an error frame rejects the pending call and leaves the socket usable", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const framer = await connectClient(fake);
      fake.inject({ errorFrame: { code: "TIMEOUT", message: "Injected timeout", retryable: true, afterCalls: 1 } });
      await framer.getManagedCollections();
      await assert.rejects(framer.createManagedCollection("Blog"), (error) => {
        assert.ok(error instanceof FramerAPIError);
        assert.equal(error.code, "TIMEOUT");
        assert.equal(error.message, "Server error: Injected timeout");
        assert.ok(isRetryableError(error));
        return true;
      });
      assert.deepEqual(await framer.getManagedCollections(), []);
      await framer.disconnect();
    });
  });

  test("failMethod answers with an error string the given number of times", async () => {
    await withFake({}, async (fake) => {
      const project = fake.addProject(PROJECT_ID, API_KEY);
      const framer = await connectClient(fake);
      fake.inject({ failMethod: { name: "createManagedCollection", error: "Nope", times: 2 } });
      await assert.rejects(framer.createManagedCollection("Blog"), { name: "FramerPluginError", message: "Nope" });
      await assert.rejects(framer.createManagedCollection("Blog"), { message: "Nope" });
      assert.equal(project.collections.length, 0);
      await framer.createManagedCollection("Blog");
      assert.equal(project.collections.length, 1);
      await framer.disconnect();
    });
  });

  test("closeAfterCalls closes the socket on the next call, which fails as PROJECT_CLOSED", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const framer = await connectClient(fake);
      fake.inject({ closeAfterCalls: 2 });
      await framer.getManagedCollections();
      await framer.getManagedCollections();
      await assert.rejects(framer.getManagedCollections(), (error) => {
        assert.equal(error.code, "PROJECT_CLOSED");
        assert.match(error.message, /code: 1011/u);
        assert.ok(isRetryableError(error));
        return true;
      });
      assert.equal(fake.calls.length, 3);
      await framer.disconnect();
    });
  });

  test("rejectConnections refuses handshakes with the given error", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      fake.inject({ rejectConnections: { code: "POOL_EXHAUSTED", message: "No instance free", times: 1 } });
      await assert.rejects(connectClient(fake), (error) => {
        assert.equal(error.code, "POOL_EXHAUSTED");
        assert.equal(error.message, "No instance free");
        assert.ok(isRetryableError(error));
        return true;
      });
      const framer = await connectClient(fake);
      assert.equal(fake.connections, 1);
      await framer.disconnect();
    });
  });
});

describe("chunked replies", () => {
  test("forced chunking still yields the right results, even across surrogate pairs", async () => {
    const frames = [];
    await withFake({ chunkSize: 33, onFrame: (from, text) => frames.push({ from, text }) }, async (fake) => {
      const project = fake.addProject(PROJECT_ID, API_KEY);
      const framer = await connectClient(fake);
      // An odd chunk size over a run of astral characters must cut some pairs in half.
      const name = `Blog ${"😀".repeat(100)}`;
      const collection = await framer.createManagedCollection(name);
      assert.equal(collection.name, name);
      await collection.setFields(TRANSCRIPT_FIELDS);
      assert.deepEqual(await collection.getFields(), transcriptResult("getManagedCollectionFields3"));
      const items = Array.from({ length: 50 }, (_, i) => ({
        id: `item-${i}-✓`,
        slug: `item-${i}`,
        fieldData: { title: { type: "string", value: `Title ${i}` } },
      }));
      await collection.addItems(items);
      assert.deepEqual(await collection.getItemIds(), items.map((item) => item.id));
      assert.equal(project.collection(name).items.size, 50);
      await framer.disconnect();
    });
    const chunks = frames.filter((frame) => frame.text.startsWith('{"$chunk":1,'));
    assert.ok(chunks.length > 20, `expected many chunk frames, got ${chunks.length}`);
    assert.ok(chunks.some((frame) => /\\ud83d"/u.test(frame.text)), "a chunk should end inside a surrogate pair");
    const last = JSON.parse(chunks.at(-1).text);
    assert.equal(last.seq, -1);
    assert.equal(typeof last.id, "string");
  });
});

describe("keep-alive and malformed input", () => {
  test("client pings get no answer and the session goes on", async () => {
    await withFake({}, async (fake) => {
      fake.addProject(PROJECT_ID, API_KEY);
      const raw = await rawSession(fake);
      raw.send({ type: "ping" });
      raw.send({ type: "ping" });
      const reply = await raw.invoke("getManagedCollections");
      assert.deepEqual(reply, { type: "methodResponse", id: 0, result: [] });
      assert.equal(raw.pending(), 0);
      raw.ws.send("this is not devalue");
      assert.deepEqual(await raw.next(), {
        type: "error",
        code: "INVALID_REQUEST",
        message: "Malformed message",
        retryable: false,
      });
      raw.send({ type: "client-disconnect" });
      assert.deepEqual(await raw.next(), { type: "disconnect-ack" });
      raw.ws.close();
    });
  });
});

// ---------------------------------------------------------------------------
// RFC 6455: the fake's WebSocket side is npm `ws`; these check that it is wired so that
// fragments, pings, oversized frames and protocol errors behave as the RFC says, driven by a
// `ws` client (which, unlike the official one, can send unmasked or fragmented frames).

/** A handshaken `ws` client session: decoded messages in order, pongs, and the close code. */
async function wsSession(fake) {
  const ws = new WsClient(`${fake.url}?projectId=${PROJECT_ID}&sdkVersion=5.0.0`, {
    headers: { Authorization: `Token ${API_KEY}` },
  });
  const inbox = [];
  const waiters = [];
  ws.on("message", (data) => {
    const waiter = waiters.shift();
    if (waiter) waiter(data.toString());
    else inbox.push(data.toString());
  });
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  ws.on("error", () => {});
  const next = () => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiters.push(resolve)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("unexpected-response", (_, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  assert.equal(devalue.parse(await next()).type, "ready");
  ws.send(devalue.stringify({ type: "pluginReadySignal" }));
  assert.equal(devalue.parse(await next()).type, "pluginReadyResponse");
  return { ws, next, closed };
}

function invocation(id, methodName, ...args) {
  return devalue.stringify({ type: "methodInvocation", methodName, id, args });
}

/** The status line and headers the fake answers a hand-written upgrade request with. */
function upgradeAnswer(port, lines) {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1");
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.destroy();
        resolve(head.slice(0, end));
      }
    });
    socket.on("error", reject);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  });
}

function upgradeRequest(port, extra = []) {
  return [
    `GET /channel/headless-plugin?projectId=${PROJECT_ID}&sdkVersion=5.0.0 HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    `Authorization: Token ${API_KEY}`,
    ...extra,
  ];
}

describe("RFC 6455 server side", () => {
  let fake;
  before(async () => {
    fake = await startFakeFramer();
    fake.addProject(PROJECT_ID, API_KEY);
  });
  after(() => fake.close());

  test("fragmented messages with an interleaved ping, and 64-bit lengths both ways", async () => {
    const { ws, next, closed } = await wsSession(fake);
    const text = invocation(0, "createManagedCollection", "Fragments");
    const pong = new Promise((resolve) => ws.once("pong", (data) => resolve(data.toString())));
    ws.send(text.slice(0, 10), { fin: false });
    ws.ping("are you there");
    ws.send(text.slice(10, 30), { fin: false });
    ws.send(text.slice(30), { fin: true });
    assert.equal(await pong, "are you there");
    assert.equal(devalue.parse(await next()).result.name, "Fragments");

    const bigName = "n".repeat(70_000);
    ws.send(invocation(1, "createManagedCollection", bigName));
    const big = await next();
    assert.ok(big.length > 0xffff);
    assert.equal(devalue.parse(big).result.name, bigName);
    ws.close(1000, "bye");
    assert.equal(await closed, 1000);
  });

  test("an unmasked client frame is a protocol error (1002)", async () => {
    const { ws, closed } = await wsSession(fake);
    ws.send("unmasked", { mask: false });
    assert.equal(await closed, 1002);
  });

  test("invalid UTF-8 in a text message closes with 1007", async () => {
    const { ws, closed } = await wsSession(fake);
    ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
    assert.equal(await closed, 1007);
  });

  test("bad upgrades get plain HTTP errors", async () => {
    const port = Number(new URL(fake.url).port);
    const wrongPath = await upgradeAnswer(port, ["GET /elsewhere HTTP/1.1", "Host: x", ...upgradeRequest(port).slice(2)]);
    assert.match(wrongPath, /^HTTP\/1\.1 404 /u);
    const oldVersion = await upgradeAnswer(
      port,
      upgradeRequest(port).map((line) => line.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 7")),
    );
    assert.match(oldVersion, /^HTTP\/1\.1 400 /u);
    assert.match(oldVersion, /\r\nSec-WebSocket-Version: 13/u);
    const accepted = await upgradeAnswer(port, upgradeRequest(port));
    assert.match(accepted, /^HTTP\/1\.1 101 /u);
    assert.match(accepted, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/u, "RFC 6455's sample key and answer");
    const response = await fetch(fake.httpUrl);
    assert.equal(response.status, 426);
  });
});
