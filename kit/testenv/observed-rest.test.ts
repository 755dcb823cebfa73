import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import type { KubeAccess } from "../../src/k8s/access.js";
import { ObservedKubeRest } from "./observed-rest.js";

describe("ObservedKubeRest", () => {
  it("reports every request and watch, through the typed methods too", async () => {
    const server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url?.includes("watch=true") === true) {
        res.end(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "n" } } })}\n`);
        return;
      }
      res.end(JSON.stringify({ kind: "NodeList", items: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const access: KubeAccess = {
      getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
      applyToHTTPSOptions: () => Promise.resolve(),
    };
    const seen: string[] = [];
    const rest = new ObservedKubeRest(access, (method, path, watch) =>
      seen.push(`${method} ${path}${watch ? " (watch)" : ""}`),
    );
    try {
      assert.equal((await rest.request("GET", "/api/v1/nodes")).status, 200);
      const events: unknown[] = [];
      await rest.watch("/api/v1/nodes", {}, (e) => events.push(e), new AbortController().signal);
      assert.equal(events.length, 1);
      assert.deepEqual(seen, ["GET /api/v1/nodes", "GET /api/v1/nodes (watch)"]);
    } finally {
      rest.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
