// `brupop simulate-host`: one simulated Bottlerocket host update API on a Unix socket (and
// optionally TCP), for demos and manual testing of the agent. See docs/bottlerocket.md.
import { hostname } from "node:os";
import { InvalidArgumentError, type Command } from "commander";
import type { LevelWithSilent } from "pino";
import type { HostDurations } from "./host.js";
import {
  parseCommand,
  parseDuration,
  parseFailure,
  parseHostPort,
  parseReleaseSpec,
  parseSeed,
  parseVersion,
  parseVersionLock,
  type ReleaseSpec,
} from "./options.js";
import { SEED_COUNT } from "./releases.js";
import { startStandaloneHost, type StandaloneConfig } from "./standalone.js";
import type { UpdateCommand } from "../../src/bottlerocket/types.js";
import { BrupopError } from "../../src/errors.js";
import { createLogger, parseLogLevel } from "../../src/log.js";
import { flagParser } from "../../src/cli/options.js";
import { KIT_COMMANDS } from "../../src/cli/kit.js";
import { runService } from "../../src/cli/service.js";

/** Commander reports an InvalidArgumentError together with the flag it came from. */
function arg<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

function many<T>(parse: (v: string) => T): (v: string, prev: T[] | undefined) => T[] {
  const one = arg(parse);
  return (v, prev) => [...(prev ?? []), one(v)];
}

interface RawOptions {
  socket: string;
  tcp?: { host: string; port: number };
  currentVersion: string;
  release?: ReleaseSpec[];
  seed?: number;
  variant: string;
  arch: string;
  versionLock: string;
  hostId?: string;
  refreshTime?: number;
  prepareTime?: number;
  activateTime?: number;
  deactivateTime?: number;
  rebootTime?: number;
  fail?: { cmd: UpdateCommand; times?: number }[];
  hang?: UpdateCommand[];
  logLevel: LevelWithSilent;
}

/** Turns parsed flags into the runner's config (cross-flag checks live here). */
export function toStandaloneConfig(o: RawOptions): StandaloneConfig {
  const seen = new Set<string>();
  for (const r of o.release ?? []) {
    if (seen.has(r.version)) throw new BrupopError("BRUPOP_E_CONFIG", `--release: ${r.version} given twice`);
    seen.add(r.version);
  }
  const durations: Partial<HostDurations> = {};
  if (o.refreshTime !== undefined) durations.refresh = o.refreshTime;
  if (o.prepareTime !== undefined) durations.prepare = o.prepareTime;
  if (o.activateTime !== undefined) durations.activate = o.activateTime;
  if (o.deactivateTime !== undefined) durations.deactivate = o.deactivateTime;
  if (o.rebootTime !== undefined) durations.reboot = o.rebootTime;
  return {
    socketPath: o.socket,
    tcp: o.tcp,
    hostId: o.hostId ?? hostname(),
    version: o.currentVersion,
    // Like a real host: a random seed unless one is given.
    seed: o.seed ?? Math.floor(Math.random() * SEED_COUNT),
    variant: o.variant,
    arch: o.arch,
    versionLock: o.versionLock,
    releases: o.release ?? [],
    durations,
    fail: o.fail ?? [],
    hang: o.hang ?? [],
  };
}

export function registerSimulateHost(program: Command): void {
  program
    .command("simulate-host")
    .description(KIT_COMMANDS["simulate-host"].description)
    .option("--socket <path>", "Unix socket to serve", "/run/api.sock")
    .option("--tcp <[host:]port>", "also serve on TCP", arg(parseHostPort))
    .option("--current-version <semver>", "version the host boots with", arg(parseVersion), "1.19.0")
    .option(
      "--release <version[@delay][:seed=start,...]>",
      "a release the host can update to (repeatable), e.g. 1.20.0, 1.20.0@30s, 1.21.0@0s:512=0s,2048=1m",
      many(parseReleaseSpec),
    )
    .option("--seed <0-2047>", "update wave seed (default: random)", arg(parseSeed))
    .option(
      "--version-lock <latest|semver>",
      "which release refresh chooses",
      arg(parseVersionLock),
      "latest",
    )
    .option("--variant <name>", "variant id", "aws-k8s-1.33")
    .option("--arch <arch>", "architecture", "x86_64")
    .option("--host-id <id>", "name used in logs and events (default: hostname)")
    .option("--refresh-time <duration>", "how long refresh-updates takes (e.g. 100ms)", arg(parseDuration))
    .option("--prepare-time <duration>", "how long prepare-update takes", arg(parseDuration))
    .option("--activate-time <duration>", "how long activate-update takes", arg(parseDuration))
    .option("--deactivate-time <duration>", "how long deactivate-update takes", arg(parseDuration))
    .option("--reboot-time <duration>", "how long the host is gone during a reboot", arg(parseDuration))
    .option(
      "--fail <command[:times]>",
      "make a command fail (repeatable), e.g. prepare:1",
      many(parseFailure),
    )
    .option("--hang <command>", "make a command never finish (repeatable)", many(parseCommand))
    .option(
      "--log-level <level>",
      "trace, debug, info, warn, error, off",
      arg(flagParser(parseLogLevel, "--log-level")),
      "info",
    )
    .action(async (opts: RawOptions) => {
      const config = toStandaloneConfig(opts);
      const log = createLogger({ name: "simulate-host", level: opts.logLevel });
      await runService(
        async (stop) => {
          const running = await startStandaloneHost(config, stop, log).catch((err: unknown) => {
            throw new BrupopError(
              "BRUPOP_E_CONFIG",
              `--socket ${config.socketPath}: cannot serve: ${err instanceof Error ? err.message : String(err)}`,
              {},
              { cause: err },
            );
          });
          await running.done;
        },
        { onSignal: "ok" },
      );
    });
}
