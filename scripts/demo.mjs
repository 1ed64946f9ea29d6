#!/usr/bin/env node
// `make demo`: the whole pipeline on one machine. Starts fake Notion and fake Framer servers and
// the built Worker (wrangler dev, port 8787 when free), seeds a paid account with a blog database,
// creates the project through the API and sends Notion's verification request. Then type `e` +
// Enter (or run `node scripts/demo.mjs edit` in another terminal) to edit a row in "Notion" and
// deliver the signed webhook Notion would send; the page shows the sync ~DEBOUNCE_SECONDS later.
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount, deliver, pageEvent, verify, webhookPath } from "../harness/api.mjs";
import { freePort, ROOT } from "../harness/worker.mjs";

const STATE_DIR = join(ROOT, ".wrangler", "demo");
const CONTROL_FILE = join(ROOT, ".wrangler", "demo-control.json");
const BIN = join(ROOT, "node_modules", ".bin");
const NOTION_TOKEN = "ntn_demo_integration_token_0001";
const FRAMER_PROJECT = "DemoBlogSiteAbCdEfGh";
const FRAMER_KEY = "fr_demo_server_api_key_0001";
const DEBOUNCE_SECONDS = "10";

const POSTS = [
  ["Designing a calm onboarding", "2026-09-02", ["Design", "Product"], "photo-1498050108023-c5249f4df085",
    "First impressions are quiet ones. We rebuilt onboarding around one question per screen."],
  ["What we learned shipping weekly", "2026-09-16", ["Engineering"], "photo-1461749280684-dccba630e2f6",
    "A year of weekly releases taught us more about scope than about speed."],
  ["Notion as a CMS, honestly", "2026-10-01", ["Product", "Notion"], "photo-1455390582262-044cdead277a",
    "Writers stay in Notion, the site stays in Framer, and a sync keeps them in step."],
  ["A field guide to typography on the web", "2026-10-14", ["Design"], "photo-1516979187457-637abb4f9353",
    "Line length, rhythm and contrast matter more than the typeface you pick."],
  ["Our remote work handbook", "2026-10-29", ["Culture"], "photo-1522202176988-66273c2fd55f",
    "How a distributed team writes things down, decides, and takes time off."],
];

const SCHEMA = {
  Name: { type: "title" },
  Date: { type: "date" },
  Tags: { type: "multi_select", options: ["Design", "Product", "Engineering", "Notion", "Culture"] },
  Cover: { type: "files" },
  Excerpt: { type: "rich_text" },
  Published: { type: "checkbox" },
};

const log = (line = "") => process.stdout.write(`${line}\n`);

function seedNotion(notion) {
  notion.addIntegration(NOTION_TOKEN);
  const db = notion.addDatabase({ title: "Blog", properties: SCHEMA, token: NOTION_TOKEN });
  const pages = POSTS.map(([title, date, tags, photo, excerpt]) => ({
    title,
    id: notion.addPage(db.dataSourceId, {
      properties: {
        Name: title, Date: date, Tags: tags, Excerpt: excerpt, Published: true,
        Cover: { external: `https://images.unsplash.com/${photo}?w=1200` },
      },
      children: [
        { heading_2: title },
        { paragraph: excerpt },
        { paragraph: [{ text: "Written in Notion", bold: true }, ", published by the sync."] },
      ],
    }),
  }));
  return { db, pages };
}

/** wrangler dev on `port` with a fresh local D1 and Durable Object state. */
async function startDemoWorker(port, vars, secrets) {
  await rm(STATE_DIR, { recursive: true, force: true });
  await mkdir(STATE_DIR, { recursive: true });
  const envFile = join(STATE_DIR, "demo.vars");
  await writeFile(envFile, Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join("\n") + "\n", { mode: 0o600 });
  const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };
  const persist = join(STATE_DIR, "state");
  await run(join(BIN, "wrangler"), ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], env);
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()),
    "--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false", "--live-reload=false"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(join(BIN, "wrangler"), args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const output = [];
  child.stdout.on("data", (d) => output.push(String(d)));
  child.stderr.on("data", (d) => output.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output.join("")}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return { url, child };
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`wrangler dev did not become ready:\n${output.join("")}`);
}

