// Starts the built Worker under workerd (`wrangler dev`) with its own fresh local D1 and Durable
// Object state, on a free loopback port, and always tears it down.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const running = new Set();

// Never leave a workerd behind, even when a test throws or the runner is interrupted.
for (const signal of ["exit", "SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of running) killGroup(child);
    if (signal !== "exit") process.exit(130);
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

/**
 * Every process of Linux /proc as `{comm, fields}`, `fields` being those of its stat after the
 * command name (state, ppid, pgrp, ...); `null` without /proc (not Linux).
 */
function processes() {
  let entries;
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  const found = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    found.push({ comm, fields: stat.slice(stat.lastIndexOf(")") + 2).split(" ") });
  }
  return found;
}

/**
 * Whether a process of group `pgid` still runs (Linux /proc; zombies do not count: they hold no
 * port or file, and a container's init may never reap them).
 */
function groupRunning(pgid) {
  // No /proc: the wait for wrangler's own exit has to do.
  return (processes() ?? []).some(({ fields: [state, , pgrp] }) => Number(pgrp) === pgid && state !== "Z" && state !== "X");
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function toolEnv() {
  return {
    ...process.env,
    PATH: `${BIN}:${process.env.PATH}`,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    NO_COLOR: "1",
    CI: "true",
  };
}

function runTool(args, { cwd = ROOT } = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(join(BIN, "wrangler"), args, { cwd, env: toolEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolveRun(out) : reject(new Error(`wrangler ${args.join(" ")} exited ${code}:\n${out}`))));
  });
}

/** Whether nothing listens on `port` of 127.0.0.1 right now. */
function portIsFree(port) {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
}

/**
 * @param {{vars?: Record<string,string>, secrets?: Record<string,string>}} opts
 * vars override wrangler.toml's [vars]; secrets go through an env file so wrangler never prints them.
 *
 * The returned worker can also be killed (SIGKILL to the whole wrangler/workerd process group, as
 * a crash or an eviction would end it) and started again on the same persisted D1 and Durable
 * Object state, with the same secrets and vars: `kill()`, `start()`, `restart()`. Its `url` stays
 * the same unless the port was taken meanwhile; `logs` gathers the output of every start.
 */
