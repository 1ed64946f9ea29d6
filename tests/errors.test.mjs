// One way to fail, under workerd: a real storage failure (a D1 table renamed away behind the
// Worker's back) answers a generic 500 naming the request id and nothing else, while the
// request's log line carries the same id and the database's own words.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createAccount, createProject } from "../harness/api.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

let worker;
let token;
let project;

before(async () => {
  worker = await startWorker();
  ({ token } = await createAccount(worker));
  project = await createProject(worker, token);
});
after(async () => worker?.stop());

/** Runs `sql` against the Worker's local D1 file, writable (the harness only reads it). */
async function alterD1(sql) {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = join(worker.persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = (await readdir(dir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  const db = new DatabaseSync(join(dir, file));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** The Worker's request log line with this request id. */
function requestLine(requestId) {
  return waitFor(() => worker.logLines().find((l) => l.kind === "request" && l.request_id === requestId), {
    what: `the log line of request ${requestId}`,
  });
}

/** Hides `sync_runs` for the duration of `body`, then puts it back. */
async function withoutSyncRuns(body) {
  await alterD1("ALTER TABLE sync_runs RENAME TO sync_runs_hidden");
  try {
    return await body();
  } finally {
    await alterD1("ALTER TABLE sync_runs_hidden RENAME TO sync_runs");
  }
}

const LEAKS = /sync_runs|sqlite|no such table|d1_|select |\bSQL\b|runtime|d1 query/i;

test("a storage failure answers a generic 500 with the request id, and logs the detail under it", async () => {
  const res = await withoutSyncRuns(() => worker.fetch(`/api/v1/projects/${project.id}`, { token }));
  assert.equal(res.status, 500, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const requestId = res.json?.error?.request_id;
  assert.match(requestId ?? "", /^[0-9a-f]{32}$/, `a random request id when there is no cf-ray: ${res.text}`);
  assert.deepEqual(res.json, {
    error: {
      code: "internal_error",
      message: `something went wrong on our side; quote request id ${requestId} if it persists`,
      request_id: requestId,
    },
  });
  assert.doesNotMatch(res.text, LEAKS);

  const line = await requestLine(requestId);
  assert.equal(line.status, 500);
  assert.equal(line.error_code, "internal_error");
  assert.equal(line.route, "/api/v1/projects/{project_id}");
  assert.match(line.detail, /^d1 query: .*no such table: sync_runs/, JSON.stringify(line));
  assert.equal(worker.logLines().filter((l) => l.request_id === requestId).length, 1, "one log line per request");
});

test("Cloudflare's ray id becomes the request id", async () => {
  const ray = "8f2a6c1d3e4b5a69-TST";
  const res = await withoutSyncRuns(() =>
    worker.fetch("/api/v1/projects", { token, headers: { "cf-ray": ray } }),
  );
  assert.equal(res.status, 500, res.text);
  assert.equal(res.json.error.request_id, ray);
  assert.equal(res.json.error.message, `something went wrong on our side; quote request id ${ray} if it persists`);
  assert.doesNotMatch(res.text, LEAKS);
  const line = await requestLine(ray);
  assert.equal(line.route, "/api/v1/projects");
  assert.match(line.detail, /no such table: sync_runs/);
});

test("once storage is back the same request succeeds, and every request has its own id", async () => {
  const res = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
  assert.equal(res.status, 200, res.text);
  const lines = worker.logLines().filter((l) => l.kind === "request");
  assert.ok(lines.length >= 4);
  assert.ok(lines.every((l) => typeof l.request_id === "string" && l.request_id.length > 0), "every request line has an id");
  assert.equal(new Set(lines.map((l) => l.request_id)).size, lines.length, "ids are unique");
  assert.ok(lines.filter((l) => l.status < 500).every((l) => l.detail === undefined), "only internal errors log a detail");
});

test("client errors keep their envelope without a request id", async () => {
  const res = await worker.fetch("/api/v1/projects/nope", { token });
  assert.equal(res.status, 404);
  assert.deepEqual(res.json, { error: { code: "not_found", message: "project not found" } });
});
