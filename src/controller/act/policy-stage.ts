// The UpdatePolicy in the tick (issue 18): two stages around the plan.
//
//   readPolicy → decide (fleet.ts: fleet hold, effective limit, per-node filter) → plan → write →
//   recordPolicy (status, Events, gauges, version locks)
//
// With no policy object the decision only applies the Node pause annotation and leaves the limit
// and the schedule as the environment set them (today's behaviour).
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import { VERSION_LOCK_LATEST } from "../../bottlerocket/types.js";
import { VERSION_LOCK_ANNOTATION } from "../../model/constants.js";
import { POLICY_API_VERSION, POLICY_KIND, type RawPolicy } from "../../model/policy.js";
import { paths } from "../../k8s/objects.js";
import { stripManagedFields, type RawShadow } from "../view/view.js";
import type { BottlerocketShadow } from "../../model/shadow.js";
import type { ConcurrencyLimit, TickPlan } from "../decide/decisions.js";
import type { PolicyDecision } from "../decide/policy.js";
import { nodeCounts, policyStatus, statusChanged } from "../decide/policy-status.js";
import type { PolicySource } from "../view/policy-source.js";
import type { FleetDecision, PolicyRead } from "../decide/fleet.js";
import { whileActive, type FencedTerm } from "./term.js";
import type { EventRecorder } from "../../k8s/events.js";
import type { CONTROLLER_EVENTS } from "./event-reasons.js";
import type { Notifier } from "./notify.js";

/** What the policy stage reads of the tick's dependencies (stages.ts's `TickDeps` has them all). */
export interface PolicyStageDeps {
  readonly settings: { readonly namespace: string; readonly maxConcurrent: ConcurrencyLimit };
  readonly policy?: PolicyRuntime | undefined;
  readonly view: { noteFresh(raw: RawShadow): void };
  readonly events: EventRecorder<typeof CONTROLLER_EVENTS>;
  readonly notifier?: Notifier | undefined;
  readonly log: Logger;
}

/** Gauges of the policy, in the controller's registry. */
export class PolicyMetrics {
  readonly #paused: Gauge;
  readonly #halted: Gauge;
  readonly #windowOpen: Gauge;
  readonly #nodes: Gauge<"state">;
  readonly #groupNodes: Gauge<"group" | "state">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#paused = new Gauge({
      name: "brupop_policy_paused",
      help: "1 while the UpdatePolicy's spec.paused holds every start",
      registers,
    });
    this.#halted = new Gauge({
      name: "brupop_policy_halted",
      help: "1 while the UpdatePolicy's failure budget is exhausted (until a person clears it)",
      registers,
    });
    this.#windowOpen = new Gauge({
      name: "brupop_policy_window_open",
      help: "1 while the UpdatePolicy's window is open (1 also when it sets none)",
      registers,
    });
    this.#groupNodes = new Gauge({
      name: "brupop_policy_group_nodes",
      help: "Managed nodes per UpdatePolicy group: state total or upToDate",
      labelNames: ["group", "state"],
      registers,
    });
    this.#nodes = new Gauge({
      name: "brupop_policy_nodes",
      help: "Managed nodes per policy state (upToDate, updating, waiting, failed, held)",
      labelNames: ["state"],
      registers,
    });
  }

  set(decision: PolicyDecision | undefined, counts: Record<string, number> | undefined): void {
    this.#paused.set(decision?.policy?.paused === true ? 1 : 0);
    this.#halted.set(decision?.budget?.haltedAt !== undefined ? 1 : 0);
    this.#windowOpen.set(decision?.window === undefined || decision.window.open ? 1 : 0);
    this.#setCounts(decision, counts);
  }

  #setCounts(decision: PolicyDecision | undefined, counts: Record<string, number> | undefined): void {
    this.#nodes.reset();
    this.#groupNodes.reset();
    for (const g of decision?.group?.status ?? []) {
      this.#groupNodes.set({ group: g.name, state: "total" }, g.nodes);
      this.#groupNodes.set({ group: g.name, state: "upToDate" }, g.upToDate);
    }
    for (const [state, n] of Object.entries(counts ?? {}))
      if (state !== "total") this.#nodes.set({ state }, n);
  }
}

export interface PolicyRuntime {
  source: PolicySource;
  metrics: PolicyMetrics;
}

/** The policy stage's read: the UpdatePolicy this tick decides on (fleet.ts decides). */
export async function readPolicy(deps: PolicyStageDeps, term: FencedTerm): Promise<PolicyRead> {
  const source = deps.policy?.source;
  if (source === undefined) return undefined;
  const raw = await source.current(term.signal);
  return raw === "unavailable" ? { unreadable: source.name } : raw;
}

