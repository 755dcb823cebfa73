// Shared by the simulator and client tests: raw HTTP over a Unix socket (so conformance tests
// check the wire, not our client) and a simulated host served on a temp socket.
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, type Clock } from "../../src/clock.js";
import { SimulatedHost, type HostDurations } from "./host.js";
import { ReleaseCatalog, type ReleaseInput } from "./releases.js";
import { HostServer } from "./server.js";
import { ManualTimers, type Timers } from "./timers.js";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => unknown;
}

/** One request; a body is sent as JSON unless `headers` says otherwise (`{}`: no content type). */
export function raw(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body) as unknown,
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export interface Served {
  host: SimulatedHost;
  server: HostServer;
  releases: ReleaseCatalog;
  socketPath: string;
  close: () => Promise<void>;
}

export interface ServeOptions {
  version?: string;
  variant?: string;
  arch?: string;
  seed?: number;
  versionLock?: string;
  releases?: ReleaseInput[];
  durations?: Partial<HostDurations>;
  clock?: Clock;
  timers?: Timers;
  tcp?: boolean;
}

export async function serveHost(opts: ServeOptions = {}): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), "brupop-sim-"));
  const clock = opts.clock ?? new ManualClock("2025-01-01T00:00:00Z");
  const releases = new ReleaseCatalog(opts.releases ?? [], () => clock.now().getTime());
  const host = new SimulatedHost({
    id: "node-a",
    version: opts.version ?? "1.19.0",
    ...(opts.variant === undefined ? {} : { variant: opts.variant }),
    ...(opts.arch === undefined ? {} : { arch: opts.arch }),
    seed: opts.seed ?? 0,
    versionLock: opts.versionLock,
    releases,
    durations: opts.durations,
    clock,
    timers: opts.timers,
  });
  const socketPath = join(dir, "api.sock");
  const server = new HostServer(host, { socketPath, tcp: opts.tcp === true ? { port: 0 } : undefined });
  await server.start();
  return {
    host,
    server,
    releases,
    socketPath,
    close: async () => {
      await server.stop();
      host.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A host on manual time: commands finish only when the test advances the timers. */
export async function serveManualHost(
  opts: Omit<ServeOptions, "clock" | "timers"> = {},
): Promise<Served & { timers: ManualTimers; clock: ManualClock }> {
  const clock = new ManualClock("2025-01-01T00:00:00Z");
  const timers = new ManualTimers(clock);
  const served = await serveHost({ ...opts, clock, timers });
  return { ...served, timers, clock };
}
