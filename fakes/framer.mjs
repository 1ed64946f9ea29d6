// A fake of Framer's Server API (the headless-plugin WebSocket channel) for tests.
//
// It speaks the server side of what the official client framer-api 5.0.0 expects
// (node_modules/framer-api/dist/index.js): devalue-encoded text frames, the
// ready -> pluginReadySignal -> pluginReadyResponse handshake, methodInvocation ->
// methodResponse ({result} or {error: "<string>"}), chunked replies for large
// results, {type:"error"} frames, client pings, and client-disconnect ->
// disconnect-ack. CMS state lives in memory per project so tests can assert on it.
//
// Auth failures are reported the way the client can surface them: the upgrade is
// accepted, then an error frame {type:"error", code:"UNAUTHORIZED"} replaces the
// ready frame and the socket closes. The client turns that into
// FramerAPIError(code "UNAUTHORIZED"); an HTTP 401 on the upgrade would only reach
// it as "No connection to the server" (code INTERNAL). opts.authFailure = "http"
// selects the 401 variant for tests of that path.
//
// API (see startFakeFramer): url / httpUrl, addProject(id, key, {name, customDomains}),
// project(id) -> live state {collections, collection(name), publishes, deploys,
// pluginData, customDomains, uploads}, createForeignCollection(id, name), inject(spec),
// connections, calls, connectionLog, uploads, uploadStats, asset(url), assetOrigin, close().
//
// Uploads (uploadImage, uploadImages, uploadFile, uploadFiles) take what the client's
// createImageTransferFromInput / createFileTransferFromInput build: {name?, type:"url", url}
// or {name?, type:"bytes", mimeType, bytes: Uint8Array}, images also {altText?, resolution?,
// preferredImageRendering?}. For "url" the fake downloads the URL itself, as Framer's server
// does, and fails the call with a method error when the download fails (403, 404, refused).
// Stored assets are served over HTTP by this server at the URL the reply names
// (/images/<id>.<ext> for images, /assets/<id>.<ext> for files), so a test can check that
// every URL an item holds resolves. Replies are the marshalled classes the client unmarshals:
// {__class:"ImageAsset", id, url, thumbnailUrl, altText?, resolution} and
// {__class:"FileAsset", id, url, extension}.
// A collection is {id, name, managedBy, fields (getFields shape), items: Map(id ->
// {id, slug, draft, fieldData}), pluginData: Map}; project.pluginData maps
// node id -> that collection's pluginData. publishes[] = {deployment, hostnames,
// items: {collectionName: [non-draft item ids]}}; deploys[] = {deploymentId,
// domains, hostnames}.
//
// inject(spec) arms one-shot faults, counted from the moment of injection over
// all connections:
//   failMethod: {name, error, times = 1}  next `times` calls of `name` answer {error}
//   closeAfterCalls: n                    n calls are answered, the next one closes
//                                         its socket (1011) without an answer
//   errorFrame: {code, message, retryable, afterCalls = 0}
//                                         after `afterCalls` answered calls, the next
//                                         call gets this {type:"error"} frame instead
//   rejectConnections: {code, message, retryable, times = 1}
//                                         next `times` handshakes get this error frame
//                                         instead of `ready` (e.g. POOL_EXHAUSTED)

import { randomBytes } from "node:crypto";
import { createServer, STATUS_CODES } from "node:http";
import * as devalue from "devalue";
import { WebSocket, WebSocketServer } from "ws";

// Close codes (RFC 6455 section 7.4.1) the fake sends.
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_INTERNAL_ERROR = 1011;
// The largest message the fake reads; larger ones close the connection (1009).
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Path of the headless channel, as in wss://api.framer.com/channel/headless-plugin. */
export const CHANNEL_PATH = "/channel/headless-plugin";

/** Default chunk threshold in UTF-16 code units of the devalue text. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

const SERVER_VERSION = "fake-framer/1.0.0";
// The client marshals self-describing class instances under this devalue tag.
const PLUGIN_MARSHAL_TAG = "plugin-marshal";
const MAX_FIELDS = 30;
const MAX_FIELD_ID_LENGTH = 64;
const PROJECT_ID_PATTERN = /^[A-Za-z0-9]{20}$/u;
const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const FAKE_USER = Object.freeze({
  id: "2c280a33c5c38f07ecf6bcd5",
  apiVersion1Id: "dbe5fe0b5977ed05821a8252",
  name: "Fake User",
  initials: "FU",
});

// Field types a managed collection accepts in setFields (divider/unsupported are
// read-only types), and those allowed inside an array field.
const MANAGED_FIELD_TYPES = new Set([
  "boolean",
  "color",
  "number",
  "string",
  "formattedText",
  "image",
  "link",
  "date",
  "file",
  "enum",
  "collectionReference",
  "multiCollectionReference",
  "array",
]);
const ARRAY_ITEM_FIELD_TYPES = new Set([
  "boolean",
  "color",
  "date",
  "file",
  "formattedText",
  "image",
  "link",
  "number",
  "string",
]);
// Types whose definition carries `required` (FieldBaseWithRequired in the client).
const TYPES_WITH_REQUIRED = new Set([
  "string",
  "formattedText",
  "image",
  "link",
  "date",
  "file",
  "collectionReference",
  "multiCollectionReference",
  "array",
]);
const CONTENT_TYPES = new Set(["auto", "markdown", "html"]);

// ---------------------------------------------------------------------------
// Small helpers

function randomId(length) {
  const bytes = randomBytes(length);
  return Array.from(bytes, (byte) => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join("");
}

function isPlainObject(value) {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isNonEmptyString(value) {
  return typeof value === "string" && value.trim() !== "";
}

function isHttpUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** A method failure: its message becomes the methodResponse's `error` string. */
class MethodError extends Error {}

function fail(message) {
  throw new MethodError(message);
}

// ---------------------------------------------------------------------------
// Project state

