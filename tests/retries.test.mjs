// Failed runs back off, whatever started them (issue 24), under the production retry policy
// (5 s, doubling with jitter, at most 15 min apart): a click while a retry waits runs at once
// but its failure waits out the next backoff; during a two-minute Notion outage after one
// "Sync now" the runs and Notion requests stay within what the backoff allows (printed), and
// the run after the outage succeeds. GET project says when the next attempt is due.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { holdsFor, startWorker, waitFor } from "../harness/worker.mjs";

// The production defaults of SYNC_RETRY_BASE_SECONDS and the cap, as the policy uses them.
const BASE_MS = 5_000;
const CAP_MS = 15 * 60 * 1000;
/** The longest wait after `failures` failed runs; the policy waits between half of it and it. */
const ceiling = (failures) => Math.min(CAP_MS, BASE_MS * 2 ** (failures - 1));
// Run records are written a few ms apart from the decisions they describe.
const SLACK_MS = 750;
const SCHEMA = { Name: { type: "title" }, Count: { type: "number" } };

let notion;
let framer;
let worker;
let token;
let fixtures = 0;

before(async () => {
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  worker = await startWorker({
    vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "0.2", DEBOUNCE_MAX_WAIT_SECONDS: "1" },
  });
  ({ token } = await createAccount(worker, { name: "Retries" }));
});

after(async () => {
  await worker?.stop();
  await framer?.close();
  await notion?.close();
});

/** A Notion database with two rows synced once into a Framer project (auto-sync off). */
async function syncedProject() {
  fixtures += 1;
  const notionToken = `ntn_retries_token_${fixtures}`;
  const framerProject = `RetriesProject${String(fixtures).padStart(6, "0")}`;
  const framerKey = `fr_retries_key_${fixtures}`;
  notion.addIntegration(notionToken);
  const db = notion.addDatabase({ title: "Posts", properties: SCHEMA, token: notionToken });
  framer.addProject(framerProject, framerKey, { name: "Site" });
  notion.addPage(db.dataSourceId, { properties: { Name: "Hello", Count: 1 } });
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Blog",
      notion: { token: notionToken, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: "Posts" },
      auto_sync: false,
    },
  });
  assert.equal(created.status, 201, created.text);
  const project = { id: created.json.project.id, db, notionToken };
  const first = await finished(project, await click(project));
  assert.equal(first.status, "succeeded", JSON.stringify(first));
  return project;
}

/** Every request naming this database or its data source (dashed or not). */
function databaseRoutes(db) {
  const ids = [db.databaseId, db.dataSourceId].flatMap((id) => [id, id.replaceAll("-", "")]);
  return new RegExp(`/(${ids.join("|")})(/|$)`);
}

async function click(project) {
  const res = await worker.fetch(`/api/v1/projects/${project.id}/sync`, { method: "POST", token, body: {} });
  assert.equal(res.status, 202, res.text);
  return res.json.sync_id;
}