/** After the writes: the policy's status, its Events (halt tripped or cleared) and gauges. */
export async function recordPolicy(
  deps: PolicyStageDeps,
  term: FencedTerm,
  fleet: FleetDecision,
  { plan, live, now }: { plan: TickPlan; live: readonly BottlerocketShadow[]; now: Date },
): Promise<void> {
  const policy = deps.policy;
  if (policy === undefined) return;
  // An unreadable or invalid policy, or a CRD not found (perhaps a restart's blip), leaves the locks
  // as they are: a read error must not unpin.
  const decision = fleet.policy;
  if (!fleet.unreadable && decision?.invalid === undefined && !policy.source.crdMissing)
    await syncVersionLocks(deps, term, live, decision?.policy?.targetVersion);
  const raw = fleet.raw;
  if (raw === undefined || decision === undefined) {
    if (term.isActive()) policy.metrics.set(undefined, undefined);
    return;
  }
  await writePolicyStatus(deps, term, { raw, decision, policy }, { plan, live, now });
}

async function writePolicyStatus(
  deps: PolicyStageDeps,
  term: FencedTerm,
  { raw, decision, policy }: { raw: RawPolicy; decision: PolicyDecision; policy: PolicyRuntime },
  { plan, live, now }: { plan: TickPlan; live: readonly BottlerocketShadow[]; now: Date },
): Promise<void> {
  const counts = nodeCounts(live, plan, now, decision.fleetHold !== undefined);
  if (term.isActive()) policy.metrics.set(decision, counts);
  if (decision.tripped || decision.cleared) policyEvent(deps, raw, decision);
  const status = policyStatus(raw, decision, counts, now);
  if (!statusChanged(raw.status, status)) return;
  const ok = await whileActive(term, false, (signal) => policy.source.writeStatus(raw, status, signal));
  if (ok && decision.tripped)
    deps.log.warn(
      { policy: decision.name, nodes: decision.budget?.haltedNodes },
      "failure budget exhausted: halted",
    );
}

function policyEvent(deps: PolicyStageDeps, raw: RawPolicy, decision: PolicyDecision): void {
  const nodes = decision.budget?.haltedNodes ?? [];
  deps.events.record(
    decision.tripped ? "FailureBudgetExhausted" : "HaltCleared",
    {
      apiVersion: POLICY_API_VERSION,
      kind: POLICY_KIND,
      name: decision.name,
      ...(raw.metadata?.uid !== undefined && { uid: raw.metadata.uid }),
    },
    decision.tripped
      ? `halted: ${nodes.length} node(s) failed within the failure budget's window (${nodes.join(", ")}); no node starts until the halt is cleared`
      : "halt cleared by the clear-halt annotation; updates may start again",
  );
  if (decision.tripped) {
    deps.notifier?.notify({
      kind: "fleet-halted",
      reason: "FailureBudgetExhausted",
      nodes: nodes.length,
      message: `UpdatePolicy ${decision.name} halted the fleet: ${nodes.length} node(s) failed within the failure budget's window (${nodes.join(", ")})`,
    });
  }
}

/**
 * The version pin's contract with the agent: every shadow carries VERSION_LOCK_ANNOTATION = the
 * pinned version while a pin is set. When the pin is lifted it says "latest" (the agent then unlocks
 * its host); a shadow that never had the annotation gets none, so its agent never touches the host's
 * lock (upstream's behaviour, and a lock an operator set by hand stays). Written after the spec writes (the
 * annotation moves the resourceVersion a spec write is conditional on).
 */
async function syncVersionLocks(
  deps: PolicyStageDeps,
  term: FencedTerm,
  live: readonly BottlerocketShadow[],
  pin: string | undefined,
): Promise<void> {
  const source = deps.policy?.source;
  if (source === undefined) return;
  for (const s of live) {
    const name = s.metadata.name ?? "";
    const has = s.metadata.annotations?.[VERSION_LOCK_ANNOTATION];
    const want = pin ?? (has === undefined ? undefined : VERSION_LOCK_LATEST);
    if (want === undefined || has === want) continue;
    const written = await whileActive(term, undefined, (signal) =>
      source.annotateShadow(
        paths.shadow(deps.settings.namespace, name),
        VERSION_LOCK_ANNOTATION,
        want,
        signal,
      ),
    );
    if (written !== undefined) {
      deps.view.noteFresh(stripManagedFields(written as RawShadow));
      deps.log.info(
        { shadow: name, versionLock: want },
        pin === undefined ? "version lock lifted" : "version lock set",
      );
    }
  }
}
