// Issue 14 under workerd: nobody but Notion can break a working webhook. An unauthenticated
// verification request only leaves a pending token; the owner's confirmation (or an event signed
// with the new token) makes the swap; a rotated URL retires the old one only once confirmed; the
// shared URL is off unless turned on, and a token there is never claimed across accounts; every
// response carries the security headers; floods of forged signatures, verification requests and
// bad API tokens get 429 with Retry-After while genuine traffic goes on.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { createAccount, createProject, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

// The limits of wrangler.toml's [[ratelimits]] (per minute).
const FORGED_LIMIT = 20;
const VERIFICATION_LIMIT = 10;
const FAILED_AUTH_LIMIT = 30;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

let worker;
let account;
before(async () => {
  // Auto-sync off: these tests are about who may talk to the webhook, not about syncing.
  worker = await startWorker();
  account = await createAccount(worker);
});
after(async () => worker?.stop());

const api = (method, path, { token = account.token, body } = {}) => worker.fetch(path, { method, token, body: body ?? (method === "GET" ? undefined : {}) });
const status = async (id) => (await api("GET", `/api/v1/projects/${id}`)).json.project;
const refreshToken = (id, token) => api("POST", `/api/v1/projects/${id}/webhook/refresh-token`, { token });
// No body names no token: the first setup's confirm; once a new token waits, name it.
const confirm = (id, named) => api("POST", `/api/v1/projects/${id}/webhook/confirm`, { body: named });
/** The deliveries the project's object recorded (its ledger). */
const eventsOf = (id) => worker.eventsOf(id);
const newToken = () => `secret_${randomUUID().replaceAll("-", "")}`;

/** A project whose webhook Notion verified and its owner confirmed: active, with its token. */
async function activeProject() {
  const project = await createProject(worker, account.token, { auto_sync: false });
  const path = webhookPath(project);
  const secret = await verify(worker, path);
  assert.equal((await confirm(project.id)).status, 200);
  const event = (overrides) => pageEvent({ databaseId: project.notion.database_id, ...overrides });
  return { project, path, secret, event };
}

test("an unsigned re-verification of an active webhook leaves it active and genuine events answered", async () => {
  const { project, path, secret, event } = await activeProject();
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 200);

  const forged = await deliver(worker, path, { verification_token: "anything" });
  assert.equal(forged.status, 200, "Notion's verification request shape is still acknowledged");
  const s = await status(project.id);
  assert.equal(s.webhook.status, "active");
  assert.notEqual(s.pipeline.banner, "Webhook setup required");
  assert.equal(s.webhook.replacement_pending, true, "the page shows that a new token arrived");
  assert.ok(s.webhook.new_token_received_at);

  const genuine = await deliver(worker, path, event(), { token: secret });
  assert.equal(genuine.status, 200, genuine.text);
  assert.equal(genuine.json.outcome, "auto_sync_off");
  const shown = await refreshToken(project.id);
  assert.equal(shown.json.token, "anything", "the token to paste is the newest one");
  assert.equal(shown.json.replacement_pending, true);
  assert.equal((await status(project.id)).webhook.status, "active");
});

test("the owner's confirm swaps the token: old-token events then fail, new-token events pass", async () => {
  const { project, path, secret, event } = await activeProject();
  const fresh = await verify(worker, path);
  // Until confirmed, the old token works and the new one too (Notion may already use it).
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 200);
  const shown = await refreshToken(project.id);
  assert.equal(shown.json.token, fresh);
  assert.match(shown.json.fingerprint, /^[0-9a-f]{8}$/u);
  assert.equal(shown.json.fingerprint, createHash("sha256").update(fresh).digest("hex").slice(0, 8));
  const confirmed = await confirm(project.id, { fingerprint: shown.json.fingerprint });
  assert.equal(confirmed.status, 200, confirmed.text);
  assert.deepEqual(confirmed.json, { status: "active", replacement_pending: false });
  const old = await deliver(worker, path, event(), { token: secret });
  assert.equal(old.status, 401);
  assert.equal(old.json.error.code, "invalid_signature");
  assert.equal((await deliver(worker, path, event(), { token: fresh })).status, 200);
  const s = await status(project.id);
  assert.equal(s.webhook.replacement_pending, false);
  assert.equal((await refreshToken(project.id)).json.token, fresh);
});

