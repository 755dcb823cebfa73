// One simulated Bottlerocket host: the update state machine of SPEC §6, two partitions, a
// command lock, reboots and injectable faults. No I/O: time comes from an injected clock and
// timers, and the HTTP front (server.ts) maps reads and actions to status codes.
//
// It answers as Bottlerocket's own apiserver + thar-be-updates do (v1.20.5, run for real: see
// docs/bottlerocket.md and the transcripts in ./transcripts, replayed by transcripts.test.ts):
// a refused command still creates the status; a failed refresh drops Available back to Idle;
// the command stamp is taken when it ends; `available_updates` lists every version of the
// repository the host may take, the running one included; a boot rebuilds the status from
// scratch (no staging partition); a reboot is not behind the update lock and the API keeps
// answering until the host shuts down.
import { EventEmitter } from "node:events";
import { systemClock, type Clock } from "../../src/clock.js";
import { compareSemver, isSemver } from "../../src/model/semver.js";
import type {
  CommandResult,
  HostAction,
  OsInfo,
  StagedImage,
  UpdateCommand,
  UpdateImage,
  UpdateState,
  UpdateStatus,
} from "../../src/bottlerocket/types.js";
import { VERSION_LOCK_KEY } from "../../src/bottlerocket/types.js";
import { HostFaults, type FailureSpec } from "./faults.js";
import { chooseUpdate, SEED_COUNT, type ReleaseCatalog } from "./releases.js";
import { realTimers, type Timers } from "./timers.js";

/** How long each command (and a reboot) takes, in ms. */
export interface HostDurations {
  refresh: number;
  prepare: number;
  activate: number;
  deactivate: number;
  /** From the accepted POST /actions/reboot until the API goes away (the host shutting down). */
  shutdown: number;
  /** How long the API is away while the host reboots. */
  reboot: number;
}

export const DEFAULT_DURATIONS: Readonly<HostDurations> = {
  refresh: 100,
  prepare: 1_000,
  activate: 50,
  deactivate: 50,
  shutdown: 100,
  reboot: 2_000,
};

/** The texts the real API answers with (Bottlerocket's apiserver error display strings). */
export const HOST_ERROR_TEXT = {
  uninitialized: "Update status is uninitialized, refresh-updates to initialize it",
  statusLocked:
    "Unable to obtain shared lock for reading update status: Resource temporarily unavailable (os error 11)",
  lockHeld: "Update lock held",
  disallowed: "Update action not allowed according to update state",
  noChosenUpdate: "Previously chosen Update no longer exists",
  noPendingChanges: "Tried to commit with no pending changes",
} as const;

/** A setting value the simulator stores (see SETTINGS in routes.ts for which keys it accepts). */
export type SettingValue = string | number | boolean;

export interface SimulatedHostOptions {
  id: string;
  /** The version booted at start. */
  version: string;
  releases: ReleaseCatalog;
  /** 0..2047; default derived from the id (stable across runs). */
  seed?: number;
  variant?: string;
  arch?: string;
  /** `latest` (default) or a pinned version. */
  versionLock?: string;
  durations?: Partial<HostDurations>;
  clock?: Clock;
  timers?: Timers;
}

export type StatusRead =
  | { kind: "ok"; status: UpdateStatus }
  | { kind: "uninitialized" }
  | { kind: "locked"; command: UpdateCommand };

export type ActionOutcome = { status: 204 } | { status: 404 | 409 | 423; message: string };

export interface RebootEvent {
  hostId: string;
  fromVersion: string;
  /** The version the host will come back on (the old one when a rollback fault fires). */
  toVersion: string;
  rollback: boolean;
  downMs: number;
}

export interface RebootedEvent {
  hostId: string;
  fromVersion: string;
  version: string;
  rolledBack: boolean;
}

export interface HostEvents {
  reboot: [RebootEvent];
  rebooted: [RebootedEvent];
  /** The API stops answering (reboot or injected disconnect). */
  down: [{ hostId: string; reason: "reboot" | "disconnect" }];
  /** The API answers again. */
  up: [{ hostId: string }];
}

interface Running {
  cmd: UpdateCommand;
  cancel: () => void;
  hung: boolean;
}

export class SimulatedHost extends EventEmitter<HostEvents> {
  readonly id: string;
  readonly variant: string;
  readonly arch: string;
  readonly #releases: ReleaseCatalog;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #durations: HostDurations;
  readonly #faults = new HostFaults();
  /** Live settings, by dotted key (`settings.updates.version-lock`, …). */
  readonly #settings = new Map<string, SettingValue>();
  /** Settings PATCHed into the default transaction, not yet committed. */
  readonly #pending = new Map<string, SettingValue>();
  /** Every version this host has booted: the repository holds them all (they were released). */
  readonly #booted = new Set<string>();

