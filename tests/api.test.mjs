// The dashboard API under workerd, route by route: accounts, tokens, projects, the webhook setup
// flow, plan gating, tenant isolation, auth and body failures, and that secrets never leave the
// Worker except where the API promises to show them.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, createProject, deliver, pageEvent, projectBody, sign, verify, webhookPath } from "../harness/api.mjs";
import { ROOT, startWorker, waitFor } from "../harness/worker.mjs";

// The fake Notion knows this token; the default test token (projectBody) is unknown to it, so
// syncs of ordinary test projects fail fast with a non-retryable 401 and leave a run record.
const SCHEMA_TOKEN = "ntn_schema_token_0123456789abcd";
const FRAMER_PROJECT = "AbCdEfGhIjKlMnOpQrSt";
const FRAMER_KEY = "fr_test_key_0123456789abcdef";
const NOTION_SECRETS = new Set(["ntn_test_token_0123456789abcdef", SCHEMA_TOKEN, FRAMER_KEY]);
const DEFAULT_HINTS = { notion: "ntn_…cdef", framer: "fr_…cdef" };

let notion;
let framer;
let worker;
let schemaDb;
/** Every response the Worker gave in this file, for the secrets checks at the end. */
const responses = [];
/** Secrets the API may show once: API tokens (at creation), verification tokens (refresh-token). */
const apiTokens = new Set();
const verificationTokens = new Set();

before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  notion.addIntegration(SCHEMA_TOKEN);
  schemaDb = notion.addDatabase({ title: "Posts", properties: { Name: { type: "title" }, Count: { type: "number" } }, token: SCHEMA_TOKEN });
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY, { name: "Site" });
  worker = await startWorker({
    // The shared webhook URL is off by default; these scenarios exercise it.
    vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1", SHARED_WEBHOOK_URL: "on" },
  });
  const plainFetch = worker.fetch.bind(worker);
  worker.fetch = async (path, opts = {}) => {
    const res = await plainFetch(path, opts);
    responses.push({ method: opts.method ?? "GET", path, status: res.status, text: res.text });
    return res;
  };
});
after(async () => {
  await worker?.stop();
  await notion?.close();
  await framer?.close();
});

function call(method, path, token, body) {
  return worker.fetch(path, { method, token, body });
}

