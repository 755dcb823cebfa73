// Many simulated hosts in one process, each on its own socket under one directory, sharing one
// release list, clock and timers. The harness listens for reboots here to take the matching
// kwok Node NotReady and restart that node's agent.
import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock, type Clock } from "../../src/clock.js";
import { SimulatedHost, type HostDurations, type RebootEvent, type RebootedEvent } from "./host.js";
import { ReleaseCatalog, type ReleaseInput } from "./releases.js";
import { HostServer } from "./server.js";
import { realTimers, type Timers } from "./timers.js";

export interface FleetHostSpec {
  /** Also the socket file name (`<dir>/<id>.sock`); keep it short (Unix socket paths max ~107 bytes). */
  id: string;
  version: string;
  seed?: number;
  versionLock?: string;
  variant?: string;
  arch?: string;
  durations?: Partial<HostDurations>;
}

export interface SimulatedFleetOptions {
  /** Directory for the sockets; default a fresh temp dir, removed by close(). */
  dir?: string;
  releases?: readonly ReleaseInput[];
  /** Defaults for every host. */
  durations?: Partial<HostDurations>;
  variant?: string;
  arch?: string;
  clock?: Clock;
  timers?: Timers;
  onError?: (hostId: string, err: Error) => void;
}

export interface FleetEvents {
  reboot: [RebootEvent];
  /** Emitted once the host's socket is listening again (when it is connected). */
  rebooted: [RebootedEvent];
}

export interface FleetMember {
  host: SimulatedHost;
  server: HostServer;
  socketPath: string;
}

export class SimulatedFleet extends EventEmitter<FleetEvents> {
  readonly dir: string;
  readonly releases: ReleaseCatalog;
  readonly #ownsDir: boolean;
  readonly #opts: SimulatedFleetOptions;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #members = new Map<string, FleetMember>();

  private constructor(dir: string, ownsDir: boolean, opts: SimulatedFleetOptions) {
    super();
    this.dir = dir;
    this.#ownsDir = ownsDir;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? realTimers;
    this.releases = new ReleaseCatalog(opts.releases ?? [], () => this.#clock.now().getTime());
  }

  static async create(opts: SimulatedFleetOptions = {}): Promise<SimulatedFleet> {
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "brupop-fleet-")));
    return new SimulatedFleet(dir, opts.dir === undefined, opts);
  }

  /** Adds a host and starts serving its socket. */
  async addHost(spec: FleetHostSpec): Promise<FleetMember> {
    if (this.#members.has(spec.id)) throw new TypeError(`host ${spec.id} already exists`);
    if (!/^[A-Za-z0-9._-]+$/.test(spec.id))
      throw new TypeError(`host id ${JSON.stringify(spec.id)} is not a file name`);
    const host = new SimulatedHost({
      id: spec.id,
      version: spec.version,
      releases: this.releases,
      seed: spec.seed,
      versionLock: spec.versionLock,
      variant: spec.variant ?? this.#opts.variant,
      arch: spec.arch ?? this.#opts.arch,
      durations: { ...this.#opts.durations, ...spec.durations },
      clock: this.#clock,
      timers: this.#timers,
    });
    const socketPath = join(this.dir, `${spec.id}.sock`);
    const onError = this.#opts.onError;
    const server = new HostServer(host, {
      socketPath,
      onError: onError === undefined ? undefined : (err) => onError(spec.id, err),
    });
    const member: FleetMember = { host, server, socketPath };
    host.on("reboot", (e) => this.emit("reboot", e));
    host.on("rebooted", (e) => {
      // Tell listeners only once the socket answers again, so a restarted agent finds it.
      void server.settled().then(() => this.emit("rebooted", e));
    });
    this.#members.set(spec.id, member);
    try {
      await server.start();
    } catch (err) {
      this.#members.delete(spec.id);
      host.dispose();
      throw err;
    }
    return member;
  }

  /** Adds many hosts, a bounded number at a time. */
  async addHosts(specs: readonly FleetHostSpec[], concurrency = 64): Promise<FleetMember[]> {
    const out: FleetMember[] = [];
    for (let i = 0; i < specs.length; i += concurrency) {
      out.push(...(await Promise.all(specs.slice(i, i + concurrency).map((s) => this.addHost(s)))));
    }
    return out;
  }

  member(id: string): FleetMember {
    const m = this.#members.get(id);
    if (m === undefined) throw new TypeError(`no simulated host ${id}`);
    return m;
  }

  host(id: string): SimulatedHost {
    return this.member(id).host;
  }

  socketPath(id: string): string {
    return this.member(id).socketPath;
  }

  members(): IterableIterator<FleetMember> {
    return this.#members.values();
  }

  get size(): number {
    return this.#members.size;
  }

  async removeHost(id: string): Promise<void> {
    const m = this.#members.get(id);
    if (m === undefined) return;
    this.#members.delete(id);
    await m.server.stop();
    m.host.dispose();
  }

  /** Stops every host; removes the socket directory if the fleet created it. */
  async close(): Promise<void> {
    const ids = [...this.#members.keys()];
    for (let i = 0; i < ids.length; i += 64) {
      await Promise.all(ids.slice(i, i + 64).map((id) => this.removeHost(id)));
    }
    this.removeAllListeners();
    if (this.#ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}
