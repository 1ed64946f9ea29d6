// Re-hosting benchmark: a first sync of BENCH_FILE_ROWS rows (default 300), each with a cover
// image (files property) and an image in its page body, then a run with nothing changed.
// Prints uploads and bytes for each run (goal for the second: 0 uploads) and the wall time.
//   node bench/files.mjs        (make bench runs it)
import { startFakeFramer } from "../fakes/framer.mjs";
import { startFakeNotion } from "../fakes/notion.mjs";
import { createAccount } from "../harness/api.mjs";
import { createSyncProject, syncNow } from "../harness/stack.mjs";
import { startWorker } from "../harness/worker.mjs";

const ROWS = Number(process.env.BENCH_FILE_ROWS ?? 300);
const NOTION_TOKEN = "ntn_bench_files_0123456789";
const FRAMER_PROJECT = "BenchFilesProject001";
const FRAMER_KEY = "fr_bench_files_0123456789";

const notion = await startFakeNotion({ rateLimit: { requestsPerSecond: 3, burst: 3 } });
const framer = await startFakeFramer();
notion.addIntegration(NOTION_TOKEN);
framer.addProject(FRAMER_PROJECT, FRAMER_KEY);
const db = notion.addDatabase({ title: "Gallery", properties: { Name: { type: "title" }, Cover: { type: "files" } }, token: NOTION_TOKEN });
for (let i = 0; i < ROWS; i++) {
  notion.addPage(db.dataSourceId, {
    properties: { Name: `Photo ${i}`, Cover: { file: `cover-${i}.png` } },
    children: [{ image: { file: `inline-${i}.png`, caption: `Photo ${i}` } }],
  });
}
const worker = await startWorker({ vars: { NOTION_API_BASE: notion.url, FRAMER_SERVER_URL: framer.url } });
try {
  const { token } = await createAccount(worker, { name: "Bench files" });
  const project = await createSyncProject(worker, token, {
    name: "Gallery", databaseId: db.databaseId, notionToken: NOTION_TOKEN, framerProject: FRAMER_PROJECT, framerKey: FRAMER_KEY, page_body: true,
  });
  const measure = async (label) => {
    const before = framer.uploadStats;
    const started = Date.now();
    const run = await syncNow(worker, token, project.id, { timeoutMs: 3_600_000 });
    const after = framer.uploadStats;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `${label}: ${run.status}, ${after.uploads - before.uploads} uploads, ${after.bytes - before.bytes} bytes, ` +
        `${run.counts.added + run.counts.updated} items written, ${run.steps} steps, ${seconds} s`,
    );
  };
  console.log(`re-hosting: ${ROWS} rows, each with a cover image and a body image`);
  await measure("first sync");
  await measure("nothing changed");
} finally {
  await worker.stop();
  await framer.close();
  await notion.close();
}