/** Asserts the error envelope: status, code, a message, and the field when one is named. */
function assertError(res, status, code, field) {
  assert.equal(res.status, status, `${status} expected: ${res.text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(res.json?.error?.code, code, res.text);
  assert.equal(typeof res.json.error.message, "string");
  assert.ok(res.json.error.message.length > 0);
  if (field !== undefined) assert.equal(res.json.error.field, field, res.text);
}

async function account(opts) {
  const created = await createAccount(worker, opts);
  apiTokens.add(created.token);
  return created;
}

async function getProject(token, id) {
  const res = await call("GET", `/api/v1/projects/${id}`, token);
  assert.equal(res.status, 200, res.text);
  return res.json.project;
}

/**
 * The route-by-route tests. The last two tests check every response of the file (against the
 * OpenAPI document; for secrets): run alone or by name, they first run the scenarios this
 * process has not run, so that they always see the whole file's traffic.
 */
const scenarios = new Map();
const scenariosRun = new Set();
function scenario(name, body) {
  scenarios.set(name, body);
  test(name, async () => {
    scenariosRun.add(name);
    await body();
  });
}
async function runEveryScenario() {
  for (const [name, body] of scenarios) {
    if (scenariosRun.has(name)) continue;
    scenariosRun.add(name);
    await body();
  }
}

/** Gives every project still waiting for a verification token one, so claims are unambiguous. */
async function verifyAllWaiting() {
  const rows = await worker.query(
    "SELECT p.webhook_key AS k FROM projects p JOIN webhooks w ON w.project_id = p.id WHERE w.verification_token_enc IS NULL",
  );
  for (const { k } of rows) verificationTokens.add(await verify(worker, `/webhooks/notion/${k}`));
}

scenario("the OpenAPI document is served without auth and matches openapi.json", async () => {
  const res = await call("GET", "/api/v1/openapi.json");
  assert.equal(res.status, 200);
  const onDisk = JSON.parse(await readFile(join(ROOT, "openapi.json"), "utf8"));
  assert.deepEqual(res.json, onDisk);
  assert.equal(res.json.openapi, "3.1.0");
  assert.ok(res.json.paths["/api/v1/projects/{project_id}"].patch.operationId);
});

scenario("accounts: admin token only; create, list, get, patch plan; validation names the field", async () => {
  assertError(await call("POST", "/api/v1/accounts", undefined, { name: "X" }), 401, "unauthorized");
  assertError(await call("GET", "/api/v1/accounts", "adm_wrong"), 401, "unauthorized");

  const created = await call("POST", "/api/v1/accounts", worker.adminToken, { name: "  Acme  ", plan: "free" });
  assert.equal(created.status, 201, created.text);
  const { account: acme, token } = created.json;
  apiTokens.add(token.token);
  assert.deepEqual(Object.keys(acme).sort(), ["created_at", "id", "name", "plan"]);
  assert.equal(acme.name, "Acme");
  assert.equal(acme.plan, "free");
  assert.match(token.token, /^nfs_[A-Za-z0-9_-]{43}$/);
  assert.equal(token.hint, `nfs_…${token.token.slice(-4)}`);
  assertError(await call("GET", "/api/v1/accounts", token.token), 401, "unauthorized");

  const defaulted = await call("POST", "/api/v1/accounts", worker.adminToken, { name: "Beta" });
  assert.equal(defaulted.status, 201);
  apiTokens.add(defaulted.json.token.token);
  assert.equal(defaulted.json.account.plan, "free");

  const list = await call("GET", "/api/v1/accounts", worker.adminToken);
  assert.equal(list.status, 200);
  const ids = list.json.accounts.map((a) => a.id);
  assert.ok(ids.includes(acme.id) && ids.includes(defaulted.json.account.id));
  assert.ok(!list.text.includes(token.token), "listing accounts never shows tokens");

  const got = await call("GET", `/api/v1/accounts/${acme.id}`, worker.adminToken);
  assert.deepEqual(got.json, { account: acme });
  const patched = await call("PATCH", `/api/v1/accounts/${acme.id}`, worker.adminToken, { plan: "paid" });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.account.plan, "paid");
  assert.equal((await call("GET", `/api/v1/accounts/${acme.id}`, worker.adminToken)).json.account.plan, "paid");

  const invalid = [
    ["POST", "/api/v1/accounts", {}, "name"],
    ["POST", "/api/v1/accounts", { name: "" }, "name"],
    ["POST", "/api/v1/accounts", { name: "x".repeat(101) }, "name"],
    ["POST", "/api/v1/accounts", { name: "X", plan: "gold" }, "plan"],
    ["POST", "/api/v1/accounts", [1], "body"],
    ["PATCH", `/api/v1/accounts/${acme.id}`, { plan: "enterprise" }, "plan"],
    ["PATCH", `/api/v1/accounts/${acme.id}`, { colour: "red" }, "colour"],
  ];
  for (const [method, path, body, field] of invalid) {
    assertError(await call(method, path, worker.adminToken, body), 400, "validation_error", field);
  }
  assertError(await call("GET", "/api/v1/accounts/nope", worker.adminToken), 404, "not_found");
  assertError(await call("PATCH", "/api/v1/accounts/nope", worker.adminToken, { plan: "paid" }), 404, "not_found");
});

scenario("tokens: shown once at creation, listed as hints, revoked tokens are refused", async () => {
  const { token: first } = await account({ name: "Tokens" });
  const created = await call("POST", "/api/v1/tokens", first);
  assert.equal(created.status, 201, created.text);
  const second = created.json.token;
  apiTokens.add(second.token);
  assert.match(second.token, /^nfs_/);
  assert.notEqual(second.token, first);

  const list = await call("GET", "/api/v1/tokens", second.token);
  assert.equal(list.status, 200);
  assert.equal(list.json.account.name, "Tokens");
  assert.equal(list.json.tokens.length, 2);
  for (const t of list.json.tokens) {
    assert.deepEqual(Object.keys(t).sort(), ["created_at", "hint", "id", "revoked_at"]);
    assert.equal(t.revoked_at, null);
  }
  assert.ok(list.json.tokens.some((t) => t.id === second.id && t.hint === second.hint));
  assert.ok(!list.text.includes(first) && !list.text.includes(second.token));

  const revoked = await call("DELETE", `/api/v1/tokens/${second.id}`, first);
  assert.equal(revoked.status, 200, revoked.text);
  assert.deepEqual(revoked.json, { revoked: second.id });
  assertError(await call("GET", "/api/v1/tokens", second.token), 401, "unauthorized");
  const listed = await call("GET", "/api/v1/tokens", first);
  assert.match(listed.json.tokens.find((t) => t.id === second.id).revoked_at, /^\d{4}-\d\d-\d\dT/);
  assertError(await call("DELETE", "/api/v1/tokens/nope", first), 404, "not_found");
});

scenario("projects: create with each database id form, get, list, patch, delete", async () => {
  const { token } = await account({ name: "Projects" });
  const hex = randomUUID().replaceAll("-", "");
  const dashed = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const forms = [hex, dashed, dashed.toUpperCase(), `https://www.notion.so/acme/Posts-${hex}?v=0123456789abcdef0123456789abcdef`];
  const made = [];
  for (const form of forms) {
    const project = await createProject(worker, token, { notion: { token: "ntn_test_token_0123456789abcdef", database_id: form } });
    assert.equal(project.notion.database_id, dashed, `from ${form}`);
    made.push(project);
  }
  const p = made[0];
  assert.equal(p.name, "Blog");
  assert.equal(p.plan, "paid");
  assert.deepEqual(p.notion, { database_id: dashed, data_source_id: null, data_source_ids: [], token_hint: DEFAULT_HINTS.notion });
  assert.equal(p.framer.api_key_hint, DEFAULT_HINTS.framer);
  assert.equal(p.framer.collection_name, "Posts");
  assert.equal(p.framer.collection_id, null);
  assert.match(p.webhook.url, new RegExp(`^${worker.url}/webhooks/notion/whk_[A-Za-z0-9_-]{43}$`));
  assert.equal(p.webhook.status, "setup_required");
  assert.deepEqual(p.pipeline, { state: "setup_required", banner: "Webhook setup required" });
  assert.equal(p.sync.auto_sync, true, "paid plans default auto-sync on");
  assert.equal(p.sync.auto_publish, false);
  assert.equal(p.sync.last_sync, null);
  assert.equal(p.sync.items_in_framer, 0);
  assert.equal(p.sync.running, false);
  assert.equal(p.sync.progress, null, "no run in flight, no progress");
  assert.equal(p.unpublished_mode, "remove");

  const list = await call("GET", "/api/v1/projects", token);
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.projects.map((x) => x.id), made.map((x) => x.id));
  assert.deepEqual(list.json.projects[0].pipeline, p.pipeline);
  assert.equal(list.json.projects[0].webhook.url, p.webhook.url);

  // The site grew after p was created: the four projects sync into one Framer project.
  const { site, ...again } = await getProject(token, p.id);
  assert.deepEqual(site.projects.map((x) => [x.id, x.current]), made.map((x) => [x.id, x.id === p.id]));
  const { site: siteAtCreation, ...atCreation } = p;
  assert.equal(siteAtCreation.projects.length, 1);
  assert.deepEqual(again, atCreation);
  const patch = {
    name: "Journal",
    notion: { token: "ntn_rotated_token_0123456789wxyz" },
    framer: { collection_name: "Articles" },
    slug_property: "title",
    unpublished_mode: "draft",
    page_body: true,
  };
  NOTION_SECRETS.add(patch.notion.token);
  const patched = await call("PATCH", `/api/v1/projects/${p.id}`, token, patch);
  assert.equal(patched.status, 200, patched.text);
  const q = patched.json.project;
  assert.equal(q.name, "Journal");
  assert.equal(q.notion.token_hint, "ntn_…wxyz");
  assert.equal(q.framer.collection_name, "Articles");
  assert.equal(q.slug_property, "title");
  assert.equal(q.unpublished_mode, "draft");
  // A publish filter is checked against the data source's schema: this project's Notion
  // cannot be read, so the PATCH is refused with Notion's reason and changes nothing.
  const unchecked = await call("PATCH", `/api/v1/projects/${p.id}`, token, { name: "Not saved", publish_filter: { kind: "checkbox", property_id: "pub" } });
  assertError(unchecked, 422, "notion_unauthorized");
  assert.equal((await getProject(token, p.id)).name, "Journal");
  assert.equal(q.page_body, true);
  const cleared = await call("PATCH", `/api/v1/projects/${p.id}`, token, { slug_property: null, publish_filter: null });
  assert.equal(cleared.json.project.slug_property, null);
  assert.equal(cleared.json.project.publish_filter, null);

  const deleted = await call("DELETE", `/api/v1/projects/${p.id}`, token);
  assert.equal(deleted.status, 200, deleted.text);
  assert.deepEqual(deleted.json, { deleted: p.id });
  assertError(await call("GET", `/api/v1/projects/${p.id}`, token), 404, "not_found");
  assertError(await call("DELETE", `/api/v1/projects/${p.id}`, token), 404, "not_found");
  const rest = await call("GET", "/api/v1/projects", token);
  assert.equal(rest.status, 200);
  assert.deepEqual(rest.json.projects.map((x) => x.id), made.slice(1).map((x) => x.id));
  assert.deepEqual(await worker.query("SELECT project_id FROM webhooks WHERE project_id = ?", p.id), []);
});