  #active: StagedImage;
  #staging: StagedImage | null = null;
  #state: UpdateState = "Idle";
  #chosen: UpdateImage | null = null;
  #available: string[] = [];
  #last: CommandResult | null = null;
  #initialized = false;
  #running: Running | null = null;
  #rebooting: { cancel: () => void } | null = null;
  /** An accepted reboot, until the host goes down (the API still answers meanwhile). */
  #shuttingDown: { cancel: () => void } | null = null;
  #connected = true;
  #lastStampMs = Number.NEGATIVE_INFINITY;

  constructor(opts: SimulatedHostOptions) {
    super();
    if (!isSemver(opts.version))
      throw new TypeError(`host version ${JSON.stringify(opts.version)} is not semver`);
    const seed = opts.seed ?? seedFromId(opts.id);
    if (!Number.isInteger(seed) || seed < 0 || seed >= SEED_COUNT) {
      throw new TypeError(`host seed ${seed} must be an integer 0..${SEED_COUNT - 1}`);
    }
    this.id = opts.id;
    this.variant = opts.variant ?? "aws-k8s-1.33";
    this.arch = opts.arch ?? "x86_64";
    this.#releases = opts.releases;
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? realTimers;
    this.#durations = { ...DEFAULT_DURATIONS, ...opts.durations };
    this.#settings.set(VERSION_LOCK_KEY, checkLock(opts.versionLock ?? "latest"));
    this.#settings.set(SEED_SETTING, seed);
    this.#active = { image: this.#image(opts.version), next_to_boot: true };
    this.#booted.add(opts.version);
  }

