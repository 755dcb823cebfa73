// The agent's decisions, as pure functions (SPEC §4). Given the shadow's spec and status, what the host
// says (running version, update state) and a few facts about the Node, `decide` names the ONE next
// thing to do. The agent runs that step, observes again and asks again, until the answer is "report",
// "fail", "wait" or "halt". Because every answer is derived from observed state (plus the steps already
// taken in this attempt, so nothing loops), a new agent started at any moment picks up where the old
// one stopped: that is what makes the agent crash-only.
//
// What the agent reports afterwards is in status.ts.
import type { UpdateState, UpdateStatus } from "../bottlerocket/types.js";
import {
  AFTER_REBOOT_STATES,
  failureOnNewVersion,
  type ShadowSpec,
  type ShadowStatus,
} from "../model/shadow.js";
import type { ShadowState } from "../model/state.js";
import type { FailureReason } from "./status.js";
import type { Step } from "./steps.js";

/** What the host's update API says, reduced to what decisions read. */
export interface HostUpdateFacts {
  state: UpdateState;
  /** `chosen_update.version` from the last refresh (null: nothing newer offered). */
  chosenVersion: string | null;
  /** The staging partition's image and whether it boots next. */
  staged: { version: string; nextToBoot: boolean } | null;
}

export interface HostFacts {
  /** The running version (`GET /os` → version_id). */
  version: string;
  /** null while the host has no update status yet (after a boot, until the first command). */
  update: HostUpdateFacts | null;
}

export interface NodeFacts {
  /** brupop cordoned this node (the apiserver's marker annotation is present). */
  cordonedByBrupop: boolean;
  /** `node.kubernetes.io/exclude-from-external-load-balancers` is set. */
  excludedFromLb: boolean;
  /** The Ready condition (absent: unknown): whether Ready, and since when (lastTransitionTime). */
  ready?: { ready: boolean; since: string | null };
}

/** A pod the health gate checks, as decisions read it. */
export interface PodHealth {
  /** `namespace/name`. */
  name: string;
  /** Why it is checked: a DaemonSet pod of the node, or one matching the user's selector. */
  kind: "DaemonSet" | "selected";
  /** The pod's Ready condition is True, and since when (lastTransitionTime). */
  ready: boolean;
  since: string | null;
}

/**
 * What the health gate saw beyond the Node (gathered only while the gate is open: spec
 * MonitoringUpdate not yet reported). A field that is absent was not checked.
 */
export interface HealthFacts {
  /** The pods checked, or why they could not be listed. */
  pods?: { ok: true; items: readonly PodHealth[] } | { ok: false; error: string };
  /** The user's HTTP probe: healthy on a 2xx answer in time; `detail` says what it got. */
  probe?: { url: string; healthy: boolean; detail: string };
}

export type { HostStep, NodeStep, Step } from "./steps.js";

export type Decision =
  /** Run this step, then decide again. */
  | { kind: "step"; step: Step }
  /** Nothing (more) to do: report `spec.state` as reached (only written if the status changed). */
  | { kind: "report" }
  /** The host cannot do what the spec asks: report ErrorReset (`failure`: default HostNotReady). */
  | { kind: "fail"; reason: string; failure?: FailureReason }
  /** Nothing to do until the controller changes the spec. */
  | { kind: "wait"; reason: string }
  /** The spec is invalid (never acted on). */
  | { kind: "assert"; reason: string }
  /** The reboot was requested: stop acting; the agent of the next boot carries on. */
  | { kind: "halt" };

