// The tick's write stage: each spec change written conditionally on the resourceVersion it was
// decided on (a conflict means the view was stale: the next tick re-decides), and what a written
// change earns: its metrics, a log line in words (describeChange) and, for the steps a person looks
// for, one Event (specChangeEvent).
import type { Logger } from "pino";
import type { EventRecorder } from "../../k8s/events.js";
import type { KubeApi } from "../../k8s/api.js";
import { isConflict, isNotFound, KubeApiError } from "../../errors.js";
import { API_VERSION_V2, KIND } from "../../model/constants.js";
import { describeFailure, type ShadowFailure } from "../../model/shadow.js";
import { forEachBounded } from "../../runtime/loop.js";
import type { SpecChange } from "../decide/decisions.js";
import type { CONTROLLER_EVENTS, ControllerEventReason } from "./event-reasons.js";
import type { ControllerMetrics, SpecWriteOutcome } from "./metrics.js";
import { whileActive, type FencedTerm } from "./term.js";
import { stripManagedFields, type RawShadow } from "../view/view.js";

/** What the write stage reads and acts through (a part of the tick's TickDeps). */
export interface SpecWriteDeps {
  readonly settings: { readonly namespace: string; readonly writeConcurrency: number };
  readonly api: KubeApi;
  readonly view: { noteFresh(raw: RawShadow): void };
  readonly events: EventRecorder<typeof CONTROLLER_EVENTS>;
  readonly metrics: ControllerMetrics;
  readonly log: Logger;
}

/** Writes each spec change conditionally on the resourceVersion it was decided on. */
export async function writeChanges(
  deps: SpecWriteDeps,
  term: FencedTerm,
  changes: readonly SpecChange[],
): Promise<{ written: number; conflicts: number }> {
  const counts = { written: 0, conflicts: 0 };
  await forEachBounded(changes, deps.settings.writeConcurrency, async (change) => {
    const outcome = await writeSpec(deps, term, change);
    deps.metrics.specWrite(outcome);
    if (outcome === "ok") counts.written++;
    if (outcome === "conflict") counts.conflicts++;
  });
  return counts;
}

async function writeSpec(
  deps: SpecWriteDeps,
  term: FencedTerm,
  change: SpecChange,
): Promise<SpecWriteOutcome> {
  // Decided by a leader that is no longer one: drop it (the new leader re-decides).
  if (!term.isActive()) return "skipped_not_leader";
  const resourceVersion = change.resourceVersion;
  if (resourceVersion === undefined) return "error";
  let written: RawShadow | undefined;
  try {
    written = await whileActive(term, undefined, (signal) =>
      deps.api.replaceShadowSpec(deps.settings.namespace, change.name, resourceVersion, change.to, {
        signal,
        timeoutMs: 10_000,
      }),
    );
  } catch (err) {
    if (isConflict(err)) {
      deps.log.debug(
        { shadow: change.name, decidedOn: change.resourceVersion },
        "spec write conflict (stale view)",
      );
      return "conflict";
    }
    if (isNotFound(err)) return "not_found";
    if (err instanceof KubeApiError) {
      deps.log.warn({ shadow: change.name, status: err.httpStatus, body: err.body }, "spec write refused");
      return "error";
    }
    if (term.signal.aborted) return "skipped_not_leader";
    deps.log.warn({ err, shadow: change.name }, "spec write failed; re-deciding next tick");
    return "error";
  }
  if (written === undefined) return "skipped_not_leader";
  deps.view.noteFresh(stripManagedFields(written));
  afterWrite(deps, change, written);
  return "ok";
}

/**
 * The Event a spec write earns, if any (issue 30: each Event is a write on every node update). The
 * steps a person looks for — an update started, completed, failed, a shadow initialised — get one;
 * the steps in between (staged → rebooted → monitoring) and the reset after a finished update are
 * in the log and the shadow itself, not in Events.
 */
export function specChangeEvent(change: SpecChange): ControllerEventReason | undefined {
  switch (change.reason) {
    case "start":
      return "StartUpdate";
    case "recover":
      return "Recover";
    case "initialise":
      return "Initialise";
    case "progress":
      return change.from.state === "MonitoringUpdate" && change.to.state === "Idle" ? "Progress" : undefined;
    case "reset":
      return undefined;
  }
}

/** status.failure in words; upstream's agents write none, so only the state is known then. */
export function failureWords(f: ShadowFailure | undefined): string {
  if (f === undefined) return "status ErrorReset";
  return describeFailure(f);
}

export function describeChange(c: SpecChange): string {
  const version = c.to.version === null ? "" : ` (version ${c.to.version})`;
  switch (c.reason) {
    case "start":
      return `starting update to ${c.to.version ?? "?"}: spec ${c.from.state} → ${c.to.state}`;
    case "recover":
      return c.failedOnNewVersion === true
        ? `update failed on the new version after the reboot (${failureWords(c.failure)}); spec ${c.from.state} → ${c.to.state}${version}; ` +
            "the node is not up to date until a later update succeeds or the failure is accepted"
        : `update failed (${failureWords(c.failure)}); spec ${c.from.state} → ${c.to.state}${version}`;
    case "initialise":
      return "initialised spec to Idle";
    case "reset":
      return `Idle on ${c.from.version ?? "its target version"}: spec reset to the default (no target version)`;
    case "progress":
      return c.from.state === "MonitoringUpdate" && c.to.state === "Idle"
        ? `update complete${version}: spec MonitoringUpdate → Idle`
        : `spec ${c.from.state} → ${c.to.state}${version}`;
  }
}

function countOutcome(metrics: ControllerMetrics, change: SpecChange): void {
  if (change.reason === "start") metrics.updateStarted();
  else if (change.reason === "recover") metrics.updateFailed();
  else if (
    change.reason === "progress" &&
    change.from.state === "MonitoringUpdate" &&
    change.to.state === "Idle"
  )
    metrics.updateSucceeded();
}

/**
 * Metrics, a log line and the change's Event (specChangeEvent), recorded once: on the shadow's Node
 * when it has one (`kubectl describe node`, where kube users look; the shadow as `related`), else on
 * the shadow.
 */
function afterWrite(deps: SpecWriteDeps, change: SpecChange, written: RawShadow): void {
  countOutcome(deps.metrics, change);
  const message = describeChange(change);
  deps.log.info({ shadow: change.name, reason: change.reason, from: change.from, to: change.to }, message);
  const reason = specChangeEvent(change);
  if (reason === undefined) return;
  const meta = written.metadata ?? {};
  const shadow = {
    apiVersion: API_VERSION_V2,
    kind: KIND,
    name: change.name,
    namespace: deps.settings.namespace,
    ...(meta.uid !== undefined && { uid: meta.uid }),
    ...(meta.resourceVersion !== undefined && { resourceVersion: meta.resourceVersion }),
  };
  const owner = meta["ownerReferences"]?.find((o) => o.kind === "Node" && typeof o.name === "string");
  if (owner?.name === undefined) {
    deps.events.record(reason, shadow, message);
    return;
  }
  const node = {
    apiVersion: "v1",
    kind: "Node",
    name: owner.name,
    ...(owner.uid !== undefined && { uid: owner.uid }),
  };
  deps.events.record(reason, node, message, shadow);
}
