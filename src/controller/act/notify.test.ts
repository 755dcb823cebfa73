import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { Registry } from "prom-client";
import { silentLogger } from "../../log.js";
import type { BottlerocketShadow, ShadowFailure } from "../../model/shadow.js";
import {
  Notifier,
  notificationsFor,
  webhookBody,
  type Notification,
  type NotificationKind,
} from "./notify.js";
import { brs } from "../../../test/kit/shadows.js";

const NOW = new Date("2024-05-01T12:00:00Z");
const FAILURE: ShadowFailure = {
  state: "StagedAndPerformedUpdate",
  reason: "HostCommandFailed",
  message: "prepare failed: disk full",
  timestamp: "2024-05-01T11:59:00Z",
};

const kinds = (ns: Notification[]): string[] =>
  ns.map((n) => `${n.kind}${n.node === undefined ? "" : ` ${n.node}`}`);

describe("notificationsFor", () => {
  const cases: {
    name: string;
    prev: BottlerocketShadow[] | undefined;
    cur: BottlerocketShadow[];
    want: string[];
  }[] = [
    {
      name: "no baseline: nothing",
      prev: undefined,
      cur: [brs("a", { spec: "StagedAndPerformedUpdate" })],
      want: [],
    },
    {
      name: "spec leaves Idle: started",
      prev: [brs("a"), brs("b", { cur: "1.20.0" })],
      cur: [brs("a", { spec: "StagedAndPerformedUpdate" }), brs("b", { cur: "1.20.0" })],
      want: ["node-started a"],
    },
    {
      name: "steps inside an update: nothing",
      prev: [brs("a", { spec: "RebootedIntoUpdate", state: "StagedAndPerformedUpdate" })],
      cur: [brs("a", { spec: "RebootedIntoUpdate", state: "RebootedIntoUpdate", cur: "1.20.0" })],
      want: [],
    },
    {
      name: "ErrorReset: failed",
      prev: [brs("a", { spec: "StagedAndPerformedUpdate" })],
      cur: [
        brs("a", { spec: "StagedAndPerformedUpdate", state: "ErrorReset", crashes: 1, failure: FAILURE }),
      ],
      want: ["node-failed a"],
    },
    {
      name: "still ErrorReset: not again",
      prev: [brs("a", { spec: "StagedAndPerformedUpdate", state: "ErrorReset" })],
      cur: [brs("a", { spec: "Idle", version: "1.20.0", state: "ErrorReset" })],
      want: [],
    },
    {
      name: "back to Idle after ErrorReset, old version: not finished",
      prev: [brs("a", { spec: "Idle", version: "1.20.0", state: "ErrorReset" })],
      cur: [brs("a", { spec: "Idle", version: "1.20.0", state: "Idle" }), brs("b")],
      want: [],
    },
    {
      name: "failure missed between views, Idle on the old version: not finished",
      prev: [brs("a", { spec: "StagedAndPerformedUpdate", state: "StagedAndPerformedUpdate" })],
      cur: [brs("a", { spec: "Idle", version: "1.20.0", state: "Idle", crashes: 1 })],
      want: [],
    },
    {
      name: "Idle on the new version, others left: finished",
      prev: [
        brs("a", { spec: "Idle", version: "1.20.0", state: "MonitoringUpdate", cur: "1.20.0" }),
        brs("b"),
      ],
      cur: [brs("a", { spec: "Idle", version: "1.20.0", cur: "1.20.0" }), brs("b")],
      want: ["node-finished a"],
    },
    {
      name: "the last node finishes: node and fleet finished",
      prev: [
        brs("a", { spec: "Idle", version: "1.20.0", state: "MonitoringUpdate", cur: "1.20.0" }),
        brs("b", { cur: "1.20.0" }),
      ],
      cur: [brs("a", { cur: "1.20.0" }), brs("b", { cur: "1.20.0" })],
      want: ["node-finished a", "fleet-finished"],
    },
    {
      name: "a failed node in back-off still needs its update: no fleet-finished",
      prev: [brs("a", { spec: "Idle", version: "1.20.0", state: "ErrorReset" }), brs("b", { cur: "1.20.0" })],
      cur: [brs("a", { spec: "Idle", version: "1.20.0", crashes: 1 }), brs("b", { cur: "1.20.0" })],
      want: [],
    },
    {
      name: "fleet already up to date: nothing",
      prev: [brs("a", { cur: "1.20.0" })],
      cur: [brs("a", { cur: "1.20.0" })],
      want: [],
    },
    {
      name: "a shadow new in this view: nothing about it",
      prev: [],
      cur: [brs("a", { spec: "StagedAndPerformedUpdate" })],
      want: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(kinds(notificationsFor(c.prev, c.cur, NOW)), c.want));
  }

  it("says what happened: versions, the agent's failure, the fleet", () => {
    const [started] = notificationsFor([brs("a")], [brs("a", { spec: "StagedAndPerformedUpdate" })], NOW);
    assert.deepEqual(started, {
      kind: "node-started",
      node: "a",
      shadow: "brs-a",
      at: NOW.toISOString(),
      version: "1.20.0",
      fromVersion: "1.19.0",
      message: "a: update to 1.20.0 started (running 1.19.0)",
    });
    const [failed] = notificationsFor(
      [brs("a", { spec: "StagedAndPerformedUpdate" })],
      [brs("a", { spec: "StagedAndPerformedUpdate", state: "ErrorReset", crashes: 2, failure: FAILURE })],
      NOW,
    );
    assert.equal(failed?.kind, "node-failed");
    assert.deepEqual(failed?.failure, FAILURE);
    assert.equal(failed?.crashCount, 2);
    assert.match(
      failed?.message ?? "",
      /^a: update failed \(.*prepare failed: disk full.*\); crash count 2$/,
    );
    const fleet = notificationsFor(
      [brs("a", { spec: "Idle", version: "1.20.0", state: "MonitoringUpdate", cur: "1.20.0" })],
      [brs("a", { cur: "1.20.0" })],
      NOW,
    ).at(-1);
    assert.equal(fleet?.message, "fleet up to date: 1 node(s) on 1.20.0");
    assert.equal(fleet?.nodes, 1);
  });

  it("a node failed on the new version: the rollout finishes with failures, never 'up to date'", () => {
    const unhealthy = {
      state: "MonitoringUpdate" as const,
      reason: "Unhealthy",
      message: "not Ready: DaemonSet pod kube-system/x",
      timestamp: NOW.toISOString(),
    };
    const out = notificationsFor(
      [
        brs("a", { spec: "Idle", version: "1.20.0", state: "ErrorReset", cur: "1.20.0", failure: unhealthy }),
        brs("b", { cur: "1.20.0" }),
      ],
      [brs("a", { cur: "1.20.0", crashes: 1, failure: unhealthy }), brs("b", { cur: "1.20.0" })],
      NOW,
    );
    const fleet = out.find((n) => n.kind === "fleet-finished");
    assert.deepEqual(fleet?.failedNodes, ["a"]);
    assert.equal(
      fleet?.message,
      "rollout finished with failures: 1 of 2 node(s) up to date; failed on the new version: a",
    );
  });
});