scenario("project validation errors name the field", async () => {
  const { token } = await account({ name: "Validation" });
  const base = projectBody();
  const cases = [
    [{ ...base, name: "" }, "name"],
    [{ ...base, name: undefined }, "name"],
    [{ ...base, notion: { ...base.notion, database_id: "not-an-id" } }, "notion.database_id"],
    [{ ...base, notion: { ...base.notion, database_id: "https://www.notion.so/acme/Posts" } }, "notion.database_id"],
    [{ ...base, notion: { database_id: base.notion.database_id } }, "notion.token"],
    [{ ...base, notion: { ...base.notion, token: "has a space" } }, "notion.token"],
    [{ ...base, notion: { ...base.notion, extra: 1 } }, "notion.extra"],
    [{ ...base, notion: "x" }, "notion"],
    [{ ...base, framer: { ...base.framer, project_url: "https://evil.example/projects/x" } }, "framer.project_url"],
    [{ ...base, framer: { ...base.framer, api_key: undefined } }, "framer.api_key"],
    [{ ...base, framer: { ...base.framer, collection_name: 7 } }, "framer.collection_name"],
    [{ ...base, auto_sync: "yes" }, "auto_sync"],
    [{ ...base, page_body: 1 }, "page_body"],
    [{ ...base, mapping: [] }, "mapping"],
    [{ ...base, publish_filter: { kind: "colour" } }, "publish_filter"],
    [{ ...base, unpublished_mode: "hide" }, "unpublished_mode"],
    [{ ...base, surprise: true }, "surprise"],
  ];
  for (const [body, field] of cases) {
    assertError(await call("POST", "/api/v1/projects", token, body), 400, "validation_error", field);
  }
  const project = await createProject(worker, token);
  for (const [body, field] of [
    [{ notion: { database_id: "nope" } }, "notion.database_id"],
    [{ framer: { project_url: "ftp://framer.com/x" } }, "framer.project_url"],
    [{ slug_property: "" }, "slug_property"],
    [{ name: "x".repeat(101) }, "name"],
  ]) {
    assertError(await call("PATCH", `/api/v1/projects/${project.id}`, token, body), 400, "validation_error", field);
  }
  assert.equal((await getProject(token, project.id)).name, "Blog", "a refused patch changes nothing");
});

