/**
 * A fake Notion REST API for tests, served by node:http on 127.0.0.1.
 *
 * Shapes, status codes and error bodies follow @notionhq/client 5.26.0
 * (build/src/api-endpoints/*.d.ts, errors.js, helpers.js) and
 * Notion's public API reference (developers.notion.com). It serves the data-source model of
 * Notion-Version 2025-09-03 and 2026-03-11 (the latter drops `archived`).
 *
 * Known choices where Notion's behaviour is unspecified (documented so tests do
 * not mistake them for facts): a query without `sorts` is ordered newest first;
 * query cursors are opaque ids bound to a snapshot of the result taken on the
 * first page; `request_status` is present on every query page.
 *
 * Notion-hosted files (files properties, covers, file icons, image/file/pdf/video/audio
 * blocks) are served by the fake itself under /s3/prod-files-secure/<workspace>/<uuid>/<name>
 * with S3-style presigned queries, re-signed on every read like Notion's. Controls for tests
 * of what a sync does with them: expireFileUrls() (every URL issued so far answers 403
 * AccessDenied "Request has expired"), replaceFile() (new content at a new path, as a new
 * upload in Notion gets), failFile() / restoreFile() (one file answers 404 NoSuchKey or
 * another status), fileKey(url) and hostedFiles().
 */
import http from "node:http";
import { createHmac, randomBytes, randomUUID } from "node:crypto";

/** Notion-Version values the fake answers. */
export const SUPPORTED_VERSIONS = Object.freeze(["2025-09-03", "2026-03-11"]);