describe("webhookBody", () => {
  const n: Notification = {
    kind: "node-finished",
    node: "a",
    message: "a: updated to 1.20.0",
    at: NOW.toISOString(),
  };
  it("json: the notification's fields", () => assert.deepEqual(webhookBody(n, "json"), n));
  it("slack: one text field", () =>
    assert.deepEqual(webhookBody(n, "slack"), { text: "brupop: a: updated to 1.20.0" }));
});

// ---- delivery, against a local HTTP receiver ----------------------------------------------------

describe("Notifier delivery", () => {
  let server: Server;
  let url: URL;
  let received: { body: unknown; type: string | undefined }[] = [];
  /** Answers per request, in order; then 200. "hang": never answers. */
  let script: (number | "hang")[] = [];
  const hanging: ServerResponse[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const answer = script.shift() ?? 200;
        if (answer === "hang") {
          hanging.push(res);
          return;
        }
        if (answer === 200) {
          received.push({
            body: JSON.parse(Buffer.concat(chunks).toString()) as unknown,
            type: req.headers["content-type"],
          });
        }
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    received = [];
    script = [];
  });

  const fast = { initialMs: 5, maxMs: 10 };
  const note = (kind: NotificationKind, node: string): Notification => ({
    kind,
    node,
    message: `${node} ${kind}`,
    at: NOW.toISOString(),
  });

  it("POSTs json, in order, and counts what it sent", async () => {
    const registry = new Registry();
    const n = new Notifier({ url, format: "json", timeoutMs: 1_000 }, { logger: silentLogger(), registry });
    n.notify(note("node-started", "a"));
    n.notify({ kind: "fleet-halted", reason: "3 nodes failed" });
    await n.flush();
    assert.deepEqual(
      received.map((r) => (r.body as Notification).kind),
      ["node-started", "fleet-halted"],
    );
    assert.equal(received[0]?.type, "application/json");
    assert.equal((received[1]?.body as Notification).message, "3 nodes failed");
    assert.equal(n.stats.sent, 2);
    assert.match(
      await registry.metrics(),
      /brupop_controller_notifications_total\{kind="node-started",outcome="sent"\} 1/,
    );
  });

  it("slack format: {text}", async () => {
    const n = new Notifier({ url, format: "slack", timeoutMs: 1_000 }, { logger: silentLogger() });
    n.notify(note("node-failed", "b"));
    await n.flush();
    assert.deepEqual(received[0]?.body, { text: "brupop: b node-failed" });
  });

  it("retries 5xx, 429 and timeouts with back-off, then delivers", async () => {
    script = [503, 429, "hang"];
    const n = new Notifier(
      { url, format: "json", timeoutMs: 200, backoff: fast },
      { logger: silentLogger() },
    );
    n.notify(note("node-started", "a"));
    await n.flush();
    assert.equal(received.length, 1);
    assert.deepEqual({ retried: n.stats.retried, sent: n.stats.sent }, { retried: 3, sent: 1 });
  });

  it("gives up after its attempts, and on a 4xx at once", async () => {
    script = [500, 500, 400];
    const n = new Notifier(
      { url, format: "json", timeoutMs: 1_000, attempts: 2, backoff: fast },
      { logger: silentLogger() },
    );
    n.notify(note("node-started", "a")); // 500, 500: failed after 2 attempts
    n.notify(note("node-started", "b")); // 400: failed, not retried
    n.notify(note("node-started", "c")); // 200
    await n.flush();
    assert.deepEqual(n.stats, { sent: 1, failed: 2, dropped: 0, retried: 1 });
    assert.deepEqual(
      received.map((r) => (r.body as Notification).node),
      ["c"],
    );
  });

  it("a full queue drops the oldest waiting notification; notify never blocks", async () => {
    script = ["hang"]; // the first call holds the sender until its timeout
    const n = new Notifier(
      { url, format: "json", timeoutMs: 300, attempts: 1, maxQueue: 2 },
      { logger: silentLogger() },
    );
    const t0 = performance.now();
    for (const node of ["a", "b", "c", "d"]) n.notify(note("node-started", node));
    assert.ok(performance.now() - t0 < 50, "notify() returned at once");
    await n.flush();
    // a was in flight (then timed out); b was dropped for d; c and d delivered.
    assert.deepEqual(n.stats, { sent: 2, failed: 1, dropped: 1, retried: 0 });
    assert.deepEqual(
      received.map((r) => (r.body as Notification).node),
      ["c", "d"],
    );
  });

  it("observe(): diffs within a term; a new term only sets its baseline", async () => {
    const n = new Notifier({ url, format: "json", timeoutMs: 1_000 }, { logger: silentLogger() });
    const term1 = {};
    const term2 = {};
    n.observe(term1, [brs("a")], NOW);
    n.observe(term1, [brs("a", { spec: "StagedAndPerformedUpdate" })], NOW);
    n.observe(term2, [brs("a", { spec: "StagedAndPerformedUpdate", state: "ErrorReset" })], NOW);
    await n.flush();
    assert.deepEqual(
      received.map((r) => (r.body as Notification).kind),
      ["node-started"],
    );
  });

  it("close() abandons what is queued", async () => {
    script = ["hang"];
    const n = new Notifier({ url, format: "json", timeoutMs: 5_000 }, { logger: silentLogger() });
    n.notify(note("node-started", "a"));
    n.notify(note("node-started", "b"));
    n.close();
    await n.flush();
    n.notify(note("node-started", "c"));
    await n.flush();
    assert.equal(received.length, 0);
  });
});
