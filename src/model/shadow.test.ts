import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { compareSemver, isSemver } from "./semver.js";
import { statusV2ToV1 } from "./conversion.js";
import { parseShadow, parseSpec, parseStatus, statusesEqual } from "./shadow.js";
import { upstreamStatusProblems } from "./upstream-read.js";
import { shadowStatus } from "../../test/kit/fixtures.js";

const status = shadowStatus();

function omit<T extends object>(obj: T, key: keyof T): Partial<T> {
  const copy: Partial<T> = { ...obj };
  delete copy[key];
  return copy;
}

function rejects(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(
      isBrupopError(err, "BRUPOP_E_INVALID_OBJECT"),
      `expected BRUPOP_E_INVALID_OBJECT, got ${String(err)}`,
    );
    assert.equal(err.details.field, field);
    assert.match(err.message, message);
    return true;
  });
}

describe("semver", () => {
  for (const v of ["1.0.0", "1.20.0", "0.0.1-alpha.1", "1.2.3+build.5", "10.20.30-rc.1+meta"]) {
    it(`accepts ${v}`, () => assert.ok(isSemver(v)));
  }
  for (const v of ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0 ", "", "1.0.0-01"]) {
    it(`rejects "${v}"`, () => assert.ok(!isSemver(v)));
  }
  it("orders by precedence", () => {
    assert.deepEqual(["1.9.0", "1.10.0", "1.10.0-rc.1"].sort(compareSemver).reverse(), [
      "1.10.0",
      "1.10.0-rc.1",
      "1.9.0",
    ]);
  });
});

describe("parseStatus", () => {
  it("accepts a valid status and normalises the optional timestamp", () => {
    const { state_transition_failure_timestamp: _, ...withoutTs } = status;
    assert.deepEqual(parseStatus(withoutTs), status);
    assert.deepEqual(
      parseStatus({ ...status, state_transition_failure_timestamp: "2024-05-01T10:00:00.123456789Z" }),
      {
        ...status,
        state_transition_failure_timestamp: "2024-05-01T10:00:00.123456789Z",
      },
    );
  });
  const cases: [string, unknown, string, RegExp][] = [
    ["bad semver", { ...status, current_version: "1.19" }, "status.current_version", /semantic version/],
    [
      "bad target semver",
      { ...status, target_version: "latest" },
      "status.target_version",
      /semantic version/,
    ],
    [
      "unknown state",
      { ...status, current_state: "Rebooting" },
      "status.current_state",
      /must be one of Idle/,
    ],
    [
      "malformed timestamp",
      { ...status, state_transition_failure_timestamp: "yesterday" },
      "status.state_transition_failure_timestamp",
      /RFC 3339/,
    ],
    ["negative crash count", { ...status, crash_count: -1 }, "status.crash_count", />= 0/],
    ["fractional crash count", { ...status, crash_count: 1.5 }, "status.crash_count", /integer/],
    ["missing field", omit(status, "current_state"), "status.current_state", /is required/],
    ["unknown field", { ...status, surprise: 1 }, "status.surprise", /unknown field/],
  ];
  for (const [name, value, field, message] of cases) {
    it(`rejects ${name}, naming ${field}`, () => rejects(() => parseStatus(value), field, message));
  }
  it("rejects a non-object", () => rejects(() => parseStatus("Idle"), "status", /object/));
});

describe("parseSpec / parseShadow", () => {
  it("normalises missing optional fields to null", () => {
    assert.deepEqual(parseSpec({ state: "Idle" }), {
      state: "Idle",
      state_transition_timestamp: null,
      version: null,
    });
  });
  it("rejects an unknown state and a bad version", () => {
    rejects(() => parseSpec({ state: "StagedUpdate" }), "spec.state", /must be one of/);
    rejects(() => parseSpec({ state: "Idle", version: "1.2" }), "spec.version", /semantic version/);
  });
  it("defaults a missing spec to Idle and keeps metadata", () => {
    const shadow = parseShadow({ metadata: { name: "brs-a", uid: "u1" } });
    assert.deepEqual(shadow.spec, { state: "Idle", state_transition_timestamp: null, version: null });
    assert.equal(shadow.status, undefined);
    assert.equal(shadow.metadata.uid, "u1");
  });
});

describe("status.failure (optional, beyond upstream)", () => {
  const failure = {
    state: "RebootedIntoUpdate",
    reason: "DrainFailed",
    message: "eviction of default/web-1 blocked by PodDisruptionBudget web",
    timestamp: "2026-12-01T06:00:00Z",
  } as const;
  it("is absent on statuses upstream's agents write", () => {
    assert.equal(parseStatus(status).failure, undefined);
  });
  it("is read when present", () => {
    assert.deepEqual(parseStatus({ ...status, failure }).failure, failure);
  });
  it("is validated field by field", () => {
    rejects(
      () => parseStatus({ ...status, failure: { ...failure, reason: "drain failed" } }),
      "status.failure.reason",
      /./,
    );
    rejects(
      () => parseStatus({ ...status, failure: omit(failure, "message") }),
      "status.failure.message",
      /./,
    );
    rejects(() => parseStatus({ ...status, failure: { ...failure, extra: 1 } }), "status.failure.extra", /./);
  });
  it("counts in status equality", () => {
    assert.ok(statusesEqual(parseStatus({ ...status, failure }), parseStatus({ ...status, failure })));
    assert.ok(!statusesEqual(parseStatus(status), parseStatus({ ...status, failure })));
    assert.ok(
      !statusesEqual(
        parseStatus({ ...status, failure }),
        parseStatus({ ...status, failure: { ...failure, message: "other" } }),
      ),
    );
  });
  it("does not trouble upstream's reader (unknown fields are ignored by serde)", () => {
    assert.deepEqual(upstreamStatusProblems({ ...status, failure }, "v2"), []);
  });
  it("is dropped converting to v1", () => {
    assert.deepEqual(Object.keys(statusV2ToV1(parseStatus({ ...status, failure }))).sort(), [
      "current_state",
      "current_version",
      "target_version",
    ]);
  });
});