const MAX_PAGE_SIZE = 100;
const DEFAULT_QUERY_RESULT_LIMIT = 10_000;
const REFERENCE_LIMIT = 25;
const FILE_URL_LIFETIME_MS = 3_600_000;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const CURSOR_CAPACITY = 20_000;
const FILE_PREFIX = "/s3/prod-files-secure/";
const COLORS = ["default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"];
// Notion property ids are short strings drawn from printable ASCII and sent URL-encoded.
const PROPERTY_ID_CHARS =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:;<=>?@[]^`{|}~";
const RICH_TEXT_TYPES = new Set([
  "paragraph", "heading_1", "heading_2", "heading_3", "heading_4", "bulleted_list_item",
  "numbered_list_item", "quote", "toggle", "to_do", "callout", "code",
]);
const MEDIA_TYPES = new Set(["image", "video", "pdf", "file", "audio"]);
const LIST_PROPERTY_TYPES = new Set(["title", "rich_text", "relation", "people"]);
const READ_ONLY_TYPES = new Set(["created_time", "last_edited_time", "created_by", "last_edited_by"]);
const DEFAULT_CODES = {
  400: "validation_error", 401: "unauthorized", 403: "restricted_resource", 404: "object_not_found",
  409: "conflict_error", 429: "rate_limited", 500: "internal_server_error", 502: "bad_gateway",
  503: "service_unavailable", 504: "gateway_timeout", 529: "service_overload",
};
const DEFAULT_MESSAGES = {
  rate_limited: "You have been rate limited. Please try again in a few minutes.",
  internal_server_error: "Unexpected error occurred.",
  bad_gateway: "Notion encountered an issue while attempting to complete this request. Please try again.",
  service_unavailable: "Notion is unavailable, please try again later.",
  gateway_timeout: "Notion timed out while attempting to complete this request. Please try again later.",
  service_overload: "Notion is overloaded, please try again later.",
  conflict_error: "Conflict occurred while saving. Please try again.",
  restricted_resource: "API token does not have access to this resource.",
};
// What S3 answers (code, message) for the statuses failFile can force.
const S3_ERRORS = {
  403: ["AccessDenied", "Access Denied"],
  404: ["NoSuchKey", "The specified key does not exist."],
  500: ["InternalError", "We encountered an internal error. Please try again."],
  503: ["SlowDown", "Please reduce your request rate."],
};
// 1x1 transparent PNG, so fetched "images" are real images.
const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  "base64",
);
const ROUTES = [
  ["GET", "/v1/databases/:id", "getDatabase"],
  ["GET", "/v1/data_sources/:id", "getDataSource"],
  ["POST", "/v1/data_sources/:id/query", "queryDataSource"],
  ["GET", "/v1/pages/:id", "getPage"],
  ["GET", "/v1/pages/:id/properties/:property", "getPageProperty"],
  ["GET", "/v1/blocks/:id", "getBlock"],
  ["GET", "/v1/blocks/:id/children", "listBlockChildren"],
  ["GET", "/v1/users/me", "getSelf"],
].map(([method, pattern, handler]) => ({ method, pattern, handler, parts: pattern.split("/") }));

/** An error answered as Notion's {object:"error", status, code, message, request_id}. */
class ApiError extends Error {
  constructor(status, code, message, { headers = {}, rawBody } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.rawBody = rawBody;
  }
}

const validation = (message) => new ApiError(400, "validation_error", message);
const notFound = (kind, id) =>
  new ApiError(
    404,
    "object_not_found",
    `Could not find ${kind} with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`,
  );
const unsupported = (what) => validation(`Fake Notion does not support ${what}.`);

/**
 * Starts the fake on a free port of 127.0.0.1.
 * @param {{rateLimit?: {requestsPerSecond: number, burst: number}, queryResultLimit?: number,
 *   limitSignal?: "all"|"first"|"last", fileBaseUrl?: string}} opts
 *   queryResultLimit: rows one query may return (Notion: 10,000); limitSignal: which pages of a
 *   capped query carry request_status incomplete; fileBaseUrl: base of signed file URLs
 *   (default: served by this fake under /s3/prod-files-secure/).
 * @returns {Promise<FakeNotion>}
 */
export async function startFakeNotion(opts = {}) {
  const fake = new FakeNotion(opts);
  await fake.listen();
  return fake;
}

/** In-memory Notion workspace plus the HTTP server answering for it. */
export class FakeNotion {
  constructor(opts) {
    this.url = "";
    this.requests = [];
    this.stats = emptyStats();
    this.workspaceId = randomUUID();
    this.personId = randomUUID();
    this.queryResultLimit = opts.queryResultLimit ?? DEFAULT_QUERY_RESULT_LIMIT;
    this.limitSignal = opts.limitSignal ?? "all";
    this.fileBaseUrl = opts.fileBaseUrl;
    this.rateLimit = opts.rateLimit ?? null;
    this.clock = () => Date.now();
    this.integrations = new Map();
    this.databases = new Map();
    this.dataSources = new Map();
    this.pages = new Map();
    this.blocks = new Map();
    this.files = new Map();
    // key -> HTTP status the file answers instead of its bytes (failFile)
    this.fileFailures = new Map();
    this.signatures = new Map();
    this.cursors = new Map();
    this.buckets = new Map();
    this.failures = [];
    this.rawQueryResults = new Map();
    this.seq = 0;
    this.signCount = 0;
    this.signingKey = randomBytes(32);
    this.server = http.createServer((req, res) => this.#onRequest(req, res));
  }

  /** Binds the server; sets `url`. */
  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", resolve);
    });
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    this.fileBaseUrl ??= `${this.url}${FILE_PREFIX.slice(0, -1)}`;
  }

  /** Stops the server and drops keep-alive connections. */
  async close() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- control API

  /** Registers a valid bearer token (an internal integration). Returns the token. */
  addIntegration(token) {
    this.integrations.set(token, { botId: randomUUID(), revoked: false });
    return token;
  }

  /** Makes a token invalid: every request with it answers 401 unauthorized. */
  revoke(token) {
    const integration = this.integrations.get(token);
    if (integration) integration.revoked = true;
  }

  /**
   * Creates a database with one data source.
   * @param {{title?: string, properties: object, token?: string|string[], createdTime?: any}} spec
   *   properties: {Name: {type:"title"}, Tags: {type:"multi_select", options:["a"]}, ...}
   *   A relation: {type:"relation", dataSourceId} (to itself without one); with
   *   syncedPropertyName it is two-way: the related data source gets a property of that name,
   *   and an edit of either side changes the other without touching its last_edited_time.
   * @returns {{databaseId: string, dataSourceId: string}}
   */
  addDatabase({ title = "Untitled", properties, token, createdTime } = {}) {
    const createdMs = minuteFloor(this.#ms(createdTime));
    const db = {
      id: randomUUID(), title, createdMs, editedMs: createdMs, dataSourceIds: [], sharedWith: new Set(),
    };
    this.databases.set(db.id, db);
    for (const t of [token ?? []].flat()) db.sharedWith.add(t);
    const dataSourceId = this.addDataSource(db.id, { title, properties, createdTime });
    return { databaseId: db.id, dataSourceId };
  }

  /** Adds another data source to a database (2025-09-03 databases may hold several). */
  addDataSource(databaseId, { title = "Untitled", properties = {}, createdTime } = {}) {
    const db = this.#mustGet(this.databases, databaseId, "database");
    const createdMs = minuteFloor(this.#ms(createdTime));
    const ds = { id: randomUUID(), databaseId: db.id, title, createdMs, editedMs: createdMs, props: [], pageIds: [] };
    for (const [name, spec] of Object.entries(properties)) ds.props.push(this.#makeProperty(ds, name, spec));
    if (ds.props.filter((p) => p.type === "title").length !== 1) {
      throw new Error("a data source needs exactly one title property");
    }
    this.dataSources.set(ds.id, ds);
    db.dataSourceIds.push(ds.id);
    return ds.id;
  }

  /** Shares a database (its data sources, pages and blocks) with a token. */
  share(databaseId, token) {
    this.#mustGet(this.databases, databaseId, "database").sharedWith.add(token);
  }

  /** Removes the database from one token, or from every token when none is given. */
  unshare(databaseId, token) {
    const db = this.#mustGet(this.databases, databaseId, "database");
    if (token === undefined) db.sharedWith.clear();
    else db.sharedWith.delete(token);
  }

  /**
   * Adds a row. Friendly values: title/rich_text string, select/status name, multi_select names,
   * date "2024-01-01" or {start,end,time_zone}, files {file:"a.png"}|{external:url} (or arrays),
   * relation page ids, people user ids, formula primitive or {type, ...}.
   * @returns {string} the page id
   */
  addPage(dataSourceId, { properties = {}, children = [], createdTime, editedTime, icon, cover } = {}) {
    const ds = this.#mustGet(this.dataSources, dataSourceId, "data source");
    const createdMs = minuteFloor(this.#ms(createdTime));
    const page = {
      id: randomUUID(), dataSourceId: ds.id, seq: ++this.seq, createdMs,
      editedMs: editedTime === undefined ? createdMs : minuteFloor(this.#ms(editedTime)),
      inTrash: false, values: new Map(), childIds: [],
      icon: this.#iconRef(icon), cover: cover === undefined ? null : this.#fileRef(cover),
    };
    for (const prop of ds.props) page.values.set(prop.id, this.#defaultValue(ds, prop));
    this.#assignValues(ds, page, properties);
    page.childIds = this.#addBlocks(children, { type: "page_id", id: page.id }, page);
    this.pages.set(page.id, page);
    ds.pageIds.push(page.id);
    return page.id;
  }

  /** Changes some property values; last_edited_time becomes editedTime or now. */
  updatePage(pageId, properties = {}, { editedTime } = {}) {
    const page = this.#mustGet(this.pages, pageId, "page");
    this.#assignValues(this.dataSources.get(page.dataSourceId), page, properties);
    this.#touch(page, editedTime);
  }

  /** Replaces the page body. */
  setChildren(pageId, children, { editedTime } = {}) {
    const page = this.#mustGet(this.pages, pageId, "page");
    page.childIds = this.#addBlocks(children, { type: "page_id", id: page.id }, page);
    this.#touch(page, editedTime);
  }

  /**
   * Moves a row to another data source (Notion's "Move to"): the old data source's queries stop
   * returning it, retrieval shows the new parent; values of properties the new one lacks go.
   */
  movePage(pageId, dataSourceId, { editedTime } = {}) {
    const page = this.#mustGet(this.pages, pageId, "page");
    const from = this.dataSources.get(page.dataSourceId);
    const to = this.#mustGet(this.dataSources, dataSourceId, "data source");
    from.pageIds = from.pageIds.filter((id) => id !== page.id);
    to.pageIds.push(page.id);
    page.dataSourceId = to.id;
    const kept = new Map();
    for (const prop of to.props) kept.set(prop.id, page.values.get(prop.id) ?? this.#defaultValue(to, prop));
    page.values = kept;
    this.#touch(page, editedTime);
  }

  /** Moves a row to the trash: queries stop returning it, retrieval shows in_trash. */
  trashPage(pageId, { editedTime } = {}) {
    const page = this.#mustGet(this.pages, pageId, "page");
    page.inTrash = true;
    this.#touch(page, editedTime);
  }

  /** Takes a row out of the trash. */
  restorePage(pageId, { editedTime } = {}) {
    const page = this.#mustGet(this.pages, pageId, "page");
    page.inTrash = false;
    this.#touch(page, editedTime);
  }

  /** Renames a property; its id stays. */
  renameProperty(dataSourceId, oldName, newName) {
    const ds = this.#mustGet(this.dataSources, dataSourceId, "data source");
    this.#mustProp(ds, oldName).name = newName;
    ds.editedMs = minuteFloor(this.now());
  }

  /** Adds a property (new id); existing rows get its empty value. Returns the id. */
  addProperty(dataSourceId, name, spec) {
    const ds = this.#mustGet(this.dataSources, dataSourceId, "data source");
    if (ds.props.some((p) => p.name === name)) throw new Error(`property ${name} exists`);
    const prop = this.#makeProperty(ds, name, spec);
    if (prop.type === "title") throw new Error("a data source has exactly one title property");
    ds.props.push(prop);
    for (const id of ds.pageIds) this.pages.get(id).values.set(prop.id, this.#defaultValue(ds, prop));
    ds.editedMs = minuteFloor(this.now());
    return prop.id;
  }

  /** Deletes a property and its values. */
  removeProperty(dataSourceId, name) {
    const ds = this.#mustGet(this.dataSources, dataSourceId, "data source");
    const prop = this.#mustProp(ds, name);
    if (prop.type === "title") throw new Error("the title property cannot be removed");
    ds.props = ds.props.filter((p) => p !== prop);
    for (const id of ds.pageIds) this.pages.get(id).values.delete(prop.id);
    ds.editedMs = minuteFloor(this.now());
  }

  /** Replaces "now" (ms since epoch or Date); null restores the real clock. */
  setClock(fn) {
    this.clock = fn ?? (() => Date.now());
  }

  /** The fake's current time in ms. */
  now() {
    return toMs(this.clock());
  }

  /**
   * Appends `result` as is to the data source's query results (on the last page): for results
   * the official API is not known to send, e.g. a page whose id is not a UUID.
   */
  addRawQueryResult(dataSourceId, result) {
    const ds = this.dataSources.get(normalizeId(dataSourceId)) ?? fail(`unknown data source ${dataSourceId}`);
    this.rawQueryResults.set(ds.id, [...(this.rawQueryResults.get(ds.id) ?? []), result]);
  }

  /** Replaces the token-bucket config ({requestsPerSecond, burst}) or turns it off (null). */
  setRateLimit(config) {
    this.rateLimit = config;
    this.buckets.clear();
  }

  /**
   * Makes the next matching request(s) fail.
   * @param {{status: number, code?: string, times?: number, retryAfter?: number|null,
   *   message?: string, body?: string, match?: string|RegExp}} failure
   *   match: a route key such as "POST /v1/data_sources/:id/query", or a RegExp tested on
   *   "METHOD /path"; body: a raw (non-JSON) body, e.g. an HTML 502 page.
   */
  failNext({ status, code, times = 1, retryAfter, message, body, match } = {}) {
    const finalCode = code ?? DEFAULT_CODES[status] ?? "internal_server_error";
    const wait = retryAfter === undefined && status === 429 ? 1 : retryAfter;
    this.failures.push({
      status, code: finalCode, times, retryAfter: wait, body, match,
      message: message ?? DEFAULT_MESSAGES[finalCode] ?? `Injected ${status}.`,
    });
  }

  /**
   * Expires every file URL signed so far: each answers 403 AccessDenied "Request has expired",
   * as Notion's do an hour after the read. Later reads sign fresh URLs that work.
   */
  expireFileUrls() {
    for (const issued of this.signatures.values()) issued.expiresMs = -Infinity;
  }

  /**
   * Replaces a Notion-hosted file the way a user re-uploading it in Notion does: the new
   * content gets a new object path (so a new URL), and the page (or the block holding it) is
   * edited. URLs signed for the old path keep serving the old bytes until they expire.
   * @param {string} urlOrKey a signed URL of the file (any read) or its key (see fileKey)
   * @param {{content?: string|Buffer, file?: string, contentType?: string}} replacement
   *   file: the new name (default: the old one)
   * @returns {string} the new key
   */
  replaceFile(urlOrKey, { content, file, contentType } = {}, { editedTime } = {}) {
    const key = this.fileKey(urlOrKey) ?? fail(`not a Notion-hosted file: ${urlOrKey}`);
    const owner = this.#fileOwner(key) ?? fail(`no page or block holds the file ${key}`);
    const fileName = file === undefined ? basename(key) : basename(file);
    const newKey = `${this.workspaceId}/${randomUUID()}/${encodeURIComponent(fileName)}`;
    const body = content === undefined ? defaultContent(fileName) : Buffer.from(content);
    this.files.set(newKey, { content: body, contentType: contentType ?? contentTypeFor(fileName) });
    owner.ref.key = newKey;
    if (file !== undefined) owner.ref.name = fileName;
    if (owner.block) owner.block.editedMs = minuteFloor(this.#ms(editedTime));
    this.#touch(owner.page, editedTime);
    return newKey;
  }

  /**
   * Makes one file answer `status` whatever its signature: 404 NoSuchKey (deleted from the
   * bucket), 403 AccessDenied, or a 5xx. Its page keeps listing it.
   */
  failFile(urlOrKey, status = 404) {
    const key = this.fileKey(urlOrKey) ?? fail(`not a Notion-hosted file: ${urlOrKey}`);
    if (!this.files.has(key)) fail(`unknown file ${key}`);
    this.fileFailures.set(key, status);
  }

  /** Undoes failFile. */
  restoreFile(urlOrKey) {
    this.fileFailures.delete(this.fileKey(urlOrKey));
  }

  /**
   * The object key of a Notion-hosted file from one of its signed URLs (or the key itself):
   * `<workspace>/<uuid>/<name>`, the same for every signature. Null for anything else.
   */
  fileKey(urlOrKey) {
    if (typeof urlOrKey !== "string") return null;
    const path = urlOrKey.startsWith(`${this.fileBaseUrl}/`) ? urlOrKey.slice(this.fileBaseUrl.length + 1) : urlOrKey;
    const key = path.split(/[?#]/u)[0];
    return this.files.has(key) ? key : null;
  }

  /** Every Notion-hosted file a page, cover, icon or block currently refers to. */
  hostedFiles() {
    const found = [];
    const visit = (ref, pageId, where) => {
      if (ref?.kind !== "file") return;
      const file = this.files.get(ref.key);
      found.push({ key: ref.key, name: ref.name, pageId, where, contentType: file.contentType, size: file.content.length });
    };
    for (const page of this.pages.values()) {
      visit(page.cover, page.id, "cover");
      visit(page.icon, page.id, "icon");
      const ds = this.dataSources.get(page.dataSourceId);
      for (const prop of ds.props.filter((p) => p.type === "files")) {
        for (const ref of page.values.get(prop.id) ?? []) visit(ref, page.id, prop.name);
      }
    }
    for (const block of this.#liveBlocks()) visit(block.content?.ref, block.pageId, block.type);
    return found;
  }

  /** Zeroes the counters and the request log (in place, so held references stay live). */
  resetStats() {
    Object.assign(this.stats, emptyStats());
    this.requests.length = 0;
  }

  // ---------------------------------------------------------------- HTTP plumbing

  async #onRequest(req, res) {
    try {
      await this.#serve(req, res);
    } catch (err) {
      // A dropped connection must not become an unhandled rejection in the test process.
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`fake Notion failed: ${err.message}`);
    }
  }

  async #serve(req, res) {
    const rawBody = await readBody(req);
    const url = new URL(req.url, "http://fake.invalid");
    if (url.pathname.startsWith(FILE_PREFIX)) {
      this.#serveFile(url, res);
      return;
    }
    const ctx = { method: req.method, url, headers: req.headers, rawBody, requestId: randomUUID() };
    const { status, payload, headers } = this.#answer(ctx);
    this.#record(ctx, status);
    const text = typeof payload === "string" ? payload : JSON.stringify(payload);
    res.writeHead(status, {
      "content-type": typeof payload === "string" ? "text/html" : "application/json; charset=utf-8",
      "x-notion-request-id": ctx.requestId,
      ...headers,
    });
    res.end(text);
  }

  #answer(ctx) {
    try {
      return { status: 200, payload: { ...this.#dispatch(ctx), request_id: ctx.requestId }, headers: {} };
    } catch (err) {
      const error = err instanceof ApiError ? err : new ApiError(500, "internal_server_error", `Fake Notion bug: ${err.stack}`);
      const payload = error.rawBody ?? {
        object: "error", status: error.status, code: error.code, message: error.message, request_id: ctx.requestId,
      };
      return { status: error.status, payload, headers: error.headers };
    }
  }

  #dispatch(ctx) {
    const match = matchRoute(ctx.method, ctx.url.pathname);
    ctx.route = match?.route ? `${match.route.method} ${match.route.pattern}` : `${ctx.method} (unknown)`;
    if (!match?.route) throw new ApiError(400, "invalid_request_url", "Invalid request URL.");
    this.#injectFailure(ctx);
    ctx.token = this.#authenticate(ctx.headers);
    ctx.version = checkVersion(ctx.headers);
    this.#takeToken(ctx.token);
    ctx.body = ctx.method === "POST" ? parseJsonBody(ctx.rawBody) : undefined;
    return this.#handle(match.route.handler, ctx, match.params);
  }

  #handle(handler, ctx, params) {
    switch (handler) {
      case "getDatabase": return this.#getDatabase(ctx, params);
      case "getDataSource": return this.#getDataSource(ctx, params);
      case "queryDataSource": return this.#queryDataSource(ctx, params);
      case "getPage": return this.#getPage(ctx, params);
      case "getPageProperty": return this.#getPageProperty(ctx, params);
      case "getBlock": return this.#getBlock(ctx, params);
      case "listBlockChildren": return this.#listBlockChildren(ctx, params);
      default: return this.#getSelf(ctx);
    }
  }

  #record(ctx, status) {
    this.stats.requests += 1;
    this.stats.byRoute[ctx.route] = (this.stats.byRoute[ctx.route] ?? 0) + 1;
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
    this.requests.push({
      method: ctx.method, path: ctx.url.pathname + ctx.url.search, route: ctx.route, status, at: Date.now(),
      token: ctx.token, version: ctx.version, body: ctx.body ?? (ctx.rawBody || undefined),
    });
  }

  #injectFailure(ctx) {
    const target = `${ctx.method} ${ctx.url.pathname}`;
    const index = this.failures.findIndex((f) => failureMatches(f.match, ctx.route, target));
    if (index < 0) return;
    const failure = this.failures[index];
    failure.times -= 1;
    if (failure.times <= 0) this.failures.splice(index, 1);
    this.stats.injected += 1;
    const headers = failure.retryAfter == null ? {} : { "retry-after": String(failure.retryAfter) };
    throw new ApiError(failure.status, failure.code, failure.message, { headers, rawBody: failure.body });
  }

  #authenticate(headers) {
    const match = /^Bearer (.+)$/.exec(headers.authorization ?? "");
    const integration = match && this.integrations.get(match[1]);
    if (!integration || integration.revoked) throw new ApiError(401, "unauthorized", "API token is invalid.");
    return match[1];
  }

  // A token bucket per integration token, on real time: the SDK sleeps in real time.
  #takeToken(token) {
    if (!this.rateLimit) return;
    const { requestsPerSecond: rate, burst } = this.rateLimit;
    const now = performance.now();
    const bucket = this.buckets.get(token) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(token, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    this.stats.rateLimited += 1;
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
    throw new ApiError(429, "rate_limited", DEFAULT_MESSAGES.rate_limited, {
      headers: { "retry-after": String(retryAfter) },
    });
  }

  #serveFile(url, res) {
    this.stats.fileDownloads += 1;
    const key = url.pathname.slice(FILE_PREFIX.length);
    const issued = this.signatures.get(url.searchParams.get("X-Amz-Signature") ?? "");
    const file = this.files.get(key);
    const forced = this.fileFailures.get(key);
    let problem = null;
    if (forced !== undefined) problem = [forced, ...(S3_ERRORS[forced] ?? S3_ERRORS[500])];
    else if (!issued || issued.key !== key || !file) problem = [403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."];
    else if (this.now() > issued.expiresMs) problem = [403, "AccessDenied", "Request has expired"];
    if (problem) {
      this.stats.fileFailures += 1;
      res.writeHead(problem[0], { "content-type": "application/xml" });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${problem[1]}</Code><Message>${problem[2]}</Message></Error>`);
      return;
    }
    res.writeHead(200, { "content-type": file.contentType, "content-length": file.content.length });
    res.end(file.content);
  }

  // ---------------------------------------------------------------- endpoints

  #getDatabase(ctx, params) {
    const id = pathId(params.id, "database_id");
    const db = this.databases.get(id);
    if (!db || !db.sharedWith.has(ctx.token)) throw notFound("database", id);
    return this.#renderDatabase(db, ctx.version);
  }

  #getDataSource(ctx, params) {
    const ds = this.#visibleDataSource(ctx.token, pathId(params.id, "data_source_id"));
    return this.#renderDataSource(ds, ctx.version);
  }

  #queryDataSource(ctx, params) {
    const ds = this.#visibleDataSource(ctx.token, pathId(params.id, "data_source_id"));
    const body = ctx.body;
    const pageSize = checkPageSize(body.page_size, "body");
    rejectTrashQueries(body);
    const cursor = this.#resolveQueryCursor(body.start_cursor, ds.id);
    const run = cursor?.run ?? this.#runQuery(ds, body);
    const offset = cursor?.offset ?? 0;
    const slice = run.ids.slice(offset, offset + pageSize);
    const end = offset + slice.length;
    const view = { version: ctx.version, onlyProps: filterProperties(ctx.url) };
    const raw = end >= run.ids.length ? this.rawQueryResults.get(ds.id) ?? [] : [];
    return {
      object: "list",
      results: [...slice.map((id) => this.#renderPage(this.pages.get(id), view)), ...structuredClone(raw)],
      next_cursor: end < run.ids.length ? this.#storeCursor({ run, offset: end, dataSourceId: ds.id }) : null,
      has_more: end < run.ids.length,
      type: "page_or_data_source",
      page_or_data_source: {},
      request_status: this.#requestStatus(run, offset, end),
    };
  }

  #getPage(ctx, params) {
    const page = this.#visiblePage(ctx.token, pathId(params.id, "page_id"));
    return this.#renderPage(page, { version: ctx.version, onlyProps: filterProperties(ctx.url) });
  }

  #getPageProperty(ctx, params) {
    const page = this.#visiblePage(ctx.token, pathId(params.id, "page_id"));
    const ds = this.dataSources.get(page.dataSourceId);
    const prop = ds.props.find((p) => sameId(p.id, params.property));
    if (!prop) throw new ApiError(404, "object_not_found", `Could not find property with ID: ${decodeURIComponent(params.property)}.`);
    const value = this.#renderValue(ds, page, prop, { version: ctx.version, full: true })[prop.type];
    if (!LIST_PROPERTY_TYPES.has(prop.type)) return { object: "property_item", id: prop.id, type: prop.type, [prop.type]: value };
    return this.#propertyItemList(ctx, page, prop, value);
  }

  #getBlock(ctx, params) {
    const id = pathId(params.id, "block_id");
    const page = this.pages.get(id);
    if (page) return this.#renderChildPageBlock(this.#visiblePage(ctx.token, id), ctx.version);
    return this.#renderBlock(this.#visibleBlock(ctx.token, id), ctx.version);
  }

  #listBlockChildren(ctx, params) {
    const id = pathId(params.id, "block_id");
    const parent = this.pages.has(id) ? this.#visiblePage(ctx.token, id) : this.#visibleBlock(ctx.token, id);
    const pageSize = checkPageSize(queryNumber(ctx.url, "page_size"), "query");
    const start = blockCursorIndex(ctx.url.searchParams.get("start_cursor"), parent.childIds);
    const ids = parent.childIds.slice(start, start + pageSize);
    const end = start + ids.length;
    return {
      object: "list",
      results: ids.map((childId) => this.#renderBlock(this.blocks.get(childId), ctx.version)),
      next_cursor: end < parent.childIds.length ? parent.childIds[end] : null,
      has_more: end < parent.childIds.length,
      type: "block",
      block: {},
    };
  }

  #getSelf(ctx) {
    return {
      object: "user", id: this.integrations.get(ctx.token).botId, name: "Fake integration", avatar_url: null,
      type: "bot", bot: { owner: { type: "workspace", workspace: true }, workspace_name: "Fake workspace" },
    };
  }

  // ---------------------------------------------------------------- access

  #visibleDataSource(token, id) {
    const ds = this.dataSources.get(id);
    if (!ds || !this.databases.get(ds.databaseId).sharedWith.has(token)) throw notFound("data_source", id);
    return ds;
  }

  #visiblePage(token, id) {
    const page = this.pages.get(id);
    if (!page || !this.#pageShared(page, token)) throw notFound("page", id);
    return page;
  }

  #visibleBlock(token, id) {
    const block = this.blocks.get(id);
    if (!block || !this.#pageShared(this.pages.get(block.pageId), token)) throw notFound("block", id);
    return block;
  }

  #pageShared(page, token) {
    const ds = this.dataSources.get(page.dataSourceId);
    return this.databases.get(ds.databaseId).sharedWith.has(token);
  }

  // ---------------------------------------------------------------- queries

  #runQuery(ds, body) {
    if (body.result_type === "data_source") return { ids: [], capped: false };
    const matches = compileFilter(body.filter, ds);
    const order = compileSorts(body.sorts, ds);
    const rows = ds.pageIds.map((id) => this.pages.get(id)).filter((p) => !p.inTrash && matches(p));
    rows.sort(order);
    const capped = rows.length > this.queryResultLimit;
    return { ids: rows.slice(0, this.queryResultLimit).map((p) => p.id), capped };
  }

  #resolveQueryCursor(startCursor, dataSourceId) {
    if (startCursor === undefined || startCursor === null) return null;
    if (typeof startCursor !== "string") {
      throw validation(`body failed validation: body.start_cursor should be a string or \`undefined\`, instead was \`${JSON.stringify(startCursor)}\`.`);
    }
    const cursor = this.cursors.get(startCursor);
    if (!cursor || cursor.dataSourceId !== dataSourceId) throw validation(`The start_cursor provided is invalid: ${startCursor}`);
    return cursor;
  }

  #storeCursor(cursor) {
    const id = randomUUID();
    this.cursors.set(id, cursor);
    if (this.cursors.size > CURSOR_CAPACITY) this.cursors.delete(this.cursors.keys().next().value);
    return id;
  }

  #requestStatus(run, offset, end) {
    if (!run.capped) return { type: "complete" };
    const last = end >= run.ids.length;
    const flagged = this.limitSignal === "all" || (this.limitSignal === "first" ? offset === 0 : last);
    return flagged ? { type: "incomplete", incomplete_reason: "query_result_limit_reached" } : { type: "complete" };
  }

  #propertyItemList(ctx, page, prop, items) {
    const pageSize = checkPageSize(queryNumber(ctx.url, "page_size"), "query");
    const raw = ctx.url.searchParams.get("start_cursor");
    const start = raw === null ? 0 : Number.parseInt(Buffer.from(raw, "base64url").toString(), 10);
    if (!Number.isInteger(start) || start < 0 || start > items.length) throw validation(`The start_cursor provided is invalid: ${raw}`);
    const end = Math.min(items.length, start + pageSize);
    const nextCursor = end < items.length ? Buffer.from(String(end)).toString("base64url") : null;
    return {
      object: "list",
      results: items.slice(start, end).map((item) => ({ object: "property_item", id: prop.id, type: prop.type, [prop.type]: item })),
      next_cursor: nextCursor,
      has_more: nextCursor !== null,
      type: "property_item",
      property_item: {
        id: prop.id, type: prop.type, [prop.type]: {},
        next_url: nextCursor && `${this.url}/v1/pages/${page.id}/properties/${prop.id}?start_cursor=${nextCursor}`,
      },
    };
  }

  // ---------------------------------------------------------------- rendering

  #renderDatabase(db, version) {
    return withArchived({
      object: "database", id: db.id, title: richText(db.title), description: [],
      parent: { type: "workspace", workspace: true }, is_inline: false, in_trash: false, is_locked: false,
      created_time: iso(db.createdMs), last_edited_time: iso(db.editedMs),
      data_sources: db.dataSourceIds.map((id) => ({ id, name: this.dataSources.get(id).title })),
      icon: null, cover: null, url: `https://www.notion.so/${db.id.replaceAll("-", "")}`, public_url: null,
    }, false, version);
  }

  #renderDataSource(ds, version) {
    const user = { object: "user", id: this.personId };
    return withArchived({
      object: "data_source", id: ds.id, title: richText(ds.title), description: [],
      parent: { type: "database_id", database_id: ds.databaseId },
      database_parent: { type: "workspace", workspace: true }, is_inline: false, in_trash: false,
      created_time: iso(ds.createdMs), last_edited_time: iso(ds.editedMs), created_by: user, last_edited_by: user,
      properties: Object.fromEntries(ds.props.map((p) => [p.name, renderSchemaProperty(p)])),
      icon: null, cover: null, url: `https://www.notion.so/${ds.databaseId.replaceAll("-", "")}`, public_url: null,
    }, false, version);
  }

  #renderPage(page, { version, onlyProps = null }) {
    const ds = this.dataSources.get(page.dataSourceId);
    const user = { object: "user", id: this.personId };
    const props = ds.props.filter((p) => !onlyProps || onlyProps.some((v) => sameId(p.id, v)));
    return withArchived({
      object: "page", id: page.id, created_time: iso(page.createdMs), last_edited_time: iso(page.editedMs),
      created_by: user, last_edited_by: user,
      cover: page.cover && this.#renderFile(page.cover),
      icon: page.icon && (page.icon.kind === "emoji" ? { type: "emoji", emoji: page.icon.emoji } : this.#renderFile(page.icon)),
      parent: { type: "data_source_id", data_source_id: ds.id, database_id: ds.databaseId },
      in_trash: page.inTrash, is_archived: false, is_locked: false,
      properties: Object.fromEntries(props.map((p) => [p.name, this.#renderValue(ds, page, p, { full: false })])),
      url: pageUrl(this.#plainTitle(ds, page), page.id), public_url: null,
    }, page.inTrash, version);
  }

  // `full` is false in page objects: Notion cuts reference lists there at 25 items.
  #renderValue(ds, page, prop, { full }) {
    const value = page.values.get(prop.id);
    const cut = (list) => (full ? list : list.slice(0, REFERENCE_LIMIT));
    const rendered = { id: prop.id, type: prop.type };
    switch (prop.type) {
      case "title":
      case "rich_text":
        rendered[prop.type] = cut(value);
        break;
      case "relation":
        rendered.relation = cut(value).map((id) => ({ id }));
        rendered.has_more = !full && value.length > REFERENCE_LIMIT;
        break;
      case "people":
        rendered.people = cut(value).map((id) => ({ object: "user", id }));
        break;
      case "select":
      case "status":
        rendered[prop.type] = value === null ? null : partialOption(prop.options.find((o) => o.id === value));
        break;
      case "multi_select":
        rendered.multi_select = value.map((id) => partialOption(prop.options.find((o) => o.id === id)));
        break;
      case "files":
        rendered.files = value.map((ref) => ({ name: ref.name, ...this.#renderFile(ref) }));
        break;
      case "unique_id":
        rendered.unique_id = { prefix: prop.prefix, number: value };
        break;
      case "created_time":
        rendered.created_time = iso(page.createdMs);
        break;
      case "last_edited_time":
        rendered.last_edited_time = iso(page.editedMs);
        break;
      case "created_by":
      case "last_edited_by":
        rendered[prop.type] = { object: "user", id: this.personId };
        break;
      default:
        rendered[prop.type] = structuredClone(value);
    }
    return rendered;
  }

  #renderBlock(block, version) {
    const content = MEDIA_TYPES.has(block.type) ? this.#renderMedia(block.content) : structuredClone(block.content);
    return withArchived({
      object: "block", id: block.id, parent: { type: block.parent.type, [block.parent.type]: block.parent.id },
      created_time: iso(block.createdMs), last_edited_time: iso(block.editedMs),
      created_by: { object: "user", id: this.personId }, last_edited_by: { object: "user", id: this.personId },
      has_children: block.childIds.length > 0, in_trash: false, type: block.type, [block.type]: content,
    }, false, version);
  }

  #renderChildPageBlock(page, version) {
    const ds = this.dataSources.get(page.dataSourceId);
    return withArchived({
      object: "block", id: page.id, parent: { type: "data_source_id", data_source_id: ds.id, database_id: ds.databaseId },
      created_time: iso(page.createdMs), last_edited_time: iso(page.editedMs),
      created_by: { object: "user", id: this.personId }, last_edited_by: { object: "user", id: this.personId },
      has_children: page.childIds.length > 0, in_trash: page.inTrash, type: "child_page",
      child_page: { title: this.#plainTitle(ds, page) },
    }, page.inTrash, version);
  }

  #renderMedia(content) {
    const rendered = { caption: structuredClone(content.caption), ...this.#renderFile(content.ref) };
    if (content.name !== undefined) rendered.name = content.name;
    return rendered;
  }

  // Notion-hosted files get a freshly signed URL on every read; external ones never change.
  #renderFile(ref) {
    if (ref.kind === "external") return { type: "external", external: { url: ref.url } };
    const now = this.now();
    const amzDate = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    this.signCount += 1;
    const signature = createHmac("sha256", this.signingKey).update(`${ref.key}\n${amzDate}\n${this.signCount}`).digest("hex");
    this.signatures.set(signature, { key: ref.key, expiresMs: now + FILE_URL_LIFETIME_MS });
    const query = new URLSearchParams({
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
      "X-Amz-Credential": `ASIAFAKENOTIONFILES/${amzDate.slice(0, 8)}/us-west-2/s3/aws4_request`,
      "X-Amz-Date": amzDate,
      "X-Amz-Expires": "3600",
      "X-Amz-Signature": signature,
      "X-Amz-SignedHeaders": "host",
      "x-id": "GetObject",
    });
    return { type: "file", file: { url: `${this.fileBaseUrl}/${ref.key}?${query}`, expiry_time: iso(now + FILE_URL_LIFETIME_MS) } };
  }

  #plainTitle(ds, page) {
    const titleProp = ds.props.find((p) => p.type === "title");
    return page.values.get(titleProp.id).map((t) => t.plain_text).join("");
  }

  // ---------------------------------------------------------------- model building

  #makeProperty(ds, name, spec) {
    const type = spec.type;
    const prop = { id: type === "title" ? "title" : this.#newPropertyId(ds), name, type, spec };
    if (type === "select" || type === "multi_select") prop.options = (spec.options ?? []).map(makeOption);
    if (type === "status") Object.assign(prop, makeStatusConfig(spec.options));
    if (type === "unique_id") Object.assign(prop, { prefix: spec.prefix ?? null, next: 1 });
    if (type === "relation") {
      const target = spec.dataSourceId === undefined ? ds : this.#mustGet(this.dataSources, spec.dataSourceId, "data source");
      Object.assign(prop, { relationDataSourceId: target.id, relationDatabaseId: target.databaseId });
      // A two-way relation: Notion adds the synced property to the related data source, and
      // keeps both sides in step (see #assignValues).
      if (spec.syncedPropertyName !== undefined) {
        if (target === ds) throw new Error("the fake has no two-way relation of a data source to itself");
        if (target.props.some((p) => p.name === spec.syncedPropertyName)) throw new Error(`property ${spec.syncedPropertyName} exists`);
        const synced = {
          id: this.#newPropertyId(target), name: spec.syncedPropertyName, type: "relation", spec: { type: "relation" },
          relationDataSourceId: ds.id, relationDatabaseId: ds.databaseId, dual: { propId: prop.id, dataSourceId: ds.id, name },
        };
        prop.dual = { propId: synced.id, dataSourceId: target.id, name: synced.name };
        target.props.push(synced);
        for (const id of target.pageIds) this.pages.get(id).values.set(synced.id, []);
      }
    }
    return prop;
  }

  #newPropertyId(ds) {
    for (;;) {
      const raw = Array.from(randomBytes(4), (b) => PROPERTY_ID_CHARS[b % PROPERTY_ID_CHARS.length]).join("");
      const id = encodeURIComponent(raw);
      if (!ds.props.some((p) => p.id === id)) return id;
    }
  }

  #defaultValue(ds, prop) {
    switch (prop.type) {
      case "title": case "rich_text": case "multi_select": case "files": case "relation": case "people":
        return [];
      case "checkbox":
        return false;
      case "status":
        return prop.defaultOptionId;
      case "unique_id":
        return prop.next++;
      case "formula":
        return { type: "string", string: null };
      case "rollup":
        return { type: "number", number: null, function: prop.spec.function ?? "count" };
      default:
        return null;
    }
  }

  #assignValues(ds, page, properties) {
    for (const [name, input] of Object.entries(properties)) {
      const prop = this.#mustProp(ds, name);
      if (READ_ONLY_TYPES.has(prop.type)) throw new Error(`${name} (${prop.type}) is computed by Notion`);
      const raw = isPlainObject(input) && Object.hasOwn(input, prop.type) ? input[prop.type] : input;
      const before = page.values.get(prop.id) ?? [];
      page.values.set(prop.id, this.#toInternal(prop, raw));
      if (prop.dual) this.#syncOtherSide(page, prop, before);
    }
  }

  // The other side of a two-way relation follows an edit of this side, as in Notion: related
  // pages gain or lose this page in the synced property, and their last_edited_time stays.
  #syncOtherSide(page, prop, before) {
    const now = page.values.get(prop.id);
    for (const id of now.filter((x) => !before.includes(x))) {
      const other = this.pages.get(id);
      const list = other?.values.get(prop.dual.propId);
      if (list && !list.includes(page.id)) list.push(page.id);
    }
    for (const id of before.filter((x) => !now.includes(x))) {
      const other = this.pages.get(id);
      const list = other?.values.get(prop.dual.propId);
      if (list) other.values.set(prop.dual.propId, list.filter((x) => x !== page.id));
    }
  }

  #toInternal(prop, input) {
    switch (prop.type) {
      case "title": case "rich_text": return richText(input ?? []);
      case "select": return input == null ? null : optionFor(prop, input, true).id;
      case "status": return input == null ? null : optionFor(prop, input, false).id;
      case "multi_select": return (input ?? []).map((name) => optionFor(prop, name, true).id);
      case "date": return toDate(input);
      case "checkbox": return Boolean(input);
      case "files": return [input ?? []].flat().map((f) => this.#fileRef(f));
      case "relation": return (input ?? []).map((id) => normalizeId(id) ?? fail(`bad relation id ${id}`));
      case "people": return input ?? [];
      case "formula": return toFormula(input);
      case "unique_id": return input;
      default: return input ?? null;
    }
  }

  #fileRef(input) {
    if (typeof input === "string") return /^https?:/.test(input) ? { kind: "external", url: input, name: basename(input) } : this.#fileRef({ file: input });
    if (input.external !== undefined) return { kind: "external", url: input.external, name: input.name ?? basename(input.external) };
    const fileName = basename(input.file);
    const key = `${this.workspaceId}/${randomUUID()}/${encodeURIComponent(fileName)}`;
    const content = input.content === undefined ? defaultContent(fileName) : Buffer.from(input.content);
    this.files.set(key, { content, contentType: input.contentType ?? contentTypeFor(fileName) });
    return { kind: "file", key, name: input.name ?? fileName };
  }

  #iconRef(icon) {
    if (icon === undefined || icon === null) return null;
    if (typeof icon === "string" && !/^https?:/.test(icon)) return { kind: "emoji", emoji: icon };
    return this.#fileRef(icon);
  }

  #addBlocks(inputs, parent, page) {
    return inputs.map((input) => {
      const { type, raw, children } = splitBlockInput(input);
      const block = {
        id: randomUUID(), parent, pageId: page.id, type, createdMs: page.createdMs, editedMs: page.editedMs,
        content: this.#blockContent(type, raw), childIds: [],
      };
      this.blocks.set(block.id, block);
      block.childIds = this.#addBlocks(children, { type: "block_id", id: block.id }, page);
      return block.id;
    });
  }

  #blockContent(type, raw) {
    if (MEDIA_TYPES.has(type)) {
      const ref = this.#fileRef(typeof raw === "string" || raw.file !== undefined || raw.external !== undefined ? raw : fail(`${type} needs file or external`));
      const content = { ref, caption: richText(raw.caption ?? []) };
      if (type === "file") content.name = raw.name ?? ref.name;
      return content;
    }
    if (RICH_TEXT_TYPES.has(type)) return textBlockContent(type, raw);
    if (type === "table_row") return { cells: raw.cells.map((cell) => richText(cell)) };
    if (type === "bookmark" || type === "embed") return { url: raw.url ?? raw, caption: richText(raw.caption ?? []) };
    return structuredClone(raw ?? {});
  }

  // Blocks some page's body still holds (setChildren leaves the replaced ones behind).
  *#liveBlocks() {
    const pending = [...this.pages.values()].flatMap((page) => page.childIds);
    while (pending.length > 0) {
      const block = this.blocks.get(pending.pop());
      yield block;
      pending.push(...block.childIds);
    }
  }

  // The page (and block, for a media block) whose file reference has this key.
  #fileOwner(key) {
    const holds = (ref) => ref?.kind === "file" && ref.key === key;
    for (const page of this.pages.values()) {
      const ds = this.dataSources.get(page.dataSourceId);
      const inFiles = ds.props
        .filter((p) => p.type === "files")
        .flatMap((p) => page.values.get(p.id) ?? [])
        .find(holds);
      const ref = [page.cover, page.icon].find(holds) ?? inFiles;
      if (ref) return { ref, page };
    }
    for (const block of this.#liveBlocks()) {
      if (holds(block.content?.ref)) return { ref: block.content.ref, page: this.pages.get(block.pageId), block };
    }
    return null;
  }

  #touch(page, editedTime) {
    page.editedMs = minuteFloor(editedTime === undefined ? this.now() : this.#ms(editedTime));
  }

  #ms(value) {
    return value === undefined ? this.now() : toMs(value);
  }

  #mustGet(map, id, what) {
    const item = map.get(normalizeId(id) ?? "");
    if (!item) throw new Error(`no ${what} ${id}`);
    return item;
  }

  #mustProp(ds, name) {
    const prop = ds.props.find((p) => p.name === name);
    if (!prop) throw new Error(`no property ${name} in data source ${ds.id}`);
    return prop;
  }
}

