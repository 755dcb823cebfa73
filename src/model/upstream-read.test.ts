import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { shadowStatus } from "../../test/kit/fixtures.js";
import {
  chronoParsesRfc3339,
  upstreamShadowProblems,
  upstreamSpecProblems,
  upstreamStatusProblems,
} from "./upstream-read.js";

describe("what upstream Brupop reads", () => {
  const stamps: [string, boolean][] = [
    ["2022-07-09T19:32:38.609610964+00:00", true], // chrono's own to_rfc3339()
    ["2026-12-01T02:20:00.123Z", true], // what we write (Date.toISOString)
    ["2026-12-01T02:20:00Z", true],
    ["2026-12-01T04:20:00+02:00", true],
    ["2026-12-01 02:20:00Z", true],
    ["2026-12-01T02:20:00", false], // no offset
    ["2026-12-01T02:20Z", false],
    ["2026-13-01T02:20:00Z", false],
    ["yesterday", false],
  ];
  for (const [ts, ok] of stamps) {
    it(`chrono ${ok ? "parses" : "refuses"} ${ts}`, () => assert.equal(chronoParsesRfc3339(ts), ok));
  }

  const status = shadowStatus();
  it("accepts our v2 objects and their v1 conversions", () => {
    assert.deepEqual(
      upstreamShadowProblems(
        {
          apiVersion: "brupop.bottlerocket.aws/v2",
          kind: "BottlerocketShadow",
          metadata: { name: "brs-a" },
          spec: { state: "Idle", state_transition_timestamp: null, version: null },
          status,
        },
        "v2",
      ),
      [],
    );
    assert.deepEqual(
      upstreamShadowProblems(
        {
          apiVersion: "brupop.bottlerocket.aws/v1",
          spec: {
            state: "StagedUpdate",
            state_transition_timestamp: "2026-12-01T02:20:00.123Z",
            version: "1.20.0",
          },
          status: { current_version: "1.19.0", target_version: "1.20.0", current_state: "StagedUpdate" },
        },
        "v1",
      ),
      [],
    );
  });
  it("names what upstream would choke on", () => {
    assert.deepEqual(upstreamSpecProblems({ state: "Rebooting", version: "1.2" }, "v2"), [
      'spec.state: "Rebooting" is not one of Idle, StagedAndPerformedUpdate, RebootedIntoUpdate, MonitoringUpdate, ErrorReset',
      'spec.version: "1.2" is not semver',
    ]);
    assert.deepEqual(upstreamSpecProblems({ state: "ErrorReset" }, "v1"), [
      'spec.state: "ErrorReset" is not one of Idle, StagedUpdate, PerformedUpdate, RebootedIntoUpdate, MonitoringUpdate',
    ]);
    const { crash_count: _c, ...noCrashCount } = status;
    assert.deepEqual(upstreamStatusProblems(noCrashCount, "v2"), [
      "status.crash_count: undefined is not a u32",
    ]);
    assert.deepEqual(upstreamStatusProblems(noCrashCount, "v1"), []);
    assert.deepEqual(
      upstreamStatusProblems({ ...status, state_transition_failure_timestamp: "1700000000" }, "v2"),
      ['status.state_transition_failure_timestamp: "1700000000" is not an RFC 3339 timestamp chrono parses'],
    );
    assert.deepEqual(upstreamShadowProblems({ apiVersion: "brupop.bottlerocket.aws/v2" }, "v2"), [
      "spec: not an object",
    ]);
  });
});
