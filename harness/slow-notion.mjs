// A Notion stand-in whose every answer is a 401 ("API token is invalid") after `delayMs`: a sync
// against it fails, and takes as long as a test needs it to (to delete or message a project
// while its run is in flight). Counts the requests it received and the answers it sent.
import { createServer } from "node:http";

export async function startSlowNotion() {
  const state = { delayMs: 0, requests: 0, answered: 0 };
  const server = createServer((req, res) => {
    state.requests++;
    setTimeout(() => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "error", status: 401, code: "unauthorized", message: "API token is invalid." }));
      state.answered++;
    }, state.delayMs);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${server.address().port}`;
  state.close = () => server.close();
  return state;
}