function createProject(id, apiKey, options, { newId, now, assets }) {
  const project = {
    id,
    apiKey,
    // Where the fake's generated ids and timestamps come from (see startFakeFramer).
    newId,
    now,
    // The fake's asset store (shared by all projects, like Framer's CDN).
    assets,
    // This project's successful uploads, in order (see storeAsset).
    uploads: [],
    name: options.name ?? `Project ${id}`,
    customDomains: options.customDomains ?? [`www.${id.toLowerCase()}.example.com`],
    collections: [],
    publishes: [],
    deploys: [],
    // Plugin data per node id (Map nodeId -> Map key -> value); each collection's
    // own pluginData is the entry for its id. Project-level plugin data is not
    // reachable in the client's "api" mode, so the fake has none.
    pluginData: new Map(),
    collection(name) {
      return project.collections.find((collection) => collection.name === name);
    },
  };
  return project;
}

function addCollection(project, name, managedBy) {
  if (project.collection(name)) fail(`A collection named '${name}' already exists`);
  const collection = {
    id: project.newId(9),
    name,
    managedBy,
    fields: [],
    items: new Map(),
    pluginData: new Map(),
  };
  project.collections.push(collection);
  project.pluginData.set(collection.id, collection.pluginData);
  return collection;
}

function collectionData(collection) {
  return {
    id: collection.id,
    name: collection.name,
    slugFieldName: null,
    slugFieldBasedOn: null,
    readonly: collection.managedBy !== "thisPlugin",
    managedBy: collection.managedBy,
  };
}

function findCollection(project, collectionId) {
  if (typeof collectionId !== "string") fail("Collection id must be a string");
  const collection = project.collections.find((candidate) => candidate.id === collectionId);
  if (!collection) fail(`Collection not found: ${collectionId}`);
  return collection;
}

function writableCollection(project, collectionId) {
  return assertWritable(findCollection(project, collectionId));
}

// Collections managed by another plugin are read-only for this one.
function assertWritable(collection) {
  if (collection.managedBy !== "thisPlugin") {
    fail(`Collection '${collection.name}' is managed by another plugin and cannot be modified`);
  }
  return collection;
}

// ---------------------------------------------------------------------------
// setFields: validation and the stored (getFields) shape

function normalizeFieldList(project, inputs, nested) {
  if (!Array.isArray(inputs)) fail("Fields must be an array");
  if (!nested && inputs.length > MAX_FIELDS) fail(`A collection can have at most ${MAX_FIELDS} fields`);
  const seen = new Set();
  return inputs.map((input) => {
    const field = normalizeField(project, input, nested);
    if (seen.has(field.id)) fail(`Duplicate field id '${field.id}'`);
    seen.add(field.id);
    return field;
  });
}

function normalizeField(project, input, nested) {
  if (!isPlainObject(input)) fail("Each field must be an object");
  const { id, name, type } = input;
  if (typeof id !== "string" || id === "" || id.length > MAX_FIELD_ID_LENGTH) {
    fail(`Field id must be a non-empty string of at most ${MAX_FIELD_ID_LENGTH} characters`);
  }
  if (!isNonEmptyString(name)) fail(`Field '${id}' needs a name`);
  const allowed = nested ? ARRAY_ITEM_FIELD_TYPES : MANAGED_FIELD_TYPES;
  if (!allowed.has(type)) fail(`Field '${id}' has unsupported type '${type}'`);
  const field = { id, name, type };
  if (!nested) field.userEditable = optionalBoolean(input.userEditable, `Field '${id}' userEditable`);
  if (TYPES_WITH_REQUIRED.has(type)) field.required = optionalBoolean(input.required, `Field '${id}' required`);
  return Object.assign(field, FIELD_EXTRAS[type]?.(project, input) ?? {});
}

function optionalBoolean(value, what) {
  if (value !== undefined && typeof value !== "boolean") fail(`${what} must be a boolean`);
  return value === true;
}

// Type-specific parts of a field definition, in the shape getFields returns.
const FIELD_EXTRAS = {
  string: () => ({ basedOn: null }),
  formattedText: (_project, input) => {
    if (input.contentType === undefined) return {};
    if (!CONTENT_TYPES.has(input.contentType)) fail(`Field '${input.id}' has invalid contentType`);
    return { contentType: input.contentType };
  },
  date: (_project, input) => {
    if (input.displayTime === undefined) return {};
    return { displayTime: optionalBoolean(input.displayTime, `Field '${input.id}' displayTime`) };
  },
  file: (_project, input) => {
    const types = input.allowedFileTypes;
    if (!Array.isArray(types) || !types.every((entry) => typeof entry === "string")) {
      fail(`File field '${input.id}' needs allowedFileTypes (an array of strings)`);
    }
    return { allowedFileTypes: [...types] };
  },
  enum: (_project, input) => ({ cases: normalizeEnumCases(input) }),
  collectionReference: (project, input) => ({ collectionId: referencedCollection(project, input) }),
  multiCollectionReference: (project, input) => ({ collectionId: referencedCollection(project, input) }),
  array: (project, input) => ({ fields: normalizeFieldList(project, input.fields, true) }),
};

function normalizeEnumCases(input) {
  if (!Array.isArray(input.cases)) fail(`Enum field '${input.id}' needs cases`);
  const seen = new Set();
  return input.cases.map((enumCase) => {
    if (!isPlainObject(enumCase) || !isNonEmptyString(enumCase.id) || typeof enumCase.name !== "string") {
      fail(`Enum field '${input.id}' has a case without an id and name`);
    }
    if (seen.has(enumCase.id)) fail(`Enum field '${input.id}' has duplicate case id '${enumCase.id}'`);
    seen.add(enumCase.id);
    return { id: enumCase.id, name: enumCase.name, nameByLocale: {} };
  });
}

function referencedCollection(project, input) {
  const target = project.collections.find((collection) => collection.id === input.collectionId);
  if (!target) fail(`Field '${input.id}' references unknown collection '${input.collectionId}'`);
  return target.id;
}