  /** The wave seed (`settings.updates.seed`). */
  get seed(): number {
    return Number(this.#settings.get(SEED_SETTING));
  }

  // --- observation ---

  get version(): string {
    return this.#active.image.version;
  }

  get updateState(): UpdateState {
    return this.#state;
  }

  get runningCommand(): UpdateCommand | null {
    return this.#running?.cmd ?? null;
  }

  get rebooting(): boolean {
    return this.#rebooting !== null;
  }

  /** Whether the API answers: booted and not disconnected by a fault. */
  get reachable(): boolean {
    return this.#rebooting === null && this.#connected;
  }

  /** Whether an accepted reboot has not taken the host down yet. */
  get shuttingDown(): boolean {
    return this.#shuttingDown !== null;
  }

  get versionLock(): string {
    return String(this.#settings.get(VERSION_LOCK_KEY));
  }

  set versionLock(lock: string) {
    this.#settings.set(VERSION_LOCK_KEY, checkLock(lock));
  }

  // --- the settings API (see routes.ts for which keys it accepts) ---

  /** A live setting, by dotted key (undefined: not modelled or never set). */
  setting(key: string): SettingValue | undefined {
    return this.#settings.get(key);
  }

  /** The live settings, by dotted key. */
  settings(): ReadonlyMap<string, SettingValue> {
    return this.#settings;
  }

  /**
   * Stages settings in the default transaction (PATCH /settings; the caller validated them). The
   * version lock is checked here too: a TypeError stages nothing.
   */
  stageSettings(changes: ReadonlyMap<string, SettingValue>): void {
    const lock = changes.get(VERSION_LOCK_KEY);
    if (lock !== undefined) checkLock(String(lock));
    for (const [k, v] of changes) this.#pending.set(k, v);
  }

  /**
   * Commits the transaction (POST /tx/commit_and_apply): every key that was pending, changed or
   * not (as the real datastore does), sorted; null when nothing was pending (the API's 422). A
   * committed version lock counts from the next refresh.
   */
  commitSettings(): string[] | null {
    if (this.#pending.size === 0) return null;
    const keys = [...this.#pending.keys()].sort();
    for (const [k, v] of this.#pending) this.#settings.set(k, v);
    this.#pending.clear();
    return keys;
  }

  durations(): Readonly<HostDurations> {
    return this.#durations;
  }

  setDurations(d: Partial<HostDurations>): void {
    Object.assign(this.#durations, d);
  }

  // --- the API ---

  os(): OsInfo {
    const v = this.version;
    // Keys in the real API's order (serde_json sorts them).
    return {
      arch: this.arch,
      build_id: fnv1a(`${v}/${this.variant}`).toString(16).padStart(8, "0"),
      pretty_name: `Bottlerocket OS ${v} (${this.variant})`,
      variant_id: this.variant,
      version_id: v,
    };
  }

  readStatus(): StatusRead {
    if (this.#running !== null) return { kind: "locked", command: this.#running.cmd };
    if (!this.#initialized) return { kind: "uninitialized" };
    return { kind: "ok", status: this.#snapshot() };
  }

  act(action: HostAction): ActionOutcome {
    // The reboot is not an update command: it does not take the update lock (real apiserver).
    if (action === "reboot") {
      this.#shutdown();
      return { status: 204 };
    }
    if (this.#running !== null) return { status: 423, message: HOST_ERROR_TEXT.lockHeld };
    // thar-be-updates creates the status before it looks at the state: a refused command leaves
    // an initialised status behind.
    this.#initialized = true;
    const refused = this.#precondition(action);
    if (refused !== undefined) return refused;
    this.#start(action);
    return { status: 204 };
  }

  /** What any first command does after a boot (thar-be-updates creates status.json): the real-host harness seeds it. */
  initializeStatus(): void {
    this.#initialized = true;
  }

  // --- faults (settable at runtime) ---

  failCommand(cmd: UpdateCommand, spec: FailureSpec = {}): void {
    this.#faults.failCommand(cmd, spec);
  }

  clearFailure(cmd: UpdateCommand): void {
    this.#faults.clearFailure(cmd);
  }

  /** Commands of this type started from now on never finish until unhang(). */
  hang(cmd: UpdateCommand): void {
    this.#faults.setHung(cmd, true);
  }

  /** Clears the hang; a command hung right now completes at once. */
  unhang(cmd: UpdateCommand): void {
    this.#faults.setHung(cmd, false);
    if (this.#running?.cmd === cmd && this.#running.hung) this.#finish();
  }

  /** The next `times` reboots into a new version come back on the old one. */
  rollbackNextReboot(times = 1): void {
    this.#faults.rollbackReboots(times);
  }

  /** The socket goes away (the HTTP front closes it and removes the file) until reconnect(). */
  disconnect(): void {
    if (!this.#connected) return;
    this.#connected = false;
    if (this.#rebooting === null) this.emit("down", { hostId: this.id, reason: "disconnect" });
  }

  reconnect(): void {
    if (this.#connected) return;
    this.#connected = true;
    if (this.#rebooting === null) this.emit("up", { hostId: this.id });
  }

  clearFaults(): void {
    const hung = this.#running?.hung === true ? this.#running.cmd : undefined;
    this.#faults.clear();
    if (hung !== undefined) this.unhang(hung);
    this.reconnect();
  }

  /** Cancels pending timers (a running command or reboot stays as it is). */
  dispose(): void {
    this.#running?.cancel();
    this.#shuttingDown?.cancel();
    this.#rebooting?.cancel();
    this.removeAllListeners();
  }

  // --- internals ---

  /** 409 when the state forbids the command, 404 when prepare has nothing to prepare. Never touches status. */
  #precondition(cmd: UpdateCommand): ActionOutcome | undefined {
    const s = this.#state;
    switch (cmd) {
      case "refresh":
        return undefined;
      case "prepare":
        if (s !== "Available" && s !== "Staged") return DISALLOWED;
        if (this.#chosen === null) return { status: 404, message: HOST_ERROR_TEXT.noChosenUpdate };
        return undefined;
      case "activate":
        return s === "Staged" ? undefined : DISALLOWED;
      case "deactivate":
        return s === "Ready" ? undefined : DISALLOWED;
    }
  }

  #start(cmd: UpdateCommand): void {
    const hung = this.#faults.isHung(cmd);
    const running: Running = { cmd, cancel: noop, hung };
    this.#running = running;
    if (!hung) running.cancel = this.#timers.set(this.#durations[cmd], () => this.#finish());
  }

  #finish(): void {
    const running = this.#running;
    if (running === null) return;
    this.#running = null;
    const { cmd } = running;
    // thar-be-updates stamps the command when updog returns.
    const timestamp = this.#stamp();
    const failure = this.#faults.takeFailure(cmd);
    if (failure !== undefined) {
      // A failed refresh still moves Idle/Available to Idle (it found no update); nothing else changes.
      if (cmd === "refresh" && (this.#state === "Idle" || this.#state === "Available")) this.#state = "Idle";
      this.#last = {
        cmd_type: cmd,
        cmd_status: "Failed",
        timestamp,
        exit_status: failure.exitStatus,
        stderr: failure.stderr,
      };
      return;
    }
    this.#apply(cmd);
    this.#last = { cmd_type: cmd, cmd_status: "Success", timestamp, exit_status: 0, stderr: "" };
  }

  #apply(cmd: UpdateCommand): void {
    switch (cmd) {
      case "refresh": {
        this.#available = this.#repository();
        const chosen = chooseUpdate(this.#available, this.version, this.versionLock);
        this.#chosen = chosen === null ? null : this.#image(chosen);
        if (this.#state === "Idle" || this.#state === "Available") {
          this.#state = chosen === null ? "Idle" : "Available";
        }
        return;
      }
      case "prepare":
        // Precondition guaranteed a chosen update when the command was accepted.
        if (this.#chosen !== null) this.#staging = { image: { ...this.#chosen }, next_to_boot: false };
        this.#active.next_to_boot = true;
        this.#state = "Staged";
        return;
      case "activate":
        if (this.#staging !== null) this.#staging.next_to_boot = true;
        this.#active.next_to_boot = false;
        this.#state = "Ready";
        return;
      case "deactivate":
        if (this.#staging !== null) this.#staging.next_to_boot = false;
        this.#active.next_to_boot = true;
        this.#state = "Staged";
        return;
    }
  }

  /** An accepted reboot: the API answers on until the host goes down `shutdown` ms later. */
  #shutdown(): void {
    if (this.#shuttingDown !== null || this.#rebooting !== null) return;
    this.#shuttingDown = {
      cancel: this.#timers.set(this.#durations.shutdown, () => {
        this.#shuttingDown = null;
        this.#reboot();
      }),
    };
  }

  /** The host goes down: a running command dies with it. */
  #reboot(): void {
    if (this.#running !== null) {
      this.#running.cancel();
      this.#running = null;
    }
    const fromVersion = this.version;
    const switching = this.#staging?.next_to_boot === true;
    const rollback = switching && this.#faults.takeRollback();
    const toVersion =
      switching && !rollback && this.#staging !== null ? this.#staging.image.version : fromVersion;
    const downMs = this.#durations.reboot;
    const wasReachable = this.reachable;
    this.#rebooting = { cancel: this.#timers.set(downMs, () => this.#boot(fromVersion, rollback)) };
    if (wasReachable) this.emit("down", { hostId: this.id, reason: "reboot" });
    this.emit("reboot", { hostId: this.id, fromVersion, toVersion, rollback, downMs });
  }

  /**
   * Boots the partition marked next_to_boot (unless it fails to boot). The status lived in /run: it
   * starts over, and when it is next created it knows only the running image (no staging partition).
   */
  #boot(fromVersion: string, rollback: boolean): void {
    const staging = this.#staging;
    if (staging !== null && staging.next_to_boot && !rollback) {
      this.#active = { image: staging.image, next_to_boot: true };
    }
    this.#booted.add(this.#active.image.version);
    this.#staging = null;
    this.#active.next_to_boot = true;
    this.#state = "Idle";
    this.#chosen = null;
    this.#available = [];
    this.#last = null;
    this.#initialized = false;
    this.#rebooting = null;
    if (this.#connected) this.emit("up", { hostId: this.id });
    this.emit("rebooted", { hostId: this.id, fromVersion, version: this.version, rolledBack: rollback });
  }

  /** Command timestamps strictly increase even when the clock stands still (tests) or steps back. */
  #stamp(): string {
    const ms = Math.max(this.#clock.now().getTime(), this.#lastStampMs + 1);
    this.#lastStampMs = ms;
    return new Date(ms).toISOString();
  }

  /**
   * What updog lists (`whats --all`): every release in the repository for this host's variant whose
   * wave has reached it, the running version included (it was released too), newest first.
   */
  #repository(): string[] {
    const visible = this.#releases.visibleVersions(this.seed, this.#clock.now().getTime());
    const all = new Set([...visible, ...this.#booted]);
    return [...all].sort((a, b) => compareSemver(b, a));
  }

  #image(version: string): UpdateImage {
    return { arch: this.arch, version, variant: this.variant };
  }

  #snapshot(): UpdateStatus {
    const copy = (p: StagedImage | null): StagedImage | null =>
      p === null ? null : { image: { ...p.image }, next_to_boot: p.next_to_boot };
    return {
      update_state: this.#state,
      available_updates: [...this.#available],
      chosen_update: this.#chosen === null ? null : { ...this.#chosen },
      active_partition: copy(this.#active),
      staging_partition: copy(this.#staging),
      most_recent_command: this.#last === null ? null : { ...this.#last },
    };
  }
}

function noop(): void {}

export const SEED_SETTING = "settings.updates.seed";

const DISALLOWED: ActionOutcome = { status: 409, message: HOST_ERROR_TEXT.disallowed };

/** "latest", or a version with or without a leading "v" (Bottlerocket accepts both: "v1.20.3"). */
function checkLock(lock: string): string {
  if (lock !== "latest" && !isSemver(lock.replace(/^v/, ""))) {
    throw new TypeError(`version-lock must be "latest" or a semver version, got ${JSON.stringify(lock)}`);
  }
  return lock;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A stable seed per host id, so a fleet spreads over the waves the same way every run. */
export function seedFromId(id: string): number {
  return fnv1a(id) % SEED_COUNT;
}
