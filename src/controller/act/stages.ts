// One controller tick as named stages, each a small function with explicit inputs and outputs around
// the pure decisions (decisions.ts, gate.ts, view.ts); the write stage is spec-write.ts:
//
//   admit → fence → publishSettings → loadRound → observe → cleanUp → decide (fleet.ts: gate and
//   policy) → adopt the gate → plan → write → record
//
// The orderings are structural: every stage after admit takes the FencedTerm that only the fence can
// produce; loadRound takes the SettingsChecked that publishSettings returns (publishing rewrites the
// ConfigMap the round state lives in, so the round is read after it); writes go through
// whileActive(), which does not start a write once the term is over.
import type { Logger } from "pino";
import type { Clock, Timers } from "../../clock.js";
import type { EventRecorder } from "../../k8s/events.js";
import type { CONTROLLER_EVENTS } from "./event-reasons.js";
import { API_VERSION_V2, KIND } from "../../model/constants.js";
import { DEFAULT_SPEC, type BottlerocketShadow } from "../../model/shadow.js";
import { isConflict, isNotFound, KubeApiError } from "../../errors.js";
import type { KubeApi } from "../../k8s/api.js";
import {
  shadowsToDelete,
  type ConcurrencyLimit,
  type NodeLike,
  type SpecChange,
} from "../decide/decisions.js";
import { planUnblocked, type Blockers } from "../decide/blockers.js";
import { decideFleet, type FleetDecision } from "../decide/fleet.js";
import type { GateDecision, RoundState } from "../decide/gate.js";
import { fleetSnapshot, type ControllerMetrics } from "./metrics.js";
import type { Notifier } from "./notify.js";
import { readPolicy, recordPolicy, type PolicyRuntime } from "./policy-stage.js";
import type { RoundStore } from "./round-store.js";
import type { UpdateSchedule } from "../decide/schedule.js";
import type { SilenceWatch } from "../decide/silence.js";
import { fenced, whileActive, type FencedTerm, type Term } from "./term.js";
import { forEachBounded } from "../../runtime/loop.js";
import { writeChanges } from "./spec-write.js";
import { stripManagedFields, type InvalidShadow, type RawShadow, type ShadowView } from "../view/view.js";

/** After a failed settings publication, wait this long before the next attempt (not every tick). */
export const SETTINGS_RETRY_MS = 30_000;

export interface TickReport {
  /** Why nothing was done, if so. */
  skipped?: "not-leader" | "not-synced" | "fence-failed" | "round-state-unavailable";
  changes: SpecChange[];
  written: number;
  conflicts: number;
  deleted: string[];
  updatesAllowed: boolean;
  activeCount: number;
  waitingForSlot: string[];
  invalid: string[];
}

/** What the controller is configured to do (fixed for its lifetime). */
export interface TickSettings {
  namespace: string;
  maxConcurrent: ConcurrencyLimit;
  schedule: UpdateSchedule;
  controllerNodeName?: string | undefined;
  identity: string;
  /** Concurrent writes within one tick. */
  writeConcurrency: number;
}

/** What the stages read and act through; owned by the controller, shared by all its terms. */
export interface TickDeps {
  settings: TickSettings;
  api: KubeApi;
  roundStore: RoundStore;
  view: ShadowView;
  events: EventRecorder<typeof CONTROLLER_EVENTS>;
  metrics: ControllerMetrics;
  log: Logger;
  clock: Clock;
  timers: Timers;
  /** Invalid shadows already logged, by name → resourceVersion (each logged once per version). */
  loggedInvalid: Map<string, string | undefined>;
  /** Optional checks (notify.ts, blockers.ts, silence.ts); absent: off, no request made. */
  notifier?: Notifier | undefined;
  blockers?: Blockers | undefined;
  silence?: SilenceWatch | undefined;
  /** The UpdatePolicy (policy-stage.ts); undefined: none is watched. */
  policy?: PolicyRuntime | undefined;
}

/** The caches' contents, read when the tick observes the fleet. */
export interface Caches {
  synced: boolean;
  shadows(): RawShadow[];
  nodes(): NodeLike[];
}

/** Proof that publishSettings ran in this tick (it may have invalidated the round state). */
export interface SettingsChecked {
  readonly term: FencedTerm;
}

function emptyReport(): TickReport {
  return {
    changes: [],
    written: 0,
    conflicts: 0,
    deleted: [],
    updatesAllowed: false,
    activeCount: 0,
    waitingForSlot: [],
    invalid: [],
  };
}