// After a schema change, stored values that no longer fit their field are dropped.
function pruneItemValues(collection) {
  const fieldsById = new Map(collection.fields.map((field) => [field.id, field]));
  for (const item of collection.items.values()) {
    for (const [fieldId, entry] of Object.entries(item.fieldData)) {
      if (!valueStillFits(fieldsById.get(fieldId), entry)) delete item.fieldData[fieldId];
    }
  }
}

function valueStillFits(field, entry) {
  if (!field || field.type !== entry.type) return false;
  if (field.type !== "enum") return true;
  return field.cases.some((enumCase) => enumCase.id === entry.value);
}

// ---------------------------------------------------------------------------
// addItems: validation of items and field values

// Each check returns an error message, or null when the entry is acceptable.
const VALUE_CHECKS = {
  string: (entry) => (typeof entry.value === "string" ? null : "value must be a string"),
  formattedText: (entry) => {
    if (typeof entry.value !== "string") return "value must be a string";
    if (entry.contentType !== undefined && !CONTENT_TYPES.has(entry.contentType)) {
      return "contentType must be auto, markdown or html";
    }
    return null;
  },
  number: (entry) => (Number.isFinite(entry.value) ? null : "value must be a finite number"),
  boolean: (entry) => (typeof entry.value === "boolean" ? null : "value must be a boolean"),
  date: (entry) => checkDate(entry.value),
  enum: (entry, field) => checkEnumValue(entry.value, field),
  image: (entry) => checkAssetUrl(entry) ?? checkOptionalString(entry.alt, "alt"),
  file: (entry) => checkAssetUrl(entry),
  link: (entry) => (entry.value === null || typeof entry.value === "string" ? null : "value must be a string or null"),
  color: (entry) => checkColor(entry.value),
  collectionReference: (entry) =>
    entry.value === null || isNonEmptyString(entry.value) ? null : "value must be an item id or null",
  multiCollectionReference: (entry) => checkIdList(entry.value),
  array: (entry, field) => checkArrayValue(entry.value, field),
};

function checkDate(value) {
  if (value === null || Number.isFinite(value)) return null;
  if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return null;
  return "value must be an ISO 8601 date string, a timestamp or null";
}

function checkEnumValue(value, field) {
  if (field.cases.some((enumCase) => enumCase.id === value)) return null;
  const ids = field.cases.map((enumCase) => enumCase.id).join(", ");
  return `value '${value}' is not a case id (case ids: ${ids})`;
}

// The server downloads image and file values, so they must be absolute http(s) URLs.
function checkAssetUrl(entry) {
  if (entry.value === null || (typeof entry.value === "string" && isHttpUrl(entry.value))) return null;
  return "value must be an absolute http(s) URL or null";
}

function checkOptionalString(value, name) {
  return value === undefined || typeof value === "string" ? null : `${name} must be a string`;
}

function checkColor(value) {
  if (value === null || typeof value === "string" || isPlainObject(value)) return null;
  return "value must be a color string, a color style or null";
}

function checkIdList(value) {
  if (value === null) return null;
  if (Array.isArray(value) && value.every(isNonEmptyString)) return null;
  return "value must be an array of item ids or null";
}

function checkArrayValue(value, field) {
  if (!Array.isArray(value)) return "value must be an array of {id, fieldData}";
  const nestedFields = new Map(field.fields.map((nested) => [nested.id, nested]));
  const seen = new Set();
  for (const [index, arrayItem] of value.entries()) {
    if (!isPlainObject(arrayItem) || !isNonEmptyString(arrayItem.id)) return `value[${index}] needs an id`;
    if (seen.has(arrayItem.id)) return `value[${index}] repeats id '${arrayItem.id}'`;
    seen.add(arrayItem.id);
    const problem = checkFieldData(arrayItem.fieldData ?? {}, nestedFields, `value[${index}].fieldData`);
    if (problem) return problem;
  }
  return null;
}

function checkFieldData(fieldData, fieldsById, where) {
  if (!isPlainObject(fieldData)) return `${where} must be an object`;
  for (const [fieldId, entry] of Object.entries(fieldData)) {
    const field = fieldsById.get(fieldId);
    if (!field) return `${where} references unknown field id '${fieldId}'`;
    const problem = checkEntry(field, entry);
    if (problem) return `${where}.${fieldId}: ${problem}`;
  }
  return null;
}

function checkEntry(field, entry) {
  if (!isPlainObject(entry)) return "expected an object {type, value}";
  if (entry.type !== field.type) return `field has type '${field.type}' but the value says '${entry.type}'`;
  return VALUE_CHECKS[field.type](entry, field);
}

function checkItems(collection, items) {
  if (!Array.isArray(items)) fail("Items must be an array");
  const fieldsById = new Map(collection.fields.map((field) => [field.id, field]));
  const ids = new Set();
  for (const [index, item] of items.entries()) {
    const problem = checkItem(item, fieldsById, ids);
    if (problem) fail(`Invalid item ${index}${item?.id ? ` ('${item.id}')` : ""}: ${problem}`);
    ids.add(item.id);
  }
  checkSlugs(collection, items);
}

function checkItem(item, fieldsById, idsInBatch) {
  if (!isPlainObject(item)) return "an item must be an object";
  if (!isNonEmptyString(item.id)) return "id must be a non-empty string";
  if (idsInBatch.has(item.id)) return "the same id appears twice in one call";
  if (!isNonEmptyString(item.slug)) return "slug must be a non-empty string";
  if (item.draft !== undefined && typeof item.draft !== "boolean") return "draft must be a boolean";
  return checkFieldData(item.fieldData, fieldsById, "fieldData");
}

// Slugs must stay unique across the collection as it will be after the upsert.
function checkSlugs(collection, items) {
  const upserted = new Set(items.map((item) => item.id));
  const owners = new Map();
  for (const item of collection.items.values()) {
    if (!upserted.has(item.id)) owners.set(item.slug, item.id);
  }
  for (const item of items) {
    const owner = owners.get(item.slug);
    if (owner !== undefined) fail(`Duplicate slug '${item.slug}' (items '${owner}' and '${item.id}')`);
    owners.set(item.slug, item.id);
  }
}

