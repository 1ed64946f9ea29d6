// Small helpers shared by the integration tests: creating accounts and projects through the
// real dashboard API, and signing Notion webhook deliveries.
import { createHmac, randomUUID } from "node:crypto";

/** An account (paid unless said otherwise) and its first API token. */
export async function createAccount(worker, { name = "Acme", plan = "paid" } = {}) {
  const res = await worker.fetch("/api/v1/accounts", { method: "POST", token: worker.adminToken, body: { name, plan } });
  if (res.status !== 201) throw new Error(`account creation failed: ${res.status} ${res.text}`);
  return { account: res.json.account, token: res.json.token.token };
}

export function projectBody(overrides = {}) {
  return {
    name: "Blog",
    notion: { token: "ntn_test_token_0123456789abcdef", database_id: randomUUID() },
    framer: { project_url: "https://framer.com/projects/Site--AbCdEfGhIjKlMnOpQrSt", api_key: "fr_test_key_0123456789abcdef", collection_name: "Posts" },
    ...overrides,
  };
}

export async function createProject(worker, token, overrides = {}) {
  const res = await worker.fetch("/api/v1/projects", { method: "POST", token, body: projectBody(overrides) });
  if (res.status !== 201) throw new Error(`project creation failed: ${res.status} ${res.text}`);
  return res.json.project;
}

/** The X-Notion-Signature Notion sends (same algorithm as @notionhq/client's signWebhookPayload). */
export function sign(token, body) {
  return `sha256=${createHmac("sha256", token).update(body).digest("hex")}`;
}

export function pageEvent({ type = "page.properties_updated", databaseId, dataSourceId, pageId = randomUUID(), id = randomUUID(), attempt = 1 } = {}) {
  return {
    id,
    timestamp: new Date().toISOString(),
    workspace_id: "13950b26-c203-4f3b-b97d-93ec06319565",
    workspace_name: "Acme",
    subscription_id: "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
    integration_id: "0ef2e755-4912-8096-91c1-00376a88a5ca",
    type,
    authors: [{ id: "c7c11cca-1d73-471d-9b6e-bdef51470190", type: "person" }],
    attempt_number: attempt,
    api_version: "2025-09-03",
    entity: { id: pageId, type: "page" },
    data: { parent: { id: databaseId, type: "database", ...(dataSourceId ? { data_source_id: dataSourceId } : {}) }, updated_properties: ["title"] },
  };
}

/** POSTs a webhook delivery; `token` signs it (omit for an unsigned request). */
export async function deliver(worker, path, payload, { token, signature } = {}) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers = { "content-type": "application/json" };
  if (signature) headers["x-notion-signature"] = signature;
  else if (token) headers["x-notion-signature"] = sign(token, body);
  return worker.fetch(path, { method: "POST", body, headers });
}

export function webhookPath(project) {
  return new URL(project.webhook.url).pathname;
}

/** Sends Notion's verification request to `path` and returns the token it carried. */
export async function verify(worker, path, token = `secret_${randomUUID().replaceAll("-", "")}`) {
  const res = await deliver(worker, path, { verification_token: token });
  if (res.status !== 200) throw new Error(`verification failed: ${res.status} ${res.text}`);
  return token;
}