// ------------------------------------------------------------------ filters and sorts

/** Compiles a query filter into a predicate over pages; throws validation_error like Notion. */
function compileFilter(filter, ds) {
  if (filter === undefined || filter === null) return () => true;
  if (!isPlainObject(filter)) throw validation("body failed validation: body.filter should be an object.");
  if (Array.isArray(filter.and)) return every(filter.and.map((f) => compileFilter(f, ds)));
  if (Array.isArray(filter.or)) {
    const parts = filter.or.map((f) => compileFilter(f, ds));
    return (page) => parts.some((p) => p(page));
  }
  if (filter.timestamp !== undefined) return compileTimestampFilter(filter);
  if (filter.property !== undefined) return compilePropertyFilter(filter, ds);
  throw validation("body failed validation: body.filter should be a property filter, a timestamp filter or a compound filter.");
}

function every(parts) {
  return (page) => parts.every((p) => p(page));
}

function compileTimestampFilter(filter) {
  const field = filter.timestamp;
  if (field !== "created_time" && field !== "last_edited_time") {
    throw validation(`body failed validation: body.filter.timestamp should be \`"created_time"\` or \`"last_edited_time"\`, instead was \`${JSON.stringify(field)}\`.`);
  }
  const test = dateCondition(filter[field], `body.filter.${field}`);
  return (page) => test(field === "created_time" ? page.createdMs : page.editedMs);
}