// Upsert by id. Omitted fields keep their values (the documented 5.0.0 behaviour);
// values for userEditable fields are not the plugin's to set, so they are skipped.
function applyItems(collection, items) {
  const pluginOwned = new Set(collection.fields.filter((field) => !field.userEditable).map((field) => field.id));
  for (const item of items) {
    const existing = collection.items.get(item.id);
    const fieldData = { ...(existing?.fieldData ?? {}) };
    for (const [fieldId, entry] of Object.entries(item.fieldData)) {
      if (pluginOwned.has(fieldId)) fieldData[fieldId] = structuredClone(entry);
    }
    const draft = item.draft ?? existing?.draft ?? false;
    collection.items.set(item.id, { id: item.id, slug: item.slug, draft, fieldData });
  }
}

// ---------------------------------------------------------------------------
// Plugin data

// Plugin data can hang on any node; the nodes this fake has are collections.
function pluginDataNode(project, nodeId) {
  if (typeof nodeId !== "string") fail("Node id must be a string");
  const collection = project.collections.find((candidate) => candidate.id === nodeId);
  if (!collection) fail(`Node not found: ${nodeId}`);
  return collection;
}

function setPluginDataIn(map, key, value) {
  if (!isNonEmptyString(key)) fail("Plugin data key must be a non-empty string");
  if (value === null || value === undefined) map.delete(key);
  else if (typeof value === "string") map.set(key, value);
  else fail("Plugin data value must be a string or null");
}

function getPluginDataFrom(map, key) {
  if (typeof key !== "string") fail("Plugin data key must be a string");
  return map.get(key) ?? null;
}

// ---------------------------------------------------------------------------
// Publishing

function publish(project) {
  const now = project.now().toISOString();
  const deployment = { id: project.newId(16), deployedBy: { ...FAKE_USER }, createdAt: now, updatedAt: now, status: "ready" };
  const hostnames = [
    {
      hostname: `${project.id.toLowerCase()}.framer.website`,
      type: "default",
      isPrimary: true,
      isPublished: true,
      deploymentId: deployment.id,
    },
  ];
  project.publishes.push({ deployment, hostnames, items: publishedItems(project) });
  return { deployment, hostnames };
}

// What a publish made visible: non-draft item ids per collection name.
function publishedItems(project) {
  const items = {};
  for (const collection of project.collections) {
    items[collection.name] = [...collection.items.values()].filter((item) => !item.draft).map((item) => item.id);
  }
  return items;
}

function deploy(project, deploymentId, domains) {
  const published = project.publishes.find((entry) => entry.deployment.id === deploymentId);
  if (!published) fail(`Deployment not found: ${deploymentId}`);
  const targets = domains ?? project.customDomains;
  if (!Array.isArray(targets) || !targets.every((domain) => project.customDomains.includes(domain))) {
    fail(`Domains must be among the project's custom domains (${project.customDomains.join(", ")})`);
  }
  const hostnames = targets.map((hostname, index) => ({
    hostname,
    type: "custom",
    isPrimary: index === 0,
    isPublished: true,
    deploymentId,
  }));
  project.deploys.push({ deploymentId, domains: [...targets], hostnames });
  return hostnames;
}

// ---------------------------------------------------------------------------
// Uploads: images and files stored by the fake and served over its HTTP port

// Framer's asset URLs name content on its CDN (framerusercontent.com/images/<id>.<ext>).
const ASSET_ID_LENGTH = 25;
const RESOLUTIONS = new Set(["auto", "lossless", "small", "medium", "large", "full"]);
const IMAGE_RENDERINGS = new Set(["auto", "pixelated"]);
const ASSET_FETCH_TIMEOUT_MS = 30_000;
const EXTENSION_BY_MIME = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/avif": "avif",
  "image/svg+xml": "svg",
  "image/bmp": "bmp",
  "image/tiff": "tiff",
  "application/pdf": "pdf",
  "text/plain": "txt",
  "application/zip": "zip",
};
const IMAGE_MIME_BY_EXTENSION = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  svg: "image/svg+xml",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
};

function createAssetStore(opts) {
  return {
    // path (/images/<id>.<ext>) -> stored asset
    byPath: new Map(),
    uploads: [],
    fetches: 0,
    failedUploads: 0,
    downloads: 0,
    origin: opts.assetOrigin ?? null,
    fetch: opts.fetchAsset ?? ((url, init) => fetch(url, init)),
  };
}

// Checks one transfer object as the client builds it; `where` names it in messages.
function checkTransfer(transfer, kind, where) {
  if (!isPlainObject(transfer)) fail(`${where} must be an object`);
  if (transfer.name !== undefined && typeof transfer.name !== "string") fail(`${where}.name must be a string`);
  if (transfer.type === "url") {
    if (!isHttpUrl(transfer.url)) fail(`${where}.url must be an absolute http(s) URL`);
  } else if (transfer.type === "bytes") {
    if (!(transfer.bytes instanceof Uint8Array)) fail(`${where}.bytes must be a Uint8Array`);
    if (!isNonEmptyString(transfer.mimeType)) fail(`${where}.mimeType must be a non-empty string`);
  } else {
    fail(`${where}.type must be "url" or "bytes"`);
  }
  if (kind !== "image") return;
  if (transfer.altText !== undefined && typeof transfer.altText !== "string") fail(`${where}.altText must be a string`);
  if (transfer.resolution !== undefined && !RESOLUTIONS.has(transfer.resolution)) {
    fail(`${where}.resolution must be one of ${[...RESOLUTIONS].join(", ")}`);
  }
  if (transfer.preferredImageRendering !== undefined && !IMAGE_RENDERINGS.has(transfer.preferredImageRendering)) {
    fail(`${where}.preferredImageRendering must be auto or pixelated`);
  }
}

function mimeBase(contentType) {
  return String(contentType ?? "").split(";")[0].trim().toLowerCase();
}