scenario("plan gating: free plans get 402 for auto-sync/publish; downgrade pauses, upgrade restores", async () => {
  const free = await account({ name: "Free", plan: "free" });
  assertError(await call("POST", "/api/v1/projects", free.token, projectBody({ auto_sync: true })), 402, "plan_required");
  assertError(await call("POST", "/api/v1/projects", free.token, projectBody({ auto_publish: true })), 402, "plan_required");
  const fp = await createProject(worker, free.token);
  assert.equal(fp.sync.auto_sync, false, "free plans default auto-sync off");
  assert.equal(fp.sync.paused_by_plan, false);
  assertError(await call("PATCH", `/api/v1/projects/${fp.id}`, free.token, { auto_sync: true }), 402, "plan_required");
  assertError(await call("PATCH", `/api/v1/projects/${fp.id}`, free.token, { auto_publish: true }), 402, "plan_required");
  const off = await call("PATCH", `/api/v1/projects/${fp.id}`, free.token, { auto_sync: false, name: "Still free" });
  assert.equal(off.status, 200, off.text);

  const paid = await account({ name: "Paid" });
  const pp = await createProject(worker, paid.token, { auto_publish: true });
  verificationTokens.add(await verify(worker, webhookPath(pp)));
  assert.equal((await call("POST", `/api/v1/projects/${pp.id}/webhook/confirm`, paid.token)).status, 200);
  const active = await getProject(paid.token, pp.id);
  assert.deepEqual(active.pipeline, { state: "active", banner: "Sync pipeline active" });
  assert.equal(active.sync.auto_sync_active, true);

  const down = await call("PATCH", `/api/v1/accounts/${paid.account.id}`, worker.adminToken, { plan: "free" });
  assert.equal(down.status, 200, down.text);
  const paused = await getProject(paid.token, pp.id);
  assert.equal(paused.plan, "free");
  assert.equal(paused.sync.paused_by_plan, true);
  assert.equal(paused.sync.auto_sync, true, "the project's own choice is kept");
  assert.equal(paused.sync.auto_sync_active, false);
  assert.equal(paused.sync.auto_publish_active, false);
  assert.equal(paused.pipeline.state, "plan_required");
  assert.match(paused.pipeline.banner, /plan/);
  const listed = (await call("GET", "/api/v1/projects", paid.token)).json.projects.find((x) => x.id === pp.id);
  assert.equal(listed.pipeline.state, "plan_required");

  await call("PATCH", `/api/v1/accounts/${paid.account.id}`, worker.adminToken, { plan: "paid" });
  const restored = await getProject(paid.token, pp.id);
  assert.equal(restored.sync.paused_by_plan, false);
  assert.equal(restored.sync.auto_sync_active, true);
  assert.equal(restored.sync.auto_publish_active, true);
  assert.deepEqual(restored.pipeline, { state: "active", banner: "Sync pipeline active" });
});

scenario("tenant isolation: another account's token gets 404 on every project route", async () => {
  const owner = await account({ name: "Owner" });
  const other = await account({ name: "Other" });
  const project = await createProject(worker, owner.token);
  const base = `/api/v1/projects/${project.id}`;
  const routes = [
    ["GET", base],
    ["PATCH", base, { name: "stolen" }],
    ["DELETE", base],
    ["POST", `${base}/webhook/refresh-token`],
    ["POST", `${base}/webhook/confirm`],
    ["POST", `${base}/sync`, {}],
    ["GET", `${base}/syncs`],
    ["GET", `${base}/schema`],
    ["POST", `${base}/siblings`, { related: [schemaDb.dataSourceId] }],
  ];
  for (const [method, path, body] of routes) {
    const res = await call(method, path, other.token, body);
    assertError(res, 404, "not_found");
    assert.ok(!res.text.includes(project.id), `${method} ${path} must not echo the project`);
  }
  const ownerTokens = (await call("GET", "/api/v1/tokens", owner.token)).json.tokens;
  assertError(await call("DELETE", `/api/v1/tokens/${ownerTokens[0].id}`, other.token), 404, "not_found");
  assert.deepEqual((await call("GET", "/api/v1/projects", other.token)).json.projects, []);

  const intact = await getProject(owner.token, project.id);
  assert.equal(intact.name, "Blog");
  assert.equal(intact.sync.pending.sync_id, null, "no sync was queued by the other account");
  assert.equal((await call("GET", "/api/v1/tokens", owner.token)).status, 200, "the owner's token still works");
});

scenario("auth failures: no token, unknown token, wrong scheme, admin token on account routes", async () => {
  const { token } = await account({ name: "Auth" });
  const project = await createProject(worker, token);
  const accountRoutes = ["/api/v1/projects", "/api/v1/tokens", `/api/v1/projects/${project.id}`, `/api/v1/projects/${project.id}/syncs`];
  for (const path of accountRoutes) {
    assertError(await worker.fetch(path), 401, "unauthorized");
    assertError(await worker.fetch(path, { token: "nfs_unknown" }), 401, "unauthorized");
    assertError(await worker.fetch(path, { headers: { authorization: `Basic ${token}` } }), 401, "unauthorized");
    assertError(await worker.fetch(path, { token: worker.adminToken }), 401, "unauthorized");
  }
  assertError(await call("POST", "/api/v1/projects", worker.adminToken, projectBody()), 401, "unauthorized");
  const lower = await worker.fetch("/api/v1/projects", { headers: { authorization: `bearer ${token}` } });
  assert.equal(lower.status, 200, "the scheme is case-insensitive");
});