function compilePropertyFilter(filter, ds) {
  const prop = ds.props.find((p) => p.name === filter.property || sameId(p.id, filter.property));
  if (!prop) throw validation(`Could not find property with name or id: ${filter.property}`);
  const kind = Object.keys(filter).find((k) => k !== "property" && k !== "type");
  if (kind !== prop.type) throw validation(`database property ${prop.type} does not match filter ${kind}`);
  const test = propertyCondition(prop, filter[kind], `body.filter.${kind}`);
  return (page) => test(comparableValue(prop, page));
}

/** The comparable form of a value for filters and sorts. */
function comparableValue(prop, page) {
  const value = page.values.get(prop.id);
  switch (prop.type) {
    case "title": case "rich_text": return value.map((t) => t.plain_text).join("");
    case "select": case "status": return value === null ? null : prop.options.find((o) => o.id === value).name;
    case "multi_select": return value.map((id) => prop.options.find((o) => o.id === id).name);
    case "date": return value === null ? null : Date.parse(value.start.length === 10 ? `${value.start}T00:00:00Z` : value.start);
    case "created_time": return page.createdMs;
    case "last_edited_time": return page.editedMs;
    default: return value;
  }
}

function propertyCondition(prop, condition, where) {
  if (!isPlainObject(condition)) throw validation(`body failed validation: ${where} should be an object.`);
  const [op, operand] = Object.entries(condition)[0] ?? [];
  const empty = emptinessTest(op);
  switch (prop.type) {
    case "checkbox": return equalityTest(op, operand, where, (v, x) => v === x);
    case "select": case "status": return empty ?? equalityTest(op, operand, where, (v, x) => [x].flat().includes(v));
    case "multi_select": return empty ?? membershipTest(op, operand, where);
    case "relation": case "people": return empty ?? membershipTest(op, normalizeId(operand) ?? operand, where);
    case "files": return empty ?? fail(unsupported(`the files filter ${op}`));
    case "title": case "rich_text": case "url": case "email": case "phone_number": return empty ?? textTest(op, operand, where);
    case "number": case "unique_id": return empty ?? numberTest(op, operand, where);
    case "date": case "created_time": case "last_edited_time": return dateCondition(condition, where);
    default: throw unsupported(`filters on ${prop.type} properties`);
  }
}

