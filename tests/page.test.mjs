// The project page's pure helpers (public/js/format.js, run-text.js, mapping.js, api.js) under node --test,
// and the page's files checked for what a strict Content-Security-Policy (no 'unsafe-inline')
// would refuse. Needs no build and no Worker: `node --test tests/page.test.mjs`.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ApiError, createApi } from "../public/js/api.js";
import {
  cardSummary, countsText, errorText, isBusy, pipelineLabel, planLabel, plural, progressText, relativeTime, retryText,
  runResult, runSummary, webhookLabel,
} from "../public/js/format.js";
import {
  behaviorChanges, behaviorSwitches, filterNeedsValues, filterOptions, mappingPatch, mappingRows, publishFilter,
  skippedText, slugOptions,
} from "../public/js/mapping.js";
import { heldReason, heldTitle, runFacts, runProgress, skippedRow, skippedSummary } from "../public/js/run-text.js";

const PUBLIC = resolve(dirname(fileURLToPath(import.meta.url)), "../public");
const NOW = Date.parse("2026-11-01T12:00:00Z");
const ago = (seconds) => new Date(NOW - seconds * 1000).toISOString();

describe("format.js", () => {
  test("relativeTime reads like people talk, with its unit boundaries", () => {
    const cases = [
      [0, "Just now"], [44, "Just now"], [45, "1 minute ago"], [60, "1 minute ago"], [180, "3 minutes ago"],
      [2_699, "45 minutes ago"], [2_700, "1 hour ago"], [7_200, "2 hours ago"], [79_199, "22 hours ago"],
      [79_200, "1 day ago"], [172_800, "2 days ago"],
    ];
    for (const [seconds, expected] of cases) assert.equal(relativeTime(ago(seconds), NOW), expected, `${seconds} s`);
    assert.equal(relativeTime(null, NOW), "Never");
    assert.equal(relativeTime("", NOW), "Never");
    // A server clock slightly ahead of the browser's must not read "-1 minutes ago".
    assert.equal(relativeTime(ago(-90), NOW), "Just now");
  });

  test("plural and counts", () => {
    assert.equal(plural(1, "warning"), "1 warning");
    assert.equal(plural(0, "warning"), "0 warnings");
    assert.equal(plural(3, "Notion change"), "3 Notion changes");
    assert.equal(countsText({ added: 3, updated: 0, removed: 1 }), "3 added, 1 removed");
    assert.equal(countsText({ added: 0, updated: 2, removed: 0 }), "2 updated");
    assert.equal(countsText({}), "no changes");
    assert.equal(countsText(undefined), "no changes");
  });

  test("runResult and runSummary describe a sync run", () => {
    assert.equal(runResult(null), "");
    assert.equal(runResult({ status: "running" }), "Running…");
    assert.equal(runResult({ status: "failed", error: { code: "notion_unauthorized", message: "Notion refused the token." } }),
      "Failed: Notion refused the token.");
    assert.equal(runResult({ status: "failed" }), "Failed: unknown error");
    assert.equal(runResult({ status: "succeeded", counts: { added: 3 }, published: true }), "Succeeded · 3 added · published");
    assert.equal(runResult({ status: "partial", counts: { updated: 1, removed: 2 }, published: false }), "Partial · 1 updated, 2 removed");
    assert.equal(runResult({ status: "succeeded", counts: { added: 28, skipped: 2 }, published: true }), "Succeeded · 28 added · 2 skipped · published");
    assert.equal(runResult({ status: "succeeded", counts: { added: 0, skipped: 0 }, published: false }), "Succeeded · no changes");
    assert.equal(runSummary({ trigger: "manual", scope: "full", status: "succeeded", counts: { added: 3 } }), "Sync now · full · 3 added");
    assert.equal(runSummary({ trigger: "webhook", scope: "incremental", status: "running", counts: {} }), "Notion change · incremental · in progress");
    assert.equal(runSummary({ trigger: "schedule", scope: "full", status: "succeeded", counts: {} }), "schedule · full · no changes");
  });

  test("labels for webhook status, pipeline state and plan", () => {
    assert.equal(webhookLabel("setup_required"), "Setup required");
    assert.equal(webhookLabel("token_received"), "Token received");
    assert.equal(webhookLabel("active"), "Active");
    assert.equal(webhookLabel("paused"), "paused");
    assert.equal(pipelineLabel("active"), "Active");
    assert.equal(pipelineLabel("setup_required"), "Setup required");
    assert.equal(pipelineLabel("auto_sync_off"), "Needs attention");
    assert.equal(pipelineLabel("plan_required"), "Needs attention");
    assert.equal(planLabel("paid"), "Paid plan");
    assert.equal(planLabel("free"), "Free plan");
  });

  test("cardSummary", () => {
    const project = { sync: { last_sync: { started_at: ago(7_200) }, items_in_framer: 5 } };
    assert.equal(cardSummary(project, NOW), "Last sync 2 hours ago · 5 items in Framer");
    assert.equal(cardSummary({ sync: { last_sync: null, items_in_framer: 0 } }, NOW), "Last sync never · 0 items in Framer");
  });

  test("retryText says when the next attempt is due, or that retries stopped", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    const retry = (r) => ({ retry: { failures: 3, failing_since: "2026-12-01T09:58:00Z", stopped: false, retry_until: "2026-12-01T10:58:00Z", ...r } });
    assert.equal(retryText({ retry: null }, now), "");
    assert.equal(retryText(undefined, now), "");
    assert.equal(retryText(retry({ next_attempt_at: "2026-12-01T10:00:40Z" }), now), "The last 3 syncs failed; next attempt in 40 s.");
    assert.equal(retryText(retry({ next_attempt_at: "2026-12-01T10:02:10Z" }), now), "The last 3 syncs failed; next attempt in 3 min.");
    assert.equal(retryText(retry({ failures: 1, next_attempt_at: "2026-12-01T09:59:59Z" }), now), "The last sync failed; retrying now.");
    assert.equal(
      retryText({ auto_sync_active: true, ...retry({ stopped: true, next_attempt_at: null }) }, now),
      "The last 3 syncs failed. Automatic retries stopped; the next Notion edit, Sync now or the hourly catch-up tries again.",
    );
    assert.equal(
      retryText({ auto_sync_active: false, ...retry({ stopped: true, next_attempt_at: null }) }, now),
      "The last 3 syncs failed. Automatic retries stopped; press Sync now to try again.",
    );
  });

  test("isBusy and progressText follow the queue and the sync this page started", () => {
    const idle = { sync: { running: false, pending: { events: 0, sync_id: null } } };
    const running = { sync: { running: true, pending: { events: 0, sync_id: null } } };
    const queued = { sync: { running: false, pending: { events: 0, sync_id: "s1" } } };
    const waiting = { sync: { running: false, pending: { events: 2, sync_id: null } } };
    const one = { sync: { running: false, pending: { events: 1, sync_id: null } } };
    assert.equal(isBusy(idle), false);
    assert.equal(progressText(idle), "");
    assert.equal(isBusy(running), true);
    assert.equal(progressText(running), "Syncing…");
    assert.equal(isBusy(queued), true);
    assert.equal(progressText(queued), "Sync queued…");
    assert.equal(isBusy(waiting), true);
    assert.equal(progressText(waiting), "2 Notion changes waiting to sync…");
    assert.equal(progressText(one), "1 Notion change waiting to sync…");
    // Started here but not listed yet: queued. Listed and running: busy. Listed and done: idle.
    assert.equal(progressText(idle, [], "s9"), "Sync queued…");
    assert.equal(isBusy(idle, [], "s9"), true);
    assert.equal(isBusy(idle, [{ id: "s9", status: "running" }], "s9"), true);
    assert.equal(progressText(idle, [{ id: "s9", status: "running" }], "s9"), "");
    assert.equal(isBusy(idle, [{ id: "s9", status: "succeeded" }], "s9"), false);
  });

  test("errorText names the paid plan for plan_required and leaves other messages as sentences", () => {
    const refused = new ApiError(402, { error: { code: "plan_required", message: "auto-sync needs the paid plan; use \"Sync now\" on the free plan" } });
    assert.equal(errorText(refused), "Paid plan required: auto-sync needs the paid plan; use \"Sync now\" on the free plan.");
    const invalid = new ApiError(400, { error: { code: "validation_failed", message: "mapping.fields: expected an array." } });
    assert.equal(errorText(invalid), "mapping.fields: expected an array.");
    assert.equal(errorText(new ApiError(500, null)), "Request failed (500).");
    assert.equal(errorText(undefined), "Something went wrong.");
  });
});

