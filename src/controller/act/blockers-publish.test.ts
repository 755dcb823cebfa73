import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeTimers } from "../../clock.js";
import { KubeApiError } from "../../errors.js";
import type { KubeApi } from "../../k8s/api.js";
import type { KubeConfigMap } from "../../k8s/objects.js";
import { silentLogger } from "../../log.js";
import type { Blocker } from "../decide/blockers.js";
import {
  BlockersPublisher,
  blockersFromData,
  blockersToData,
  MAX_PUBLISHED_NAMES,
  MAX_PUBLISHED_SHADOWS,
  PUBLISH_RETRY_MS,
} from "./blockers-publish.js";

const POD: Blocker = { kind: "pods", pods: ["default/backup-0"] };
const ALERT: Blocker = { kind: "alerts", alerts: ["NodeDiskFull"] };
const FAILED: Blocker = { kind: "check-failed", check: "alerts", error: "HTTP 500" };

describe("blockersToData / blockersFromData", () => {
  const cases: { name: string; blocked: [string, Blocker][] }[] = [
    { name: "nothing blocked", blocked: [] },
    { name: "a pod", blocked: [["brs-a", POD]] },
    {
      name: "every kind, any order",
      blocked: [
        ["brs-c", FAILED],
        ["brs-a", ALERT],
        ["brs-b", POD],
      ],
    },
  ];
  for (const c of cases) {
    it(`round trip: ${c.name}`, () => {
      const data = blockersToData("ctl-1", new Map(c.blocked));
      const back = blockersFromData(data);
      assert.equal(back?.leader, "ctl-1");
      assert.deepEqual(back?.blocked, new Map(c.blocked));
    });
  }

  it("a fleet-wide alert over 5,000 waiting shadows stays far under a ConfigMap's 1 MiB", () => {
    const alerts = Array.from({ length: 100 }, (_, i) => `NodeDiskPressureAlertWithALongName${i}`);
    const blocked = new Map<string, Blocker>(
      Array.from({ length: 5_000 }, (_, i) => [
        `brs-ip-10-0-${i}.compute.internal`,
        { kind: "alerts", alerts },
      ]),
    );
    const data = blockersToData("ctl-1", blocked);
    const bytes = Buffer.byteLength(JSON.stringify(data));
    assert.ok(bytes < 512 * 1024, `${bytes} bytes`);
    const back = blockersFromData(data);
    assert.equal(back?.blocked.size, MAX_PUBLISHED_SHADOWS);
    const first = back?.blocked.get("brs-ip-10-0-0.compute.internal");
    assert.deepEqual(first, { kind: "alerts", alerts: alerts.slice(0, MAX_PUBLISHED_NAMES) });
  });

  it("the text does not depend on the map's order (no write for a reordered verdict)", () => {
    assert.deepEqual(
      blockersToData(
        "x",
        new Map<string, Blocker>([
          ["brs-b", POD],
          ["brs-a", ALERT],
        ]),
      ),
      blockersToData(
        "x",
        new Map<string, Blocker>([
          ["brs-a", ALERT],
          ["brs-b", POD],
        ]),
      ),
    );
  });

  const bad: { name: string; data: Record<string, string> | null; blocked?: string[] }[] = [
    { name: "no ConfigMap", data: null },
    { name: "no leader", data: { blocked: "{}" } },
    { name: "not JSON", data: { leader: "x", blocked: "{" } },
    { name: "an array", data: { leader: "x", blocked: "[]" } },
    {
      name: "unknown or malformed verdicts are dropped, the rest kept",
      data: {
        leader: "x",
        blocked: JSON.stringify({
          "brs-a": { kind: "pods", pods: ["ns/p"] },
          "brs-b": { kind: "weather" },
          "brs-c": { kind: "pods", pods: [1] },
          "brs-d": { kind: "check-failed", check: "dns", error: "e" },
        }),
      },
      blocked: ["brs-a"],
    },
  ];
  for (const c of bad) {
    it(`decode: ${c.name}`, () => {
      const got = blockersFromData(c.data);
      if (c.blocked === undefined) assert.equal(got, undefined);
      else assert.deepEqual([...(got?.blocked.keys() ?? [])], c.blocked);
    });
  }
});

