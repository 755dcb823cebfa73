import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { FakeTimers, settle, systemTimers } from "../../clock.js";
import { KubeApiError } from "../../errors.js";
import type { KubeApi } from "../../k8s/api.js";
import { silentLogger } from "../../log.js";
import { POLICY_COLLECTION_PATH, type RawPolicy } from "../../model/policy.js";
import { crdRecheckDelay, isCrdMissing, PolicySource } from "./policy-source.js";

/** Only the verbs the source uses without its informer started. */
function fakeApi(get: () => unknown, replaced: unknown[] = []): KubeApi {
  return {
    get: () => Promise.resolve().then(get),
    replace: (path: string, body: unknown) => {
      replaced.push({ path, body });
      return Promise.resolve({ ...(body as RawPolicy), metadata: { resourceVersion: "6", uid: "u" } });
    },
  } as unknown as KubeApi;
}

const source = (api: KubeApi) =>
  new PolicySource({ rest: api, name: "default", logger: silentLogger(), timers: systemTimers });
const signal = new AbortController().signal;
const fail = (status: number) => () => {
  throw new KubeApiError("GET", status, {});
};

describe("PolicySource (before its informer synced)", () => {
  it("no CRD or no object (404): no policy, today's behaviour", async () => {
    assert.equal(await source(fakeApi(fail(404))).current(signal), undefined);
  });

  it("forbidden (RBAC of an older chart): no policy, not a hold", async () => {
    assert.equal(await source(fakeApi(fail(403))).current(signal), undefined);
  });

  it("any other failure: unavailable (the tick holds new starts)", async () => {
    assert.equal(await source(fakeApi(fail(500))).current(signal), "unavailable");
  });

  it("reads the object, and its own status write wins over the stale copy", async () => {
    const obj: RawPolicy = { metadata: { name: "default", resourceVersion: "5", uid: "u" }, spec: {} };
    const replaced: unknown[] = [];
    const s = source(fakeApi(() => obj, replaced));
    assert.deepEqual(await s.current(signal), obj);
    assert.equal(await s.writeStatus(obj, { finishing: 1 }, signal), true);
    assert.deepEqual(replaced, [
      { path: `${POLICY_COLLECTION_PATH}/default/status`, body: { ...obj, status: { finishing: 1 } } },
    ]);
    const now = await s.current(signal);
    assert.equal(now !== "unavailable" && now?.status?.finishing, 1);
  });
});

describe("PolicySource without the UpdatePolicy CRD (upstream's CRD chart only)", () => {
  const crdMissingBody = {
    kind: "Status",
    reason: "NotFound",
    message: "the server could not find the requested resource",
    details: {},
  };
  const objectMissingBody = {
    kind: "Status",
    reason: "NotFound",
    details: { name: "default", kind: "updatepolicies" },
  };

  const table: { name: string; err: unknown; missing: boolean }[] = [
    { name: "404 for the resource type", err: new KubeApiError("GET", 404, crdMissingBody), missing: true },
    {
      name: "404 page not found (plain text)",
      err: new KubeApiError("GET", 404, "404 page not found"),
      missing: true,
    },
    {
      name: "404 for the object: the CRD is there",
      err: new KubeApiError("GET", 404, objectMissingBody),
      missing: false,
    },
    { name: "403", err: new KubeApiError("GET", 403, {}), missing: false },
    { name: "not an API error", err: new Error("ECONNREFUSED"), missing: false },
  ];
  for (const c of table) {
    it(`isCrdMissing: ${c.name}`, () => assert.equal(isCrdMissing(c.err, "default"), c.missing));
  }

  it("back-off: 10 s doubling, at most 5 min", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 50].map(crdRecheckDelay),
      [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000],
    );
  });

  it("says it once, looks again with back-off, and starts watching when the CRD appears", async () => {
    const timers = new FakeTimers();
    const lines: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: "info" },
      { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) },
    );
    let installed = false;
    const gets: number[] = [];
    const lists: string[] = [];
    const api = {
      get: () => {
        gets.push(timers.nowMs());
        return installed
          ? Promise.reject(new KubeApiError("GET", 404, objectMissingBody))
          : Promise.reject(new KubeApiError("GET", 404, crdMissingBody));
      },
      list: (path: string) => {
        lists.push(path);
        return Promise.resolve({ metadata: { resourceVersion: "1" }, items: [] });
      },
      watch: (_p: string, _q: unknown, _h: unknown, signal: AbortSignal) =>
        new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
    } as unknown as KubeApi;
    const s = new PolicySource({ rest: api, name: "default", logger, timers });
    s.start();
    // The controller asks every tick (2 s) for 33 s, as in the report of issue 32.
    for (let t = 0; t <= 33_000; t += 2_000) {
      assert.equal(await s.current(signal), undefined, "no policy: the environment's settings");
      await timers.advance(2_000);
    }
    assert.deepEqual(gets, [0, 10_000, 30_000], "looked at 0, +10 s, +20 s");
    const warnings = lines.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(
      warnings[0]?.msg ?? "",
      /UpdatePolicy CRD \(updatepolicies\.brupop\.bottlerocket\.aws\) is not installed.*install brupop-ts's CRD chart/,
    );
    assert.deepEqual(lists, [], "no list/watch while the CRD is missing");
    assert.equal(s.crdMissing, true, "the policy stage leaves version locks alone meanwhile");
    // An hour later: a look at most every 5 min, still nothing logged.
    for (let t = 0; t < 3_600_000; t += 10_000) {
      await s.current(signal);
      await timers.advance(10_000);
    }
    assert.ok(gets.length <= 3 + 14, `GETs in an hour: ${gets.length}`);
    assert.equal(lines.length, 1);
    // The CRD is installed: noticed at the next look (within 5 min), and the informer starts.
    installed = true;
    for (let t = 0; t <= 300_000 && lists.length === 0; t += 10_000) {
      await s.current(signal);
      await timers.advance(10_000);
    }
    assert.deepEqual(lists, [POLICY_COLLECTION_PATH]);
    assert.match(lines.at(-1)?.msg ?? "", /CRD is installed now/);
    assert.equal(s.crdMissing, false);
    await s.stop();
  });

  it("with the CRD installed the informer starts at the first look", async () => {
    const lists: string[] = [];
    const api = {
      get: () => Promise.reject(new KubeApiError("GET", 404, objectMissingBody)),
      list: (path: string) => {
        lists.push(path);
        return Promise.resolve({ metadata: { resourceVersion: "1" }, items: [] });
      },
      watch: (_p: string, _q: unknown, _h: unknown, sig: AbortSignal) =>
        new Promise<void>((resolve) => sig.addEventListener("abort", () => resolve(), { once: true })),
    } as unknown as KubeApi;
    const s = new PolicySource({
      rest: api,
      name: "default",
      logger: silentLogger(),
      timers: new FakeTimers(),
    });
    s.start();
    assert.equal(await s.current(signal), undefined);
    await settle();
    assert.deepEqual(lists, [POLICY_COLLECTION_PATH]);
    await s.stop();
  });
});