// A run as GET /projects/{id}/syncs lists it (trimmed to what run-text.js reads).
const refused = (n) => ({ page_id: `p${n}`, title: `Row ${n}`, url: `https://www.notion.so/${"a".repeat(31)}${n}`, property: "Cover", reason: "Invalid URL" });
const finished = (over = {}) => ({ status: "succeeded", steps: 0, counts: { added: 3, skipped: 0 }, skipped_rows: [], ...over });

describe("run-text.js", () => {
  const progress = (over = {}) => ({ sync_id: "s1", phase: "reading", rows_read: 0, items_written: 0, rows_total: null, steps: 1, started_at: ago(5), ...over });

  test("runProgress: nothing in flight, no bar", () => {
    assert.equal(runProgress(null), null);
    assert.equal(runProgress(undefined), null);
  });

  test("runProgress: the phase in words, indeterminate until the total is known", () => {
    assert.deepEqual(runProgress(progress({ phase: "reading" })), { text: "Reading Notion…", value: null, max: null });
    assert.deepEqual(runProgress(progress({ rows_read: 1 })), { text: "Reading Notion: 1 row read", value: null, max: null });
    assert.deepEqual(runProgress(progress({ rows_read: 1200, items_written: 1 })),
      { text: "Reading Notion: 1,200 rows read · 1 item written", value: null, max: null });
    // A record written before phases existed, or a finished run the queue still names.
    assert.deepEqual(runProgress(progress({ phase: null })), { text: "Syncing…", value: null, max: null });
    assert.deepEqual(runProgress(progress({ phase: "sorting" })), { text: "Syncing…", value: null, max: null });
  });

  test("runProgress: rows read of the total once known, never past it", () => {
    assert.deepEqual(runProgress(progress({ rows_read: 250, items_written: 40, rows_total: 10_000 })),
      { text: "Reading Notion: 250 of 10,000 rows read · 40 items written", value: 250, max: 10_000 });
    assert.deepEqual(runProgress(progress({ phase: "writing", rows_read: 31, items_written: 30, rows_total: 30 })),
      { text: "Writing to Framer: 30 of 30 rows read · 30 items written", value: 30, max: 30 });
    assert.deepEqual(runProgress(progress({ phase: "publishing", rows_read: 1, rows_total: 1 })),
      { text: "Publishing: 1 of 1 row read", value: 1, max: 1 });
    // An empty database: nothing to read, the bar is full.
    assert.deepEqual(runProgress(progress({ phase: "writing", rows_total: 0 })), { text: "Writing to Framer…", value: 1, max: 1 });
  });

  test("runFacts: the steps a run took and how many rows it skipped", () => {
    assert.equal(runFacts(finished()), "", "a run from before steps existed says nothing");
    assert.equal(runFacts(finished({ steps: 1 })), "1 step");
    assert.equal(runFacts(finished({ steps: 12, counts: { skipped: 2 } })), "12 steps · 2 rows skipped");
    assert.equal(runFacts(finished({ steps: 0, counts: { skipped: 1 } })), "1 row skipped");
    assert.equal(runFacts({ status: "running", steps: 3 }), "3 steps");
  });

  test("skippedSummary: the rows listed, and the whole count when the list is cut", () => {
    assert.equal(skippedSummary(finished({ counts: { skipped: 1 }, skipped_rows: [refused(1)] })), "1 row Framer refused");
    assert.equal(skippedSummary(finished({ counts: { skipped: 2 }, skipped_rows: [refused(1), refused(2)] })), "2 rows Framer refused");
    const hundred = Array.from({ length: 100 }, (_, i) => refused(i));
    assert.equal(skippedSummary(finished({ counts: { skipped: 130 }, skipped_rows: hundred })), "100 rows Framer refused (130 rows skipped in all)");
  });

  test("skippedRow: title, an https link to the Notion page, the property and Framer's reason", () => {
    assert.deepEqual(skippedRow(refused(7)), { title: "Row 7", href: refused(7).url, detail: "Cover: Invalid URL" });
    assert.deepEqual(skippedRow({ ...refused(1), property: null, reason: "Item is too large" }),
      { title: "Row 1", href: refused(1).url, detail: "Item is too large" });
    assert.deepEqual(skippedRow({ ...refused(1), title: "  ", reason: "" }), { title: "Untitled", href: refused(1).url, detail: "Cover: refused by Framer" });
    // Only an https link is followed: anything else shows the title unlinked.
    for (const url of ["javascript:alert(1)", "http://www.notion.so/x", "", null, undefined]) {
      assert.equal(skippedRow({ ...refused(1), url }).href, null, String(url));
    }
  });
});