function emptinessTest(op) {
  const isEmpty = (v) => v === null || v === "" || (Array.isArray(v) && v.length === 0);
  if (op === "is_empty") return isEmpty;
  if (op === "is_not_empty") return (v) => !isEmpty(v);
  return undefined;
}

function equalityTest(op, operand, where, same) {
  if (op === "equals") return (v) => same(v, operand);
  if (op === "does_not_equal") return (v) => !same(v, operand);
  throw validation(`body failed validation: ${where}.${op} is not a supported condition.`);
}

function membershipTest(op, operand, where) {
  if (op === "contains") return (v) => v.includes(operand);
  if (op === "does_not_contain") return (v) => !v.includes(operand);
  throw validation(`body failed validation: ${where}.${op} is not a supported condition.`);
}

function textTest(op, operand, where) {
  const lower = String(operand).toLowerCase();
  const tests = {
    equals: (v) => (v ?? "") === operand,
    does_not_equal: (v) => (v ?? "") !== operand,
    contains: (v) => (v ?? "").toLowerCase().includes(lower),
    does_not_contain: (v) => !(v ?? "").toLowerCase().includes(lower),
    starts_with: (v) => (v ?? "").toLowerCase().startsWith(lower),
    ends_with: (v) => (v ?? "").toLowerCase().endsWith(lower),
  };
  return tests[op] ?? fail(validation(`body failed validation: ${where}.${op} is not a supported condition.`));
}