export interface DecisionInput {
  spec: ShadowSpec;
  status: ShadowStatus;
  host: HostFacts;
  /** undefined while the Node is not (yet) in the agent's cache. */
  node: NodeFacts | undefined;
  /** Steps already taken in this attempt: a step never runs twice in one attempt. */
  done: ReadonlySet<Step>;
  /** EXCLUDE_FROM_LB_WAIT_TIME_IN_SEC > 0: exclude from load balancers before draining, undo after. */
  manageLbExclusion: boolean;
  /** The agent's clock (time limits are measured from spec.state_transition_timestamp). */
  now?: Date;
  /** Per-state time limits in ms; a missing or 0 entry is not enforced (upstream). */
  timeLimitsMs?: StateTimeLimits;
  /**
   * Health gate after the reboot: MonitoringUpdate is reported only once the Node has been Ready for
   * this long (ms). 0 or absent: reported at once (upstream).
   */
  healthSoakMs?: number;
  /** Pods and the user's probe, when the gate checks them (see HealthFacts). */
  health?: HealthFacts | undefined;
  /**
   * QUARANTINE_FAILED_NODES: a node whose update fails on the new version (after the reboot) is
   * cordoned before the failure is reported and stays cordoned until that failure is accepted or a
   * later update completes. false or absent: left uncordoned (upstream).
   */
  quarantine?: boolean;
  /** The shadow's ACCEPT_FAILURE_ANNOTATION (the timestamp of the failure a person accepted), if any. */
  acceptedFailure?: string | undefined;
}

/** Time allowed to reach each state, in ms, from when the controller asked; 0 or absent = unbounded. */
export type StateTimeLimits = Partial<Readonly<Record<ShadowState, number>>>;

/** Steps that only undo brupop's own node changes: never cut short by a time limit. */
const UNDO_STEPS: ReadonlySet<Step> = new Set(["uncordon", "removeExclusionFromLb"]);

const REPORT: Decision = { kind: "report" };

function fail(reason: string): Decision {
  return { kind: "fail", reason };
}

/** The step unless it already ran in this attempt. */
function once(input: DecisionInput, step: Step): Decision | undefined {
  return input.done.has(step) ? undefined : { kind: "step", step };
}

export function decide(input: DecisionInput): Decision {
  const decision = withTimeLimit(input, decideStep(input));
  return decision.kind === "fail" ? (quarantineFirst(input, decision) ?? decision) : decision;
}

function withTimeLimit(input: DecisionInput, decision: Decision): Decision {
  // A limit only stops forward work: a node that has got there (report), failed already, waits for
  // the controller, or only has to undo its cordon is never failed for being late.
  if (decision.kind !== "step" || UNDO_STEPS.has(decision.step)) return decision;
  return overTimeLimit(input) ?? decision;
}

/**
 * About to report a failure on the new version (the health gate, or a time limit after the reboot,
 * with the host running the wanted version) with quarantine on: cordon first, so nothing new lands on
 * a node that failed its health gate. Once per attempt; a Node not (yet) in the cache is cordoned too.
 */
function quarantineFirst(
  input: DecisionInput,
  failure: Extract<Decision, { kind: "fail" }>,
): Decision | undefined {
  if (input.quarantine !== true) return undefined;
  if (failure.failure !== "Unhealthy" && failure.failure !== "Timeout") return undefined;
  if (!AFTER_REBOOT_STATES.has(input.spec.state) || input.host.version !== input.spec.version)
    return undefined;
  if (input.node?.cordonedByBrupop === true) return undefined;
  return once(input, "cordon");
}

/**
 * The node failed on the new version, the failure is not accepted, and the controller asks for Idle
 * (the failed attempt is over): with quarantine on, brupop's cordon stays. A later update's cycle
 * clears status.failure (or a newer target ends "on the new version"); accepting the failure
 * (ACCEPT_FAILURE_ANNOTATION = its timestamp) ends it too. Then the usual uncordon runs.
 */
export function quarantined(input: DecisionInput): boolean {
  if (input.quarantine !== true || input.spec.state !== "Idle") return false;
  const failure = failureOnNewVersion(input.status);
  if (failure === undefined) return false;
  return input.acceptedFailure?.trim() !== failure.timestamp;
}

