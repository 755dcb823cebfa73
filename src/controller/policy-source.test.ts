import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemTimers } from "../clock.js";
import { KubeApiError } from "../errors.js";
import type { KubeApi } from "../k8s/api.js";
import { silentLogger } from "../log.js";
import { POLICY_COLLECTION_PATH, type RawPolicy } from "../model/policy.js";
import { PolicySource } from "./policy-source.js";

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