function numberTest(op, operand, where) {
  const tests = {
    equals: (v) => v === operand,
    does_not_equal: (v) => v !== operand,
    greater_than: (v) => v !== null && v > operand,
    less_than: (v) => v !== null && v < operand,
    greater_than_or_equal_to: (v) => v !== null && v >= operand,
    less_than_or_equal_to: (v) => v !== null && v <= operand,
  };
  return tests[op] ?? fail(validation(`body failed validation: ${where}.${op} is not a supported condition.`));
}

/**
 * A date condition over ms timestamps. A date-only operand compares whole UTC days
 * ("after 2024-01-01" starts at 2024-01-02); a date-time operand compares instants.
 */
function dateCondition(condition, where) {
  if (!isPlainObject(condition)) throw validation(`body failed validation: ${where} should be an object.`);
  const [op, operand] = Object.entries(condition)[0] ?? [];
  const empty = emptinessTest(op);
  if (empty) return empty;
  if (typeof operand !== "string") throw unsupported(`the date condition ${where}.${op} (relative dates)`);
  const { from, to } = dateOperandRange(operand, `${where}.${op}`);
  const tests = {
    equals: (t) => t >= from && t < to,
    before: (t) => t < from,
    after: (t) => t >= to,
    on_or_before: (t) => t < to,
    on_or_after: (t) => t >= from,
  };
  const test = tests[op] ?? fail(unsupported(`the date condition ${where}.${op}`));
  return (t) => t !== null && test(t);
}