scenario("webhook setup: refresh-token, confirm, verification, active pipeline", async () => {
  const { token } = await account({ name: "Webhooks" });
  await verifyAllWaiting();
  const project = await createProject(worker, token);
  const base = `/api/v1/projects/${project.id}/webhook`;

  const none = await call("POST", `${base}/refresh-token`, token);
  assert.equal(none.status, 200, none.text);
  assert.equal(none.json.token, null);
  assert.equal(none.json.status, "setup_required");
  assert.match(none.json.message, /webhook URL/);
  assertError(await call("POST", `${base}/confirm`, token), 422, "no_verification_token");

  assertError(await deliver(worker, "/webhooks/notion/whk_unknown", { verification_token: "secret_x" }), 404, "not_found");
  const secret = await verify(worker, webhookPath(project));
  verificationTokens.add(secret);
  const received = await getProject(token, project.id);
  assert.equal(received.webhook.status, "token_received");
  assert.match(received.webhook.token_received_at, /^\d{4}-/);
  assert.equal(received.pipeline.banner, "Webhook setup required");

  const refreshed = await call("POST", `${base}/refresh-token`, token);
  assert.equal(refreshed.status, 200, refreshed.text);
  assert.equal(refreshed.json.token, secret);
  assert.equal(refreshed.json.status, "token_received");
  assert.match(refreshed.json.fingerprint, /^[0-9a-f]{8}$/u);

  assertError(await call("POST", `${base}/confirm`, token, { fingerprint: "0000000" }), 400, "validation_error", "fingerprint");
  const confirmed = await call("POST", `${base}/confirm`, token, { fingerprint: refreshed.json.fingerprint });
  assert.equal(confirmed.status, 200, confirmed.text);
  assert.deepEqual(confirmed.json, { status: "active", replacement_pending: false });
  const active = await getProject(token, project.id);
  assert.equal(active.webhook.status, "active");
  assert.match(active.webhook.activated_at, /^\d{4}-/);
  assert.deepEqual(active.pipeline, { state: "active", banner: "Sync pipeline active" });

  const event = JSON.stringify(pageEvent({ databaseId: randomUUID() }));
  assertError(await deliver(worker, webhookPath(project), event, { signature: sign("secret_wrong", event) }), 401, "invalid_signature");
  assertError(await deliver(worker, webhookPath(project), event), 401, "invalid_signature");
  const signed = await deliver(worker, webhookPath(project), event, { token: secret });
  assert.equal(signed.status, 200, signed.text);
  assert.equal(signed.json.outcome, "ignored", "an event about another database is counted, not synced");
  // Counted once the project's object has copied its ledger to D1 (right after answering).
  await waitFor(async () => (await getProject(token, project.id)).webhook.events_ignored === 1, { what: "the event counted as ignored" });
});

scenario("shared webhook URL: a verification token is claimed by the one project awaiting one", async () => {
  const { token } = await account({ name: "Shared" });
  await verifyAllWaiting();
  const project = await createProject(worker, token);
  const secret = `secret_${randomUUID().replaceAll("-", "")}`;
  verificationTokens.add(secret);
  const posted = await deliver(worker, "/webhooks/notion", { verification_token: secret });
  assert.equal(posted.status, 200, posted.text);
  assert.ok(!posted.text.includes(secret));

  const claimed = await call("POST", `/api/v1/projects/${project.id}/webhook/refresh-token`, token);
  assert.equal(claimed.status, 200, claimed.text);
  assert.equal(claimed.json.token, secret);
  assert.equal(claimed.json.status, "token_received");
  assert.equal(claimed.json.claimed_from_shared_url, true);
  assert.equal((await getProject(token, project.id)).webhook.status, "token_received");
  const again = await call("POST", `/api/v1/projects/${project.id}/webhook/refresh-token`, token);
  assert.equal(again.json.token, secret, "the claimed token is now the project's own");

  // Two unclaimed tokens cannot be told apart: the API refuses to guess.
  const waiting = await createProject(worker, token);
  for (let i = 0; i < 2; i++) {
    const t = `secret_${randomUUID().replaceAll("-", "")}`;
    verificationTokens.add(t);
    assert.equal((await deliver(worker, "/webhooks/notion", { verification_token: t })).status, 200);
  }
  assertError(await call("POST", `/api/v1/projects/${waiting.id}/webhook/refresh-token`, token), 409, "conflict");
});

