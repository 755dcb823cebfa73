import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACCEPT_FAILURE_ANNOTATION } from "../../model/constants.js";
import type { BottlerocketShadow, ShadowFailure, ShadowSpec, ShadowStatus } from "../../model/shadow.js";
import type { ShadowState } from "../../model/state.js";
import { acceptCommand, failureOnNewVersion, isFailed, nodeOutcome, type OutcomeKind } from "./outcome.js";
import { brs } from "../../../test/kit/shadows.js";

const NOW = new Date("2026-01-10T12:00:00.000Z");
const OLD = "1.19.0";
const NEW = "1.20.0";
const FAILED_AT = "2026-01-10T11:59:00.000Z"; // 1 min ago: inside the 2-min back-off of crash count 0
const LONG_AGO = "2026-01-10T10:00:00.000Z"; // past any back-off below crash count 7

function failure(state: ShadowState, reason = "Unhealthy", timestamp = FAILED_AT): ShadowFailure {
  return { state, reason, message: "DaemonSet pod kube-system/x not Ready", timestamp };
}

function shadow(
  spec: Partial<ShadowSpec>,
  status: Partial<ShadowStatus> | undefined,
  annotations?: Record<string, string>,
): BottlerocketShadow {
  return brs("n1", {
    namespace: "brupop-bottlerocket-aws",
    resourceVersion: undefined,
    ...(annotations && { annotations }),
    spec: spec.state ?? "Idle",
    version: spec.version !== undefined ? spec.version : null,
    transitionAt: spec.state_transition_timestamp ?? null,
    cur: OLD,
    tgt: NEW,
    noStatus: status === undefined,
    ...(status !== undefined && { status }),
  });
}

const onNew = (f: ShadowFailure) => ({
  current_version: NEW,
  crash_count: 1,
  state_transition_failure_timestamp: f.timestamp,
  failure: f,
});