function dateOperandRange(operand, where) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(operand)) {
    const from = Date.parse(`${operand}T00:00:00Z`);
    return { from, to: from + DAY_MS };
  }
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(operand);
  const from = Date.parse(hasZone ? operand : `${operand}Z`);
  if (Number.isNaN(from)) {
    throw validation(`body failed validation: ${where} should be a valid ISO 8601 date string, instead was \`${JSON.stringify(operand)}\`.`);
  }
  return { from, to: from + 1 };
}

/** Compiles `sorts` into a comparator; empty values sort last either way. */
function compileSorts(sorts, ds) {
  if (sorts === undefined) return (a, b) => b.seq - a.seq;
  if (!Array.isArray(sorts)) throw validation("body failed validation: body.sorts should be an array.");
  const keys = sorts.map((sort, i) => sortKey(sort, ds, i));
  return (a, b) => {
    for (const { get, direction } of keys) {
      const order = compareValues(get(a), get(b), direction);
      if (order !== 0) return order;
    }
    return a.seq - b.seq;
  };
}

function sortKey(sort, ds, index) {
  const direction = sort?.direction === "descending" ? -1 : 1;
  if (sort?.direction !== "ascending" && sort?.direction !== "descending") {
    throw validation(`body failed validation: body.sorts[${index}].direction should be \`"ascending"\` or \`"descending"\`.`);
  }
  if (sort.timestamp === "created_time") return { get: (p) => p.createdMs, direction };
  if (sort.timestamp === "last_edited_time") return { get: (p) => p.editedMs, direction };
  const prop = ds.props.find((p) => p.name === sort.property || sameId(p.id, sort.property));
  if (!prop) throw validation(`Could not find sort property with name or id: ${sort.property ?? sort.timestamp}`);
  const rank = (name) => prop.options.findIndex((o) => o.name === name);
  if (prop.type === "select" || prop.type === "status") return { get: (p) => nullIfNegative(rank(comparableValue(prop, p))), direction };
  if (prop.type === "multi_select") return { get: (p) => nullIfNegative(rank(comparableValue(prop, p)[0])), direction };
  return { get: (p) => emptyToNull(comparableValue(prop, p)), direction };
}

function compareValues(a, b, direction) {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (a === b) return 0;
  return (a < b ? -1 : 1) * direction;
}

// ------------------------------------------------------------------ request helpers

function matchRoute(method, pathname) {
  const parts = pathname.split("/");
  let pathMatch = null;
  for (const route of ROUTES) {
    const params = matchParts(route.parts, parts);
    if (!params) continue;
    if (route.method === method) return { route, params };
    pathMatch = { route: null, params };
  }
  return pathMatch;
}

function matchParts(pattern, parts) {
  if (pattern.length !== parts.length) return null;
  const params = {};
  for (let i = 0; i < pattern.length; i += 1) {
    if (pattern[i].startsWith(":")) {
      if (parts[i] === "") return null;
      params[pattern[i].slice(1)] = parts[i];
    } else if (pattern[i] !== parts[i]) {
      return null;
    }
  }
  return params;
}

function failureMatches(match, route, target) {
  if (match === undefined) return true;
  if (match instanceof RegExp) return match.test(target);
  return match === route || match === target;
}

function checkVersion(headers) {
  const version = headers["notion-version"];
  if (version === undefined) {
    throw new ApiError(400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.");
  }
  if (!SUPPORTED_VERSIONS.includes(version)) {
    throw validation(`Notion-Version header failed validation: this fake answers ${SUPPORTED_VERSIONS.join(" and ")}, instead was \`${JSON.stringify(version)}\`.`);
  }
  return version;
}

function parseJsonBody(raw) {
  if (raw === "") return {};
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiError(400, "invalid_json", "Error parsing JSON body.");
  }
  if (!isPlainObject(body)) throw validation(`body failed validation: body should be an object, instead was \`${raw.slice(0, 80)}\`.`);
  return body;
}

function pathId(raw, name) {
  const id = normalizeId(decodeURIComponent(raw));
  if (!id) throw validation(`path failed validation: path.${name} should be a valid uuid, instead was \`${JSON.stringify(decodeURIComponent(raw))}\`.`);
  return id;
}