// The shapes GET /projects/{id}/schema and GET /projects/{id} answer (trimmed to what is read).
const properties = [
  { id: "title", name: "Name", type: "title", allowed_field_types: ["string"] },
  { id: "a%3Ab", name: "Tags", type: "multi_select", allowed_field_types: ["string", "enum"] },
  { id: "live", name: "Live", type: "checkbox", allowed_field_types: ["boolean"] },
  { id: "st", name: "Stage", type: "status", allowed_field_types: ["enum", "string"] },
  { id: "sel", name: "Kind", type: "select", allowed_field_types: ["enum"] },
  { id: "sum", name: "Summary", type: "rich_text", allowed_field_types: ["string", "formattedText"] },
  { id: "fl", name: "Files", type: "files", allowed_field_types: [] },
];
const field = (property_id, property_name, kind, enabled = true) =>
  ({ property_id, property_name, property_type: "x", field_id: `f-${property_id}`, field_name: property_name, kind, enabled });
const mapping = {
  fields: [field("title", "Name", "string"), field("a%3Ab", "Tags", "enum"), field("live", "Live", "boolean", false),
    field("st", "Stage", "enum"), field("sel", "Kind", "enum"), field("sum", "Summary", "formattedText")],
  skipped: [{ property_id: "fl", property_name: "Files", property_type: "files" }],
};
const project = (over = {}) => ({
  id: "p1", plan: "paid", slug_property: null, publish_filter: null, unpublished_mode: "remove", page_body: false,
  sync: { auto_sync: true, auto_publish: false }, ...over,
});