// The content of a transfer: the bytes sent, or what its URL answers (downloaded like the server).
async function loadTransfer(store, transfer) {
  if (transfer.type === "bytes") return { bytes: Buffer.from(transfer.bytes), mimeType: mimeBase(transfer.mimeType) };
  store.fetches += 1;
  let response;
  try {
    response = await store.fetch(transfer.url, { redirect: "follow", signal: AbortSignal.timeout(ASSET_FETCH_TIMEOUT_MS) });
  } catch (error) {
    fail(`Could not download the asset from its URL: ${error.cause?.code ?? error.name}`);
  }
  if (!response.ok) {
    await response.arrayBuffer().catch(() => undefined);
    fail(`Could not download the asset from its URL: it answered HTTP ${response.status}`);
  }
  return { bytes: Buffer.from(await response.arrayBuffer()), mimeType: mimeBase(response.headers.get("content-type")) };
}

function extensionOfName(name) {
  const base = String(name ?? "").split(/[?#]/u)[0];
  const slash = base.lastIndexOf("/");
  const file = base.slice(slash + 1);
  const dot = file.lastIndexOf(".");
  if (dot <= 0 || dot === file.length - 1) return null;
  const extension = file.slice(dot + 1).toLowerCase();
  return /^[a-z0-9]{1,8}$/u.test(extension) ? extension : null;
}

function urlPath(url) {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
}

// An image's extension follows its content; a file's follows its name (a .csv served as
// text/plain stays .csv), then its URL, then its content type.
function extensionOf(kind, transfer, mimeType) {
  const byContent = EXTENSION_BY_MIME[mimeType] ?? null;
  const byName = extensionOfName(transfer.name) ?? (transfer.type === "url" ? extensionOfName(urlPath(transfer.url)) : null);
  return kind === "image" ? byContent ?? byName : byName ?? byContent;
}

// Magic numbers of the image formats a CMS image field takes, for content served without an
// image content type (S3 objects uploaded as application/octet-stream).
function sniffImage(bytes) {
  const starts = (...prefix) => prefix.every((byte, index) => bytes[index] === byte);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes.subarray(8, 12).toString("latin1") === "WEBP") return "image/webp";
  const head = bytes.subarray(0, 256).toString("utf8").trimStart();
  if (head.startsWith("<svg") || (head.startsWith("<?xml") && head.includes("<svg"))) return "image/svg+xml";
  return null;
}

// An image upload needs image content: its type as sent or served, else its magic number, else
// the extension of its name or URL.
function imageMimeType(transfer, loaded) {
  if (loaded.mimeType.startsWith("image/")) return loaded.mimeType;
  const sniffed = sniffImage(loaded.bytes);
  if (sniffed) return sniffed;
  const byName = IMAGE_MIME_BY_EXTENSION[extensionOf("file", transfer, "")];
  if (byName && loaded.mimeType === "application/octet-stream") return byName;
  return fail(`The asset is not an image (content type ${loaded.mimeType || "unknown"})`);
}

function storeAsset(project, kind, transfer, loaded, mimeType) {
  const store = project.assets;
  const id = project.newId(ASSET_ID_LENGTH);
  const extension = extensionOf(kind, transfer, mimeType);
  const path = `/${kind === "image" ? "images" : "assets"}/${id}${extension ? `.${extension}` : ""}`;
  const url = `${store.origin}${path}`;
  const asset = {
    id,
    kind,
    url,
    path,
    projectId: project.id,
    mimeType,
    extension,
    bytes: loaded.bytes,
    name: transfer.name,
    source: transfer.type === "url" ? { type: "url", url: transfer.url } : { type: "bytes" },
    altText: transfer.altText,
    resolution: transfer.resolution ?? "auto",
  };
  store.byPath.set(path, asset);
  return asset;
}

function assetReply(asset) {
  if (asset.kind === "file") return { __class: "FileAsset", id: asset.id, url: asset.url, extension: asset.extension };
  const reply = { __class: "ImageAsset", id: asset.id, url: asset.url, thumbnailUrl: `${asset.url}?scale-down-to=512` };
  if (asset.altText !== undefined) reply.altText = asset.altText;
  reply.resolution = asset.resolution;
  return reply;
}

// Uploads a list of transfers: all are checked and downloaded before any is stored, so a call
// that fails stores nothing.
async function uploadAssets(project, method, kind, transfers) {
  const store = project.assets;
  try {
    transfers.forEach((transfer, index) => checkTransfer(transfer, kind, method.endsWith("s") ? `${kind}s[${index}]` : kind));
    const loaded = await Promise.all(transfers.map((transfer) => loadTransfer(store, transfer)));
    const mimeTypes = transfers.map((transfer, index) =>
      kind === "image" ? imageMimeType(transfer, loaded[index]) : loaded[index].mimeType || "application/octet-stream",
    );
    const assets = transfers.map((transfer, index) => storeAsset(project, kind, transfer, loaded[index], mimeTypes[index]));
    for (const asset of assets) {
      const record = { method, projectId: project.id, kind, assetId: asset.id, url: asset.url, source: asset.source, bytes: asset.bytes.length };
      project.uploads.push(record);
      store.uploads.push(record);
    }
    return assets.map(assetReply);
  } catch (error) {
    store.failedUploads += 1;
    throw error;
  }
}

function uploadOne(kind) {
  const method = kind === "image" ? "uploadImage" : "uploadFile";
  return async (project, transfer) => (await uploadAssets(project, method, kind, [transfer]))[0];
}

function uploadMany(kind) {
  const method = kind === "image" ? "uploadImages" : "uploadFiles";
  return (project, transfers) => {
    if (!Array.isArray(transfers)) fail(`${method} takes an array`);
    return uploadAssets(project, method, kind, transfers);
  };
}

// Stored assets at their URL (GET or HEAD); anything else on the HTTP port asks for a WebSocket.
function serveHttp(fake, req, res) {
  const { pathname } = new URL(req.url, "http://fake-framer.invalid");
  const isAssetPath = pathname.startsWith("/images/") || pathname.startsWith("/assets/");
  if (!isAssetPath) {
    res.writeHead(426, { "Content-Type": "text/plain", Upgrade: "websocket" }).end("WebSocket upgrade required");
    return;
  }
  const asset = fake.assets.byPath.get(pathname);
  if (!asset || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(asset ? 405 : 404, { "Content-Type": "text/plain" }).end(asset ? "Method not allowed" : "Not found");
    return;
  }
  fake.assets.downloads += 1;
  res.writeHead(200, {
    "Content-Type": asset.mimeType,
    "Content-Length": asset.bytes.length,
    "Cache-Control": "public, max-age=31536000, immutable",
  });
  res.end(req.method === "HEAD" ? undefined : asset.bytes);
}

// ---------------------------------------------------------------------------
// Methods: internal method name -> (project, ...args) => result

const METHODS = {
  getProjectInfo2: (project) => ({ id: project.id, name: project.name, apiVersion1Id: project.id.toLowerCase() }),
  getCurrentUser2: () => ({ ...FAKE_USER }),
  getManagedCollections: (project) =>
    project.collections.filter((collection) => collection.managedBy === "thisPlugin").map(collectionData),
  getCollections: (project) => project.collections.map(collectionData),
  getCollection: (project, id) => {
    const collection = project.collections.find((candidate) => candidate.id === id);
    return collection ? collectionData(collection) : null;
  },
  createManagedCollection: (project, name) => {
    if (!isNonEmptyString(name)) fail("Collection name must be a non-empty string");
    return collectionData(addCollection(project, name, "thisPlugin"));
  },
  getManagedCollectionFields3: (project, id) => findCollection(project, id).fields,
  setManagedCollectionFields: (project, id, fields) => {
    const collection = writableCollection(project, id);
    collection.fields = normalizeFieldList(project, fields, false);
    pruneItemValues(collection);
  },
  addManagedCollectionItems2: (project, id, items) => {
    const collection = writableCollection(project, id);
    checkItems(collection, items);
    applyItems(collection, items);
  },
  removeManagedCollectionItems: (project, id, itemIds) => {
    const collection = writableCollection(project, id);
    if (!Array.isArray(itemIds)) fail("Item ids must be an array");
    for (const itemId of itemIds) collection.items.delete(itemId);
  },
  getManagedCollectionItemIds: (project, id) => [...findCollection(project, id).items.keys()],
  setManagedCollectionItemOrder: (project, id, itemIds) => {
    const collection = writableCollection(project, id);
    if (!Array.isArray(itemIds)) fail("Item ids must be an array");
    const ordered = itemIds.filter((itemId) => collection.items.has(itemId));
    const rest = [...collection.items.keys()].filter((itemId) => !ordered.includes(itemId));
    collection.items = new Map([...ordered, ...rest].map((itemId) => [itemId, collection.items.get(itemId)]));
  },
  getPluginDataForNode: (project, nodeId, key) => getPluginDataFrom(pluginDataNode(project, nodeId).pluginData, key),
  setPluginDataForNode: (project, nodeId, key, value) => {
    setPluginDataIn(assertWritable(pluginDataNode(project, nodeId)).pluginData, key, value);
  },
  getPluginDataKeysForNode: (project, nodeId) => [...pluginDataNode(project, nodeId).pluginData.keys()],
  publish: (project) => publish(project),
  deploy: (project, deploymentId, domains) => deploy(project, deploymentId, domains),
  getDeployment: (project, deploymentId) => {
    const published = project.publishes.find((entry) => entry.deployment.id === deploymentId);
    if (!published) fail(`Deployment not found: ${deploymentId}`);
    return published.deployment;
  },
  uploadImage: uploadOne("image"),
  uploadImages: uploadMany("image"),
  uploadFile: uploadOne("file"),
  uploadFiles: uploadMany("file"),
};

function permissionMap() {
  return Object.fromEntries(Object.keys(METHODS).map((name) => [name, true]));
}

// ---------------------------------------------------------------------------
// Wire helpers

function encode(message) {
  return devalue.stringify(message);
}

function decode(text) {
  return devalue.parse(text, { [PLUGIN_MARSHAL_TAG]: (value) => value });
}

// Chunk envelopes are plain JSON; the client joins `data` until seq -1 and then
// devalue-parses the whole. Splitting by code units may cut a surrogate pair,
// which JSON.stringify escapes, as the real server's chunks can do.
function chunkFrames(text, chunkSize, id) {
  const frames = [];
  for (let start = 0; start < text.length; start += chunkSize) {
    const last = start + chunkSize >= text.length;
    const data = text.slice(start, start + chunkSize);
    frames.push(JSON.stringify({ $chunk: 1, id, seq: last ? -1 : frames.length, data }));
  }
  return frames;
}

function apiKeyOf(req) {
  const header = req.headers.authorization;
  if (typeof header === "string" && header.startsWith("Token ")) return header.slice(6).trim();
  // Deno's client sends the key as a subprotocol (echoed back by `socketServer`).
  const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((part) => part.trim());
  const protocol = offered.find((candidate) => candidate.startsWith("token."));
  return protocol ? protocol.slice(6) : null;
}

// ---------------------------------------------------------------------------
// Fault injection

function createInjections() {
  return { failures: [], closeAfter: null, errorFrame: null, refusals: null };
}

function addInjection(injections, spec) {
  if (spec.failMethod) {
    const { name, error = "Injected failure", times = 1 } = spec.failMethod;
    injections.failures.push({ name, error, remaining: times });
  }
  if (spec.closeAfterCalls !== undefined) injections.closeAfter = { remaining: spec.closeAfterCalls };
  if (spec.errorFrame) {
    const { afterCalls = 0, ...frame } = spec.errorFrame;
    injections.errorFrame = { remaining: afterCalls, frame };
  }
  if (spec.rejectConnections) {
    const { times = 1, ...frame } = spec.rejectConnections;
    injections.refusals = { remaining: times, frame };
  }
}

// Counts a call against a one-shot "after n calls" injection; true when it fires.
function countdownFires(slot) {
  if (!slot) return false;
  if (slot.remaining > 0) {
    slot.remaining -= 1;
    return false;
  }
  return true;
}

function takeFailure(injections, methodName) {
  const failure = injections.failures.find((entry) => entry.name === methodName && entry.remaining > 0);
  if (!failure) return null;
  failure.remaining -= 1;
  return failure.error;
}

// ---------------------------------------------------------------------------
// One connection

class Session {
  #fake;
  #ws;
  #project;
  #ready = false;
  // Replies leave in the order the calls came: an upload that downloads its URL holds back the
  // answers to the calls after it (those calls still run at once, in arrival order).
  #replies = Promise.resolve();
  #inFlight = 0;

  constructor(fake, ws, project) {
    this.#fake = fake;
    this.#ws = ws;
    this.#project = project;
  }

  start() {
    this.#ws.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
    this.#send({
      type: "ready",
      requestId: `req_${this.#fake.newId(12)}`,
      sessionId: `sess_${this.#fake.newId(12)}`,
      version: SERVER_VERSION,
      gracefulDisconnect: this.#fake.gracefulDisconnect,
    });
  }

  #onMessage(bytes, isBinary) {
    if (isBinary) return this.#sendError("INVALID_REQUEST", "Binary frames are not supported");
    const data = bytes.toString("utf8");
    this.#fake.trace("client", data);
    let message;
    try {
      message = decode(data);
    } catch {
      return this.#sendError("INVALID_REQUEST", "Malformed message");
    }
    return this.#dispatch(message, data);
  }

  #dispatch(message, text) {
    switch (message?.type) {
      case "pluginReadySignal":
        return this.#onReadySignal();
      case "methodInvocation":
        return this.#onInvocation(message, text);
      case "client-disconnect":
        return this.#send({ type: "disconnect-ack" });
      default:
        // {type:"ping"} keep-alives expect no answer; other plugin messages
        // (subscribe, ...) are not part of a headless sync.
        return undefined;
    }
  }

  #onReadySignal() {
    if (this.#ready) return;
    this.#ready = true;
    this.#send({
      type: "pluginReadyResponse",
      mode: "api",
      permissionMap: permissionMap(),
      environmentInfo: { releaseChannel: "stable", isEmployee: false },
      initialState: { mode: "api", intent: "plugin/open" },
    });
  }

  #onInvocation(message, text) {
    const call = { method: message.methodName, projectId: this.#project.id, bytes: Buffer.byteLength(text) };
    this.#fake.calls.push(call);
    if (!this.#ready) return this.#reply(call, message.id, { error: "Plugin is not ready: send pluginReadySignal first" });
    const injections = this.#fake.injections;
    if (countdownFires(injections.closeAfter)) {
      injections.closeAfter = null;
      return this.#ws.close(CLOSE_INTERNAL_ERROR, "Injected close");
    }
    if (countdownFires(injections.errorFrame)) {
      const { frame } = injections.errorFrame;
      injections.errorFrame = null;
      return this.#send({ type: "error", ...frame });
    }
    return this.#deliver(call, message.id, this.#invoke(message));
  }

  // Answers at once when nothing is pending, else after the replies queued before it.
  #deliver(call, id, outcome) {
    if (!(outcome instanceof Promise) && this.#inFlight === 0) return this.#reply(call, id, outcome);
    this.#inFlight += 1;
    this.#replies = this.#replies
      .then(() => outcome)
      .then((settled) => {
        this.#inFlight -= 1;
        this.#reply(call, id, settled);
      });
    return undefined;
  }

  // {result} or {error}, or a promise of one for methods that wait (uploads); never rejects.
  #invoke(message) {
    const injected = takeFailure(this.#fake.injections, message.methodName);
    if (injected !== null) return { error: injected };
    const method = Object.hasOwn(METHODS, message.methodName) ? METHODS[message.methodName] : null;
    if (!method) return { error: `Unknown method: ${message.methodName}` };
    const args = Array.isArray(message.args) ? message.args : [];
    const failed = (error) => methodFailure(message.methodName, error);
    try {
      const result = method(this.#project, ...args);
      if (result instanceof Promise) return result.then((value) => ({ result: value }), failed);
      return { result };
    } catch (error) {
      return failed(error);
    }
  }

  #reply(call, id, outcome) {
    const text = encode({ type: "methodResponse", id, ...outcome });
    call.responseBytes = Buffer.byteLength(text);
    const chunkSize = this.#fake.chunkSize;
    if (text.length <= chunkSize) return this.#sendText(text);
    for (const frame of chunkFrames(text, chunkSize, this.#fake.newId(12))) this.#sendText(frame);
    return undefined;
  }

  #sendError(code, message) {
    this.#send({ type: "error", code, message, retryable: false });
  }

  #send(message) {
    this.#sendText(encode(message));
  }

  #sendText(text) {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#fake.trace("server", text);
    this.#ws.send(text);
  }
}

