// A local alert receiver for the integration tests: records every POST (raw body, headers)
// and answers with the status the test sets. It can be stopped and started again on the same
// port, to play a receiver that is down for a while.
import { createServer } from "node:http";

export async function startReceiver({ status = 200, port = 0 } = {}) {
  const receiver = {
    status,
    requests: [],
    port,
    server: null,
    get url() {
      return `http://127.0.0.1:${this.port}/hook`;
    },
    /** Requests whose JSON body matches `predicate`. */
    matching(predicate = () => true) {
      return this.requests.filter((r) => predicate(r.json));
    },
    async start() {
      this.server = createServer((req, res) => {
        let raw = "";
        req.setEncoding("utf8");
        req.on("data", (chunk) => (raw += chunk));
        req.on("end", () => {
          let json = null;
          try {
            json = JSON.parse(raw);
          } catch {
            /* not JSON */
          }
          this.requests.push({ method: req.method, path: req.url, headers: req.headers, raw, json });
          res.writeHead(this.status, { "content-type": "text/plain" });
          res.end("ok");
        });
      });
      await new Promise((resolve, reject) => {
        this.server.once("error", reject);
        this.server.listen(this.port, "127.0.0.1", resolve);
      });
      this.port = this.server.address().port;
      return this;
    },
    async stop() {
      if (!this.server) return;
      const server = this.server;
      this.server = null;
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return receiver.start();
}
