// One simulated Bottlerocket host: the update state machine of SPEC §6, two partitions, a
// command lock, reboots and injectable faults. No I/O: time comes from an injected clock and
// timers, and the HTTP front (server.ts) maps reads and actions to status codes.
import { EventEmitter } from "node:events";
import { systemClock, type Clock } from "../../src/clock.js";
import { isSemver } from "../../src/model/semver.js";
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
import { HostFaults, type FailureSpec } from "./faults.js";
import { chooseUpdate, SEED_COUNT, type ReleaseCatalog } from "./releases.js";
import { realTimers, type Timers } from "./timers.js";

/** How long each command (and a reboot) takes, in ms. */
export interface HostDurations {
  refresh: number;
  prepare: number;
  activate: number;
  deactivate: number;
  reboot: number;
}

export const DEFAULT_DURATIONS: Readonly<HostDurations> = {
  refresh: 100,
  prepare: 1_000,
  activate: 50,
  deactivate: 50,
  reboot: 2_000,
};

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
  timestamp: string;
  cancel: () => void;
  hung: boolean;
}

export class SimulatedHost extends EventEmitter<HostEvents> {
  readonly id: string;
  readonly seed: number;
  readonly variant: string;
  readonly arch: string;
  readonly #releases: ReleaseCatalog;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #durations: HostDurations;
  readonly #faults = new HostFaults();
  #versionLock: string;
  /** A version lock PATCHed into the settings transaction, not yet committed. */
  #pendingLock: string | undefined;

  #active: StagedImage;
  #staging: StagedImage | null = null;
  #state: UpdateState = "Idle";
  #chosen: UpdateImage | null = null;
  #available: string[] = [];
  #last: CommandResult | null = null;
  #initialized = false;
  #running: Running | null = null;
  #rebooting: { cancel: () => void } | null = null;
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
    this.seed = seed;
    this.variant = opts.variant ?? "aws-k8s-1.33";
    this.arch = opts.arch ?? "x86_64";
    this.#releases = opts.releases;
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? realTimers;
    this.#durations = { ...DEFAULT_DURATIONS, ...opts.durations };
    this.#versionLock = checkLock(opts.versionLock ?? "latest");
    this.#active = { image: this.#image(opts.version), next_to_boot: true };
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

  get versionLock(): string {
    return this.#versionLock;
  }

  set versionLock(lock: string) {
    this.#versionLock = checkLock(lock);
  }

  // --- the settings API (only settings.updates.version-lock; see routes.ts) ---

  /** Stages a version lock in the default transaction (PATCH /settings); throws TypeError when invalid. */
  stageVersionLock(lock: string): void {
    this.#pendingLock = checkLock(lock);
  }

  /** Commits the transaction (POST /tx/commit_and_apply): the keys that changed. */
  commitSettings(): string[] {
    const pending = this.#pendingLock;
    this.#pendingLock = undefined;
    if (pending === undefined || pending === this.#versionLock) return [];
    this.#versionLock = pending;
    return ["settings.updates.version-lock"];
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
    return {
      pretty_name: `Bottlerocket OS ${v} (${this.variant})`,
      variant_id: this.variant,
      version_id: v,
      build_id: fnv1a(`${v}/${this.variant}`).toString(16).padStart(8, "0"),
      arch: this.arch,
    };
  }

  readStatus(): StatusRead {
    if (this.#running !== null) return { kind: "locked", command: this.#running.cmd };
    if (!this.#initialized) return { kind: "uninitialized" };
    return { kind: "ok", status: this.#snapshot() };
  }

  act(action: HostAction): ActionOutcome {
    if (this.#running !== null) {
      return { status: 423, message: `update lock held: ${this.#running.cmd} in progress` };
    }
    const refused = action === "reboot" ? undefined : this.#precondition(action);
    if (refused !== undefined) return refused;
    if (action === "reboot") this.#reboot();
    else this.#start(action);
    return { status: 204 };
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
        if (s !== "Available" && s !== "Staged")
          return { status: 409, message: `cannot prepare in state ${s}` };
        if (this.#chosen === null) return { status: 404, message: "no update chosen; refresh first" };
        return undefined;
      case "activate":
        return s === "Staged" ? undefined : { status: 409, message: `cannot activate in state ${s}` };
      case "deactivate":
        return s === "Ready" ? undefined : { status: 409, message: `cannot deactivate in state ${s}` };
    }
  }

  #start(cmd: UpdateCommand): void {
    // The status exists from the first accepted command after a boot.
    this.#initialized = true;
    const hung = this.#faults.isHung(cmd);
    const running: Running = { cmd, timestamp: this.#stamp(), cancel: noop, hung };
    this.#running = running;
    if (!hung) running.cancel = this.#timers.set(this.#durations[cmd], () => this.#finish());
  }

  #finish(): void {
    const running = this.#running;
    if (running === null) return;
    this.#running = null;
    const { cmd, timestamp } = running;
    const failure = this.#faults.takeFailure(cmd);
    if (failure !== undefined) {
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
        this.#available = this.#releases.visibleVersions(this.seed, this.#clock.now().getTime());
        const chosen = chooseUpdate(this.#available, this.version, this.#versionLock);
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

  #reboot(): void {
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

  /** Boots the partition marked next_to_boot (unless it fails to boot); the status starts over. */
  #boot(fromVersion: string, rollback: boolean): void {
    const staging = this.#staging;
    if (staging !== null && staging.next_to_boot) {
      if (rollback) {
        staging.next_to_boot = false;
      } else {
        this.#staging = { image: this.#active.image, next_to_boot: false };
        this.#active = { image: staging.image, next_to_boot: true };
      }
    }
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