function methodFailure(methodName, error) {
  if (error instanceof MethodError) return { error: error.message };
  // A bug in the fake must be loud, but the client still gets an answer.
  console.error("[fake-framer] internal error in", methodName, error);
  return { error: `Internal error: ${error.message}` };
}

// Sends an error frame in place of `ready`, then closes: the client fails its
// handshake with the frame's code and message.
function refuse(fake, ws, frame) {
  const text = encode({ type: "error", code: frame.code, message: frame.message, retryable: frame.retryable ?? false });
  fake.trace("server", text);
  ws.send(text);
  ws.close(CLOSE_POLICY_VIOLATION, String(frame.message ?? "").slice(0, 100));
}

// ---------------------------------------------------------------------------
// Server

function authProblem(fake, projectId, key) {
  if (!key) return "Missing API key";
  const project = fake.projects.get(projectId);
  if (!project || project.apiKey !== key) return `API key is not valid for project ${projectId}`;
  return null;
}

/** A plain HTTP answer to an upgrade request, then the connection closes. */
function rejectUpgrade(socket, status, message) {
  const body = Buffer.from(message, "utf8");
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "Connection: close",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${body.length}`,
  ];
  socket.end(Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), body]));
}

// The WebSocket side is npm `ws`, which checks the upgrade itself (method, headers, version:
// 400 when they are wrong) and speaks RFC 6455; the fake decides who may connect.
function socketServer() {
  return new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    // Deno's client sends the key as a `token.<key>` subprotocol, which must be echoed back.
    handleProtocols: (offered) => [...offered].find((candidate) => candidate.startsWith("token.")) ?? false,
  });
}

function onUpgrade(fake, req, socket, head) {
  const url = new URL(req.url, "http://fake-framer.invalid");
  if (url.pathname !== CHANNEL_PATH) return rejectUpgrade(socket, 404, "Not found");
  const projectId = url.searchParams.get("projectId") ?? "";
  const key = apiKeyOf(req);
  const denial = authProblem(fake, projectId, key);
  fake.connectionLog.push({ projectId, query: Object.fromEntries(url.searchParams), authorized: denial === null });
  if (denial && fake.authFailure === "http") return rejectUpgrade(socket, 401, denial);
  return fake.wss.handleUpgrade(req, socket, head, (ws) => {
    fake.sockets.add(ws);
    ws.on("close", () => fake.sockets.delete(ws));
    // A client's protocol error (unmasked frame, bad UTF-8, oversized message) closes the
    // connection with its code (1002, 1007, 1009); `ws` reports it here too.
    ws.on("error", (error) => fake.trace("server", `connection closed: ${error.message}`));
    startSession(fake, ws, projectId, denial);
  });
}

function startSession(fake, ws, projectId, denial) {
  if (denial) return refuse(fake, ws, { code: "UNAUTHORIZED", message: denial });
  const refusal = fake.injections.refusals;
  if (refusal && refusal.remaining > 0) {
    refusal.remaining -= 1;
    return refuse(fake, ws, refusal.frame);
  }
  fake.connectionCount += 1;
  return new Session(fake, ws, fake.projects.get(projectId)).start();
}

function tracer(opts) {
  return (from, text) => {
    if (opts.log) console.error(`[fake-framer] ${from}> ${text}`);
    opts.onFrame?.(from, text);
  };
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

/**
 * Starts a fake Framer Server API on 127.0.0.1 (random port).
 * opts.chunkSize: replies longer than this many UTF-16 code units are chunked.
 * opts.log: print every frame to stderr.
 * opts.onFrame(from, text): called for every text frame; from is "client" or "server".
 * opts.authFailure: "frame" (default) or "http" (401 on the upgrade).
 * opts.gracefulDisconnect: the ready frame's flag (default true).
 * opts.newId(length): the ids the fake makes up (collections, deployments, sessions, chunks);
 *   random letters and digits by default. opts.now(): the clock for deployment times (a Date).
 *   scripts/make-vectors.mjs pins both so that its transcript is the same on every run.
 * opts.assetOrigin: origin of the asset URLs uploads return (default: this server, which serves
 *   them); opts.fetchAsset(url, init): how "url" uploads download (default: global fetch).
 *   scripts/make-vectors.mjs sets both so that its upload transcript does not depend on ports.
 */
export async function startFakeFramer(opts = {}) {
  const fake = {
    projects: new Map(),
    calls: [],
    connectionLog: [],
    connectionCount: 0,
    sockets: new Set(),
    wss: socketServer(),
    injections: createInjections(),
    chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
    authFailure: opts.authFailure ?? "frame",
    gracefulDisconnect: opts.gracefulDisconnect ?? true,
    newId: opts.newId ?? randomId,
    now: opts.now ?? (() => new Date()),
    trace: tracer(opts),
    assets: createAssetStore(opts),
  };
  const server = createServer((req, res) => serveHttp(fake, req, res));
  server.on("upgrade", (req, socket, head) => onUpgrade(fake, req, socket, head));
  const port = await listen(server);
  fake.assets.origin ??= `http://127.0.0.1:${port}`;
  return publicApi(fake, server, port);
}

