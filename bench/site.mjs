// Site benchmark (issue 21): the first sync of a three-source site under Notion's rate limit.
// Posts relate to Authors and Tags; one create request for Posts ticks both related sources
// (two sibling projects). Then "Sync now" on the three projects at once, as an owner would click
// them (each project is its own Durable Object, so the runs go side by side, sharing one Notion
// token and therefore one rate limit), and, on a fresh stack, on Authors and Tags first and on
// Posts once they finished (no reference of Posts then waits for an item not written yet).
//   node bench/site.mjs        (make bench runs it)
//   BENCH_SITE_ORDER=together|targets-first|both   "Sync now" on the three at once, or on Authors
//                              and Tags first, then Posts once they finished; both (default): each
//   BENCH_SITE_POSTS=1000 BENCH_SITE_AUTHORS=100 BENCH_SITE_TAGS=300
//   BENCH_SITE_TAGS_PER_POST=5 BENCH_SITE_LONG_POSTS=20 BENCH_SITE_LONG_TAGS=150
// Prints the wall time of the whole site's first sync (first run's start to the last run's end,
// follow-up runs the first ones caused included) against the floor the data sets at 3 requests
// per second, each run's own Notion call count beside what the data needs of its source, and
// what the fake Notion served. Fails when a run warns, a project's last run failed, or when a post's references in Framer are
// not exactly its Notion relations, each an item of its target collection.
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { addBlogDatabases } from "../harness/blog.mjs";
import { startWorker, waitFor } from "../harness/worker.mjs";

const POSTS = Number(process.env.BENCH_SITE_POSTS ?? 1_000);
const AUTHORS = Number(process.env.BENCH_SITE_AUTHORS ?? 100);
const TAGS = Number(process.env.BENCH_SITE_TAGS ?? 300);
const TAGS_PER_POST = Number(process.env.BENCH_SITE_TAGS_PER_POST ?? 5);
const LONG_POSTS = Number(process.env.BENCH_SITE_LONG_POSTS ?? 20);
const LONG_TAGS = Number(process.env.BENCH_SITE_LONG_TAGS ?? 150);
// "together": "Sync now" on the three at once; "targets-first": Authors and Tags, then Posts;
// "both" (the default): one after the other, each on a fresh stack.
const ORDER = process.env.BENCH_SITE_ORDER ?? "both";
const RATE = 3;
const BURST = RATE;
const GOAL = 1.05;
const NOTION_TOKEN = "ntn_site_bench_token_0123456789";
const FRAMER_PROJECT = "SiteBenchProject0001";
const FRAMER_KEY = "fr_site_bench_key_0123456789";
const BASE_TIME = Date.parse("2024-01-01T00:00:00.000Z");
// A query row carries at most this many related pages (Notion's cut, `has_more`).
const QUERY_ROW_RELATION_LIMIT = 25;
const PROPERTY_PAGE = 100;
const QUERY_PAGE = 100;

/** Post i's author and tags: spread evenly; every (POSTS / LONG_POSTS)th post has LONG_TAGS tags. */
function relationsOf(i, authorIds, tagIds) {
  const long = LONG_POSTS > 0 && i % Math.floor(POSTS / LONG_POSTS) === 0 && i / Math.floor(POSTS / LONG_POSTS) < LONG_POSTS;
  const count = long ? LONG_TAGS : TAGS_PER_POST;
  const tags = Array.from({ length: count }, (_, k) => tagIds[(i * TAGS_PER_POST + k) % tagIds.length]);
  return { authors: [authorIds[i % authorIds.length]], tags };
}

/**
 * The Notion requests a first (full) read of a source needs, from its data alone: the database
 * and its data source (retrieved once per run, as bench/sync.mjs counts them), the query pages
 * (100 rows each), and for each row whose relation holds more than 25 pages, ceil(n / 100)
 * calls of the page-property endpoint. Not ceil((n - 25) / 100): the query row gives the first
 * 25 related pages but no cursor to continue from (Notion's `has_more` on a page's relation comes
 * without `next_cursor`), so the protocol requires reading the relation again from its start,
 * 100 per call (the engine does exactly that: `read_relation` restarts the list on the first
 * page).
 */
