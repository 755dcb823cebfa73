import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { CallOptions } from "../k8s/api.js";
import type { KubePod } from "../k8s/objects.js";
import { httpProbe, NO_HEALTH_CHECKS, NodeHealthChecks, podsToCheck } from "./health.js";

const T = "2025-01-01T00:00:00Z";

function pod(
  name: string,
  opts: { ds?: boolean; ready?: boolean; phase?: string; deleting?: boolean; ns?: string } = {},
): KubePod {
  return {
    metadata: {
      name,
      namespace: opts.ns ?? "kube-system",
      ...(opts.ds === true && {
        ownerReferences: [{ kind: "DaemonSet", name: "ds", uid: "u", controller: true }],
      }),
      ...(opts.deleting === true && { deletionTimestamp: T }),
    },
    status: {
      phase: opts.phase ?? "Running",
      conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True", lastTransitionTime: T }],
    },
  };
}

describe("podsToCheck", () => {
  it("the node's DaemonSet pods and the selected ones, each once; leaving pods skipped", () => {
    const onNode = [
      pod("cni", { ds: true }),
      pod("proxy", { ds: true, ready: false }),
      pod("web", {}), // not a DaemonSet pod: not checked unless selected
      pod("old", { ds: true, deleting: true }),
      pod("job", { ds: true, phase: "Succeeded" }),
    ];
    const selected = [pod("cni", { ds: true }), pod("pg-0", { ns: "db", ready: false })];
    assert.deepEqual(podsToCheck(onNode, selected), [
      { name: "kube-system/cni", kind: "DaemonSet", ready: true, since: T },
      { name: "kube-system/proxy", kind: "DaemonSet", ready: false, since: T },
      { name: "db/pg-0", kind: "selected", ready: false, since: T },
    ]);
  });

  it("a pod with no Ready condition is not Ready", () => {
    const p: KubePod = { metadata: { name: "x", namespace: "n" }, status: { phase: "Pending" } };
    assert.deepEqual(podsToCheck([], [p]), [{ name: "n/x", kind: "selected", ready: false, since: null }]);
  });
});

describe("NodeHealthChecks", () => {
  function fakeKube(pods: KubePod[], fail?: Error) {
    const calls: { fieldSelector?: string; labelSelector?: unknown }[] = [];
    return {
      calls,
      kube: {
        listPods(select: { fieldSelector?: string }, opts?: CallOptions): Promise<KubePod[]> {
          calls.push({ fieldSelector: select.fieldSelector, labelSelector: opts?.query?.["labelSelector"] });
          return fail === undefined ? Promise.resolve(pods) : Promise.reject(fail);
        },
      },
    };
  }

  it("nothing configured: no LIST, no probe, no facts", async () => {
    const k = fakeKube([]);
    const h = new NodeHealthChecks({ kube: k.kube, nodeName: "n1", config: NO_HEALTH_CHECKS });
    assert.deepEqual(await h.gather(), {});
    assert.deepEqual(k.calls, []);
  });

  it("lists only the pods on its node; the selector server-side", async () => {
    const k = fakeKube([pod("cni", { ds: true })]);
    const h = new NodeHealthChecks({
      kube: k.kube,
      nodeName: "n1",
      config: { ...NO_HEALTH_CHECKS, daemonSetPods: true, podSelector: "app=db" },
    });
    const facts = await h.gather();
    assert.deepEqual(k.calls, [
      { fieldSelector: "spec.nodeName=n1", labelSelector: undefined },
      { fieldSelector: "spec.nodeName=n1", labelSelector: "app=db" },
    ]);
    assert.equal(facts.pods?.ok, true);
  });

  it("a LIST that fails is a fact (the gate says why), not a throw", async () => {
    const k = fakeKube([], new Error("403 pods is forbidden"));
    const h = new NodeHealthChecks({
      kube: k.kube,
      nodeName: "n1",
      config: { ...NO_HEALTH_CHECKS, daemonSetPods: true },
    });
    assert.deepEqual(await h.gather(), { pods: { ok: false, error: "403 pods is forbidden" } });
  });

  it("runs the probe it is given, with the timeout", async () => {
    const seen: [string, number][] = [];
    const h = new NodeHealthChecks({
      kube: fakeKube([]).kube,
      nodeName: "n1",
      config: { ...NO_HEALTH_CHECKS, probeUrl: "http://x/healthz", probeTimeoutMs: 1_234 },
      probe: (url, ms) => {
        seen.push([url, ms]);
        return Promise.resolve({ healthy: false, detail: "answered 503" });
      },
    });
    assert.deepEqual(await h.gather(), {
      probe: { url: "http://x/healthz", healthy: false, detail: "answered 503" },
    });
    assert.deepEqual(seen, [["http://x/healthz", 1_234]]);
  });
});

describe("httpProbe (a real HTTP server)", () => {
  let server: http.Server;
  let base: string;
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/ok") res.writeHead(204).end();
      else if (req.url === "/sick") res.writeHead(503).end("database down\n");
      else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end(), 2_000).unref();
      else res.writeHead(404).end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("2xx is healthy", async () => {
    assert.deepEqual(await httpProbe(`${base}/ok`, 1_000), { healthy: true, detail: "answered 204" });
  });

  it("anything else is unhealthy, with the status and the body's start", async () => {
    assert.deepEqual(await httpProbe(`${base}/sick`, 1_000), {
      healthy: false,
      detail: "answered 503: database down",
    });
  });

  it("no answer in time is unhealthy", async () => {
    assert.deepEqual(await httpProbe(`${base}/slow`, 100), {
      healthy: false,
      detail: "no answer within 100 ms",
    });
  });

  it("nobody listening is unhealthy", async () => {
    const r = await httpProbe("http://127.0.0.1:1/", 1_000);
    assert.equal(r.healthy, false);
    assert.match(r.detail, /ECONNREFUSED/);
  });
});