scenario("sync now and the sync history: 202 with one sync id, newest-first pages, query validation", async () => {
  const { token } = await account({ name: "Syncs" });
  const project = await createProject(worker, token);
  const base = `/api/v1/projects/${project.id}`;
  const empty = await call("GET", `${base}/syncs`, token);
  assert.equal(empty.status, 200, empty.text);
  assert.deepEqual(empty.json, { syncs: [], next_cursor: null, retention: { sync_history_days: 90, keeps_last_runs: 100 } });
  for (const bad of ["0", "101", "abc", "1.5", ""]) {
    assertError(await call("GET", `${base}/syncs?limit=${bad}`, token), 400, "validation_error", "limit");
  }
  const forged = Buffer.from(JSON.stringify({ x: 1 })).toString("base64url");
  for (const bad of ["not*base64", forged]) {
    assertError(await call("GET", `${base}/syncs?cursor=${bad}`, token), 400, "validation_error", "cursor");
  }

  const ids = [];
  for (let i = 0; i < 3; i++) {
    const first = await call("POST", `${base}/sync`, token, {});
    assert.equal(first.status, 202, first.text);
    assert.match(first.json.sync_id, /^[0-9a-f]{32}$/);
    const second = await call("POST", `${base}/sync`, token, {});
    const answeredAt = new Date().toISOString();
    assert.equal(second.status, 202, second.text);
    ids.push(first.json.sync_id);
    if (second.json.sync_id !== first.json.sync_id) {
      // Only when the first run had already finished may a second request start another.
      const firstRun = (await call("GET", `${base}/syncs?limit=100`, token)).json.syncs.find((r) => r.id === first.json.sync_id);
      assert.ok(firstRun && firstRun.status !== "running" && firstRun.finished_at <= answeredAt, "a second request joins the pending or running sync");
      ids.push(second.json.sync_id);
    }
    await waitFor(async () => {
      const res = await call("GET", `${base}/syncs?limit=100`, token);
      return ids.every((id) => res.json.syncs.some((run) => run.id === id && run.status !== "running"));
    }, { what: `sync ${i} to finish` });
  }
  // Walk the history two at a time: newest first, every run once, then no cursor.
  const newestFirst = [...ids].reverse();
  const page1 = await call("GET", `${base}/syncs?limit=2`, token);
  assert.deepEqual(page1.json.syncs.map((s) => s.id), newestFirst.slice(0, 2));
  assert.equal(page1.json.syncs[0].trigger, "manual");
  const seen = page1.json.syncs.map((s) => s.id);
  let cursor = page1.json.next_cursor;
  assert.equal(typeof cursor, "string");
  while (cursor) {
    const page = await call("GET", `${base}/syncs?limit=2&cursor=${cursor}`, token);
    assert.ok(page.json.syncs.length > 0 && page.json.syncs.length <= 2);
    seen.push(...page.json.syncs.map((s) => s.id));
    cursor = page.json.next_cursor;
  }
  assert.deepEqual(seen, newestFirst);
  const status = await getProject(token, project.id);
  assert.equal(status.sync.last_sync.id, newestFirst[0]);
  assert.equal(status.sync.progress, null);
  // A finished run keeps its steps and figures; its phase is over.
  for (const run of page1.json.syncs) {
    assert.ok(Number.isInteger(run.steps) && run.steps >= 1, JSON.stringify(run));
    assert.equal(run.progress.phase, null, JSON.stringify(run));
    assert.ok(Number.isInteger(run.progress.rows_read) && Number.isInteger(run.progress.items_written), JSON.stringify(run));
    assert.deepEqual(run.skipped_rows, []);
  }
});

scenario("a run in flight: sync.progress names it and how far it got, null again once it ended", async () => {
  const { token } = await account({ name: "Progress" });
  const databaseId = randomUUID();
  const project = await createProject(worker, token, { notion: { token: "ntn_test_token_0123456789abcdef", database_id: databaseId } });
  // Notion's first answer about this database is a 429 asking for 3 s: the run stays in flight
  // that long, then the unknown token fails it.
  const injected = notion.stats.injected;
  notion.failNext({ status: 429, retryAfter: 3, match: new RegExp(`${databaseId}|${databaseId.replaceAll("-", "")}`) });
  const started = await call("POST", `/api/v1/projects/${project.id}/sync`, token, {});
  assert.equal(started.status, 202, started.text);
  const syncId = started.json.sync_id;
  const running = await waitFor(async () => {
    const p = await getProject(token, project.id);
    return p.sync.progress ? p : null;
  }, { what: "the run in flight" });
  assert.equal(running.sync.running, true);
  assert.equal(running.sync.running_sync_id, syncId);
  const progress = running.sync.progress;
  assert.equal(progress.sync_id, syncId);
  assert.ok(["reading", "writing", "publishing", null].includes(progress.phase), JSON.stringify(progress));
  assert.equal(progress.rows_read, 0, "Notion has answered nothing yet");
  assert.equal(progress.items_written, 0);
  assert.equal(progress.rows_total, null);
  assert.ok(Number.isInteger(progress.steps) && progress.steps >= 0);
  assert.ok(Date.parse(progress.started_at) <= Date.now(), progress.started_at);
  await waitFor(async () => (await getProject(token, project.id)).sync.progress === null, { what: "the run to end", timeoutMs: 30_000 });
  assert.equal(notion.stats.injected, injected + 1, "the 429 held the run");
  const done = await getProject(token, project.id);
  assert.equal(done.sync.last_sync.id, syncId);
  assert.equal(done.sync.last_sync.status, "failed");
  assert.equal(done.sync.last_sync.progress.phase, null);
});

scenario("schema: the Notion properties and Framer fields for the mapping step", async () => {
  const { token } = await account({ name: "Schema" });
  const project = await createProject(worker, token, {
    notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId },
    framer: { project_url: `https://framer.com/projects/Site--${FRAMER_PROJECT}`, api_key: FRAMER_KEY, collection_name: "Posts" },
  });
  const res = await call("GET", `/api/v1/projects/${project.id}/schema`, token);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.notion.data_source_id, schemaDb.dataSourceId);
  assert.deepEqual(res.json.notion.properties.map((p) => [p.name, p.type]).sort(), [["Count", "number"], ["Name", "title"]]);
  assert.deepEqual(res.json.framer, { collection_id: null, fields: [] });
  assert.ok(Array.isArray(res.json.changes));
});