export async function startWorker({ vars = {}, secrets = {} } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "nfs-worker-"));
  const persist = join(dir, "state");
  const adminToken = `adm_${randomBytes(24).toString("hex")}`;
  const envFile = join(dir, "test.vars");
  const allSecrets = { ADMIN_TOKEN: adminToken, ENCRYPTION_KEY: randomBytes(32).toString("base64"), ...secrets };
  await writeFile(envFile, Object.entries(allSecrets).map(([k, v]) => `${k}=${v}`).join("\n") + "\n", { mode: 0o600 });

  await runTool(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);

  const logs = [];
  let port = await freePort();
  /** The running wrangler process: {child, exited}; null while killed. */
  let current = null;
  let starts = 0;

  /**
   * Starts wrangler dev and waits until it answers. A start that exits before answering is tried
   * again on a new port (twice at most): the port the OS handed out can be taken by another
   * process between the check and wrangler's bind, and test files start their Workers side by
   * side. The logs of every attempt are kept, and a last failure reports them all.
   */
  async function launch() {
    for (let attempt = 1; ; attempt++) {
      const proc = await spawnWrangler();
      const outcome = await untilReady(proc);
      if (outcome === "ready") return;
      const why = outcome === "exited" ? `wrangler dev exited with ${proc.exited}` : "wrangler dev did not become ready";
      if (outcome === "exited" && attempt < 3) {
        logs.push(`[harness] ${why} before it answered (attempt ${attempt}); starting it again on a new port`);
        console.error(logs.join("\n"));
        await worker.kill();
        starts -= 1; // `starts` counts the runtime's starts, not the attempts at one
        port = await freePort();
        continue;
      }
      await worker.stop();
      throw new Error(`${why}:\n${logs.join("\n")}`);
    }
  }

  async function spawnWrangler() {
    if (!(await portIsFree(port))) port = await freePort();
    const inspectorPort = await freePort();
    const args = [
      "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false", "--test-scheduled",
      "--live-reload=false",
    ];
    for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
    const child = spawn(join(BIN, "wrangler"), args, { cwd: ROOT, env: toolEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
    running.add(child);
    const proc = { child, exited: null };
    let partial = "";
    const onData = (chunk) => {
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop();
      for (const line of lines) logs.push(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code, signal) => (proc.exited = code ?? signal));
    // The last line of a process that ended mid-line (often the reason it ended).
    child.on("close", () => {
      if (partial) logs.push(partial);
      partial = "";
    });
    current = proc;
    starts += 1;
    logs.push(`[harness] wrangler dev started (start ${starts}, port ${port})`);
    return proc;
  }

  /** "ready" once /healthz answers 200, "exited" if wrangler ended first, "timeout" after 90 s. */
  async function untilReady(proc) {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (proc.exited !== null) return "exited";
      try {
        const res = await fetch(`${worker.url}/healthz`);
        if (res.status === 200) return "ready";
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) return "timeout";
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const worker = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    adminToken,
    logs,
    persist,
    /** How many times the runtime was started (1 before any restart). */
    get starts() {
      return starts;
    },
    /**
     * CPU time (user + system, ms) the runtime has used so far: the workerd processes of the
     * running wrangler (Linux /proc; null elsewhere or while killed). The Worker cannot read its
     * own CPU time (its clock only moves at I/O), so benchmarks measure it from outside: every
     * isolate of the process counts, so it is an upper bound of what the Worker's code used.
     */
    runtimeCpuMs() {
      if (!current) return null;
      const all = processes();
      if (!all) return null;
      // USER_HZ: the kernel reports utime and stime in 1/100 s on Linux.
      const TICK_MS = 10;
      let ticks = 0;
      for (const { comm, fields } of all) {
        // fields[2] is pgrp; utime and stime are fields 14 and 15 of stat, here 11 and 12.
        if (Number(fields[2]) !== current.child.pid || !comm.startsWith("workerd")) continue;
        ticks += Number(fields[11]) + Number(fields[12]);
      }
      return ticks * TICK_MS;
    },
    /** JSON lines the Worker logged (requests, alarms), parsed; across restarts. */
    logLines() {
      return logs.flatMap((line) => {
        const start = line.indexOf("{\"kind\"");
        if (start < 0) return [];
        try {
          return [JSON.parse(line.slice(start))];
        } catch {
          return [];
        }
      });
    },
    async fetch(path, { method = "GET", body, token, headers = {} } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      let payload = body;
      if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
        payload = JSON.stringify(body);
        h["content-type"] ??= "application/json";
      }
      const res = await fetch(worker.url + path, { method, headers: h, body: payload });
      const text = await res.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    /** Reads the local D1 database directly (read-only): for assertions only. */
    async query(sql, ...params) {
      const dbDir = join(persist, "v3", "d1", "miniflare-D1DatabaseObject");
      const file = (await readdir(dbDir)).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
      return readSqlite(join(dbDir, file), (db) => db.prepare(sql).all(...params));
    },
    /**
     * The SQLite files of the Durable Objects that store `projectId` (the id is in their KV
     * storage): one per project, none once its object forgot it.
     */
    async objectFilesOf(projectId) {
      const root = join(persist, "v3", "do");
      const found = [];
      for (const dir of await readdir(root).catch(() => [])) {
        for (const file of (await readdir(join(root, dir))).filter((f) => f.endsWith(".sqlite"))) {
          const path = join(root, dir, file);
          const stores = await readSqlite(path, (db) => {
            const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name);
            const kv = tables.includes("_cf_KV") ? db.prepare("SELECT key, value FROM _cf_KV").all() : [];
            return kv.some((r) => Buffer.from(r.value).includes(projectId));
          });
          if (stores) found.push(path);
        }
      }
      return found;
    },
    /** Reads a project's Durable Object SQLite directly (read-only): for assertions only. */
    async objectQuery(projectId, sql, ...params) {
      const [file] = await worker.objectFilesOf(projectId);
      if (!file) throw new Error(`no Durable Object stores project ${projectId}`);
      return readSqlite(file, (db) => db.prepare(sql).all(...params));
    },
    /**
     * The deliveries a project's object recorded in its ledger (none when it stored nothing):
     * `{event_id, type, relevant, flushed}` in the order they arrived.
     */
    async eventsOf(projectId) {
      if ((await worker.objectFilesOf(projectId)).length === 0) return [];
      const tables = await worker.objectQuery(projectId, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'");
      if (tables.length === 0) return [];
      return worker.objectQuery(projectId, "SELECT event_id, type, relevant, flushed FROM events ORDER BY received_at_ms, rowid");
    },
    /**
     * Every sync run of a project, oldest first, `{id, trigger, status, events, started_at,
     * finished_at}`: D1's rows (the run in flight, the newest finished one) and the history in
     * the project's object, each run once (D1's row when both have it).
     */
    async runsOf(projectId) {
      const fields = ({ id, trigger, status, events, started_at, finished_at }) => ({ id, trigger, status, events, started_at, finished_at });
      const byId = new Map();
      if ((await worker.objectFilesOf(projectId)).length > 0) {
        const tables = await worker.objectQuery(projectId, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'");
        if (tables.length > 0) {
          for (const { run } of await worker.objectQuery(projectId, "SELECT run FROM runs")) {
            const parsed = JSON.parse(run);
            byId.set(parsed.id, fields(parsed));
          }
        }
      }
      const rows = await worker.query("SELECT id, trigger, status, events, started_at, finished_at FROM sync_runs WHERE project_id = ?", projectId);
      for (const row of rows) byId.set(row.id, fields(row));
      return [...byId.values()].sort((a, b) => (a.started_at === b.started_at ? a.id.localeCompare(b.id) : a.started_at.localeCompare(b.started_at)));
    },
    /**
     * Ends the runtime at once with SIGKILL to its process group (wrangler and workerd): no
     * alarm or request gets to finish. The persisted state stays for `start()`.
     */
    async kill() {
      const proc = current;
      if (!proc) return;
      current = null;
      running.delete(proc.child);
      killGroup(proc.child);
      if (proc.exited === null) await new Promise((r) => proc.child.once("exit", r));
      // workerd and esbuild die with wrangler; wait for them too before the state is reused.
      await waitFor(() => !groupRunning(proc.child.pid), { timeoutMs: 10_000, intervalMs: 50, what: "the killed process group to end" });
      logs.push("[harness] wrangler dev killed (SIGKILL)");
    },
    /**
     * Applies the repository's D1 migrations that the persisted database has not had yet, as
     * `wrangler d1 migrations apply` does on deploy (while killed, as an upgrade would).
     */
    async applyMigrations() {
      if (current) throw new Error("kill the worker before migrating its database");
      await runTool(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
    },
    /** Starts the runtime again on the same state, secrets and vars; resolves once it answers. */
    async start() {
      if (current) throw new Error("the worker is already running");
      await launch();
    },
    async restart() {
      await worker.kill();
      await worker.start();
    },
    async stop() {
      await worker.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };

  await launch();
  return worker;
}

/**
 * Runs `read` on a SQLite file of the running Worker's local state, opened read-only. workerd
 * writes these files meanwhile: a read that meets its write lock waits (busy timeout) and is
 * tried again, rather than failing the assertion that asked.
 */
async function readSqlite(path, read) {
  const { DatabaseSync } = await import("node:sqlite");
  for (let attempt = 1; ; attempt++) {
    let db;
    try {
      db = new DatabaseSync(path, { readOnly: true });
      db.exec("PRAGMA busy_timeout = 2000");
      return read(db);
    } catch (e) {
      if (!/database is locked|SQLITE_BUSY/u.test(String(e?.message)) || attempt >= 20) throw e;
    } finally {
      db?.close();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(check, { timeoutMs = 20_000, intervalMs = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * For claims that something does not happen ("no second run"): polls `check` for the whole
 * window `forMs` in which it could go wrong, failing as soon as it returns a falsy value or
 * throws (an assertion inside `check` keeps its own message).
 */
export async function holdsFor(check, { forMs, intervalMs = 100, what = "condition" }) {
  const started = Date.now();
  for (;;) {
    if (!(await check())) throw new Error(`${what} stopped holding after ${Date.now() - started} ms`);
    if (Date.now() - started >= forMs) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