test("a confirm names the token the owner saw: a token that arrived after it is never swapped in", async () => {
  const { project, path, secret, event } = await activeProject();
  // The owner asks Notion to resend: its token waits, and the owner is shown it.
  await verify(worker, path);
  const seen = (await refreshToken(project.id)).json;
  // Someone who knows the URL sends a token of their own before the owner confirms.
  const forged = await verify(worker, path);
  const stale = await confirm(project.id, { fingerprint: seen.fingerprint });
  assert.equal(stale.status, 409, stale.text);
  assert.equal(stale.json.error.code, "token_mismatch");
  assert.match(stale.json.error.message, /Refresh token/u);
  const unnamed = await confirm(project.id, {});
  assert.equal(unnamed.status, 409, unnamed.text);
  assert.equal(unnamed.json.error.code, "token_not_named");
  const bare = await worker.fetch(`/api/v1/projects/${project.id}/webhook/confirm`, { method: "POST", token: account.token });
  assert.equal(bare.status, 409, "no body names no token either");
  // Nothing changed: the token in use works, the forged one is still only pending.
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 200);
  assert.equal((await status(project.id)).webhook.replacement_pending, true);
  assert.equal((await refreshToken(project.id)).json.token, forged);

  // Confirming the token in use (the one the owner set up with) keeps it and leaves the other waiting.
  const current = await confirm(project.id, { token: secret });
  assert.equal(current.status, 200, current.text);
  assert.equal(current.json.replacement_pending, true);
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 200);

  const malformed = await confirm(project.id, { fingerprint: "xyz" });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.error.field, "fingerprint");
});

test("an event signed with the pending token proves it: the swap happens without the owner", async () => {
  const { project, path, secret, event } = await activeProject();
  const fresh = await verify(worker, path);
  const signedNew = await deliver(worker, path, event(), { token: fresh });
  assert.equal(signedNew.status, 200, signedNew.text);
  assert.equal((await status(project.id)).webhook.replacement_pending, false);
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 401, "the old token is retired");
  assert.equal((await deliver(worker, path, event(), { token: fresh })).status, 200);
});

test("rotate: the old URL answers until the new one is verified in Notion and confirmed, then 404", async () => {
  const { project, path, secret, event } = await activeProject();
  const rotated = await api("POST", `/api/v1/projects/${project.id}/webhook/rotate`);
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(rotated.json.url, project.webhook.url);
  assert.notEqual(rotated.json.next_url, project.webhook.url);
  const nextPath = new URL(rotated.json.next_url).pathname;
  assert.equal((await status(project.id)).webhook.next_url, rotated.json.next_url);

  // Confirming before Notion verified the new URL keeps both.
  assert.equal((await confirm(project.id)).status, 200);
  assert.equal((await status(project.id)).webhook.next_url, rotated.json.next_url);
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 200, "old URL still answers");

  // Notion's subscription moves to the new URL: its verification request arrives there.
  const fresh = await verify(worker, nextPath);
  const verified = (await status(project.id)).webhook;
  assert.ok(verified.next_url_verified_at);
  assert.equal(verified.replacement_pending, true);
  assert.equal((await deliver(worker, path, event(), { token: secret })).status, 200, "old URL still answers");
  assert.equal((await confirm(project.id, { token: fresh })).status, 200);

  const retired = await deliver(worker, path, event(), { token: secret });
  assert.equal(retired.status, 404);
  assert.equal(retired.json.error.code, "not_found");
  assert.equal((await deliver(worker, path, { verification_token: newToken() })).status, 404);
  assert.equal((await deliver(worker, nextPath, event(), { token: fresh })).status, 200);
  const s = await status(project.id);
  assert.equal(new URL(s.webhook.url).pathname, nextPath);
  assert.equal(s.webhook.next_url, null);
  assert.equal(s.webhook.status, "active");
});

test("the shared URL is 404 (JSON) unless SHARED_WEBHOOK_URL is on", async () => {
  for (const body of [{ verification_token: newToken() }, pageEvent({ databaseId: randomUUID() })]) {
    const res = await deliver(worker, "/webhooks/notion", body);
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, "not_found");
    assert.match(res.json.error.message, /shared webhook URL is off/);
  }
  assert.deepEqual(await worker.query("SELECT id FROM pending_verifications"), []);
});

test("with the shared URL on, a token is claimed only by the project it was bound to, never across accounts", async () => {
  const shared = await startWorker({ vars: { SHARED_WEBHOOK_URL: "on" } });
  try {
    const owner = await createAccount(shared, { name: "Owner" });
    const other = await createAccount(shared, { name: "Other" });
    const mine = await createProject(shared, owner.token);
    const secret = newToken();
    assert.equal((await deliver(shared, "/webhooks/notion", { verification_token: secret })).status, 200);
    // Another account's project, created after the token arrived, cannot take it.
    const theirs = await createProject(shared, other.token);
    const refused = await shared.fetch(`/api/v1/projects/${theirs.id}/webhook/refresh-token`, { method: "POST", token: other.token, body: {} });
    assert.equal(refused.status, 200, refused.text);
    assert.equal(refused.json.token, null, "a claim from another account is refused");
    const claimed = await shared.fetch(`/api/v1/projects/${mine.id}/webhook/refresh-token`, { method: "POST", token: owner.token, body: {} });
    assert.equal(claimed.json.token, secret);
    assert.equal(claimed.json.claimed_from_shared_url, true);

    // While two projects wait, a token there is bound to nobody: neither can claim it.
    const second = await createProject(shared, owner.token);
    assert.equal((await deliver(shared, "/webhooks/notion", { verification_token: newToken() })).status, 200);
    for (const [id, token] of [[second.id, owner.token], [theirs.id, other.token]]) {
      const res = await shared.fetch(`/api/v1/projects/${id}/webhook/refresh-token`, { method: "POST", token, body: {} });
      assert.equal(res.json.token, null);
    }
  } finally {
    await shared.stop();
  }
});