/** Fail with Timeout when the spec state was asked for longer ago than its limit allows. */
export function overTimeLimit(input: DecisionInput): Extract<Decision, { kind: "fail" }> | undefined {
  const { spec, now } = input;
  const limitMs = input.timeLimitsMs?.[spec.state] ?? 0;
  if (now === undefined || limitMs <= 0 || spec.state_transition_timestamp === null) return undefined;
  const since = Date.parse(spec.state_transition_timestamp);
  if (Number.isNaN(since)) return undefined;
  const elapsedMs = now.getTime() - since;
  if (elapsedMs <= limitMs) return undefined;
  return {
    kind: "fail",
    failure: "Timeout",
    reason:
      `${spec.state} not reached within its time limit of ${Math.round(limitMs / 1000)}s ` +
      `(asked at ${spec.state_transition_timestamp}, ${Math.round(elapsedMs / 1000)}s ago)`,
  };
}

function decideStep(input: DecisionInput): Decision {
  const { spec, status } = input;
  if (spec.state === "ErrorReset") {
    return { kind: "assert", reason: "spec.state ErrorReset is never valid (only a status reports it)" };
  }
  if (spec.state === status.current_state) return steady(input);
  // After a failure only the controller moves things on (ErrorReset → Idle). Acting again here
  // would retry a failed drain or reboot every loop, past the crash back-off (upstream does).
  if (status.current_state === "ErrorReset" && spec.state !== "Idle") {
    return {
      kind: "wait",
      reason: "status is ErrorReset: waiting for the controller to reset the spec to Idle",
    };
  }
  switch (spec.state) {
    case "Idle":
      return undoNodeChanges(input) ?? REPORT;
    case "MonitoringUpdate":
      return undoNodeChanges(input) ?? healthGate(input);
    case "StagedAndPerformedUpdate":
      return stageAndActivate(input);
    case "RebootedIntoUpdate":
      return rebootIntoUpdate(input);
  }
}

/**
 * Spec reached. Report (versions may have moved), and clean up a brupop cordon left behind: brupop only
 * cordons while acting on RebootedIntoUpdate, so in a reached state its marker is stale — unless the
 * node is quarantined (see `quarantined`).
 */
function steady(input: DecisionInput): Decision {
  if (input.node?.cordonedByBrupop === true && !quarantined(input)) return once(input, "uncordon") ?? REPORT;
  return REPORT;
}

/**
 * Uncordon (the apiserver only uncordons what brupop cordoned) and lift the LB exclusion brupop set,
 * each only while the Node shows it (a Node not yet in the cache: do it, to be sure). Every loop of
 * MonitoringUpdate's soak asks again: a clean node costs no apiserver call.
 */
function undoNodeChanges(input: DecisionInput): Decision | undefined {
  const node = input.node;
  const cordoned = node === undefined || node.cordonedByBrupop;
  // Never undo the quarantine's cordon of this very pass (the failure is reported next).
  const keep = quarantined(input) || input.done.has("cordon");
  const uncordon = cordoned && !keep ? once(input, "uncordon") : undefined;
  if (uncordon !== undefined) return uncordon;
  const lifted = node === undefined || node.excludedFromLb;
  return input.manageLbExclusion && lifted ? once(input, "removeExclusionFromLb") : undefined;
}

/**
 * MonitoringUpdate: the node proves healthy before it counts as done (and frees its slot): the Node
 * Ready, held for the soak time; the pods checked (its DaemonSet pods, those the user selects) Ready,
 * held for the soak time too; the user's probe answering 2xx. Not yet → wait; still not past the
 * MonitoringUpdate time limit → fail Unhealthy naming what was unhealthy.
 */
