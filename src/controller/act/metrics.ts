// Controller metrics (Prometheus text on /metrics). Every Controller owns a private Registry, so
// many controllers (tests, demo, benchmarks) can live in one process without colliding.
//
// Upstream-compatible gauges: `brupop_hosts_state{state}` and `brupop_hosts_version{bottlerocket_version}`
// (hosts per reported state / version; shadows without a status are not counted, like upstream; a
// version that left the fleet is kept at 0, like upstream).
// Only the leader publishes them, so summing over replicas does not double-count; a standby
// exports them empty.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BottlerocketShadow } from "../../model/shadow.js";
import { V2_STATES, type ShadowState } from "../../model/state.js";
import { nodeOutcome, type OutcomeKind } from "../decide/outcome.js";

/** Every outcome, exported even at zero (an alert on failed-on-new-version needs the series). */
export const OUTCOME_KINDS: readonly OutcomeKind[] = [
  "unreported",
  "up-to-date",
  "updating",
  "waiting",
  "failed-before-reboot",
  "failed-on-new-version",
];

export interface FleetSnapshot {
  /** Hosts per reported state (every state present, zero when none). */
  states: Record<ShadowState, number>;
  /** Hosts per reported current version. */
  versions: Map<string, number>;
  /** Shadows without a status yet. */
  withoutStatus: number;
  /** Nodes per outcome (outcome.ts): what "up to date" means everywhere. */
  outcomes: Record<OutcomeKind, number>;
}

export function fleetSnapshot(shadows: readonly BottlerocketShadow[], now: Date): FleetSnapshot {
  const states = Object.fromEntries(V2_STATES.map((s) => [s, 0])) as Record<ShadowState, number>;
  const outcomes = Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
  const versions = new Map<string, number>();
  let withoutStatus = 0;
  for (const s of shadows) {
    outcomes[nodeOutcome(s, now).kind]++;
    if (s.status === undefined) {
      withoutStatus++;
      continue;
    }
    states[s.status.current_state]++;
    versions.set(s.status.current_version, (versions.get(s.status.current_version) ?? 0) + 1);
  }
  return { states, versions, withoutStatus, outcomes };
}

export type SpecWriteOutcome = "ok" | "conflict" | "not_found" | "error" | "skipped_not_leader";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly #hostsState: Gauge<"state">;
  readonly #hostsVersion: Gauge<"bottlerocket_version">;
  readonly #hostsOutcome: Gauge<"outcome">;
  readonly #isLeader: Gauge;
  readonly #updatesAllowed: Gauge;
  readonly #invalidShadows: Gauge;
  readonly #started: Counter;
  readonly #succeeded: Counter;
  readonly #failed: Counter;
  readonly #specWrites: Counter<"outcome">;
  readonly #deletes: Counter<"outcome">;
  readonly #tick: Histogram;
  /** Every version exported while leading (a fleet sees a handful over its life). */
  readonly #versionsSeen = new Set<string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#hostsState = new Gauge({
      name: "brupop_hosts_state",
      help: "Number of hosts per reported update state",
      labelNames: ["state"],
      registers,
    });
    this.#hostsVersion = new Gauge({
      name: "brupop_hosts_version",
      help: "Number of hosts per running Bottlerocket version",
      labelNames: ["bottlerocket_version"],
      registers,
    });
    this.#hostsOutcome = new Gauge({
      name: "brupop_hosts_outcome",
      help: "Nodes per update outcome: up-to-date, updating, waiting, failed-before-reboot (retried after back-off), failed-on-new-version (not up to date until updated again or accepted), unreported",
      labelNames: ["outcome"],
      registers,
    });
    this.#isLeader = new Gauge({
      name: "brupop_controller_is_leader",
      help: "1 while this controller replica holds the leader lease and acts",
      registers,
    });
    this.#updatesAllowed = new Gauge({
      name: "brupop_controller_updates_allowed",
      help: "1 while the schedule lets new updates start (window open or trigger round open)",
      registers,
    });
    this.#invalidShadows = new Gauge({
      name: "brupop_controller_invalid_shadows",
      help: "Shadows skipped because their content does not match the schema",
      registers,
    });
    this.#started = new Counter({
      name: "brupop_updates_started_total",
      help: "Updates started by this controller (spec set Idle -> StagedAndPerformedUpdate)",
      registers,
    });
    this.#succeeded = new Counter({
      name: "brupop_updates_succeeded_total",
      help: "Updates completed (spec set MonitoringUpdate -> Idle)",
      registers,
    });
    this.#failed = new Counter({
      name: "brupop_updates_failed_total",
      help: "Failed update attempts the controller recovered (status ErrorReset -> spec Idle)",
      registers,
    });
    this.#specWrites = new Counter({
      name: "brupop_controller_spec_writes_total",
      help: "Conditional spec writes by outcome (conflict = stale view, re-decided next tick)",
      labelNames: ["outcome"],
      registers,
    });
    this.#deletes = new Counter({
      name: "brupop_controller_shadow_deletes_total",
      help: "Shadows deleted because their node lost the updater-interface label",
      labelNames: ["outcome"],
      registers,
    });
    this.#tick = new Histogram({
      name: "brupop_controller_tick_duration_seconds",
      help: "Duration of one controller tick (decide + write)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#isLeader.set(0);
    this.#updatesAllowed.set(0);
    this.#invalidShadows.set(0);
    if (opts.defaultMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Publishes the fleet gauges; null clears them (standby). A version no host runs any more stays
   * exported at 0, as upstream's gauge does, so dashboards and alerts see it drop to zero rather
   * than the series vanish.
   */
  setFleet(snapshot: FleetSnapshot | null): void {
    this.#hostsState.reset();
    this.#hostsVersion.reset();
    this.#hostsOutcome.reset();
    if (snapshot === null) {
      this.#versionsSeen.clear();
      return;
    }
    for (const state of V2_STATES) this.#hostsState.set({ state }, snapshot.states[state]);
    for (const outcome of OUTCOME_KINDS) this.#hostsOutcome.set({ outcome }, snapshot.outcomes[outcome]);
    for (const version of snapshot.versions.keys()) this.#versionsSeen.add(version);
    for (const version of this.#versionsSeen)
      this.#hostsVersion.set({ bottlerocket_version: version }, snapshot.versions.get(version) ?? 0);
  }

  setLeader(leader: boolean): void {
    this.#isLeader.set(leader ? 1 : 0);
  }

  setUpdatesAllowed(allowed: boolean): void {
    this.#updatesAllowed.set(allowed ? 1 : 0);
  }

  setInvalidShadows(n: number): void {
    this.#invalidShadows.set(n);
  }

  updateStarted(): void {
    this.#started.inc();
  }

  updateSucceeded(): void {
    this.#succeeded.inc();
  }

  updateFailed(): void {
    this.#failed.inc();
  }

  specWrite(outcome: SpecWriteOutcome): void {
    this.#specWrites.inc({ outcome });
  }

  shadowDelete(outcome: "ok" | "gone" | "error"): void {
    this.#deletes.inc({ outcome });
  }

  observeTick(seconds: number): void {
    this.#tick.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
