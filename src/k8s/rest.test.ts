import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { KubeAccess } from "./access.js";
import { RawKubeRest } from "../../kit/testenv/raw-rest.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("KubeRest and the caller's abort signal", () => {
  let server: Server;
  let rest: RawKubeRest;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith("/slow") === true) return; // never answers: aborted by the test
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ kind: "Status", padding: "x".repeat(2048) }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const access: KubeAccess = {
      getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
      applyToHTTPSOptions: () => Promise.resolve(),
    };
    rest = new RawKubeRest(access);
  });

  after(async () => {
    rest.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function batch(signal: AbortSignal, n: number): Promise<void> {
    for (let i = 0; i < n; i += 50) {
      const res = await Promise.all(
        Array.from({ length: 50 }, () => rest.request("GET", "/api/v1/nodes", { signal, timeoutMs: 5_000 })),
      );
      assert.ok(res.every((r) => r.status === 200));
    }
  }

  it("leaves no listener on a long-lived signal, and the heap stays flat over thousands of requests", async () => {
    const term = new AbortController(); // like the controller's leadership signal
    await batch(term.signal, 500); // warm-up: agents, sockets, JIT
    assert.equal(getEventListeners(term.signal, "abort").length, 0);
    const before = heapAfterGc();
    await batch(term.signal, 4_000);
    const growth = heapAfterGc() - before;
    assert.equal(getEventListeners(term.signal, "abort").length, 0, "listeners left on the signal");
    // With a listener (and its request) leaked per call, 4,000 requests hold tens of MiB.
    assert.ok(growth < 4 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
  });

  it("still aborts an in-flight request, and removes its listener", async () => {
    const ac = new AbortController();
    const pending = rest.request("GET", "/slow", { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(getEventListeners(ac.signal, "abort").length, 1);
    ac.abort();
    await assert.rejects(pending, /aborted/);
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
  });

  it("a watch removes its listener when the stream ends", async () => {
    const ac = new AbortController();
    const done = rest.watch("/slow", {}, () => undefined, ac.signal);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await done;
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
  });
});