/** One decision round for `term` (undefined: not leading). */
export async function runTick(deps: TickDeps, term: Term | undefined, caches: Caches): Promise<TickReport> {
  const report = emptyReport();
  if (term === undefined || !term.isActive()) return { ...report, skipped: "not-leader" };
  if (!caches.synced) return { ...report, skipped: "not-synced" };
  const t0 = performance.now();
  const fencedTerm = await fenced(term, (t) => fence(deps, t));
  if (fencedTerm === undefined) return { ...report, skipped: "fence-failed" };
  const checked = await publishSettings(deps, fencedTerm);
  const round = await loadRound(deps, checked);
  if (round === "unavailable") return { ...report, skipped: "round-state-unavailable" };

  const now = deps.clock.now();
  const observed = observe(deps, caches.shadows());
  report.invalid = observed.invalid.map((i) => i.name);
  const { live, deleted } = await cleanUp(deps, fencedTerm, observed, caches.nodes());
  report.deleted = deleted;
  deps.silence?.observe(fencedTerm, live, deps.timers.nowMs());
  deps.notifier?.observe(fencedTerm, live, now);

  const fleet = decideFleet({
    shadows: live,
    nodes: caches.nodes(),
    now,
    schedule: deps.settings.schedule,
    round,
    maxConcurrent: deps.settings.maxConcurrent,
    policy: await readPolicy(deps, fencedTerm),
    scheduleCache: deps.policy?.source.scheduleCache,
  });
  const gateOpen = await adoptGate(deps, fencedTerm, fleet.gate);
  report.updatesAllowed = gateOpen && fleet.hold === undefined;
  deps.metrics.setUpdatesAllowed(report.updatesAllowed);

  const { plan, blocked } = await planUnblocked(
    deps.blockers,
    {
      shadows: live,
      now,
      maxConcurrent: fleet.maxConcurrent,
      updatesAllowed: report.updatesAllowed,
      controllerNodeName: deps.settings.controllerNodeName,
      startFilter: fleet.filter(),
    },
    fencedTerm.signal,
  );
  deps.blockers?.recordVerdicts(blocked);
  report.changes = plan.changes;
  report.activeCount = plan.activeCount;
  report.waitingForSlot = plan.waitingForSlot;
  const written = await writeChanges(deps, fencedTerm, plan.changes);
  report.written = written.written;
  report.conflicts = written.conflicts;
  await recordPolicy(deps, fencedTerm, fleet, { plan, live, now });

  record(
    deps,
    fencedTerm,
    { live, now },
    { ...fleet, gate: { ...fleet.gate, updatesAllowed: report.updatesAllowed } },
  );
  deps.metrics.observeTick((performance.now() - t0) / 1000);
  return report;
}

// ---- fence ----------------------------------------------------------------------------------------

/**
 * On becoming leader: a quorum LIST of the shadows, so the first decisions cannot rest on a cache
 * that has not yet seen the previous leader's last writes.
 */
async function fence(deps: TickDeps, term: Term): Promise<boolean> {
  try {
    const list = await deps.api.listShadows(deps.settings.namespace, {
      signal: term.signal,
      timeoutMs: 30_000,
    });
    for (const item of list.items ?? []) deps.view.noteFresh(stripManagedFields(item));
    return true;
  } catch (err) {
    deps.log.warn({ err }, "fence read at leadership start failed; retrying next tick");
    return false;
  }
}

// ---- settings and round state ---------------------------------------------------------------------

/**
 * Once per leadership term: write the effective settings into the state ConfigMap so `brupop
 * status` can explain the schedule and concurrency verdicts. Best effort: a failure never stops the
 * tick, and the next attempt waits SETTINGS_RETRY_MS (a missing RBAC verb must not cost a request
 * every tick).
 */
export async function publishSettings(deps: TickDeps, term: FencedTerm): Promise<SettingsChecked> {
  const store = deps.roundStore;
  const state = term.settings;
  if (state.published || store.publishSettings === undefined) return { term };
  if (deps.timers.nowMs() < state.retryAtMs || !term.isActive()) return { term };
  const settings = {
    maxConcurrent: deps.settings.maxConcurrent,
    schedule: deps.settings.schedule.expression,
    controllerNode: deps.settings.controllerNodeName ?? null,
    leader: deps.settings.identity,
    leaderSince: term.since.toISOString(),
  };
  try {
    await store.publishSettings(settings, term.signal);
    state.published = true;
    // The write moved the ConfigMap's resourceVersion: re-read the round state before saving it.
    term.round = undefined;
    deps.log.info(settings, "published controller settings");
  } catch (err) {
    state.retryAtMs = deps.timers.nowMs() + SETTINGS_RETRY_MS;
    if (!term.signal.aborted) {
      deps.log.warn({ err }, "could not publish the controller settings (for brupop status); will retry");
    }
  }
  return { term };
}

/** The trigger-round state of this term (loaded once per term); null for a cron schedule. */
export async function loadRound(
  deps: TickDeps,
  { term }: SettingsChecked,
): Promise<RoundState | null | "unavailable"> {
  if (deps.settings.schedule.kind === "trigger" && term.round === undefined) {
    try {
      term.round = await deps.roundStore.load(term.signal);
    } catch (err) {
      deps.log.warn({ err }, "could not read the trigger-round state; retrying next tick");
      return "unavailable";
    }
  }
  return term.round ?? null;
}