export function healthGate(input: DecisionInput): Decision {
  const soakMs = input.healthSoakMs ?? 0;
  const now = input.now;
  if (now === undefined) return REPORT;
  const problems = [
    soakMs > 0 ? healthProblem(input.node, soakMs, now) : undefined,
    ...podProblems(input.health?.pods, soakMs, now),
    probeProblem(input.health?.probe),
  ].filter((p): p is string => p !== undefined);
  if (problems.length === 0) return REPORT;
  const unhealthy = problems.join("; ");
  const late = overTimeLimit(input);
  if (late !== undefined)
    return {
      kind: "fail",
      failure: "Unhealthy",
      reason: `${unhealthy}; ${late.reason}`,
    };
  return { kind: "wait", reason: `health gate: ${unhealthy}` };
}

/**
 * When a Ready condition became True, at the latest (ms; NaN when unknown). Kubernetes writes
 * transition times to the second ("…:20Z" for 20.6 s), so the start of that second would cut the soak
 * by up to a second — all of a 1 s soak; the end of the second holds the soak at least in full.
 */
export function readySince(lastTransitionTime: string | null): number {
  if (lastTransitionTime === null) return NaN;
  const at = Date.parse(lastTransitionTime);
  return /:\d{2}(Z|[+-]\d{2}:\d{2})$/.test(lastTransitionTime) ? at + 999 : at;
}

/** Why the node is not (yet) healthy, or undefined when it has been Ready for the soak time. */
function healthProblem(node: NodeFacts | undefined, soakMs: number, now: Date): string | undefined {
  const soak = `${Math.round(soakMs / 1000)}s`;
  const ready = node?.ready;
  if (ready === undefined) return "the Node's Ready condition is unknown";
  if (!ready.ready) return `the Node is not Ready${ready.since === null ? "" : ` (since ${ready.since})`}`;
  const since = readySince(ready.since);
  if (Number.isNaN(since)) return undefined; // Ready with no transition time: nothing to hold it to
  const heldMs = now.getTime() - since;
  return heldMs >= soakMs
    ? undefined
    : `the Node has been Ready for ${Math.max(0, Math.round(heldMs / 1000))}s of the ${soak} soak`;
}

/** StagedAndPerformedUpdate: the wanted version staged on the inactive partition and marked to boot next. */
function stageAndActivate(input: DecisionInput): Decision {
  const wanted = input.spec.version;
  if (wanted === null) return fail("spec.version is not set");
  if (input.host.version === wanted) return REPORT; // already running it: nothing to stage
  const update = input.host.update;
  if (update === null)
    return once(input, "refresh") ?? fail("host has no update status even after a refresh");
  switch (update.state) {
    case "Ready":
      if (isActivated(update, wanted)) return REPORT;
      // Another version is marked to boot: take it back, then stage the wanted one.
      return once(input, "deactivate") ?? fail(`host stays Ready with ${describeStaged(update)}`);
    case "Staged":
      if (update.staged?.version === wanted) {
        return once(input, "activate") ?? fail(`activate left the host Staged, not Ready`);
      }
      return prepareWanted(input, update, wanted);
    case "Available":
      return prepareWanted(input, update, wanted);
    case "Idle":
      return once(input, "refresh") ?? fail(`host offers no update (spec wants ${wanted})`);
  }
}

function prepareWanted(input: DecisionInput, update: HostUpdateFacts, wanted: string): Decision {
  if (update.chosenVersion === wanted) {
    return once(input, "prepare") ?? fail(`prepare did not stage ${wanted} (${describeStaged(update)})`);
  }
  // The host's choice is not what the controller asked for (an older refresh, or a newer release
  // appeared since): refresh once; if it still differs, fail so the controller retries with the new
  // target_version we report.
  return (
    once(input, "refresh") ?? fail(`host offers ${update.chosenVersion ?? "no update"}, spec wants ${wanted}`)
  );
}