describe("nodeOutcome: every state × version × failure", () => {
  const cases: [string, BottlerocketShadow, OutcomeKind][] = [
    ["no status", shadow({}, undefined), "unreported"],
    ["Idle on target, no failure", shadow({}, { current_version: NEW }), "up-to-date"],
    ["Idle, newer offered, no failure", shadow({}, {}), "waiting"],
    [
      "Idle, newer offered, failed prepare in back-off",
      shadow(
        {},
        {
          crash_count: 1,
          state_transition_failure_timestamp: FAILED_AT,
          failure: failure("StagedAndPerformedUpdate", "HostCommandFailed"),
        },
      ),
      "failed-before-reboot",
    ],
    [
      "Idle, newer offered, failed prepare, back-off passed: a retry waits",
      shadow(
        {},
        {
          crash_count: 1,
          state_transition_failure_timestamp: LONG_AGO,
          failure: failure("StagedAndPerformedUpdate", "HostCommandFailed", LONG_AGO),
        },
      ),
      "waiting",
    ],
    [
      "upstream agent (no failure record), in back-off",
      shadow({}, { crash_count: 1, state_transition_failure_timestamp: FAILED_AT }),
      "failed-before-reboot",
    ],
    [
      "upstream agent, failed after the reboot: versions alone, as upstream",
      shadow({}, { current_version: NEW, crash_count: 1, state_transition_failure_timestamp: FAILED_AT }),
      "up-to-date",
    ],
    [
      "updating: spec ahead of status",
      shadow({ state: "StagedAndPerformedUpdate", version: NEW }, {}),
      "updating",
    ],
    [
      "updating: reached MonitoringUpdate on the new version",
      shadow(
        { state: "MonitoringUpdate", version: NEW },
        { current_state: "MonitoringUpdate", current_version: NEW },
      ),
      "updating",
    ],
    [
      "ErrorReset before the reboot (drain failed)",
      shadow(
        { state: "RebootedIntoUpdate", version: NEW },
        {
          current_state: "ErrorReset",
          crash_count: 1,
          failure: failure("RebootedIntoUpdate", "DrainFailed"),
        },
      ),
      "failed-before-reboot",
    ],
    [
      "ErrorReset on the new version (health gate)",
      shadow(
        { state: "MonitoringUpdate", version: NEW },
        { current_state: "ErrorReset", ...onNew(failure("MonitoringUpdate")) },
      ),
      "failed-on-new-version",
    ],
    [
      "reset to Idle after the health gate failed: still failed",
      shadow({}, onNew(failure("MonitoringUpdate"))),
      "failed-on-new-version",
    ],
    [
      "time limit after the reboot (RebootedIntoUpdate, host on target)",
      shadow({}, onNew(failure("RebootedIntoUpdate", "Timeout"))),
      "failed-on-new-version",
    ],
    [
      "failure long ago on the new version: back-off does not matter",
      shadow({}, onNew(failure("MonitoringUpdate", "Unhealthy", LONG_AGO))),
      "failed-on-new-version",
    ],
    [
      "accepted: the annotation names this failure",
      shadow({}, onNew(failure("MonitoringUpdate")), { [ACCEPT_FAILURE_ANNOTATION]: FAILED_AT }),
      "up-to-date",
    ],
    [
      "accepted in ErrorReset already",
      shadow(
        { state: "MonitoringUpdate", version: NEW },
        { current_state: "ErrorReset", ...onNew(failure("MonitoringUpdate")) },
        { [ACCEPT_FAILURE_ANNOTATION]: FAILED_AT },
      ),
      "up-to-date",
    ],
    [
      "an acceptance of an earlier failure does not cover this one",
      shadow({}, onNew(failure("MonitoringUpdate")), { [ACCEPT_FAILURE_ANNOTATION]: LONG_AGO }),
      "failed-on-new-version",
    ],
    [
      "a newer release after a failure on the new version: waits (retry after back-off)",
      shadow({}, { ...onNew(failure("MonitoringUpdate", "Unhealthy", LONG_AGO)), target_version: "1.21.0" }),
      "waiting",
    ],
    [
      "a newer release offered, still in back-off",
      shadow({}, { ...onNew(failure("MonitoringUpdate")), target_version: "1.21.0" }),
      "failed-before-reboot",
    ],
    [
      "updating again after a failure on the new version",
      shadow(
        { state: "StagedAndPerformedUpdate", version: "1.21.0" },
        { ...onNew(failure("MonitoringUpdate", "Unhealthy", LONG_AGO)), target_version: "1.21.0" },
      ),
      "updating",
    ],
    [
      "a pre-reboot failure record with the host on target (updated out of band): up to date",
      shadow({}, { current_version: NEW, failure: failure("StagedAndPerformedUpdate", "HostCommandFailed") }),
      "up-to-date",
    ],
  ];
  for (const [name, s, kind] of cases) {
    it(name, () => assert.equal(nodeOutcome(s, NOW).kind, kind));
  }

  it("a failure before the reboot says when it retries", () => {
    const o = nodeOutcome(
      shadow(
        {},
        {
          crash_count: 0,
          state_transition_failure_timestamp: FAILED_AT,
          failure: failure("StagedAndPerformedUpdate"),
        },
      ),
      NOW,
    );
    assert.equal(o.kind, "failed-before-reboot");
    assert.equal(o.kind === "failed-before-reboot" && o.retryAt?.toISOString(), "2026-01-10T12:01:00.000Z");
  });

  it("failed on the new version carries the version and the failure; accepted keeps it", () => {
    const f = failure("MonitoringUpdate");
    const o = nodeOutcome(shadow({}, onNew(f)), NOW);
    assert.deepEqual(o, { kind: "failed-on-new-version", version: NEW, failure: f });
    assert.equal(isFailed(o), true);
    const a = nodeOutcome(shadow({}, onNew(f), { [ACCEPT_FAILURE_ANNOTATION]: ` ${FAILED_AT}\n` }), NOW);
    assert.deepEqual(a, { kind: "up-to-date", version: NEW, accepted: f });
    assert.equal(isFailed(a), false);
  });

  it("failureOnNewVersion needs the host on its target", () => {
    const f = failure("MonitoringUpdate");
    assert.equal(failureOnNewVersion({ ...onNew(f), target_version: NEW, current_state: "Idle" }), f);
    assert.equal(
      failureOnNewVersion({ ...onNew(f), current_version: OLD, target_version: NEW, current_state: "Idle" }),
      undefined,
    );
  });

  it("the accept command names the shadow, namespace and the failure's timestamp", () => {
    assert.equal(
      acceptCommand(shadow({}, onNew(failure("MonitoringUpdate")))),
      `kubectl annotate brs brs-n1 -n brupop-bottlerocket-aws ${ACCEPT_FAILURE_ANNOTATION}=${FAILED_AT} --overwrite`,
    );
  });
});
