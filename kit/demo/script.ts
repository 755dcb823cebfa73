// The demo as a playground: its actions (offer the next release, pause/resume the UpdatePolicy,
// fail a host's next command, make a node's DaemonSet pod unhealthy after its reboot, quit), reached through keys on a terminal or a `--script FILE`
// without one. Pure: parsing, the key map and the node labels; kit/demo/run.ts performs them.
import { BrupopError } from "../../src/errors.js";
import { compareSemver, isSemver } from "../../src/model/semver.js";
import { ZONE_LABEL } from "../../src/model/policy.js";

export type DemoAction =
  | { kind: "release"; version: string }
  | { kind: "pause" }
  | { kind: "resume" }
  | { kind: "fail-host"; node: string }
  /** The node's DaemonSet pod is not Ready after its next reboot: its health gate fails it. */
  | { kind: "unhealthy"; node: string }
  | { kind: "quit" };

export interface ScriptStep {
  /** From the start of the rollout (the controller's start). */
  atMs: number;
  action: DemoAction;
  /** 1-based line in the script file. */
  line: number;
}

/** The label `--groups` sets (docs/policy.md: groups select nodes by a label). */
export const GROUP_LABEL = "brupop.example/wave";

const USAGE =
  "expected `<seconds> <action> [arg]`, action one of: release VERSION, pause, resume, fail-host NODE, unhealthy NODE, quit";

/**
 * Parses a `--script` file: one `<seconds> <action> [arg]` a line; blank lines and `#` comments
 * are skipped. Throws BRUPOP_E_CONFIG naming the file and line of the first bad one, before
 * anything starts. Steps come back in time order (same time: file order).
 */
export function parseScript(text: string, file: string, nodes: readonly string[]): ScriptStep[] {
  const steps: ScriptStep[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const words = raw
      .replace(/#.*/, "")
      .trim()
      .split(/\s+/)
      .filter((w) => w !== "");
    if (words.length === 0) return;
    const bad = (why: string): never => {
      throw new BrupopError("BRUPOP_E_CONFIG", `--script ${file}:${line}: ${why} (in "${raw.trim()}")`);
    };
    const [at = "", kind = "", arg, ...extra] = words;
    if (!/^\d+(\.\d+)?$/.test(at)) bad(`"${at}" is not a time in seconds; ${USAGE}`);
    if (extra.length > 0) bad(`unexpected "${extra.join(" ")}"; ${USAGE}`);
    const atMs = Math.round(Number(at) * 1000);
    const action = parseAction(kind, arg, nodes, bad);
    steps.push({ atMs, action, line });
  });
  return steps
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.atMs - b.s.atMs || a.i - b.i)
    .map((x) => x.s);
}

function parseAction(
  kind: string,
  arg: string | undefined,
  nodes: readonly string[],
  bad: (why: string) => never,
): DemoAction {
  switch (kind) {
    case "release":
      if (arg === undefined || !isSemver(arg)) return bad("release needs a version like 1.21.0");
      return { kind: "release", version: arg };
    case "pause":
    case "resume":
    case "quit":
      return arg === undefined ? { kind } : bad(`${kind} takes no argument`);
    case "fail-host":
    case "unhealthy":
      if (arg === undefined || !nodes.includes(arg)) {
        return bad(`${kind} needs one of the demo's nodes (${shortList(nodes)})`);
      }
      return { kind, node: arg };
    default:
      return bad(`unknown action "${kind}"; ${USAGE}`);
  }
}

function shortList(names: readonly string[]): string {
  return names.length <= 6 ? names.join(", ") : `${names.slice(0, 3).join(", ")} … ${names.at(-1)}`;
}

/** The release after `newest`: its next minor (1.20.0 → 1.21.0). */
export function nextRelease(newest: string): string {
  const [major = "0", minor = "0"] = newest.split(".");
  return `${major}.${Number(minor) + 1}.0`;
}

/** The newest of some versions. */
export function newestOf(versions: readonly string[]): string | undefined {
  return [...versions].sort(compareSemver).at(-1);
}

/** What the keys see of the demo when one is pressed. */
export interface KeyContext {
  /** The newest release offered so far. */
  newest: string;
  paused: boolean;
  /** The first node (in view order) not yet on the newest release. */
  firstUnfinished: string | undefined;
}

/** The footer that lists the keys (the live view's last line). */
export const KEY_FOOTER = "n next release  p pause/resume  f fail a command  u unhealthy pod  q quit";

/** The action a key asks for (undefined: not a key of the demo). */
export function keyAction(key: string, ctx: KeyContext): DemoAction | undefined {
  switch (key) {
    case "n":
      return { kind: "release", version: nextRelease(ctx.newest) };
    case "p":
      return { kind: ctx.paused ? "resume" : "pause" };
    case "f":
      return ctx.firstUnfinished === undefined ? undefined : { kind: "fail-host", node: ctx.firstUnfinished };
    case "u":
      return ctx.firstUnfinished === undefined ? undefined : { kind: "unhealthy", node: ctx.firstUnfinished };
    case "q":
      return { kind: "quit" };
    default:
      return undefined;
  }
}

/** Parses `--groups canary=1`: the group's name and how many nodes (the first ones) it gets. */
export function parseGroups(value: string): { name: string; count: number } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)=(\d+)$/.exec(value);
  if (m === null || Number(m[3]) < 1) {
    throw new BrupopError("BRUPOP_E_CONFIG", `--groups: expected NAME=COUNT like canary=1, not "${value}"`);
  }
  return { name: m[1] ?? "", count: Number(m[3]) };
}

/** The labels each node gets from `--zones` (round-robin, zone-a, zone-b, …) and `--groups`. */
export function nodeLabels(
  names: readonly string[],
  zones: number,
  group: { name: string; count: number } | undefined,
): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  names.forEach((n, i) => {
    const labels: Record<string, string> = {};
    if (zones > 0) labels[ZONE_LABEL] = `zone-${String.fromCharCode(97 + (i % zones))}`;
    if (group !== undefined && i < group.count) labels[GROUP_LABEL] = group.name;
    if (Object.keys(labels).length > 0) out.set(n, labels);
  });
  return out;
}