describe("mapping.js", () => {
  test("mappingRows: one row per property, the proposal's kind selected, unmapped ones locked", () => {
    const rows = mappingRows(properties, mapping);
    assert.deepEqual(rows.map((r) => r.name), ["Name", "Tags", "Live", "Stage", "Kind", "Summary", "Files"]);
    const tags = rows.find((r) => r.name === "Tags");
    assert.deepEqual(tags.kinds, [{ value: "string", label: "string", selected: false }, { value: "enum", label: "enum", selected: true }]);
    assert.equal(tags.mapped, true);
    assert.equal(tags.enabled, true);
    assert.equal(rows.find((r) => r.name === "Live").enabled, false);
    const files = rows.find((r) => r.name === "Files");
    assert.equal(files.mapped, false);
    assert.equal(files.enabled, false);
    assert.deepEqual(files.kinds.map((k) => k.value), ["—"]);
  });

  test("skippedText lists unsupported properties", () => {
    assert.equal(skippedText(mapping), "Not synced (unsupported types): Files");
    assert.equal(skippedText({ fields: [] }), "");
    assert.equal(skippedText({ fields: [], skipped: [{ name: "Rollup" }, { property_name: "People" }] }), "Not synced (unsupported types): Rollup, People");
  });

  test("slugOptions offers text-like properties and selects the stored one", () => {
    assert.deepEqual(slugOptions(properties, null), [
      { value: "", label: "Automatic (from the title)", selected: true },
      { value: "title", label: "Name", selected: false },
      { value: "sum", label: "Summary", selected: false },
    ]);
    assert.deepEqual(slugOptions(properties, "sum").filter((o) => o.selected).map((o) => o.value), ["sum"]);
  });

  test("filterOptions offers checkbox, status and select properties", () => {
    const options = filterOptions(properties, null);
    assert.deepEqual(options.map((o) => o.value), ["", "checkbox:live", "status:st", "status:sel"]);
    assert.equal(options[1].label, "Only rows where “Live” is checked");
    assert.equal(options[2].label, "Only rows whose “Stage” is one of…");
    assert.equal(options[0].selected, true);
    const stored = filterOptions(properties, { kind: "status", property_id: "st", values: ["Live"] });
    assert.deepEqual(stored.filter((o) => o.selected).map((o) => o.value), ["status:st"]);
  });

  test("publishFilter parses a choice and its values", () => {
    assert.equal(publishFilter(""), null);
    assert.deepEqual(publishFilter("checkbox:live", "ignored"), { kind: "checkbox", property_id: "live" });
    assert.deepEqual(publishFilter("status:st", " Published, , Live "), { kind: "status", property_id: "st", values: ["Published", "Live"] });
    // Only the first colon separates: property ids may contain more.
    assert.deepEqual(publishFilter("checkbox:a:b"), { kind: "checkbox", property_id: "a:b" });
    assert.equal(filterNeedsValues("status:st"), true);
    assert.equal(filterNeedsValues("checkbox:live"), false);
    assert.equal(filterNeedsValues(""), false);
  });

  test("behaviorSwitches: free plan locks both switches as stored and shows the note", () => {
    assert.deepEqual(behaviorSwitches("paid", { auto_sync: true, auto_publish: false }), {
      autoSync: { checked: true, disabled: false }, autoPublish: { checked: false, disabled: false }, showPlanNote: false,
    });
    assert.deepEqual(behaviorSwitches("free", { auto_sync: true, auto_publish: true }), {
      autoSync: { checked: true, disabled: true }, autoPublish: { checked: true, disabled: true }, showPlanNote: true,
    });
  });

  test("behaviorChanges sends only the switches that changed", () => {
    const sync = { auto_sync: true, auto_publish: false };
    assert.deepEqual(behaviorChanges(sync, { autoSync: true, autoPublish: false }), {});
    assert.deepEqual(behaviorChanges(sync, { autoSync: false, autoPublish: false }), { auto_sync: false });
    assert.deepEqual(behaviorChanges(sync, { autoSync: false, autoPublish: true }), { auto_sync: false, auto_publish: true });
  });

  test("mappingPatch: the form's choices over the proposal, switches only when changed", () => {
    const choices = {
      fields: { "a%3Ab": { enabled: true, kind: "string" }, live: { enabled: true, kind: "boolean" }, title: { enabled: true } },
      slug: "sum", filter: "status:st", values: "Published, Live", unpublished: "draft", pageBody: true,
      autoSync: true, autoPublish: true,
    };
    const body = mappingPatch(mapping, project(), choices);
    assert.deepEqual(Object.keys(body).sort(), ["auto_publish", "mapping", "page_body", "publish_filter", "slug_property", "unpublished_mode"]);
    assert.equal(body.auto_publish, true);
    assert.equal(body.slug_property, "sum");
    assert.deepEqual(body.publish_filter, { kind: "status", property_id: "st", values: ["Published", "Live"] });
    assert.equal(body.unpublished_mode, "draft");
    assert.equal(body.page_body, true);
    assert.deepEqual(body.mapping.skipped, mapping.skipped);
    const byId = Object.fromEntries(body.mapping.fields.map((f) => [f.property_id, f]));
    assert.equal(byId["a%3Ab"].kind, "string");
    assert.equal(byId.live.enabled, true);
    assert.equal(byId.title.kind, "string", "a choice without a kind keeps the proposal's");
    assert.equal(byId.st.kind, "enum", "a field the form did not show keeps the proposal");
    assert.equal(byId["a%3Ab"].field_id, "f-a%3Ab", "fields keep their other keys");
    assert.equal(mapping.fields[1].kind, "enum", "the proposal itself is not modified");

    const plain = mappingPatch(mapping, project({ plan: "free", sync: { auto_sync: true, auto_publish: false } }),
      { fields: {}, slug: "", filter: "", values: "", unpublished: "remove", pageBody: false, autoSync: true, autoPublish: false });
    assert.equal(plain.slug_property, null);
    assert.equal(plain.publish_filter, null);
    assert.equal("auto_sync" in plain, false, "an unchanged switch is not re-sent (a downgraded plan would refuse it)");
    assert.equal("auto_publish" in plain, false);
  });
});