function needed(name, rows, relationLengths) {
  const setup = 2;
  const pages = Math.max(1, Math.ceil(rows / QUERY_PAGE));
  const long = relationLengths.filter((n) => n > QUERY_ROW_RELATION_LIMIT);
  const property = long.reduce((sum, n) => sum + Math.ceil(n / PROPERTY_PAGE), 0);
  return { name, setup, pages, longRelations: long.length, property, total: setup + pages + property };
}

console.log(`machine: ${cpus().length} x ${cpus()[0].model}; fake Notion limited to ${RATE} req/s (burst ${BURST}), one token for the whole site`);

/** One whole measurement on a fresh stack (Worker, fakes, state): `order` is how the runs are started. */
async function measure(order) {
const notion = await startFakeNotion({ rateLimit: { requestsPerSecond: RATE, burst: BURST } });
const framer = await startFakeFramer();
notion.addIntegration(NOTION_TOKEN);
framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
// The step budget is wrangler.toml's default (SYNC_STEP_SUBREQUESTS); a short debounce, so that
// a follow-up run one project asks of another (a refresh) does not sit out 10 s.
const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "1", DEBOUNCE_MAX_WAIT_SECONDS: "5" } });
try {
  // ------------------------------------------------------------------ the data
  const { authors, tags, posts } = addBlogDatabases(notion, NOTION_TOKEN);
  const page = (i) => ({ createdTime: BASE_TIME + i * 60_000, editedTime: BASE_TIME + i * 60_000 });
  const authorIds = Array.from({ length: AUTHORS }, (_, i) => notion.addPage(authors.dataSourceId, { properties: { Name: `Author ${i}` }, ...page(i) }));
  const tagIds = Array.from({ length: TAGS }, (_, i) => notion.addPage(tags.dataSourceId, { properties: { Name: `Tag ${i}` }, ...page(i) }));
  const expected = new Map();
  for (let i = 0; i < POSTS; i++) {
    const rel = relationsOf(i, authorIds, tagIds);
    const id = notion.addPage(posts.dataSourceId, { properties: { Title: `Post ${i}`, Authors: rel.authors, Tags: rel.tags }, ...page(i) });
    expected.set(id, rel);
  }
  const need = {
    Posts: needed("Posts", POSTS, [...expected.values()].flatMap((r) => [r.authors.length, r.tags.length])),
    Authors: needed("Authors", AUTHORS, []),
    Tags: needed("Tags", TAGS, []),
  };
  const total = Object.values(need).reduce((sum, n) => sum + n.total, 0);
  console.log(`data: ${POSTS} posts (1 author and ${TAGS_PER_POST} tags each, ${LONG_POSTS} of them ${LONG_TAGS} tags), ${AUTHORS} authors, ${TAGS} tags`);

  // ------------------------------------------------------------------ the site, one create request
  const { token } = await createAccount(worker, { name: "Site bench" });
  const projectUrl = `https://framer.com/projects/Site--${FRAMER_PROJECT}`;
  const offer = await worker.fetch("/api/v1/notion/graph", {
    method: "POST", token, body: { notion: { token: NOTION_TOKEN, database_id: posts.databaseId }, framer: { project_url: projectUrl } },
  });
  assert.equal(offer.status, 200, offer.text);
  const related = offer.json.graph.related.map((r) => r.id);
  assert.equal(related.length, 2, JSON.stringify(offer.json.graph.related));
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name: "Posts",
      notion: { token: NOTION_TOKEN, database_id: posts.databaseId },
      framer: { project_url: projectUrl, api_key: FRAMER_KEY, collection_name: "Posts" },
      related,
    },
  });
  assert.equal(created.status, 201, created.text);
  const projects = [
    { name: "Posts", id: created.json.project.id },
    ...created.json.siblings.map((s) => ({ name: s.name, id: s.id })),
  ];
  assert.deepEqual(projects.map((p) => p.name).sort(), ["Authors", "Posts", "Tags"]);
  const setupRequests = notion.stats.requests;

  // ------------------------------------------------------------------ the first sync
  notion.resetStats();
  const firstRequest = notion.requests.length;
  const runsOf = async (id) => (await worker.fetch(`/api/v1/projects/${id}/syncs?limit=100`, { token })).json.syncs;
  const view = async (id) => (await worker.fetch(`/api/v1/projects/${id}`, { token })).json.project;
  const click = async (p) => {
    const queued = await worker.fetch(`/api/v1/projects/${p.id}/sync`, { method: "POST", token, body: {} });
    assert.equal(queued.status, 202, queued.text);
    p.firstSyncId = queued.json.sync_id;
  };
  if (order === "targets-first") {
    // The related sources first, then Posts once both finished (what an owner would have to
    // know to do): no reference of Posts can then point at an item not written yet.
    const targets = projects.filter((p) => p.name !== "Posts");
    for (const p of targets) await click(p);
    await waitFor(async () => {
      for (const p of targets) {
        const run = (await runsOf(p.id)).find((r) => r.id === p.firstSyncId);
        if (!run || run.status === "running") return false;
      }
      return true;
    }, { timeoutMs: 3_600_000, intervalMs: 100, what: "the related sources' first runs" });
    await click(projects.find((p) => p.name === "Posts"));
  } else {
    // Clicked as an owner would, right after the create: the project itself, then its siblings.
    for (const p of projects) await click(p);
  }
  // Done when every project's first run finished and nothing is running or waiting to run
  // (a refresh one run asks of another starts a debounced batch there), for 3 s in a row.
  let quietSince = null;
  await waitFor(async () => {
    for (const p of projects) {
      const runs = await runsOf(p.id);
      if (!runs.some((r) => r.id === p.firstSyncId) || runs.some((r) => r.status === "running")) return (quietSince = null);
      const v = await view(p.id);
      if (v.sync.running || v.sync.pending.since !== null) return (quietSince = null);
    }
    quietSince ??= Date.now();
    return Date.now() - quietSince >= 3_000;
  }, { timeoutMs: 3_600_000, intervalMs: 250, what: "the site's first sync" });

  const all = [];
  for (const p of projects) {
    p.runs = (await runsOf(p.id)).reverse();
    all.push(...p.runs.map((r) => ({ project: p.name, run: r })));
  }
  const start = Math.min(...all.map(({ run }) => Date.parse(run.started_at)));
  const end = Math.max(...all.map(({ run }) => Date.parse(run.finished_at)));
  const wall = (end - start) / 1000;
  const floor = total / RATE;
  // ------------------------------------------------------------------ figures
  console.log(`create request: 1 (Posts with related Authors and Tags), ${setupRequests} Notion requests for the graph check, 2 siblings`);
  console.log(`first sync of the site (3 projects, ${order === "targets-first" ? '"Sync now" on Authors and Tags, then on Posts once both finished' : '"Sync now" on each at once'}): wall ${wall.toFixed(1)} s from the first run's start to the last run's end, ${all.length} runs`);
  console.log(`  data floor: ${Object.values(need).map((n) => `${n.name} ${n.total} (${n.setup} setup + ${n.pages} query pages + ${n.property} property pages for ${n.longRelations} relations over ${QUERY_ROW_RELATION_LIMIT})`).join(", ")} ` +
    `= ${total} requests / ${RATE} per s = ${floor.toFixed(1)} s (${((total - BURST) / RATE).toFixed(1)} s after the fake's burst of ${BURST}); ` +
    `ratio ${(wall / floor).toFixed(2)}x (goal <= ${GOAL}x)`);
  for (const p of projects) {
    const counted = p.runs.reduce((sum, r) => sum + r.calls.notion, 0);
    const runs = p.runs.map((r) => `${r.status}${r.error ? ` (${r.error.code})` : ""} ${r.scope}/${r.trigger} ${((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000).toFixed(1)} s (+${((Date.parse(r.started_at) - start) / 1000).toFixed(1)} s) ${r.calls.notion} Notion calls, ${r.calls.framer} Framer calls, ${r.counts.added} added, ${r.counts.updated} updated`);
    console.log(`  ${p.name}: ${p.runs.length} run(s): ${runs.join("; ")}; Notion calls ${counted}, needed ${need[p.name].total}`);
  }
  const served = notion.stats.requests;
  const limited = notion.stats.rateLimited;
  console.log(`  the fake Notion served ${served} requests (${served - limited} answered, ${limited} rate-limited): ${Object.entries(notion.stats.byRoute).map(([route, n]) => `${route} ${n}`).join(", ")}`);
  if (process.env.BENCH_SITE_TIMELINE) {
    const sources = new Map([[posts.dataSourceId, "P"], [authors.dataSourceId, "A"], [tags.dataSourceId, "T"], [posts.databaseId, "P"], [authors.databaseId, "A"], [tags.databaseId, "T"]]);
    const who = (r) => [...sources].find(([id]) => r.path.includes(id))?.[1] ?? (expected.has(r.path.split("/")[3]) ? "p" : "?");
    let prev = start;
    for (const line of worker.logLines().filter((l) => l.kind === "sync_step")) {
      const name = projects.find((p) => p.id === line.project_id)?.name;
      console.log(`  step ${name} ${line.step}: ${["phase", "subrequests", "pacer_asks", "d1_queries", "notion_calls", "framer_calls", "rows", "elapsed_ms", "outcome"].map((k) => `${k} ${line[k]}`).join(", ")}`);
    }
    console.log("  timeline: " + notion.requests.slice(firstRequest).map((r) => { const s = `${who(r)}${r.method === "POST" && !r.body?.start_cursor ? "0" : ""}${r.status === 429 ? "!" : ""}+${r.at - prev}`; prev = r.at; return s; }).join(" "));
  }
  // The same answered request twice is a call the data did not need.
  const seen = new Map();
  for (const r of notion.requests.slice(firstRequest)) {
    if (r.status === 429) continue;
    const key = `${r.method} ${r.path} ${r.body ? JSON.stringify(r.body) : ""}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const repeated = [...seen].filter(([, n]) => n > 1);
  console.log(`  answered requests repeated: ${repeated.length === 0 ? "none" : repeated.map(([key, n]) => `${key.slice(0, 120)} x${n}`).join("; ")}`);
  // A failed run (e.g. rate limited past its retries) is printed above and retried by the
  // product; the site's data must be whole and each project's last run a success.
  for (const { project, run } of all) assert.deepEqual(run.warnings, [], `${project}: the run warned`);
  for (const p of projects) assert.equal(p.runs.at(-1).status, "succeeded", `${p.name}: ${JSON.stringify(p.runs.at(-1))}`);

  // ------------------------------------------------------------------ the data in Framer
  const site = framer.project(FRAMER_PROJECT);
  const [postsC, authorsC, tagsC] = ["Posts", "Authors", "Tags"].map((name) => site.collection(name));
  assert.equal(authorsC.items.size, AUTHORS, "every author is an item");
  assert.equal(tagsC.items.size, TAGS, "every tag is an item");
  assert.equal(postsC.items.size, POSTS, "every post is an item");
  let references = 0;
  for (const [name, target, key] of [["Authors", authorsC, "authors"], ["Tags", tagsC, "tags"]]) {
    const field = postsC.fields.find((f) => f.name === name);
    assert.equal(field.type, "multiCollectionReference", name);
    assert.equal(field.collectionId, target.id, name);
    for (const [id, rel] of expected) {
      const value = postsC.items.get(id).fieldData[field.id]?.value ?? [];
      assert.deepEqual(value, rel[key], `post ${id}: ${name} in Notion's order, every one of them`);
      for (const ref of value) assert.ok(target.items.has(ref), `post ${id}: ${name} reference ${ref} is an item of ${target.name}`);
      references += value.length;
    }
  }

  console.log(`  Framer: ${postsC.items.size} posts, ${authorsC.items.size} authors, ${tagsC.items.size} tags; ${references} references, each an item of its target collection and each post's exactly its Notion relations`);
  return { order, wall, floor, ratio: wall / floor };
} finally {
  await worker.stop();
  await framer.close();
  await notion.close();
}
}

const orders = ORDER === "both" ? ["together", "targets-first"] : [ORDER];
const results = [];
for (const order of orders) results.push(await measure(order));
if (results.length > 1) {
  console.log(`summary: ${results.map((r) => `${r.order} ${r.wall.toFixed(1)} s, ${r.ratio.toFixed(2)}x`).join("; ")} (floor ${results[0].floor.toFixed(1)} s, goal <= ${GOAL}x)`);
}