function checkPageSize(value, where) {
  if (value === undefined) return MAX_PAGE_SIZE;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw validation(`${where} failed validation: ${where}.page_size should be a number or \`undefined\`, instead was \`${JSON.stringify(value)}\`.`);
  }
  if (value > MAX_PAGE_SIZE) throw validation(`${where} failed validation: ${where}.page_size should be ≤ \`${MAX_PAGE_SIZE}\`, instead was \`${value}\`.`);
  if (value < 1) throw validation(`${where} failed validation: ${where}.page_size should be ≥ \`1\`, instead was \`${value}\`.`);
  return value;
}

function queryNumber(url, name) {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

function blockCursorIndex(raw, childIds) {
  if (raw === null || raw === "") return 0;
  const index = childIds.indexOf(normalizeId(raw) ?? "");
  if (index < 0) throw validation(`The start_cursor provided is invalid: ${raw}`);
  return index;
}

function filterProperties(url) {
  const ids = url.searchParams.getAll("filter_properties");
  return ids.length === 0 ? null : ids;
}

function rejectTrashQueries(body) {
  if (body.in_trash === true || body.archived === true) throw unsupported("querying trashed rows (in_trash/archived: true)");
  if (body.result_type !== undefined && body.result_type !== "page" && body.result_type !== "data_source") {
    throw validation(`body failed validation: body.result_type should be \`"page"\` or \`"data_source"\`, instead was \`${JSON.stringify(body.result_type)}\`.`);
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// ------------------------------------------------------------------ value helpers

function emptyStats() {
  return { requests: 0, byRoute: {}, byStatus: {}, rateLimited: 0, injected: 0, fileDownloads: 0, fileFailures: 0 };
}

/** Canonical dashed lowercase UUID, or null when `raw` is not a 32-hex id. */
export function normalizeId(raw) {
  if (typeof raw !== "string") return null;
  const hex = raw.replaceAll("-", "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function sameId(stored, given) {
  if (typeof given !== "string") return false;
  return stored === given || safeDecode(stored) === safeDecode(given);
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function toMs(value) {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${value}`);
  return ms;
}

function minuteFloor(ms) {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function iso(ms) {
  return new Date(ms).toISOString();
}

function fail(error) {
  throw error instanceof Error ? error : new Error(error);
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nullIfNegative(n) {
  return n < 0 ? null : n;
}

function emptyToNull(value) {
  if (value === "" || (Array.isArray(value) && value.length === 0)) return null;
  return value;
}

function withArchived(object, inTrash, version) {
  // 2026-03-11 dropped the deprecated `archived` alias of `in_trash`.
  if (version < "2026-03-11") object.archived = inTrash;
  return object;
}

/** Rich text items from a string (split at Notion's 2,000-character limit) or segments. */
export function richText(input) {
  if (typeof input === "string") {
    const chunks = input.match(/[\s\S]{1,2000}/g) ?? [];
    return chunks.map((content) => textItem({ text: content }));
  }
  return input.map((item) => {
    if (typeof item === "string") return textItem({ text: item });
    if (item.plain_text !== undefined) return structuredClone(item);
    if (item.equation !== undefined) return equationItem(item);
    return textItem(item);
  });
}

function textItem({ text, link = null, ...style }) {
  return {
    type: "text",
    text: { content: text, link: link === null ? null : { url: link } },
    annotations: annotations(style),
    plain_text: text,
    href: link,
  };
}

function equationItem({ equation, ...style }) {
  return { type: "equation", equation: { expression: equation }, annotations: annotations(style), plain_text: equation, href: null };
}

function annotations({ bold = false, italic = false, strikethrough = false, underline = false, code = false, color = "default" }) {
  return { bold, italic, strikethrough, underline, code, color };
}

function makeOption(input, index) {
  const spec = typeof input === "string" ? { name: input } : input;
  return { id: randomUUID(), name: spec.name, color: spec.color ?? COLORS[index % COLORS.length], description: spec.description ?? null };
}

function makeStatusConfig(inputs = ["Not started", "In progress", "Done"]) {
  const options = inputs.map(makeOption);
  const groupOf = (input, i) => (typeof input === "object" && input.group) || (i === 0 ? "To-do" : i === inputs.length - 1 ? "Complete" : "In progress");
  const groups = [["To-do", "gray"], ["In progress", "blue"], ["Complete", "green"]].map(([name, color]) => ({
    id: randomUUID(), name, color, option_ids: options.filter((_, i) => groupOf(inputs[i], i) === name).map((o) => o.id),
  }));
  return { options, groups, defaultOptionId: groups[0].option_ids[0] ?? options[0]?.id ?? null };
}

function optionFor(prop, input, create) {
  const name = typeof input === "string" ? input : input.name;
  const found = prop.options.find((o) => o.name === name);
  if (found) return found;
  if (!create) throw new Error(`${prop.name} has no option ${name}`);
  // Writing an unknown select name makes Notion add the option to the schema.
  const option = makeOption(input, prop.options.length);
  prop.options.push(option);
  return option;
}

function partialOption(option) {
  return { id: option.id, name: option.name, color: option.color };
}

function renderSchemaProperty(prop) {
  return { id: prop.id, name: prop.name, description: null, type: prop.type, [prop.type]: schemaConfig(prop) };
}

function schemaConfig(prop) {
  const spec = prop.spec;
  switch (prop.type) {
    case "number": return { format: spec.format ?? "number" };
    case "select": case "multi_select": return { options: prop.options.map((o) => ({ ...o })) };
    case "status": return { options: prop.options.map((o) => ({ ...o })), groups: structuredClone(prop.groups) };
    case "formula": return { expression: spec.expression ?? "" };
    case "unique_id": return { prefix: prop.prefix };
    case "relation": return prop.dual
      ? {
        database_id: prop.relationDatabaseId, data_source_id: prop.relationDataSourceId, type: "dual_property",
        dual_property: { synced_property_id: prop.dual.propId, synced_property_name: prop.dual.name },
      }
      : { database_id: prop.relationDatabaseId, data_source_id: prop.relationDataSourceId, type: "single_property", single_property: {} };
    case "rollup": return {
      function: spec.function ?? "count", relation_property_name: spec.relationPropertyName ?? "",
      relation_property_id: spec.relationPropertyId ?? "", rollup_property_name: spec.rollupPropertyName ?? "",
      rollup_property_id: spec.rollupPropertyId ?? "",
    };
    default: return {};
  }
}

function toDate(input) {
  if (input === null || input === undefined) return null;
  if (typeof input === "string") return { start: input, end: null, time_zone: null };
  return { start: input.start, end: input.end ?? null, time_zone: input.time_zone ?? null };
}

function toFormula(input) {
  if (isPlainObject(input) && typeof input.type === "string") return structuredClone(input);
  if (typeof input === "number") return { type: "number", number: input };
  if (typeof input === "boolean") return { type: "boolean", boolean: input };
  return { type: "string", string: input ?? null };
}

function splitBlockInput(input) {
  const type = input.type ?? Object.keys(input).find((k) => k !== "children" && k !== "object");
  if (!type) throw new Error(`cannot tell the block type of ${JSON.stringify(input)}`);
  const raw = input[type];
  const children = input.children ?? (isPlainObject(raw) ? raw.children : undefined) ?? [];
  return { type, raw, children };
}

function textBlockContent(type, raw) {
  const spec = typeof raw === "string" || Array.isArray(raw) ? { rich_text: raw } : { ...raw };
  const content = { rich_text: richText(spec.rich_text ?? spec.text ?? []), color: spec.color ?? "default" };
  if (type.startsWith("heading_")) content.is_toggleable = spec.is_toggleable ?? false;
  if (type === "paragraph") content.icon = spec.icon ?? null;
  if (type === "to_do") content.checked = spec.checked ?? false;
  if (type === "callout") content.icon = spec.icon ?? { type: "emoji", emoji: "💡" };
  if (type === "code") {
    delete content.color;
    Object.assign(content, { caption: richText(spec.caption ?? []), language: spec.language ?? "plain text" });
  }
  return content;
}

function pageUrl(title, id) {
  const slug = title.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `https://www.notion.so/${slug ? `${slug}-` : ""}${id.replaceAll("-", "")}`;
}

function basename(pathOrUrl) {
  const path = pathOrUrl.split("?")[0];
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || "file";
}

function contentTypeFor(name) {
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  const types = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", svg: "image/svg+xml", pdf: "application/pdf", txt: "text/plain" };
  return types[ext] ?? "application/octet-stream";
}

function defaultContent(name) {
  return contentTypeFor(name) === "image/png" ? TINY_PNG : Buffer.from(`fake Notion file ${name}\n`);
}
