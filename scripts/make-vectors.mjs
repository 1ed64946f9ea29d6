#!/usr/bin/env node
// Regenerates the protocol vectors in vectors/ from the official SDKs pinned in package.json:
// @notionhq/client's webhook signer, devalue's stringify, and the official framer-api client
// talking to the fake Framer server (fakes/framer.mjs), every frame recorded in both directions
// (one connection of CMS calls, one of uploads).
// The Rust unit tests read these files with include_str!; tests/vectors.test.mjs checks that the
// committed files equal a fresh run byte for byte. Nothing here is random or dated: two runs
// write the same bytes.
//
//   node scripts/make-vectors.mjs           rewrite vectors/*.json
//   node scripts/make-vectors.mjs --check   exit 1 if a committed file differs from a fresh run
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { signWebhookPayload, verifyWebhookSignature } from "@notionhq/client";
import * as devalue from "devalue";
import { startFakeFramer } from "../fakes/framer.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const VECTORS_DIR = join(ROOT, "vectors");

async function versionOf(pkg) {
  return JSON.parse(await readFile(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
}

/** Pretty JSON with a final newline: the layout every vector file has. */
function fileText(doc) {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

// ---------------------------------------------------------------------------
// notion-signatures.json: X-Notion-Signature for fixed bodies and verification tokens.

const PAGE_EVENT = {
  id: "1782edd6-a853-4d4a-b02c-9c8c16f28e53",
  timestamp: "2024-12-05T23:57:05.379Z",
  workspace_id: "13950b26-c203-4f3b-b97d-93ec06319565",
  workspace_name: "Quantify Labs",
  subscription_id: "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
  integration_id: "0ef2e755-4912-8096-91c1-00376a88a5ca",
  type: "page.properties_updated",
  authors: [{ id: "c7c11cca-1d73-471d-9b6e-bdef51470190", type: "person" }],
  attempt_number: 1,
  api_version: "2025-09-03",
  entity: { id: "153104cd-477e-809d-8dc4-ff2d96ae3090", type: "page" },
  data: {
    parent: { id: "36cc9195-760f-4fff-a67e-3a46c559b176", type: "database", data_source_id: "98024f3c-b1d3-4aec-a301-f01e0dacf023" },
    updated_properties: ["XGe%40", "title"],
  },
};

const PRETTY_EVENT = {
  id: "1782edd6-a853-4d4a-b02c-9c8c16f28e53",
  type: "page.created",
  entity: { id: "153104cd-477e-809d-8dc4-ff2d96ae3090", type: "page" },
  data: { parent: { id: "36cc9195-760f-4fff-a67e-3a46c559b176", type: "database" } },
};

const UNICODE_EVENT = {
  id: "5b3a4c2e-9f1d-4e8a-b7c6-0d2e4f6a8b1c",
  type: "page.created",
  workspace_name: "Café — 東京 🚀",
  entity: { id: "153104cd-477e-809d-8dc4-ff2d96ae3090", type: "page" },
  data: { parent: { id: "36cc9195-760f-4fff-a67e-3a46c559b176", type: "database" } },
};

// The first token and body are the example in Notion's webhook documentation: a verification
// request (which Notion itself sends unsigned). Every other body is an event a receiver must
// accept with its signature, so tests/webhook.test.mjs can deliver each one to the Worker.
const DOCS_TOKEN = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";

const SIGNATURE_CASES = [
  ["verification-like body", DOCS_TOKEN, JSON.stringify({ verification_token: DOCS_TOKEN })],
  ["page.properties_updated (compact JSON)", "secret_abc123", JSON.stringify(PAGE_EVENT)],
  ["same event pretty-printed (different bytes, different signature)", "secret_abc123", JSON.stringify(PRETTY_EVENT, null, 2)],
  ["unicode in body and token", "secret_ünïcode", JSON.stringify(UNICODE_EVENT)],
  ["minimal event (id and type only)", "secret_x", JSON.stringify({ id: "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", type: "page.created" })],
];

async function notionSignatures() {
  const cases = [];
  for (const [name, token, body] of SIGNATURE_CASES) {
    const signature = await signWebhookPayload({ verificationToken: token, body });
    // The generator's claim, checked: its verifier accepts the signature and refuses one more byte.
    if (!(await verifyWebhookSignature({ verificationToken: token, body, signature }))) throw new Error(`${name}: not verified`);
    if (await verifyWebhookSignature({ verificationToken: token, body: `${body} `, signature })) throw new Error(`${name}: tampering verified`);
    cases.push({ name, verification_token: token, body, x_notion_signature: signature });
  }
  const version = await versionOf("@notionhq/client");
  return {
    generator: `@notionhq/client ${version} signWebhookPayload (each verified by its verifyWebhookSignature; a body with one extra byte fails)`,
    cases,
  };
}

// ---------------------------------------------------------------------------
// devalue.json: values and the text devalue's stringify writes for them.

const ADD_ITEMS_INVOCATION = {
  type: "methodInvocation",
  methodName: "addManagedCollectionItems2",
  id: 7,
  args: [
    "c0llect1d",
    [
      {
        id: "page-1",
        slug: "hello-world",
        draft: false,
        fieldData: {
          t1: { type: "string", value: "Hello" },
          b1: { type: "formattedText", value: "<p>Hi <strong>there</strong></p>", contentType: "html" },
          d1: { type: "date", value: "2024-01-01T00:00:00.000Z" },
          n1: { type: "number", value: 3 },
          k1: { type: "boolean", value: true },
          e1: { type: "enum", value: "caseId1" },
          i1: { type: "image", value: "https://example.com/a.png", alt: "A" },
        },
      },
    ],
  ],
};

const DEVALUE_CASES = [
  ["string", "hello"],
  ["unicode", "héllo wörld — 漢字 🚀"],
  ["empty string", ""],
  ["integer", 42],
  ["negative", -7],
  ["float", 3.25],
  ["negative zero", -0],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["true", true],
  ["false", false],
  ["null", null],
  ["undefined (top level)", undefined],
  ["empty object", {}],
  ["empty array", []],
  ["array with undefined", [1, undefined, "x"]],
  ["object with undefined value", { a: 1, b: undefined }],
  ["repeated primitives", ["a", "a", 1, 1, true, true]],
  [
    "nested",
    { type: "methodResponse", id: 3, result: [{ id: "abc", name: "Blog", readonly: false, managedBy: "thisPlugin" }] },
  ],
  ["methodInvocation addItems", ADD_ITEMS_INVOCATION],
  ["string that looks like a number", "123"],
  ["key order preserved", { z: 1, a: 2, m: 3 }],
];

async function devalueVectors() {
  const version = await versionOf("devalue");
  return {
    generator: `npm devalue ${version} stringify()`,
    note: "devalue is the text; json_equivalent is JSON.stringify of the same value (null where JSON cannot express it: undefined, NaN, Infinity, -0 become lossy)",
    cases: DEVALUE_CASES.map(([name, value]) => ({
      name,
      devalue: devalue.stringify(value),
      json_equivalent: JSON.stringify(value) ?? null,
    })),
  };
}

// ---------------------------------------------------------------------------
// framer-transcript.json: one connection of the official client, every frame both ways.

const PROJECT_ID = "AbCdEfGhIjKlMnOpQrSt";
const API_KEY = "fr_vectors_key";
const ITEM_ID = "153104cd-477e-809d-8dc4-ff2d96ae3090";
const LAST_SYNC = "2024-12-05T00:00:00.000Z";

const FIELDS = [
  { id: "title", name: "Title", type: "string" },
  { id: "body", name: "Body", type: "formattedText" },
  { id: "date", name: "Date", type: "date" },
  { id: "featured", name: "Featured", type: "boolean" },
  { id: "views", name: "Views", type: "number" },
  { id: "status", name: "Status", type: "enum", cases: [{ id: "draft", name: "Draft" }, { id: "live", name: "Live" }] },
  { id: "cover", name: "Cover", type: "image" },
  { id: "site", name: "Website", type: "link" },
];

// `draft` left unset on purpose: the client sends what it is given.
const ITEM = {
  id: ITEM_ID,
  slug: "hello-world",
  fieldData: {
    title: { type: "string", value: "Hello world" },
    body: { type: "formattedText", value: "<p>Hi <strong>there</strong></p>", contentType: "html" },
    date: { type: "date", value: LAST_SYNC },
    featured: { type: "boolean", value: true },
    views: { type: "number", value: 12 },
    status: { type: "enum", value: "live" },
    cover: { type: "image", value: "https://example.com/cover.png", alt: "Cover" },
    site: { type: "link", value: "https://example.com" },
  },
};

// The fake makes up ids (session, collection, deployment) and stamps deployments with the time.
// These are the values the vectors have always carried (the Rust tests and
// tests/fake-framer.test.mjs name the collection and deployment ids), handed out in the order
// the fake draws them; an unexpected draw fails the run instead of writing a random id.
const PINNED_IDS = { 12: ["QOR1LZ2cNCUo", "MFtS0TyPBZ76"], 9: ["nEis1iUBl"], 16: ["4n20esofBvG33mHn"] };
const PINNED_NOW = "2026-11-25T15:33:20.638Z";

function pinnedIds(ids = PINNED_IDS) {
  const left = structuredClone(ids);
  return (length) => {
    const id = left[length]?.shift();
    if (!id) throw new Error(`the fake drew an unplanned id of length ${length}: add one to PINNED_IDS`);
    return id;
  };
}

async function framerTranscript() {
  // The client reads its log level once, when first imported.
  process.env.FRAMER_API_LOG_LEVEL ??= "silent";
  const { connect } = await import("framer-api");
  const frames = [];
  const fake = await startFakeFramer({
    newId: pinnedIds(),
    now: () => new Date(PINNED_NOW),
    onFrame: (from, text) => frames.push({ from: from === "client" ? "official client" : "fake server (shape inferred)", raw: String(text) }),
  });
  try {
    fake.addProject(PROJECT_ID, API_KEY);
    const framer = await connect(PROJECT_ID, API_KEY, { serverUrl: fake.url });
    const collection = await framer.createManagedCollection("Blog");
    await collection.setFields(FIELDS);
    await collection.getFields();
    await collection.addItems([ITEM]);
    await collection.getItemIds();
    await collection.removeItems([ITEM_ID]);
    await collection.setPluginData("lastSync", LAST_SYNC);
    const published = await framer.publish();
    await framer.deploy(published.deployment.id);
    await framer.disconnect();
  } finally {
    await fake.close();
  }
  const [{ projectId, query, authorized }] = fake.connectionLog;
  const version = await versionOf("framer-api");
  return {
    generator: `framer-api ${version} (official client) against fakes/framer.mjs; client frames are authoritative, server frames are a fake's best reading of the client and may differ from Framer's`,
    connection: { projectId, query, authorized },
    frames,
  };
}

// ---------------------------------------------------------------------------
// framer-uploads.json: one connection of the official client uploading images and files.

// Signed URLs of the shape Notion hands out for its files; the fake downloads them through
// SOURCE_FILES below instead of the network, so the run needs no server and no port.
const S3 = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f";
const SIGNING = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T100000Z&X-Amz-Expires=3600&X-Amz-Signature=1111aaaa&X-Amz-SignedHeaders=host&x-id=GetObject";
const COVER_URL = `${S3}/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png?${SIGNING}`;
const PHOTO_URL = `${S3}/0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9/photo%20one.jpg?${SIGNING}`;
const DOC_URL = `${S3}/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9/Spec%20v2.pdf?${SIGNING}`;
const EXPIRED_URL = `${S3}/6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0/gone.png?${SIGNING}`;
// 1x1 transparent PNG.
const TINY_PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=", "base64");
const TINY_JPEG_HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
const SOURCE_FILES = new Map([
  [COVER_URL, { status: 200, type: "image/png", body: TINY_PNG }],
  [PHOTO_URL, { status: 200, type: "image/jpeg", body: TINY_JPEG_HEAD }],
  [DOC_URL, { status: 200, type: "application/pdf", body: Buffer.from("%PDF-1.4 fake\n") }],
  [EXPIRED_URL, { status: 403, type: "application/xml", body: Buffer.from("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>") }],
]);

async function pinnedFetch(url) {
  const file = SOURCE_FILES.get(url);
  if (!file) throw new Error(`make-vectors: no pinned file for ${url}`);
  return new Response(file.body, { status: file.status, headers: { "content-type": file.type } });
}

const UPLOAD_IDS = {
  12: ["Ru8wYq3kTz0L", "SeS9pXn2LmQa"],
  25: ["Hc0VrC4lbAvKZ3mHPTxk8g1Jw", "q8fN2b5LkY0cR7tWvE3xZ9sUa", "M4jd7Ps1QyXh6TnB0gKc2VeLr", "a9Tz3Wq6Ek1Ys8Ux0Jm5Cn2Rb", "Lp5Gh8Dk2Sj0Fa7Qw3Er6Ty9Ui", "w1Xe4Rt7Yu0Io3Pa6Sd9Fg2Hj", "Zk7Nb2Vc5Xm8Lq1Wr4Ts0Yp3O"],
};

/** What the test code hands the official client's upload methods, in call order. */
export const UPLOAD_CALLS = [
  ["uploadImage", { image: COVER_URL, name: "cover.png", altText: "A cover", resolution: "full" }],
  ["uploadImage", { image: PHOTO_URL }],
  ["uploadImages", [{ image: COVER_URL, altText: "Left" }, { image: PHOTO_URL, preferredImageRendering: "pixelated" }]],
  ["uploadFile", { file: DOC_URL, name: "Spec v2.pdf" }],
  ["uploadFiles", [{ file: DOC_URL }]],
  ["uploadImage", { image: { bytes: new Uint8Array(TINY_PNG), mimeType: "image/png" }, name: "dot.png" }],
  ["uploadImage", { image: EXPIRED_URL }],
];

/** The fake's options for the upload vectors: pinned ids, CDN origin and source files. */
export function uploadVectorOptions() {
  return { newId: pinnedIds(UPLOAD_IDS), assetOrigin: "https://framerusercontent.com", fetchAsset: pinnedFetch };
}

async function framerUploads() {
  process.env.FRAMER_API_LOG_LEVEL ??= "silent";
  const { connect } = await import("framer-api");
  const frames = [];
  const fake = await startFakeFramer({
    ...uploadVectorOptions(),
    onFrame: (from, text) => frames.push({ from: from === "client" ? "official client" : "fake server (shape inferred)", raw: String(text) }),
  });
  try {
    fake.addProject(PROJECT_ID, API_KEY);
    const framer = await connect(PROJECT_ID, API_KEY, { serverUrl: fake.url });
    for (const [method, input] of UPLOAD_CALLS) {
      // The last call fails on purpose (its URL answers 403): the frame of the refusal is the vector.
      await framer[method](input).catch((error) => {
        if (input.image !== EXPIRED_URL) throw error;
      });
    }
    await framer.disconnect();
  } finally {
    await fake.close();
  }
  const version = await versionOf("framer-api");
  return {
    generator: `framer-api ${version} (official client) against fakes/framer.mjs; client frames are authoritative, server frames are a fake's best reading of the client and may differ from Framer's`,
    calls: UPLOAD_CALLS.map(([method, input]) => ({ method, input: describeInput(input) })),
    frames,
  };
}

// The inputs as JSON (bytes as their base64 text), so the Rust tests can read what was asked.
function describeInput(input) {
  return JSON.parse(JSON.stringify(input, (_key, value) => (value instanceof Uint8Array ? { base64: Buffer.from(value).toString("base64") } : value)));
}

// ---------------------------------------------------------------------------

/** Every vector file, name -> the exact text a fresh run writes. */
export async function makeVectors() {
  return {
    "notion-signatures.json": fileText(await notionSignatures()),
    "devalue.json": fileText(await devalueVectors()),
    "framer-transcript.json": fileText(await framerTranscript()),
    "framer-uploads.json": fileText(await framerUploads()),
  };
}

async function main() {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [name, text] of Object.entries(await makeVectors())) {
    const path = join(VECTORS_DIR, name);
    const committed = await readFile(path, "utf8").catch(() => null);
    if (committed === text) {
      console.log(`unchanged  vectors/${name}`);
    } else if (check) {
      stale += 1;
      console.log(`DIFFERS    vectors/${name} (run node scripts/make-vectors.mjs)`);
    } else {
      await writeFile(path, text);
      console.log(`written    vectors/${name}`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