scenario("graph: the Connect step's offer and siblings; bad input names the field, a Notion it cannot read is 422", async () => {
  const { token } = await account({ name: "Graph" });
  const graphOf = (body) => call("POST", "/api/v1/notion/graph", token, body);
  const anonymous = await call("POST", "/api/v1/notion/graph", undefined, { notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId } });
  assertError(anonymous, 401, "unauthorized");
  for (const [body, field] of [
    [{ notion: { database_id: schemaDb.databaseId } }, "notion.token"],
    [{ notion: { token: SCHEMA_TOKEN, database_id: "nope" } }, "notion.database_id"],
    [{ notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId }, extra: 1 }, "extra"],
  ]) {
    const res = await graphOf(body);
    assertError(res, 400, "validation_error");
    assert.equal(res.json.error.field, field);
  }
  const ok = await graphOf({ notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId } });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json.graph.data_sources.map((s) => s.id), [schemaDb.dataSourceId]);
  assert.deepEqual(ok.json.graph.related, []);
  const unknown = await graphOf({ notion: { token: "ntn_nobody_knows_this", database_id: schemaDb.databaseId } });
  assert.equal(unknown.status, 422, unknown.text);

  const project = await createProject(worker, token, { notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId } });
  const siblings = (body) => call("POST", `/api/v1/projects/${project.id}/siblings`, token, body);
  for (const [body, field] of [[{}, "related"], [{ related: "x" }, "related"], [{ data_sources: [schemaDb.dataSourceId] }, "data_sources[0]"], [{ other: [] }, "other"]]) {
    const res = await siblings(body);
    assertError(res, 400, "validation_error");
    assert.equal(res.json.error.field, field, res.text);
  }
  const created = await call("POST", "/api/v1/projects", token, { ...projectBody({ notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId } }), related: [schemaDb.dataSourceId] });
  assertError(created, 400, "validation_error");
  assert.equal(created.json.error.field, "related[0]");
  assert.equal((await call("GET", "/api/v1/projects", token)).json.projects.length, 1, "nothing created");
});

scenario("mapping: stored as the sync reads it; one the sync could not read is refused and nothing changes", async () => {
  const { token } = await account({ name: "Mapping" });
  const project = await createProject(worker, token, {
    notion: { token: SCHEMA_TOKEN, database_id: schemaDb.databaseId },
    framer: { project_url: `https://framer.com/projects/Site--${FRAMER_PROJECT}`, api_key: FRAMER_KEY, collection_name: "Posts" },
  });
  const proposed = (await call("GET", `/api/v1/projects/${project.id}/schema`, token)).json.mapping;
  const renamed = { ...proposed, fields: proposed.fields.map((f) => (f.property_type === "title" ? { ...f, field_name: "Headline" } : f)) };
  const saved = await call("PATCH", `/api/v1/projects/${project.id}`, token, { mapping: { ...renamed, note: "dropped" } });
  assert.equal(saved.status, 200, saved.text);
  assert.deepEqual((await getProject(token, project.id)).mapping, renamed);

  const path = `/api/v1/projects/${project.id}`;
  assertError(await call("PATCH", path, token, { mapping: { fields: 7 } }), 400, "validation_error", "mapping.fields");
  const badKind = { ...renamed, fields: renamed.fields.map((f, i) => (i === 1 ? { ...f, kind: "colour" } : f)) };
  assertError(await call("PATCH", path, token, { mapping: badKind, name: "Renamed" }), 400, "validation_error", "mapping.fields[1].kind");
  const after = await getProject(token, project.id);
  assert.deepEqual(after.mapping, renamed, "a refused mapping is not stored");
  assert.equal(after.name, project.name, "nor anything else in that body");
  const cleared = await call("PATCH", path, token, { mapping: null });
  assert.equal(cleared.status, 200, cleared.text);
  assert.equal((await getProject(token, project.id)).mapping, null);
});

scenario("bodies and routing: 415, 413, 400 invalid_json, 404 JSON, 405 with Allow", async () => {
  const { token } = await account({ name: "Bodies" });
  const text = await worker.fetch("/api/v1/projects", { method: "POST", token, body: "{}", headers: { "content-type": "text/plain" } });
  assertError(text, 415, "unsupported_media_type");
  const hook = await worker.fetch("/webhooks/notion", { method: "POST", body: "{}", headers: { "content-type": "text/plain" } });
  assertError(hook, 415, "unsupported_media_type");
  const big = JSON.stringify({ name: "x".repeat(300 * 1024) });
  assertError(await worker.fetch("/api/v1/projects", { method: "POST", token, body: big, headers: { "content-type": "application/json" } }), 413, "payload_too_large");
  assertError(await worker.fetch("/webhooks/notion", { method: "POST", body: big, headers: { "content-type": "application/json" } }), 413, "payload_too_large");
  for (const path of ["/api/v1/projects", "/webhooks/notion"]) {
    assertError(await worker.fetch(path, { method: "POST", token, body: "{\"name\":", headers: { "content-type": "application/json" } }), 400, "invalid_json");
  }
  assertError(await worker.fetch("/webhooks/notion", { method: "POST", body: { hello: 1 } }), 400, "validation_error", "body");

  for (const path of ["/api/v1/nope", "/api/v1/projects/p1/extra", "/nope"]) assertError(await worker.fetch(path, { token }), 404, "not_found");
  // The project page is a static asset at the root.
  const page = await worker.fetch("/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  for (const [method, path, allow] of [
    ["PUT", "/api/v1/projects/p1", "GET, PATCH, DELETE"],
    ["DELETE", "/api/v1/accounts", "GET, POST"],
    ["GET", "/webhooks/notion", "POST"],
    ["GET", "/api/v1/projects/p1/sync", "POST"],
    ["POST", "/api/v1/openapi.json", "GET"],
  ]) {
    const res = await worker.fetch(path, { method, token });
    assertError(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), allow);
  }
});