function publicApi(fake, server, port) {
  return {
    url: `ws://127.0.0.1:${port}${CHANNEL_PATH}`,
    httpUrl: `http://127.0.0.1:${port}${CHANNEL_PATH}`,
    addProject(projectId, apiKey, options = {}) {
      if (!PROJECT_ID_PATTERN.test(projectId)) throw new Error(`Project ids are 20 letters/digits: '${projectId}'`);
      const project = createProject(projectId, apiKey, options, fake);
      fake.projects.set(projectId, project);
      return project;
    },
    project(projectId) {
      return fake.projects.get(projectId);
    },
    createForeignCollection(projectId, name) {
      const project = fake.projects.get(projectId);
      if (!project) throw new Error(`Unknown project ${projectId}`);
      return addCollection(project, name, "anotherPlugin");
    },
    inject(spec) {
      addInjection(fake.injections, spec);
    },
    get connections() {
      return fake.connectionCount;
    },
    calls: fake.calls,
    connectionLog: fake.connectionLog,
    /** Every successful upload in order: {method, projectId, kind, assetId, url, source, bytes}. */
    uploads: fake.assets.uploads,
    /** Totals: assets stored and their bytes, URL downloads, failed upload calls, asset GETs. */
    get uploadStats() {
      const { uploads, fetches, failedUploads, downloads } = fake.assets;
      return {
        uploads: uploads.length,
        bytes: uploads.reduce((sum, upload) => sum + upload.bytes, 0),
        fetches,
        failed: failedUploads,
        downloads,
      };
    },
    get assetOrigin() {
      return fake.assets.origin;
    },
    /** The stored asset an asset URL (with or without query) names, or undefined. */
    asset(url) {
      if (!url.startsWith(`${fake.assets.origin}/`)) return undefined;
      return fake.assets.byPath.get(urlPath(url));
    },
    get openSockets() {
      return fake.sockets.size;
    },
    async close() {
      for (const ws of fake.sockets) ws.terminate();
      fake.wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