/** Persists a changed trigger-round state; returns whether new updates may start this tick. */
export async function adoptGate(deps: TickDeps, term: FencedTerm, gate: GateDecision): Promise<boolean> {
  if (gate.round === null) return gate.updatesAllowed;
  if (term.ended) return false; // leadership changed under this tick: touch nothing
  if (!gate.changed) {
    term.round = gate.round;
    return gate.updatesAllowed;
  }
  let saved = false;
  try {
    saved = await whileActive(term, false, (signal) =>
      deps.roundStore.save(gate.round as RoundState, deps.settings.schedule.expression, signal),
    );
  } catch (err) {
    deps.log.warn({ err }, "could not persist the trigger-round state");
  }
  if (!saved) {
    term.round = undefined; // reload next tick
    return false;
  }
  term.round = gate.round;
  for (const event of gate.events) {
    deps.log.info(
      { event, round: gate.round, nextFire: gate.opensAt?.toISOString() },
      `update round ${event}`,
    );
  }
  return gate.updatesAllowed;
}

// ---- observe and clean up -------------------------------------------------------------------------

export interface Observed {
  shadows: BottlerocketShadow[];
  invalid: InvalidShadow[];
}

/** The fleet as the caches (corrected by the controller's own writes) show it; invalid shadows reported. */
export function observe(deps: TickDeps, raw: RawShadow[]): Observed {
  const { shadows, invalid } = deps.view.build(raw);
  reportInvalid(deps, invalid);
  return { shadows, invalid };
}

function reportInvalid(deps: TickDeps, invalid: readonly InvalidShadow[]): void {
  const logged = deps.loggedInvalid;
  deps.metrics.setInvalidShadows(invalid.length);
  const seen = new Set<string>();
  for (const i of invalid) {
    seen.add(i.name);
    if (logged.get(i.name) === i.resourceVersion) continue;
    logged.set(i.name, i.resourceVersion);
    deps.log.error(
      { shadow: i.name, resourceVersion: i.resourceVersion, error: i.error },
      "invalid shadow skipped",
    );
  }
  for (const name of logged.keys()) if (!seen.has(name)) logged.delete(name);
}

/** Deletes the shadows of nodes that lost the updater-interface label; returns the shadows left. */
export async function cleanUp(
  deps: TickDeps,
  term: FencedTerm,
  { shadows, invalid }: Observed,
  nodes: NodeLike[],
): Promise<{ live: BottlerocketShadow[]; deleted: string[] }> {
  const placeholders = invalid.map((i): BottlerocketShadow => ({
    apiVersion: API_VERSION_V2,
    kind: KIND,
    metadata: { name: i.name, ...(i.uid !== undefined && { uid: i.uid }) },
    spec: { ...DEFAULT_SPEC },
  }));
  const doomed = new Set(shadowsToDelete([...shadows, ...placeholders], nodes));
  const deleted: string[] = [];
  if (doomed.size > 0) {
    const uids = new Map<string, string | undefined>([
      ...shadows.map((s) => [s.metadata.name ?? "", s.metadata.uid] as const),
      ...invalid.map((i) => [i.name, i.uid] as const),
    ]);
    await forEachBounded([...doomed], deps.settings.writeConcurrency, async (name) => {
      if (await deleteShadow(deps, term, name, uids.get(name))) deleted.push(name);
    });
  }
  return { live: shadows.filter((s) => !doomed.has(s.metadata.name ?? "")), deleted };
}

async function deleteShadow(
  deps: TickDeps,
  term: FencedTerm,
  name: string,
  uid: string | undefined,
): Promise<boolean> {
  try {
    const deleted = await whileActive(term, false, async (signal) => {
      await deps.api.deleteShadow(deps.settings.namespace, name, uid, { signal, timeoutMs: 10_000 });
      return true;
    });
    if (!deleted) return false;
    deps.metrics.shadowDelete("ok");
    deps.log.info({ shadow: name }, "node lost the updater-interface label; deleted its shadow");
    return true;
  } catch (err) {
    // 404: already gone; 409: a different object of that name (precondition failed).
    if (isNotFound(err) || isConflict(err)) {
      deps.metrics.shadowDelete("gone");
      return false;
    }
    deps.metrics.shadowDelete("error");
    if (err instanceof KubeApiError)
      deps.log.warn({ shadow: name, status: err.httpStatus }, "shadow delete refused");
    else if (!term.signal.aborted) deps.log.warn({ err, shadow: name }, "shadow delete failed");
  }
  return false;
}

// ---- record ----------------------------------------------------------------------------------------

/** Keeps the fleet's view for `explain` and the fleet metrics. */
function record(
  deps: TickDeps,
  term: FencedTerm,
  { live, now }: { live: BottlerocketShadow[]; now: Date },
  fleet: FleetDecision,
): void {
  term.last = { shadows: live, fleet };
  if (term.isActive()) deps.metrics.setFleet(fleetSnapshot(live, now));
}