/** A fetch that answers `reply` and records each request. */
function fakeFetch(reply) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init });
    const { status = 200, body = {} } = typeof reply === "function" ? reply(url, init) : reply;
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  return { fetch, calls };
}

describe("api.js", () => {
  test("GET sends the bearer token read at call time and answers the JSON", async () => {
    let token = "tok_1";
    const { fetch, calls } = fakeFetch({ body: { projects: [] } });
    const api = createApi({ token: () => token, fetch });
    assert.deepEqual(await api("/projects"), { projects: [] });
    token = "tok_2";
    await api("/tokens");
    assert.equal(calls[0].url, "/api/v1/projects");
    assert.equal(calls[0].method, "GET");
    assert.deepEqual(calls[0].headers, { authorization: "Bearer tok_1" });
    assert.equal(calls[0].body, undefined);
    assert.equal(calls[1].headers.authorization, "Bearer tok_2");
  });

  test("a body is sent as JSON", async () => {
    const { fetch, calls } = fakeFetch({ status: 201, body: { project: { id: "p1" } } });
    const api = createApi({ token: () => "t", fetch });
    assert.deepEqual(await api("/projects", { method: "POST", body: { name: "Blog" } }), { project: { id: "p1" } });
    assert.equal(calls[0].method, "POST");
    assert.equal(calls[0].headers["content-type"], "application/json");
    assert.equal(calls[0].body, "{\"name\":\"Blog\"}");
  });

  test("402 plan_required becomes an ApiError with status, code and message", async () => {
    const { fetch } = fakeFetch({ status: 402, body: { error: { code: "plan_required", message: "auto-publish needs the paid plan" } } });
    let unauthorized = 0;
    const api = createApi({ token: () => "t", fetch, onUnauthorized: () => unauthorized++ });
    const error = await api("/projects/p1", { method: "PATCH", body: { auto_publish: true } }).then(() => null, (e) => e);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 402);
    assert.equal(error.code, "plan_required");
    assert.equal(error.message, "auto-publish needs the paid plan");
    assert.equal(unauthorized, 0);
  });

  test("401 calls onUnauthorized, then rejects", async () => {
    const { fetch } = fakeFetch({ status: 401, body: { error: { code: "unauthorized", message: "unknown token" } } });
    const seen = [];
    const api = createApi({ token: () => "t", fetch, onUnauthorized: (e) => seen.push(e.status) });
    await assert.rejects(api("/tokens"), (e) => e.status === 401 && e.code === "unauthorized");
    assert.deepEqual(seen, [401]);
  });

  test("an error without a JSON body still has a message", async () => {
    const { fetch } = fakeFetch({ status: 502, body: "<html>bad gateway</html>" });
    const api = createApi({ token: () => "t", fetch });
    await assert.rejects(api("/projects"), (e) => e.status === 502 && e.code === null && e.message === "Request failed (502)");
  });
});

