// The project page in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
// the setup flow from the guide, clicked through on the page, against the built Worker with fake
// Notion and Framer servers. Screenshots of the main states go to .test-artifacts/screenshots/.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, createProject, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { ROOT, startWorker, waitFor } from "../harness/worker.mjs";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(ROOT, ".test-artifacts", "screenshots");
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const NOTION_TOKEN = "ntn_browser_test_token_1";
const FRAMER_PROJECT = "BrWsErTeStPrOjEcT123";
const FRAMER_KEY = "fr_browser_test_key_1";

let notion, framer, worker, context, page, profile, db, paid, projectId, hook;
const rows = [];

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const text = (selector) => page.locator(selector).innerText();

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  await mkdir(SHOTS, { recursive: true });
  notion = await startFakeNotion();
  framer = await startFakeFramer();
  notion.addIntegration(NOTION_TOKEN);
  db = notion.addDatabase({
    title: "Blog", token: NOTION_TOKEN,
    properties: { Name: { type: "title" }, Date: { type: "date" }, Tags: { type: "multi_select", options: ["News", "Guide"] }, Live: { type: "checkbox" } },
  });
  for (const [name, tag] of [["Hello world", "News"], ["Getting started", "Guide"], ["Release notes", "News"]]) {
    rows.push(notion.addPage(db.dataSourceId, { properties: { Name: name, Date: "2026-10-01", Tags: [tag], Live: true } }));
  }
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY, { name: "Site" });
  worker = await startWorker({
    vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS: "1", DEBOUNCE_MAX_WAIT_SECONDS: "3" },
  });
  paid = await createAccount(worker, { name: "Acme Studio", plan: "paid" });
  profile = await mkdtemp(join(tmpdir(), "nfs-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1180, height: 900 },
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.url });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await worker?.stop();
  await framer?.close();
  await notion?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  console.log(`screenshots: ${SHOTS}`);
});