async function runs(project) {
  const res = await worker.fetch(`/api/v1/projects/${project.id}/syncs?limit=100`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json.syncs.slice().reverse();
}

function finished(project, syncId, timeoutMs = 60_000) {
  return waitFor(async () => (await runs(project)).find((r) => r.id === syncId && r.status !== "running"), {
    timeoutMs, intervalMs: 200, what: `run ${syncId}`,
  });
}

async function projectSync(project) {
  const res = await worker.fetch(`/api/v1/projects/${project.id}`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json.project.sync;
}

const at = (iso) => Date.parse(iso);

describe("retries back off", { concurrency: false }, () => {
  test("a click while a retry waits runs at once; its failure does not make the next attempt immediate", async () => {
    const project = await syncedProject();
    // Each run fails within ~2 s: Notion rate-limits every query with Retry-After: 0.
    notion.failNext({ status: 429, retryAfter: 0, times: 1_000_000, match: databaseRoutes(project.db) });
    const injected = notion.failures.at(-1);
    const clickedFirst = await click(project);
    assert.equal((await finished(project, clickedFirst)).status, "failed");

    // The automatic retry comes, fails, and the next one waits 5-10 s: GET project says when.
    const waiting = await waitFor(async () => {
      const sync = await projectSync(project);
      const due = sync.retry?.next_attempt_at;
      return !sync.running && sync.retry?.failures === 2 && due && at(due) - Date.now() > 2_000 ? sync : null;
    }, { timeoutMs: 30_000, intervalMs: 100, what: "the second failure's backoff" });
    assert.equal(waiting.retry.stopped, false);
    assert.equal(waiting.pending.alarm_at, waiting.retry.next_attempt_at);
    assert.ok(at(waiting.retry.failing_since) <= Date.now());

    const clickedAt = Date.now();
    const clicked = await click(project);
    const run = await finished(project, clicked);
    assert.equal(run.status, "failed");
    assert.equal(run.trigger, "manual");
    assert.ok(at(run.started_at) - clickedAt < 2_000, `the click ran at once (${at(run.started_at) - clickedAt} ms)`);
    assert.ok(at(run.started_at) < at(waiting.retry.next_attempt_at), "before the retry that waited");

    // Third failure in a row: the next attempt is at least half of 20 s away, not now.
    const backedOff = await waitFor(async () => {
      const sync = await projectSync(project);
      return sync.retry?.failures === 3 ? sync : null;
    }, { what: "the click's failure counted" });
    const wait = at(backedOff.retry.next_attempt_at) - at(run.finished_at);
    assert.ok(wait >= ceiling(3) / 2 - SLACK_MS && wait <= ceiling(3) + SLACK_MS, `next attempt ${wait} ms after the click's failure`);
    const count = (await runs(project)).length;
    await holdsFor(async () => (await runs(project)).length === count, {
      forMs: ceiling(3) / 2 - SLACK_MS - (Date.now() - at(run.finished_at)),
      intervalMs: 250,
      what: "no run before the backoff",
    });
    notion.failures.splice(notion.failures.indexOf(injected), 1);
    const recovered = await waitFor(async () => (await runs(project)).find((r) => r.status === "succeeded" && at(r.started_at) > at(run.finished_at)), {
      timeoutMs: ceiling(3) + 30_000, intervalMs: 250, what: "the retry after the failures",
    });
    assert.ok(at(recovered.started_at) - at(run.finished_at) >= ceiling(3) / 2 - SLACK_MS);
    assert.equal((await projectSync(project)).retry, null, "a success ends the failure streak");
  });

  test("Notion answers 503 for two minutes after one Sync now: runs and requests stay within the backoff", async () => {
    const OUTAGE_MS = 120_000;
    const project = await syncedProject();
    const routes = databaseRoutes(project.db);
    notion.failNext({ status: 503, times: 1_000_000, match: routes });
    const injected = notion.failures.at(-1);
    // Refused requests carry no resolved token in the fake's log: they are counted by path.
    const ofProject = () => notion.requests.filter((r) => routes.test(r.path)).length;
    const requestsBefore = ofProject();
    const startedAt = Date.now();
    const first = await click(project);

    // Through the outage, the project says when the next attempt is due.
    const seen = new Set();
    while (Date.now() - startedAt < OUTAGE_MS) {
      const sync = await projectSync(project);
      if (!sync.running && sync.retry?.next_attempt_at) {
        assert.equal(sync.retry.stopped, false);
        assert.ok(at(sync.retry.next_attempt_at) >= Date.now() - 2_000, JSON.stringify(sync.retry));
        seen.add(sync.retry.failures);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    notion.failures.splice(notion.failures.indexOf(injected), 1);
    const requests = ofProject() - requestsBefore;
    const all = await runs(project);
    const during = all.slice(all.findIndex((r) => r.id === first)).filter((r) => at(r.started_at) < startedAt + OUTAGE_MS);
    assert.equal(during[0].id, first);
    assert.ok(at(during[0].started_at) - startedAt < 2_000, "the click ran at once");
    const failed = during.filter((r) => r.status === "failed");
    const gaps = failed.slice(1).map((r, i) => at(r.started_at) - at(failed[i].finished_at));
    const durations = failed.map((r) => at(r.finished_at) - at(r.started_at));
    console.log(
      `[retries] 503 for ${OUTAGE_MS / 1000} s after one Sync now: ${during.length} runs, ${requests} Notion requests; ` +
        `run durations ${durations.map((d) => `${(d / 1000).toFixed(1)} s`).join(", ")}; waits between runs ${gaps.map((g) => `${(g / 1000).toFixed(1)} s`).join(", ")}`,
    );
    // Each wait is within [half, whole] of its ceiling: 2.5-5 s, 5-10 s, 10-20 s, 20-40 s ...
    gaps.forEach((gap, i) => {
      assert.ok(gap >= ceiling(i + 1) / 2 - SLACK_MS && gap <= ceiling(i + 1) + 2 * SLACK_MS, `wait ${i + 1}: ${gap} ms`);
    });
    // What the backoff allows in the window: runs of the measured length separated by at
    // least half of each ceiling.
    let allowed = 0;
    for (let t = 0, k = 1; t < OUTAGE_MS; k++) {
      allowed += 1;
      t += Math.min(...durations) + ceiling(k) / 2 - SLACK_MS;
    }
    assert.ok(during.length <= allowed, `${during.length} runs, at most ${allowed} allowed`);
    assert.ok(during.length >= 3, `${during.length} runs: the retries went on`);
    // One failed request is retried by the run itself at most six times in all.
    assert.ok(requests <= 6 * during.length + 1, `${requests} requests for ${during.length} runs`);
    assert.ok(requests >= during.length, `${requests} requests counted`);
    assert.ok(seen.size >= 2, `the next attempt was shown after ${[...seen]} failures`);

    const recovered = await waitFor(async () => (await runs(project)).find((r) => r.status === "succeeded" && at(r.started_at) > startedAt), {
      timeoutMs: 150_000, intervalMs: 500, what: "the run after the outage",
    });
    assert.equal(recovered.trigger, "manual", "the retries serve the click's batch");
    assert.equal((await projectSync(project)).retry, null);
    const offset = (at(recovered.started_at) - startedAt - OUTAGE_MS) / 1000;
    console.log(
      `[retries] the first run to succeed started ${Math.abs(offset).toFixed(1)} s ${offset < 0 ? "before" : "after"} the outage ended ` +
        `(a run in flight retries its requests for ~16 s) and finished ${((at(recovered.finished_at) - startedAt - OUTAGE_MS) / 1000).toFixed(1)} s after it`,
    );
  });
});