/** RebootedIntoUpdate: drain and reboot into the activated update, or confirm the reboot happened. */
function rebootIntoUpdate(input: DecisionInput): Decision {
  const wanted = input.spec.version;
  if (wanted === null) return fail("spec.version is not set");
  if (input.host.version === wanted) return undoNodeChanges(input) ?? REPORT; // the reboot happened
  if (input.done.has("reboot")) return { kind: "halt" };
  const update = input.host.update;
  if (update === null)
    return once(input, "refresh") ?? fail("host has no update status even after a refresh");
  // Check before draining: never take workloads off a node that cannot boot into the update.
  if (!isActivated(update, wanted)) return notActivated(input, update, wanted);
  if (input.manageLbExclusion) {
    const lb = once(input, "excludeFromLb") ?? once(input, "waitBeforeDrain");
    if (lb !== undefined) return lb;
  }
  return once(input, "cordonAndDrain") ?? once(input, "reboot") ?? { kind: "halt" };
}

/**
 * The host is not Ready with the wanted version marked to boot. Having reported StagedAndPerformedUpdate,
 * it was; a status with no staging partition and the old version running means the host booted since
 * (a boot rebuilds the status; nothing else clears the staging partition) and not into the update:
 * the boot into it may have rolled back.
 */
function notActivated(input: DecisionInput, update: HostUpdateFacts, wanted: string): Decision {
  const rolledBack =
    input.status.current_state === "StagedAndPerformedUpdate" &&
    update.staged === null &&
    input.host.version !== wanted;
  return fail(
    `host is not ready to reboot into ${wanted}: update state ${update.state}, ${describeStaged(update)}` +
      (rolledBack ? " (a reboot into it may have rolled back)" : ""),
  );
}

function isActivated(update: HostUpdateFacts, version: string): boolean {
  return update.state === "Ready" && update.staged?.version === version && update.staged.nextToBoot;
}

function describeStaged(update: HostUpdateFacts): string {
  const s = update.staged;
  return s === null ? "nothing staged" : `staged ${s.version}${s.nextToBoot ? " (next to boot)" : ""}`;
}

/** Reduces the host's update status to the facts decisions read. */
export function hostUpdateFacts(status: UpdateStatus | null): HostUpdateFacts | null {
  if (status === null) return null;
  const staging = status.staging_partition;
  return {
    state: status.update_state,
    chosenVersion: status.chosen_update?.version ?? null,
    staged: staging === null ? null : { version: staging.image.version, nextToBoot: staging.next_to_boot },
  };
}

/** At most this many pods are named in one reason (then "and N more"). */
const PODS_NAMED = 3;

/** Pods not Ready, or Ready for less than the soak. */
function podProblems(pods: HealthFacts["pods"], soakMs: number, now: Date): string[] {
  if (pods === undefined) return [];
  if (!pods.ok) return [`cannot list the pods on the node: ${pods.error}`];
  const soak = `${Math.round(soakMs / 1000)}s`;
  const notReady: string[] = [];
  const young: string[] = [];
  for (const p of pods.items) {
    const label = `${p.kind === "DaemonSet" ? "DaemonSet pod" : "pod"} ${p.name}`;
    if (!p.ready) {
      notReady.push(label);
      continue;
    }
    const since = readySince(p.since);
    if (soakMs <= 0 || Number.isNaN(since)) continue;
    const heldMs = now.getTime() - since;
    if (heldMs < soakMs) young.push(`${label} (${Math.max(0, Math.round(heldMs / 1000))}s)`);
  }
  const out: string[] = [];
  if (notReady.length > 0) out.push(`not Ready: ${namedList(notReady)}`);
  if (young.length > 0) out.push(`Ready for less than the ${soak} soak: ${namedList(young)}`);
  return out;
}

function namedList(items: readonly string[]): string {
  const named = items.slice(0, PODS_NAMED).join(", ");
  return items.length > PODS_NAMED ? `${named} and ${items.length - PODS_NAMED} more` : named;
}

function probeProblem(probe: HealthFacts["probe"]): string | undefined {
  if (probe === undefined || probe.healthy) return undefined;
  return `health probe ${probe.url}: ${probe.detail}`;
}
