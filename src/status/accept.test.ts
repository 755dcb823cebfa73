import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACCEPT_FAILURE_ANNOTATION } from "../model/constants.js";
import type { BottlerocketShadow, ShadowStatus } from "../model/shadow.js";
import { brs as shadow } from "../../test/kit/shadows.js";
import { acceptDecision } from "./accept.js";

const NOW = new Date("2026-01-10T12:00:00.000Z");
const AT = "2026-01-10T11:00:00.000Z";

/** Node n1's shadow on 1.20.0 with `status` over it (none: no status yet), and `annotations`. */
const brs = (status: Partial<ShadowStatus> | undefined, annotations?: Record<string, string>) =>
  shadow("n1", {
    cur: "1.20.0",
    resourceVersion: undefined,
    ...(status === undefined ? { noStatus: true } : { status }),
    ...(annotations !== undefined && { annotations }),
  });

const unhealthy = {
  crash_count: 1,
  state_transition_failure_timestamp: AT,
  failure: { state: "MonitoringUpdate" as const, reason: "Unhealthy", message: "not Ready", timestamp: AT },
};

describe("brupop accept: what it writes", () => {
  it("a failure on the new version: the annotation names that failure's timestamp", () => {
    const d = acceptDecision("n1", brs(unhealthy), NOW);
    assert.equal(d.kind, "write");
    assert.equal(d.kind === "write" && d.value, AT);
    assert.match(d.message, /^n1: accepted its failure on 1\.20\.0 \(Unhealthy reaching MonitoringUpdate/);
  });

  it("already accepted: nothing to write, exit 0", () => {
    const d = acceptDecision("n1", brs(unhealthy, { [ACCEPT_FAILURE_ANNOTATION]: AT }), NOW);
    assert.equal(d.kind, "already");
  });

  it("an acceptance of an older failure does not count: a new one is written", () => {
    const d = acceptDecision(
      "n1",
      brs(unhealthy, { [ACCEPT_FAILURE_ANNOTATION]: "2026-01-01T00:00:00.000Z" }),
      NOW,
    );
    assert.equal(d.kind, "write");
  });

  const refusals: [string, BottlerocketShadow, RegExp][] = [
    ["up to date", brs({}), /has no failure on the new version to accept: it is up to date \(1\.20\.0\)/],
    ["no status", brs(undefined), /its agent has not reported a status yet/],
    [
      "a failure before the reboot (it retries by itself)",
      brs({
        current_version: "1.19.0",
        crash_count: 1,
        state_transition_failure_timestamp: "2026-01-10T11:59:30.000Z",
        failure: {
          state: "StagedAndPerformedUpdate",
          reason: "HostCommandFailed",
          message: "x",
          timestamp: AT,
        },
      }),
      /failed before the reboot and retries after its back-off/,
    ],
  ];
  for (const [name, shadow, message] of refusals) {
    it(`refuses: ${name}`, () => {
      const d = acceptDecision("n1", shadow, NOW);
      assert.equal(d.kind, "refuse");
      assert.match(d.message, message);
    });
  }
});