function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}:\n${out}`))));
  });
}

/** The harness's `worker.fetch`, enough for harness/api.mjs. */
function client(url, adminToken) {
  return {
    url,
    adminToken,
    async fetch(path, { method = "GET", body, token, headers = {} } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      const payload = body === undefined || typeof body === "string" ? body : JSON.stringify(body);
      if (payload !== undefined) h["content-type"] ??= "application/json";
      const res = await fetch(url + path, { method, headers: h, body: payload });
      const text = await res.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, text, json };
    },
  };
}

async function portOr(preferred) {
  const free = await new Promise((resolve) => {
    const probe = http.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(preferred, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

/** Edits the next row (title and excerpt) in the fake Notion, then delivers the signed event. */
function editor({ notion, db, pages, worker, path, secret }) {
  let turn = 0;
  return async function editRow() {
    const page = pages[turn++ % pages.length];
    const stamp = new Date().toLocaleTimeString("en-GB");
    const title = `${page.title} (edited ${stamp})`;
    notion.updatePage(page.id, { Name: title, Excerpt: `Updated from the demo at ${stamp}.` });
    const event = pageEvent({ databaseId: db.databaseId, dataSourceId: db.dataSourceId, pageId: page.id });
    const res = await deliver(worker, path, event, { token: secret });
    return `edited "${title}"; webhook answered ${res.status} ${res.json?.outcome ?? res.text}`;
  };
}

/** `node scripts/demo.mjs edit`: asks the running demo to edit a row. */
async function remoteEdit() {
  const saved = await readFile(CONTROL_FILE, "utf8").catch(() => null);
  if (!saved) {
    log("No demo is running: start one with `make demo`.");
    process.exitCode = 1;
    return;
  }
  const { control } = JSON.parse(saved);
  const res = await fetch(`${control}/edit`, { method: "POST" });
  log(await res.text());
  process.exitCode = res.ok ? 0 : 1;
}

async function main() {
  const notion = await startFakeNotion();
  const framer = await startFakeFramer();
  const { db, pages } = seedNotion(notion);
  framer.addProject(FRAMER_PROJECT, FRAMER_KEY, { name: "Studio Blog" });

  const adminToken = `adm_${randomBytes(24).toString("hex")}`;
  const port = await portOr(8787);
  log(`Starting the Worker on http://127.0.0.1:${port} (fake Notion ${notion.url}, fake Framer ${framer.url})…`);
  const { url, child } = await startDemoWorker(port, {
    NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, DEBOUNCE_SECONDS,
  }, { ADMIN_TOKEN: adminToken, ENCRYPTION_KEY: randomBytes(32).toString("base64") });
  // The harness module (imported for freePort) exits on SIGINT/SIGTERM, so the teardown runs on
  // "exit", synchronously: the whole wrangler/workerd process group, then the control file.
  process.on("exit", () => {
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
    rmSync(CONTROL_FILE, { force: true });
  });
  const stop = () => process.exit(0);

  const worker = client(url, adminToken);
  const { token } = await createAccount(worker, { name: "Studio (demo)", plan: "paid" });
  const created = await worker.fetch("/api/v1/projects", {
    method: "POST", token,
    body: {
      name: "Studio Blog", page_body: true, auto_sync: true,
      notion: { token: NOTION_TOKEN, database_id: db.databaseId },
      framer: { project_url: `https://framer.com/projects/Studio-Blog--${FRAMER_PROJECT}`, api_key: FRAMER_KEY, collection_name: "Posts" },
    },
  });
  if (created.status !== 201) throw new Error(`project creation failed: ${created.text}`);
  const project = created.json.project;
  const path = webhookPath(project);
  const secret = await verify(worker, path, `secret_${randomUUID().replaceAll("-", "")}`);
  const editRow = editor({ notion, db, pages, worker, path, secret });

  const control = http.createServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/edit") return res.writeHead(404).end("POST /edit\n");
    try {
      res.writeHead(200, { "content-type": "text/plain" }).end(`${await editRow()}\n`);
    } catch (error) {
      res.writeHead(500).end(`${error.message}\n`);
    }
  });
  await new Promise((resolve) => control.listen(0, "127.0.0.1", resolve));
  const controlUrl = `http://127.0.0.1:${control.address().port}`;
  await writeFile(CONTROL_FILE, JSON.stringify({ control: controlUrl, page: url }));

  log(`
Demo ready.
  Page:       ${url}/#/projects/${project.id}
  API token:  ${token}
  Webhook:    ${project.webhook.url} (Notion's verification request was just sent to it)

Walk through it:
  1. Open the page, sign in with the API token.
  2. Notion webhook setup: press "Refresh token" (the token Notion sent appears), then "I've verified in Notion".
  3. Press "Sync now" once: ${POSTS.length} posts appear under Items in Framer.
  4. Type e + Enter here (or run \`node scripts/demo.mjs edit\` elsewhere): a row changes in Notion and a
     signed page.properties_updated webhook is delivered. About ${DEBOUNCE_SECONDS} s later the page shows
     Last sync "Just now", without pressing Sync now.

Commands: e = edit a row, q = quit (Ctrl-C works too).`);

  const input = createInterface({ input: process.stdin });
  input.on("line", async (line) => {
    const command = line.trim().toLowerCase();
    if (command === "q") return stop();
    if (command !== "e") return log("e = edit a row, q = quit");
    log(await editRow().catch((error) => `edit failed: ${error.message}`));
  });
}

if (process.argv[2] === "edit") await remoteEdit();
else await main();
