// The whole local stack for end-to-end tests: fake Notion, fake Framer, and the built Worker
// pointed at both; plus the "Sync now and wait for its record" step most sync tests need.
import { after, before } from "node:test";
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { startWorker, waitFor } from "./worker.mjs";

/** @param {{vars?: Record<string,string>, notion?: object, framer?: object}} opts */
/**
 * One stack for the calling test file: started in `before`, stopped in `after`. Its fields
 * (`notion`, `framer`, `worker`) are there once the file's tests run.
 */
export function stackForFile(options) {
  const stack = {};
  before(async () => Object.assign(stack, await startStack(options)));
  after(async () => stack.stop?.());
  return stack;
}

export async function startStack({ vars = {}, notion: notionOpts = {}, framer: framerOpts = {} } = {}) {
  const notion = await startFakeNotion(notionOpts);
  const framer = await startFakeFramer(framerOpts);
  const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url, ...vars } });
  return {
    notion,
    framer,
    worker,
    async stop() {
      await worker.stop();
      await framer.close();
      await notion.close();
    },
  };
}

/** Creates a project through the API (defaults filled in) and returns its status document. */
export async function createSyncProject(worker, token, { name, databaseId, notionToken, framerProject, framerKey, collection = name, ...rest }) {
  const res = await worker.fetch("/api/v1/projects", {
    method: "POST",
    token,
    body: {
      name,
      notion: { token: notionToken, database_id: databaseId },
      framer: { project_url: `https://framer.com/projects/Site--${framerProject}`, api_key: framerKey, collection_name: collection },
      ...rest,
    },
  });
  if (res.status !== 201) throw new Error(`project creation failed: ${res.status} ${res.text}`);
  return res.json.project;
}

/** "Sync now", then the run's record once it finished. */
export async function syncNow(worker, token, projectId, { timeoutMs = 60_000 } = {}) {
  const queued = await worker.fetch(`/api/v1/projects/${projectId}/sync`, { method: "POST", token, body: {} });
  if (queued.status !== 202) throw new Error(`sync now failed: ${queued.status} ${queued.text}`);
  return waitFor(async () => {
    const runs = (await worker.fetch(`/api/v1/projects/${projectId}/syncs?limit=100`, { token })).json.syncs;
    const run = runs.find((r) => r.id === queued.json.sync_id);
    return run && run.status !== "running" && run;
  }, { timeoutMs, intervalMs: 200, what: `sync ${queued.json.sync_id} to finish` });
}
