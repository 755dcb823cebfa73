// Parsers for `brupop simulate-host` flag values. Each throws TypeError with a message that
// the CLI prefixes with the flag's name.
import { isSemver } from "../../src/model/semver.js";
import { UPDATE_COMMANDS, type UpdateCommand } from "../../src/bottlerocket/types.js";
import { SEED_COUNT, validateRelease, type Wave } from "./releases.js";

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `250`, `250ms`, `1.5s`, `2m`, `1h` → milliseconds (a bare number is ms). */
export function parseDuration(value: string): number {
  const m = DURATION.exec(value.trim());
  if (m === null) throw new TypeError(`${JSON.stringify(value)} is not a duration (e.g. 500ms, 2s, 1m)`);
  const [, amount = "0", unit = "ms"] = m;
  return Math.round(Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]);
}

export function parseVersion(value: string): string {
  if (!isSemver(value)) throw new TypeError(`${JSON.stringify(value)} is not a semver version (e.g. 1.20.0)`);
  return value;
}

export function parseVersionLock(value: string): string {
  if (value !== "latest" && !isSemver(value)) {
    throw new TypeError(`${JSON.stringify(value)} must be "latest" or a semver version`);
  }
  return value;
}

export function parseSeed(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n >= SEED_COUNT) {
    throw new TypeError(`${JSON.stringify(value)} is not an integer 0..${SEED_COUNT - 1}`);
  }
  return n;
}

export function parseCommand(value: string): UpdateCommand {
  if (!(UPDATE_COMMANDS as readonly string[]).includes(value)) {
    throw new TypeError(`${JSON.stringify(value)} is not one of ${UPDATE_COMMANDS.join(", ")}`);
  }
  return value as UpdateCommand;
}

/** `prepare` or `prepare:2` (fail the next 2 prepares). */
export function parseFailure(value: string): { cmd: UpdateCommand; times?: number } {
  const [cmd = "", times] = value.split(":");
  if (times === undefined) return { cmd: parseCommand(cmd) };
  const n = /^\d+$/.test(times) ? Number(times) : 0;
  if (n < 1) throw new TypeError(`${JSON.stringify(value)}: the count after ':' must be a positive integer`);
  return { cmd: parseCommand(cmd), times: n };
}

/** `8080` or `127.0.0.1:8080`. */
export function parseHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const host = i === -1 ? "127.0.0.1" : value.slice(0, i);
  const portText = i === -1 ? value : value.slice(i + 1);
  const port = /^\d+$/.test(portText) ? Number(portText) : -1;
  if (port < 0 || port > 65535 || host === "") {
    throw new TypeError(`${JSON.stringify(value)} is not [host:]port`);
  }
  return { host, port };
}

export interface ReleaseSpec {
  version: string;
  /** Released this long after the simulator starts. */
  delayMs: number;
  waves: Wave[];
}

/**
 * `VERSION[@DELAY][:SEED=START,...]`, e.g. `1.20.0`, `1.20.0@30s`,
 * `1.21.0@0s:512=0s,1024=1m,2048=2m` (hosts with seed < 512 at once, < 1024 after 1 min, …).
 */
export function parseReleaseSpec(value: string): ReleaseSpec {
  const colon = value.indexOf(":");
  const head = colon === -1 ? value : value.slice(0, colon);
  const wavesText = colon === -1 ? "" : value.slice(colon + 1);
  const at = head.indexOf("@");
  const version = parseVersion(at === -1 ? head : head.slice(0, at));
  const delayMs = at === -1 ? 0 : parseDuration(head.slice(at + 1));
  const waves: Wave[] = [];
  if (wavesText !== "") {
    for (const part of wavesText.split(",")) {
      const [seedText = "", startText = ""] = part.split("=");
      const seed = /^\d+$/.test(seedText) ? Number(seedText) : Number.NaN;
      if (Number.isNaN(seed) || startText === "") {
        throw new TypeError(`wave ${JSON.stringify(part)} of ${version} is not SEED=START (e.g. 512=30s)`);
      }
      waves.push({ seed, startAfterMs: parseDuration(startText) });
    }
  }
  validateRelease({ version, waves });
  return { version, delayMs, waves };
}