describe("page files under a strict Content-Security-Policy", () => {
  const html = readFileSync(join(PUBLIC, "index.html"), "utf8");
  const modules = readdirSync(join(PUBLIC, "js")).filter((f) => f.endsWith(".js"));

  test("index.html loads one module entry and has no inline script, style or handler", () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.deepEqual(scripts.map((m) => m[1].trim()), ['type="module" src="/js/main.js"']);
    assert.ok(scripts.every((m) => m[2].trim() === ""), "no inline script body");
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /javascript:/i);
  });

  test("every module import resolves to a file, and every module is reached from main.js", () => {
    const reached = new Set();
    const visit = (file) => {
      if (reached.has(file)) return;
      reached.add(file);
      const source = readFileSync(join(PUBLIC, "js", file), "utf8");
      for (const [, spec] of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm)) {
        assert.match(spec, /^\.\/[a-z-]+\.js$/, `${file} imports ${spec}: only sibling modules, with the .js a browser needs`);
        assert.ok(existsSync(join(PUBLIC, "js", spec)), `${file} imports missing ${spec}`);
        visit(spec.slice(2));
      }
    };
    visit("main.js");
    assert.deepEqual([...reached].sort(), modules.sort());
  });

  test("generated markup sets no inline styles and parses no HTML strings", () => {
    for (const file of modules) {
      // Comments may name what the code avoids; only code is checked.
      const source = readFileSync(join(PUBLIC, "js", file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
      assert.doesNotMatch(source, /\.style\b/, `${file} writes element.style`);
      assert.doesNotMatch(source, /setAttribute\(\s*["']style["']|["']style["']\s*:/, `${file} sets a style attribute`);
      assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${file} parses HTML strings`);
      assert.doesNotMatch(source, /\beval\(|new Function\(/, `${file} evaluates strings`);
    }
  });
});

test("the deletion guard's notice says how many items would go, why, and that nothing went", () => {
  assert.equal(heldTitle(48), "48 items would be removed — Review");
  assert.equal(heldTitle(1), "1 item would be removed — Review");
  assert.equal(heldTitle(1200), "1,200 items would be removed — Review");
  assert.match(heldReason("empty_read"), /no rows at all/);
  assert.match(heldReason("empty_read"), /Nothing was removed/);
  assert.match(heldReason("over_threshold"), /deletion guard/);
});

describe("site.js: a site's graph", async () => {
  const { graphChoices, relationStateText, siblingsBody, siteRows } = await import("../public/js/site.js");

  test("the site's projects list the current one first, with each relation's state", () => {
    const site = {
      projects: [
        { id: "a", name: "Authors", collection_name: "Authors", current: false, relations: [] },
        {
          id: "p", name: "Posts", collection_name: "Posts", current: true,
          relations: [
            { property_name: "Authors", target_project_id: "a", state: "reference" },
            { property_name: "Tags", target_project_id: "t", state: "waiting_for_target" },
            { property_name: "Team", target_project_id: null, state: "text" },
          ],
        },
        { id: "t", name: "Tags", collection_name: "Tags", current: false, relations: [] },
      ],
    };
    const rows = siteRows(site);
    assert.deepEqual(rows.map((r) => r.id), ["p", "a", "t"]);
    assert.deepEqual(rows[0].links.map((l) => [l.property, l.target, l.state]), [
      ["Authors", "Authors", "reference"], ["Tags", "Tags", "waiting_for_target"], ["Team", null, "text"],
    ]);
    assert.match(relationStateText("waiting_for_target"), /next sync/);
    assert.deepEqual(siteRows(undefined), []);
  });

  test("the Connect step offers the database's other sources and related ones; ticked ones go in the create body", () => {
    const graph = {
      database: { id: "db", name: "Catalog" },
      data_sources: [{ id: "s1", name: "Products", chosen: true, synced_by: null }, { id: "s2", name: "Services", chosen: false, synced_by: null }],
      related: [
        { id: "r1", name: "Authors", via: [{ property_name: "Author" }, { property_name: "Author" }], synced_by: null },
        { id: "r2", name: "Tags", via: [{ property_name: "Tags" }], synced_by: "p9" },
      ],
    };
    const choices = graphChoices(graph);
    assert.deepEqual(choices.map((c) => [c.id, c.list, c.synced]), [["s2", "data_sources", false], ["r1", "related", false], ["r2", "related", true]]);
    assert.equal(choices[1].label, "Authors (related through Author)");
    assert.deepEqual(siblingsBody(choices, new Set(["s2", "r1", "r2"])), { data_sources: ["s2"], related: ["r1"] });
    assert.deepEqual(siblingsBody(choices, new Set()), {});
    assert.deepEqual(graphChoices(null), []);
  });
});