/** A one-ConfigMap API: records the calls; `fail` makes the next calls of a verb throw that status. */
function fakeCluster() {
  let cm: KubeConfigMap | undefined;
  let rv = 0;
  const calls: string[] = [];
  const fail: Record<string, number | undefined> = {};
  const check = (verb: string) => {
    calls.push(verb);
    const status = fail[verb];
    if (status !== undefined) throw new KubeApiError(verb, status, {});
  };
  const api = {
    get: async () => {
      await Promise.resolve();
      check("GET");
      if (cm === undefined) throw new KubeApiError("GET", 404, {});
      return structuredClone(cm);
    },
    create: async (_path: string, body: KubeConfigMap) => {
      await Promise.resolve();
      check("POST");
      cm = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return cm;
    },
    patch: async (
      _path: string,
      _type: string,
      body: { metadata: { resourceVersion?: string }; data: Record<string, string> },
    ) => {
      await Promise.resolve();
      check("PATCH");
      if (cm === undefined) throw new KubeApiError("PATCH", 404, {});
      if (body.metadata.resourceVersion !== cm.metadata?.resourceVersion)
        throw new KubeApiError("PATCH", 409, {});
      cm = {
        ...cm,
        metadata: { ...cm.metadata, resourceVersion: String(++rv) },
        data: { ...cm.data, ...body.data },
      };
      return cm;
    },
  } as unknown as KubeApi;
  return { api, calls, fail, data: () => cm?.data };
}

describe("BlockersPublisher", () => {
  const signal = new AbortController().signal;
  const setup = () => {
    const cluster = fakeCluster();
    const timers = new FakeTimers(1_000);
    const pub = new BlockersPublisher({
      api: cluster.api,
      namespace: "brupop",
      logger: silentLogger(),
      timers,
    });
    return { cluster, timers, pub };
  };

  it("writes only when the verdict changes; nothing stored and nothing blocked: no write", async () => {
    const { cluster, pub } = setup();
    const term = {};
    const leader = { identity: "ctl-1", term };
    await pub.publish(new Map(), leader, signal);
    assert.deepEqual(cluster.calls, ["GET"]);
    await pub.publish(new Map(), leader, signal);
    assert.deepEqual(cluster.calls, ["GET"], "known empty: no request at all");
    await pub.publish(new Map([["brs-a", POD]]), leader, signal);
    assert.deepEqual(cluster.calls, ["GET", "GET", "POST"]);
    for (let i = 0; i < 5; i++) await pub.publish(new Map([["brs-a", POD]]), leader, signal);
    assert.equal(cluster.calls.length, 3, "the same verdict every tick: no request");
    await pub.publish(new Map(), leader, signal);
    assert.deepEqual(cluster.calls.slice(3), ["GET", "PATCH"]);
    assert.deepEqual(blockersFromData(cluster.data())?.blocked, new Map());
    assert.equal(pub.writes, 2);
  });

  it("a new term (or process) reads first and rewrites a stale map of another leader", async () => {
    const { cluster, pub } = setup();
    await pub.publish(new Map([["brs-a", POD]]), { identity: "old", term: {} }, signal);
    const fresh = new BlockersPublisher({
      api: cluster.api,
      namespace: "brupop",
      logger: silentLogger(),
      timers: new FakeTimers(),
    });
    await fresh.publish(new Map(), { identity: "new", term: {} }, signal);
    assert.deepEqual(blockersFromData(cluster.data()), { leader: "new", blocked: new Map() });
  });

  it("a failed write is logged, not thrown, and retried only after PUBLISH_RETRY_MS", async () => {
    const { cluster, timers, pub } = setup();
    const leader = { identity: "ctl-1", term: {} };
    cluster.fail["POST"] = 403;
    await pub.publish(new Map([["brs-a", ALERT]]), leader, signal);
    const after = cluster.calls.length;
    await pub.publish(new Map([["brs-a", ALERT]]), leader, signal);
    assert.equal(cluster.calls.length, after, "within the retry delay: no request");
    cluster.fail["POST"] = undefined;
    await timers.advance(PUBLISH_RETRY_MS);
    await pub.publish(new Map([["brs-a", ALERT]]), leader, signal);
    assert.deepEqual(blockersFromData(cluster.data())?.blocked, new Map([["brs-a", ALERT]]));
  });

  it("a conflict (another writer) is read again and retried", async () => {
    const { cluster, pub } = setup();
    const leader = { identity: "ctl-1", term: {} };
    await pub.publish(new Map([["brs-a", POD]]), leader, signal);
    cluster.fail["PATCH"] = 409;
    await pub.publish(new Map([["brs-b", POD]]), { identity: "ctl-1", term: {} }, signal);
    assert.deepEqual(cluster.calls.slice(-6), ["GET", "PATCH", "GET", "PATCH", "GET", "PATCH"]);
    assert.deepEqual(blockersFromData(cluster.data())?.blocked, new Map([["brs-a", POD]]), "unchanged");
  });
});
