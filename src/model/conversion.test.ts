import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { convertShadow, type KubeObject } from "./conversion.js";
import { reviewConversion } from "./conversion-review.js";

const metadata = {
  name: "brs-node-a",
  namespace: "brupop-bottlerocket-aws",
  uid: "5e3b-uid",
  resourceVersion: "42",
  labels: { team: "a" },
  ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "node-a", uid: "node-uid" }],
};
const TS = "2024-05-01T10:00:00Z";

function v1(state: string, statusState?: string): KubeObject {
  return {
    apiVersion: "brupop.bottlerocket.aws/v1",
    kind: "BottlerocketShadow",
    metadata,
    spec: { state, state_transition_timestamp: TS, version: "1.20.0" },
    ...(statusState === undefined
      ? {}
      : { status: { current_version: "1.19.0", target_version: "1.20.0", current_state: statusState } }),
  };
}

function v2(state: string, statusState?: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "brupop.bottlerocket.aws/v2",
    kind: "BottlerocketShadow",
    metadata,
    spec: { state, state_transition_timestamp: TS, version: "1.20.0" },
    ...(statusState === undefined
      ? {}
      : {
          status: {
            current_version: "1.19.0",
            target_version: "1.20.0",
            current_state: statusState,
            crash_count: 3,
            state_transition_failure_timestamp: TS,
            ...extra,
          },
        }),
  };
}

describe("v1 → v2", () => {
  const table: [string, string][] = [
    ["Idle", "Idle"],
    ["StagedUpdate", "StagedAndPerformedUpdate"],
    ["PerformedUpdate", "StagedAndPerformedUpdate"],
    ["RebootedIntoUpdate", "RebootedIntoUpdate"],
    ["MonitoringUpdate", "MonitoringUpdate"],
  ];
  for (const [from, to] of table) {
    it(`${from} → ${to} (spec and status), crash_count 0, no failure timestamp`, () => {
      const out = convertShadow(v1(from, from), "brupop.bottlerocket.aws/v2");
      assert.equal(out.apiVersion, "brupop.bottlerocket.aws/v2");
      assert.deepEqual(out.spec, { state: to, state_transition_timestamp: TS, version: "1.20.0" });
      assert.deepEqual(out.status, {
        current_version: "1.19.0",
        target_version: "1.20.0",
        current_state: to,
        crash_count: 0,
        state_transition_failure_timestamp: null,
      });
      assert.deepEqual(out.metadata, metadata);
    });
  }
  it("converts an object without status", () => {
    const out = convertShadow(v1("Idle"), "brupop.bottlerocket.aws/v2");
    assert.equal(out.status, undefined);
  });
});

describe("v2 → v1", () => {
  const table: [string, string][] = [
    ["Idle", "Idle"],
    ["StagedAndPerformedUpdate", "StagedUpdate"],
    ["RebootedIntoUpdate", "RebootedIntoUpdate"],
    ["MonitoringUpdate", "MonitoringUpdate"],
    ["ErrorReset", "MonitoringUpdate"],
  ];
  for (const [from, to] of table) {
    it(`${from} → ${to}, dropping crash_count and the failure timestamp`, () => {
      const out = convertShadow(v2(from, from), "brupop.bottlerocket.aws/v1");
      assert.deepEqual(out.spec, { state: to, state_transition_timestamp: TS, version: "1.20.0" });
      assert.deepEqual(out.status, {
        current_version: "1.19.0",
        target_version: "1.20.0",
        current_state: to,
      });
      assert.deepEqual(out.metadata, metadata);
    });
  }
  it("round-trips v1 → v2 → v1 for every v1 state except the merged PerformedUpdate", () => {
    for (const s of ["Idle", "StagedUpdate", "RebootedIntoUpdate", "MonitoringUpdate"]) {
      const back = convertShadow(
        convertShadow(v1(s, s), "brupop.bottlerocket.aws/v2"),
        "brupop.bottlerocket.aws/v1",
      );
      assert.deepEqual(back, v1(s, s));
    }
  });
});