test("security headers on API, webhook, error and page responses; no HSTS on http://localhost", async () => {
  const responses = [
    await api("GET", "/api/v1/projects"),
    await worker.fetch("/api/v1/nope"),
    await deliver(worker, "/webhooks/notion/whk_nope", { verification_token: "x" }),
    await worker.fetch("/healthz"),
  ];
  for (const res of responses) {
    assert.equal(res.headers.get("content-security-policy"), CSP);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("strict-transport-security"), null);
  }
  for (const path of ["/", "/js/main.js", "/style.css"]) {
    const res = await fetch(`${worker.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-security-policy"), CSP, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
    assert.equal(res.headers.get("x-frame-options"), "DENY", path);
    assert.equal(res.headers.get("strict-transport-security"), null, path);
  }
});

/**
 * The limiter counts in windows aligned to the wall clock's minutes: a flood must not straddle
 * one, or its count starts over. Waits for the next minute when less than 20 s are left.
 */
async function withinOneWindow() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await new Promise((r) => setTimeout(r, left + 200));
}

/** The request log lines of `path` answered 429. */
const limitedLines = (path) => worker.logLines().filter((l) => l.kind === "request" && l.status === 429 && l.error_code === "rate_limited" && l.route?.startsWith(path));

test("a flood of forged signatures gets 429 after the limit; genuine traffic on that and another key goes on", async () => {
  const a = await activeProject();
  const b = await activeProject();
  await withinOneWindow();
  const answers = [];
  for (let i = 0; i < FORGED_LIMIT + 5; i++) answers.push(await deliver(worker, a.path, a.event(), { token: "secret_forged" }));
  const statuses = answers.map((r) => r.status);
  assert.deepEqual(statuses.slice(0, FORGED_LIMIT), Array(FORGED_LIMIT).fill(401));
  assert.deepEqual(statuses.slice(FORGED_LIMIT), Array(5).fill(429));
  const limited = answers.at(-1);
  assert.equal(limited.json.error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  assert.deepEqual(await eventsOf(a.project.id), [], "nothing stored for forged events");

  for (const { path, secret, event } of [a, b]) {
    const genuine = await deliver(worker, path, event(), { token: secret });
    assert.equal(genuine.status, 200, genuine.text);
  }
  await waitFor(() => limitedLines("/webhooks/notion/").length >= 5, { what: "one log line per refused request" });
});

test("a flood of verification requests gets 429 after the limit and stores nothing more", async () => {
  await withinOneWindow();
  const { project, path } = await activeProject();
  const tokens = Array.from({ length: VERIFICATION_LIMIT + 3 }, newToken);
  const statuses = [];
  for (const t of tokens) statuses.push((await deliver(worker, path, { verification_token: t })).status);
  // activeProject's own verification spent one of the key's budget.
  const allowed = VERIFICATION_LIMIT - 1;
  assert.deepEqual(statuses.slice(0, allowed), Array(allowed).fill(200));
  assert.ok(statuses.slice(allowed).every((s) => s === 429), statuses.join(","));
  assert.equal((await refreshToken(project.id)).json.token, tokens[allowed - 1], "the refused ones were not stored");
});

test("a flood of bad API tokens gets 429 after the limit; a genuine token still works", async () => {
  await withinOneWindow();
  const statuses = [];
  for (let i = 0; i < FAILED_AUTH_LIMIT + 3; i++) {
    statuses.push((await worker.fetch("/api/v1/projects", { token: `nfs_guessing_${randomUUID()}` })).status);
  }
  assert.ok(statuses.slice(0, 10).every((s) => s === 401), statuses.join(","));
  assert.deepEqual(statuses.slice(-3), [429, 429, 429]);
  const limited = await worker.fetch("/api/v1/projects", { token: "nfs_guessing_again" });
  assert.equal(limited.status, 429);
  assert.equal(limited.json.error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  assert.equal((await api("GET", "/api/v1/projects")).status, 200, "the genuine token is unaffected");
});
