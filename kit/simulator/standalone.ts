// One simulated host as a process (`brupop simulate-host`): serves until the signal aborts,
// then closes and removes its socket. Reboots happen in place (the socket goes away for the
// reboot time and comes back on the booted version).
import { systemClock } from "../../src/clock.js";
import type { Logger } from "../../src/log.js";
import type { UpdateCommand } from "../../src/bottlerocket/types.js";
import { SimulatedHost, type HostDurations } from "./host.js";
import type { ReleaseSpec } from "./options.js";
import { ReleaseCatalog } from "./releases.js";
import { HostServer } from "./server.js";

export interface StandaloneConfig {
  socketPath: string;
  tcp?: { host: string; port: number };
  hostId: string;
  version: string;
  seed: number;
  variant: string;
  arch: string;
  versionLock: string;
  releases: readonly ReleaseSpec[];
  durations: Partial<HostDurations>;
  fail: readonly { cmd: UpdateCommand; times?: number }[];
  hang: readonly UpdateCommand[];
}

export interface Running {
  host: SimulatedHost;
  server: HostServer;
  /** Resolves after the signal aborted and the socket is gone. */
  done: Promise<void>;
}

export async function startStandaloneHost(
  config: StandaloneConfig,
  signal: AbortSignal,
  log: Logger,
): Promise<Running> {
  const start = systemClock.now().getTime();
  const releases = new ReleaseCatalog(
    config.releases.map((r) => ({ version: r.version, releasedAt: start + r.delayMs, waves: r.waves })),
  );
  const host = new SimulatedHost({
    id: config.hostId,
    version: config.version,
    releases,
    seed: config.seed,
    variant: config.variant,
    arch: config.arch,
    versionLock: config.versionLock,
    durations: config.durations,
  });
  for (const f of config.fail) host.failCommand(f.cmd, { times: f.times });
  for (const cmd of config.hang) host.hang(cmd);
  host.on("reboot", (e) => log.info(e, "rebooting"));
  host.on("rebooted", (e) => log.info(e, "booted"));
  const server = new HostServer(host, {
    socketPath: config.socketPath,
    tcp: config.tcp,
    onError: (err) => log.error({ err }, "could not serve the host API again"),
  });
  await server.start();
  log.info(
    { socket: config.socketPath, tcpPort: server.tcpPort, version: host.version, seed: host.seed },
    "simulated Bottlerocket host API listening",
  );
  const done = new Promise<void>((resolve) => {
    const stop = (): void => {
      void server.stop().then(() => {
        host.dispose();
        log.info("stopped");
        resolve();
      });
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
  return { host, server, done };
}