describe("convertShadow errors and unknown fields", () => {
  it("drops unknown spec/status fields (the API server would prune them anyway)", () => {
    const obj = v1("Idle", "Idle");
    obj.spec = { ...(obj.spec as object), extra: "x" };
    assert.throws(() => convertShadow(obj, "brupop.bottlerocket.aws/v2"), /spec.extra: unknown field/);
  });
  it("keeps unknown top-level and metadata fields untouched", () => {
    const obj = { ...v2("Idle", "Idle"), metadata: { ...metadata, annotations: { a: "b" } } };
    const out = convertShadow(obj, "brupop.bottlerocket.aws/v1");
    assert.deepEqual(out.metadata, obj.metadata);
  });
  it("same version is a validated identity", () => {
    const obj = v2("Idle", "Idle");
    assert.deepEqual(convertShadow(obj, "brupop.bottlerocket.aws/v2"), obj);
  });
  const bad: [string, KubeObject, string, RegExp][] = [
    [
      "a v2-only state sent as v1",
      v1("ErrorReset"),
      "brupop.bottlerocket.aws/v2",
      /spec.state: must be one of/,
    ],
    [
      "a v1-only state sent as v2",
      v2("StagedUpdate"),
      "brupop.bottlerocket.aws/v1",
      /spec.state: must be one of/,
    ],
    [
      "another kind",
      { ...v2("Idle"), kind: "Pod" },
      "brupop.bottlerocket.aws/v1",
      /kind: expected BottlerocketShadow/,
    ],
    [
      "an unknown source version",
      { ...v2("Idle"), apiVersion: "brupop.bottlerocket.aws/v3" },
      "brupop.bottlerocket.aws/v1",
      /apiVersion/,
    ],
    ["an unknown target version", v2("Idle"), "brupop.bottlerocket.aws/v9", /desiredAPIVersion/],
    [
      "a bad semver in status",
      v2("Idle", "Idle", { current_version: "x" }),
      "brupop.bottlerocket.aws/v1",
      /status.current_version/,
    ],
  ];
  for (const [name, obj, desired, message] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => convertShadow(obj, desired),
        (err: unknown) => isBrupopError(err, "BRUPOP_E_CONVERSION") && message.test(err.message),
      );
    });
  }
});

describe("reviewConversion", () => {
  it("converts every object and echoes the uid", () => {
    const out = reviewConversion({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "ConversionReview",
      request: {
        uid: "r-1",
        desiredAPIVersion: "brupop.bottlerocket.aws/v2",
        objects: [v1("StagedUpdate", "Idle"), v1("Idle")],
      },
    });
    assert.equal(out.response.uid, "r-1");
    assert.deepEqual(out.response.result, { status: "Success" });
    assert.equal(out.response.convertedObjects.length, 2);
    assert.equal(
      (out.response.convertedObjects[0]?.spec as { state: string }).state,
      "StagedAndPerformedUpdate",
    );
  });
  it("fails the whole review (no partial result) when one object is invalid", () => {
    const out = reviewConversion({
      kind: "ConversionReview",
      request: {
        uid: "r-2",
        desiredAPIVersion: "brupop.bottlerocket.aws/v1",
        objects: [v2("Idle"), v2("Bogus")],
      },
    });
    assert.equal(out.response.result.status, "Failure");
    assert.deepEqual(out.response.convertedObjects, []);
    assert.match(
      "message" in out.response.result ? out.response.result.message : "",
      /objects\[1\] \(brs-node-a\).*spec.state/,
    );
  });
  for (const [name, body, message] of [
    ["a non-object", "hello", /not a ConversionReview/],
    ["a missing uid", { kind: "ConversionReview", request: { desiredAPIVersion: "x", objects: [] } }, /uid/],
    [
      "missing objects",
      { kind: "ConversionReview", request: { uid: "u", desiredAPIVersion: "x" } },
      /objects/,
    ],
  ] as const) {
    it(`answers Failure for ${name}`, () => {
      const out = reviewConversion(body);
      assert.equal(out.response.result.status, "Failure");
      assert.match("message" in out.response.result ? out.response.result.message : "", message);
    });
  }
});