/** Problems of `value` against a JSON Schema subset (the keywords openapi.json uses). */
function conformance(doc, schema, value, at, problems = []) {
  if (schema.$ref) return conformance(doc, doc.components.schemas[schema.$ref.split("/").pop()], value, at, problems);
  if (schema.oneOf) {
    const fits = schema.oneOf.filter((s) => conformance(doc, s, value, at).length === 0).length;
    if (fits !== 1) problems.push(`${at}: fits ${fits} of oneOf`);
    return problems;
  }
  if ("const" in schema && value !== schema.const) problems.push(`${at}: not ${schema.const}`);
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: ${value} not in enum`);
  const types = [schema.type ?? []].flat();
  const typeOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);
  if (types.length && !types.some((t) => t === typeOf(value) || (t === "number" && typeOf(value) === "integer"))) {
    problems.push(`${at}: ${typeOf(value)} is not ${types.join("|")}`);
    return problems;
  }
  if (typeOf(value) === "object") {
    for (const key of schema.required ?? []) if (!(key in value)) problems.push(`${at}.${key}: missing`);
    for (const [key, v] of Object.entries(value)) {
      const sub = schema.properties?.[key];
      if (sub) conformance(doc, sub, v, `${at}.${key}`, problems);
      else if (schema.additionalProperties === false) problems.push(`${at}.${key}: not documented`);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => conformance(doc, schema.items, v, `${at}[${i}]`, problems));
  return problems;
}

/** The documented operation a request reached, matching `{param}` segments. */
function operationFor(doc, method, path) {
  const segments = path.split("?")[0].split("/");
  for (const [template, item] of Object.entries(doc.paths)) {
    const parts = template.split("/");
    if (parts.length === segments.length && parts.every((p, i) => p.startsWith("{") || p === segments[i])) {
      return item[method.toLowerCase()] ? { template, op: item[method.toLowerCase()] } : null;
    }
  }
  return null;
}

test("every response this file received matches the OpenAPI document", async () => {
  await runEveryScenario();
  const doc = JSON.parse(await readFile(join(ROOT, "openapi.json"), "utf8"));
  const problems = [];
  let checked = 0;
  for (const r of responses) {
    const found = operationFor(doc, r.method, r.path);
    if (!found || r.status === 405) continue;
    const where = `${r.method} ${found.template} ${r.status}`;
    let response = found.op.responses[String(r.status)];
    if (!response) {
      problems.push(`${where}: status not documented`);
      continue;
    }
    if (response.$ref) response = doc.components.responses[response.$ref.split("/").pop()];
    const schema = response.content["application/json"].schema;
    conformance(doc, schema, JSON.parse(r.text), where, problems);
    checked++;
  }
  assert.ok(checked > 100, `${checked} responses checked`);
  assert.deepEqual([...new Set(problems)], []);
});

test("secrets never appear in responses or the Worker's logs", async () => {
  await runEveryScenario();
  assert.ok(responses.length > 100, "the scenarios made the requests checked here");
  const bodies = responses.map((r) => r.text).join("\n");
  for (const secret of [...NOTION_SECRETS, worker.adminToken]) {
    assert.ok(!bodies.includes(secret), `a secret reached a response: ${secret.slice(0, 6)}…`);
  }
  for (const t of apiTokens) {
    const shown = responses.filter((r) => r.text.includes(t));
    assert.equal(shown.length, 1, `an API token is shown once, at creation (${t.slice(0, 6)}…)`);
    assert.equal(shown[0].status, 201);
  }
  for (const t of verificationTokens) {
    const shown = responses.filter((r) => r.text.includes(t));
    assert.ok(shown.every((r) => r.path.endsWith("/webhook/refresh-token")), "verification tokens only via refresh-token");
  }
  // wrangler's own access log prints request paths (webhook keys); the Worker's output must not.
  const keys = (await worker.query("SELECT webhook_key FROM projects")).map((r) => r.webhook_key);
  const logs = worker.logs.filter((l) => !/^\[wrangler:info\] (GET|POST|PATCH|DELETE|PUT) \//.test(l)).join("\n");
  assert.ok(worker.logLines().some((l) => l.kind === "request"), "the Worker's log lines were captured");
  for (const secret of [...NOTION_SECRETS, worker.adminToken, ...apiTokens, ...verificationTokens, ...keys]) {
    assert.ok(!logs.includes(secret), `a secret reached the logs: ${secret.slice(0, 6)}…`);
  }
});