describe("project page", { concurrency: false }, () => {
  test("static assets and the API share the origin without swallowing API errors", async () => {
    const home = await fetch(`${worker.url}/`);
    assert.equal(home.status, 200);
    assert.match(home.headers.get("content-type"), /text\/html/);
    const missing = await worker.fetch("/api/v1/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.json?.error?.code, "not_found", missing.text);
    assert.equal((await worker.fetch("/healthz")).json.ok, true);
  });

  test("sign in keeps the token in the session only", async () => {
    await page.goto(worker.url);
    await page.getByLabel("API token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That token is not valid").waitFor();
    await shot("01-sign-in");
    await page.getByLabel("API token").fill(paid.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Projects" }).waitFor();
    assert.equal(await text("#account-name"), "Acme Studio");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("nfs.token")), paid.token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  test("create a project, then the mapping step from the schema", async () => {
    await page.getByRole("link", { name: "New project" }).click();
    await page.getByLabel("Project name").fill("Company blog");
    await page.getByLabel("Integration token").fill(NOTION_TOKEN);
    await page.getByLabel("Database ID or URL").fill(db.databaseId);
    await page.getByLabel("Project URL").fill(`https://framer.com/projects/Site--${FRAMER_PROJECT}`);
    await page.getByLabel("Server API key").fill(FRAMER_KEY);
    await shot("02-new-project");
    await page.getByRole("button", { name: "Create and continue" }).click();
    await page.locator("#mapping-form").waitFor();
    const names = await page.locator("#mapping-rows td label").allInnerTexts();
    assert.deepEqual(names.sort(), ["Date", "Live", "Name", "Tags"]);
    const tagTypes = await page.getByLabel("Framer field type for Tags").locator("option").allInnerTexts();
    assert.deepEqual(tagTypes, ["string", "enum"]);
    await page.getByLabel("Publish filter").selectOption({ label: "Only rows where “Live” is checked" });
    await page.getByLabel("Sync Date").uncheck();
    await shot("03-mapping");
    await page.getByRole("button", { name: "Save mapping" }).click();
    await page.locator("#banner").getByText("Webhook setup required").waitFor();
    projectId = page.url().split("/").pop();
    const stored = (await worker.fetch(`/api/v1/projects/${projectId}`, { token: paid.token })).json.project;
    assert.equal(stored.publish_filter.kind, "checkbox");
    assert.equal(stored.mapping.fields.find((f) => f.property_name === "Date").enabled, false);
    assert.equal(await text("#webhook-status"), "Setup required");
    assert.equal(await text("#last-sync-time"), "Never");
  });

  test("Sync now shows progress, then Last sync and Items in Framer", async () => {
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.locator("#sync-progress").getByText(/queued|Syncing/).waitFor({ timeout: 5_000 }).catch(() => {});
    await page.locator("#items-in-framer").getByText("3", { exact: true }).waitFor({ timeout: 30_000 });
    await page.locator("#last-sync-result").getByText("Succeeded · 3 added").waitFor({ timeout: 10_000 });
    assert.equal(await text("#last-sync-time"), "Just now");
    assert.equal(await text("#sync-progress"), "");
    assert.match(await text("#history"), /Sync now · full · 3 added/);
    assert.equal(await text("#banner"), "Webhook setup required");
    await shot("04-first-sync");
  });

  test("verification: Refresh token shows it, Copy copies it, I've verified activates", async () => {
    await page.getByRole("button", { name: "Refresh token" }).click();
    await page.locator("#token-message").getByText("No verification token has arrived yet").waitFor();
    const project = (await worker.fetch(`/api/v1/projects/${projectId}`, { token: paid.token })).json.project;
    assert.equal(await page.getByLabel(/create a subscription with this URL/).inputValue(), project.webhook.url);
    const secret = await verify(worker, webhookPath(project));
    await page.getByRole("button", { name: "Refresh token" }).click();
    await waitFor(async () => (await page.locator("#verification-token").inputValue()) === secret, { what: "the token on the page" });
    await page.locator("#webhook-status").getByText("Token received").waitFor();
    await page.locator("#copy-token").click();
    await page.locator("#copy-status").getByText("Verification token copied").waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await page.locator("#copy-url").click();
    await page.locator("#copy-status").getByText("Webhook URL copied").waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), project.webhook.url);
    await shot("05-token-received");
    await page.getByRole("button", { name: "I've verified in Notion" }).click();
    await page.locator("#banner").getByText("Sync pipeline active").waitFor();
    assert.equal(await text("#webhook-status"), "Active");
    await shot("06-pipeline-active");
    hook = { path: webhookPath(project), secret };
  });

  test("the auto-sync toggle switches the pipeline off and on", async () => {
    const toggle = page.getByRole("switch", { name: "Auto-sync on Notion changes" });
    assert.equal(await toggle.isChecked(), true);
    await toggle.click();
    await page.locator("#banner").getByText("Auto-sync is off").waitFor();
    let stored = (await worker.fetch(`/api/v1/projects/${projectId}`, { token: paid.token })).json.project;
    assert.equal(stored.sync.auto_sync, false);
    await toggle.focus();
    await page.keyboard.press("Space");
    await page.locator("#banner").getByText("Sync pipeline active").waitFor();
    stored = (await worker.fetch(`/api/v1/projects/${projectId}`, { token: paid.token })).json.project;
    assert.equal(stored.sync.auto_sync, true);
  });

  test("a signed Notion event syncs by itself and Last sync reads Just now", async () => {
    notion.updatePage(rows[1], { Name: "Getting started, revised" });
    const event = pageEvent({ databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: rows[1] });
    const res = await deliver(worker, hook.path, event, { token: hook.secret });
    assert.equal(res.status, 200, res.text);
    // No click: the page's own refresh picks the webhook-triggered run up.
    await page.locator("#history li").first().getByText(/Notion change · incremental · 1 updated/).waitFor({ timeout: 30_000 });
    await page.locator("#last-sync-result").getByText("Succeeded · 1 updated").waitFor({ timeout: 5_000 });
    assert.equal(await text("#last-sync-time"), "Just now");
    const names = [...framer.project(FRAMER_PROJECT).collection("Posts").items.values()].map((i) => JSON.stringify(i.fieldData));
    assert.ok(names.some((n) => n.includes("Getting started, revised")));
    await shot("07-auto-synced");
  });

  test("relative times read like people talk", async () => {
    const samples = await page.evaluate(async () => {
      const { relativeTime } = await import("/app.js");
      const now = Date.parse("2026-11-01T12:00:00Z");
      return [0, 44, 60, 180, 3_600, 7_200, 172_800].map((s) => relativeTime(new Date(now - s * 1000).toISOString(), now));
    });
    assert.deepEqual(samples, ["Just now", "Just now", "1 minute ago", "3 minutes ago", "1 hour ago", "2 hours ago", "2 days ago"]);
  });

  test("phone width keeps everything reachable", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.locator("#banner").getByText("Sync pipeline active").waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
    await waitFor(async () => (await page.locator("#verification-token").inputValue()) === hook.secret, { what: "the received token shown again" });
    await shot("08-phone");
    await page.setViewportSize({ width: 1180, height: 900 });
  });

  test("on a free plan the toggles are disabled with an explanation", async () => {
    const free = await createAccount(worker, { name: "Hobbyist", plan: "free" });
    const project = await createProject(worker, free.token, { name: "Free blog" });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API token").fill(free.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: /Free blog/ }).click();
    await page.locator("#project-title").getByText("Free blog").waitFor();
    assert.equal(await page.getByRole("switch", { name: "Auto-sync on Notion changes" }).isDisabled(), true);
    assert.equal(await page.getByRole("switch", { name: "Publish after each sync" }).isDisabled(), true);
    assert.match(await text("#plan-note"), /paid plan.*Sync now/);
    assert.equal(project.sync?.auto_sync ?? false, false);
    await shot("09-free-plan");
  });
});
