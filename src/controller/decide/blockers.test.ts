import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { KubeApi } from "../../k8s/api.js";
import type { KubePod } from "../../k8s/objects.js";
import { silentLogger } from "../../log.js";
import type { BottlerocketShadow } from "../../model/shadow.js";
import {
  blockingAlerts,
  blockingPods,
  Blockers,
  describeBlocker,
  NODE_CHECK_CONCURRENCY,
  planUnblocked,
  type Blocker,
  type BlockerChecks,
} from "./blockers.js";
import type { TickInput } from "./decisions.js";
import { brs } from "../../../test/kit/shadows.js";

const NOW = new Date("2024-05-01T12:00:00Z");

const alerts = (...list: { name: string; state?: string }[]): unknown => ({
  status: "success",
  data: {
    alerts: list.map((a) => ({
      labels: { alertname: a.name, severity: "page" },
      state: a.state ?? "firing",
    })),
  },
});

describe("blockingAlerts (kured's filters)", () => {
  const body = alerts({ name: "Watchdog" }, { name: "NodeDown" }, { name: "DiskFilling", state: "pending" });
  const cases: { name: string; opts: Parameters<typeof blockingAlerts>[1]; want: string[] }[] = [
    {
      name: "no filter: every alert",
      opts: { matchOnly: false, firingOnly: false },
      want: ["DiskFilling", "NodeDown", "Watchdog"],
    },
    { name: "firing only", opts: { matchOnly: false, firingOnly: true }, want: ["NodeDown", "Watchdog"] },
    {
      name: "filter ignores matches",
      opts: { filter: /^Watchdog$/, matchOnly: false, firingOnly: false },
      want: ["DiskFilling", "NodeDown"],
    },
    { name: "match only", opts: { filter: /^Node/, matchOnly: true, firingOnly: false }, want: ["NodeDown"] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(blockingAlerts(body, c.opts), c.want));
  it("no alerts: nothing blocks", () =>
    assert.deepEqual(blockingAlerts(alerts(), { matchOnly: false, firingOnly: false }), []));
  it("an answer that is not Prometheus's throws (a wrong URL is not 'no alerts')", () => {
    assert.throws(
      () => blockingAlerts("<html>", { matchOnly: false, firingOnly: false }),
      /not a Prometheus/,
    );
    assert.throws(() => blockingAlerts({ status: "error" }, { matchOnly: false, firingOnly: false }));
  });
});

describe("blockingPods", () => {
  it("running and pending pods block; completed ones do not", () => {
    const pod = (name: string, phase: string): KubePod => ({
      metadata: { name, namespace: "ns" },
      status: { phase },
    });
    assert.deepEqual(
      blockingPods([pod("b", "Running"), pod("a", "Pending"), pod("c", "Succeeded"), pod("d", "Failed")]),
      ["ns/a", "ns/b"],
    );
  });
});

describe("describeBlocker", () => {
  it("names the pods and alerts", () => {
    assert.equal(
      describeBlocker({ kind: "pods", pods: ["ns/batch-1"] }),
      "blocked by pod ns/batch-1 on the node",
    );
    assert.equal(describeBlocker({ kind: "alerts", alerts: ["A", "B"] }), "blocked by firing alerts A, B");
    assert.equal(
      describeBlocker({ kind: "check-failed", check: "alerts", error: "HTTP 502" }),
      "blocked: could not check for blocking alerts (HTTP 502)",
    );
  });
});

/** Checks from tables: per-node blockers, an optional fleet blocker; records what was asked. */
function fakeChecks(
  nodes: Record<string, Blocker>,
  fleet?: Blocker,
): BlockerChecks & { asked: string[][]; fleetAsked: number } {
  const c = {
    asked: [] as string[][],
    fleetAsked: 0,
    fleet: () => {
      c.fleetAsked++;
      return Promise.resolve(fleet);
    },
    nodes: (names: readonly string[]) => {
      c.asked.push([...names]);
      return Promise.resolve(new Map(names.flatMap((n) => (nodes[n] ? [[n, nodes[n]] as const] : []))));
    },
  };
  return c;
}

const input = (shadows: BottlerocketShadow[], maxConcurrent: number | "unlimited" = 1): TickInput => ({
  shadows,
  now: NOW,
  maxConcurrent,
  updatesAllowed: true,
});
const starts = (p: { changes: { reason: string; name: string }[] }): string[] =>
  p.changes.filter((c) => c.reason === "start").map((c) => c.name);
const signal = new AbortController().signal;
const POD: Blocker = { kind: "pods", pods: ["ns/job"] };

describe("planUnblocked", () => {
  it("no checks configured: the plan as is", async () => {
    const { plan, blocked } = await planUnblocked(undefined, input([brs("a"), brs("b")]), signal);
    assert.deepEqual(starts(plan), ["brs-a"]);
    assert.equal(blocked.size, 0);
  });

  it("a blocked node does not start; its slot goes to the next candidate, checked in turn", async () => {
    const checks = fakeChecks({ "brs-a": POD });
    const { plan, blocked } = await planUnblocked(checks, input([brs("a"), brs("b"), brs("c")]), signal);
    assert.deepEqual(starts(plan), ["brs-b"]);
    assert.deepEqual([...blocked.keys()], ["brs-a"]);
    assert.deepEqual(checks.asked, [["brs-a"], ["brs-b"]]);
  });

  it("every candidate blocked: nothing starts", async () => {
    const checks = fakeChecks({ "brs-a": POD, "brs-b": POD });
    const { plan } = await planUnblocked(checks, input([brs("a"), brs("b")], "unlimited"), signal);
    assert.deepEqual(starts(plan), []);
  });

  it("nodes mid-update continue; nothing is checked when nothing starts", async () => {
    const checks = fakeChecks({ "brs-a": POD }, { kind: "alerts", alerts: ["X"] });
    const mid = brs("a", { spec: "RebootedIntoUpdate", state: "RebootedIntoUpdate", cur: "1.20.0" });
    const { plan, blocked } = await planUnblocked(checks, input([mid, brs("b")]), signal);
    assert.deepEqual(
      plan.changes.map((c) => `${c.name} ${c.reason}`),
      ["brs-a progress"],
    );
    assert.equal(blocked.size, 0);
    assert.deepEqual({ asked: checks.asked, fleet: checks.fleetAsked }, { asked: [], fleet: 0 });
  });

  it("a fleet blocker (alerts) holds every candidate, progress goes on, one query", async () => {
    const alertsBlocker: Blocker = { kind: "alerts", alerts: ["NodeDown"] };
    const checks = fakeChecks({}, alertsBlocker);
    const mid = brs("m", { spec: "StagedAndPerformedUpdate", state: "StagedAndPerformedUpdate" });
    const { plan, blocked } = await planUnblocked(
      checks,
      input([mid, brs("a"), brs("b")], "unlimited"),
      signal,
    );
    assert.deepEqual(starts(plan), []);
    assert.deepEqual(
      plan.changes.map((c) => c.reason),
      ["progress"],
    );
    assert.deepEqual(
      [...blocked.entries()],
      [
        ["brs-a", alertsBlocker],
        ["brs-b", alertsBlocker],
      ],
    );
    assert.equal(checks.fleetAsked, 1);
    assert.deepEqual(checks.asked, []);
  });
});

describe("Blockers against the cluster and Prometheus", () => {
  let server: Server;
  let base: URL;
  let answer: { status: number; body: unknown } = { status: 200, body: alerts() };
  const paths: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(answer.status, { "Content-Type": "application/json" }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/prom`);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  function fakeApi(pods: Record<string, KubePod[]>, fail = false): KubeApi & { queries: unknown[] } {
    const queries: unknown[] = [];
    const api = {
      queries,
      list: (path: string, opts: { query?: Record<string, string> }) => {
        queries.push({ path, ...opts.query });
        if (fail) return Promise.reject(new Error("forbidden"));
        const node = (opts.query?.["fieldSelector"] ?? "").replace("spec.nodeName=", "");
        return Promise.resolve({ items: pods[node] ?? [] });
      },
    };
    return api as unknown as KubeApi & { queries: unknown[] };
  }
  const prom = { matchOnly: false, firingOnly: true, timeoutMs: 1_000 };

  it("pods: one LIST per node, by node name and the selector", async () => {
    const api = fakeApi({
      a: [{ metadata: { name: "job-1", namespace: "batch" }, status: { phase: "Running" } }],
    });
    const b = new Blockers({ podSelector: "brupop.io/block=true" }, { api, logger: silentLogger() });
    const found = await b.nodes(["brs-a", "brs-b"], signal);
    assert.deepEqual([...found], [["brs-a", { kind: "pods", pods: ["batch/job-1"] }]]);
    assert.deepEqual(api.queries, [
      { path: "/api/v1/pods", fieldSelector: "spec.nodeName=a", labelSelector: "brupop.io/block=true" },
      { path: "/api/v1/pods", fieldSelector: "spec.nodeName=b", labelSelector: "brupop.io/block=true" },
    ]);
    assert.equal(await b.fleet(signal), undefined, "no Prometheus configured: no query");
    assert.equal(paths.length, 0);
  });

  it("pods: at most NODE_CHECK_CONCURRENCY LISTs at once", async () => {
    let inFlight = 0;
    let most = 0;
    const api = {
      list: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return { items: [] };
      },
    } as unknown as KubeApi;
    const b = new Blockers({ podSelector: "x=y" }, { api, logger: silentLogger() });
    const names = Array.from({ length: 30 }, (_, i) => `brs-n${i}`);
    assert.equal((await b.nodes(names, signal)).size, 0);
    assert.equal(most, NODE_CHECK_CONCURRENCY);
  });

  it("pods: a failed LIST blocks", async () => {
    const b = new Blockers({ podSelector: "x=y" }, { api: fakeApi({}, true), logger: silentLogger() });
    const found = await b.nodes(["brs-a"], signal);
    assert.deepEqual(found.get("brs-a"), { kind: "check-failed", check: "pods", error: "forbidden" });
  });

  it("alerts: GET {url}/api/v1/alerts; firing alerts block; none, nothing; no pod LIST without a selector", async () => {
    const api = fakeApi({});
    const b = new Blockers({ prometheus: { url: base, ...prom } }, { api, logger: silentLogger() });
    answer = { status: 200, body: alerts({ name: "NodeDown" }, { name: "Soon", state: "pending" }) };
    assert.deepEqual(await b.fleet(signal), { kind: "alerts", alerts: ["NodeDown"] });
    assert.equal(paths.at(-1), "/prom/api/v1/alerts");
    answer = { status: 200, body: alerts() };
    assert.equal(await b.fleet(signal), undefined);
    assert.equal((await b.nodes(["brs-a"], signal)).size, 0);
    assert.deepEqual(api.queries, []);
  });

  it("alerts: an error answer or an unreachable Prometheus blocks", async () => {
    const b = new Blockers(
      { prometheus: { url: base, ...prom } },
      { api: fakeApi({}), logger: silentLogger() },
    );
    answer = { status: 503, body: {} };
    assert.deepEqual(await b.fleet(signal), { kind: "check-failed", check: "alerts", error: "HTTP 503" });
    const gone = new Blockers(
      { prometheus: { url: new URL("http://127.0.0.1:1"), ...prom } },
      { api: fakeApi({}), logger: silentLogger() },
    );
    assert.equal((await gone.fleet(signal))?.kind, "check-failed");
  });

  it("recordVerdicts: onBlocked for a new or changed verdict only", () => {
    const heard: string[] = [];
    const b = new Blockers(
      { podSelector: "x=y" },
      {
        api: fakeApi({}),
        logger: silentLogger(),
        onBlocked: (n, bl) => heard.push(`${n} ${describeBlocker(bl)}`),
      },
    );
    const pods = (p: string): Blocker => ({ kind: "pods", pods: [p] });
    b.recordVerdicts(new Map([["brs-a", pods("ns/1")]]));
    b.recordVerdicts(new Map([["brs-a", pods("ns/1")]]));
    b.recordVerdicts(new Map([["brs-a", pods("ns/2")]]));
    b.recordVerdicts(new Map());
    b.recordVerdicts(new Map([["brs-a", pods("ns/2")]]));
    assert.deepEqual(heard, [
      "brs-a blocked by pod ns/1 on the node",
      "brs-a blocked by pod ns/2 on the node",
      "brs-a blocked by pod ns/2 on the node",
    ]);
  });

  it("enabled() only with a blocker set", () => {
    assert.equal(Blockers.enabled({}), false);
    assert.equal(Blockers.enabled({ podSelector: "a=b" }), true);
  });
});
