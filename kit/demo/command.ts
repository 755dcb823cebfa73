// `brupop demo`: the main job. Flag parsing and checks only; kit/demo/run.ts does the work, loaded
// lazily so other commands do not pay for it. Every flag is checked before anything is built or
// started: `--help` or a bad flag answers at once, even on a machine that has never built the
// control plane.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { parseMaxConcurrentUpdate } from "../../src/controller/run/config.js";
import type { ConcurrencyLimit } from "../../src/controller/decide/decisions.js";
import { parseSchedule } from "../../src/controller/decide/schedule.js";
import { BrupopError, isBrupopError } from "../../src/errors.js";
import { checkFailHost, checkRealNodeDemo, demoNodeNames, REAL_NODE_PREFIX } from "./plan.js";
import { readFileSync } from "node:fs";
import { parseGroups, parseScript, type ScriptStep } from "./script.js";
import { readPolicyFile, type PolicyManifest } from "./playground.js";
import { wholeNumberIn } from "../../src/config/parsers.js";
import { KIT_COMMANDS } from "../../src/cli/kit.js";
import { runService } from "../../src/cli/service.js";

/** Stopping the demo stops its local control plane, which may take a while on a busy machine. */
const DEMO_STOP_DEADLINE_MS = 120_000;

interface DemoFlags {
  nodes: number;
  maxConcurrent: ConcurrencyLimit;
  cron: string;
  failHost?: string;
  pdbMaxUnavailable: number;
  speed?: boolean;
  keep?: boolean;
  bare?: boolean;
  realNodes?: boolean;
  timeout: number;
  verbose?: boolean;
  logFile?: string;
  script?: string;
  policy?: string;
  zones?: number;
  groups?: string;
}

function wholeNumber(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = wholeNumberIn(value, min, max);
    if (n === undefined || value.trim() !== value) {
      throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

function concurrency(value: string): ConcurrencyLimit {
  try {
    return parseMaxConcurrentUpdate(value);
  } catch (err) {
    if (isBrupopError(err)) throw new InvalidArgumentError('must be a positive integer or "unlimited"');
    throw err;
  }
}

function cronArg(value: string): string {
  try {
    parseSchedule(value, new Date(), "--cron");
    return value;
  } catch (err) {
    if (isBrupopError(err)) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** Checks that need more than one flag. Throws BRUPOP_E_CONFIG. */
export function checkDemoFlags(flags: DemoFlags, uid: number | undefined = process.getuid?.()): void {
  if (flags.realNodes === true) {
    if (flags.bare === true) throw new BrupopError("BRUPOP_E_CONFIG", "--real-nodes and --bare: choose one");
    checkRealNodeDemo(flags.nodes, uid);
  }
  checkFailHost(flags.failHost, flags.nodes, flags.realNodes === true ? REAL_NODE_PREFIX : undefined);
  const playground = [
    flags.script !== undefined && "--script",
    flags.policy !== undefined && "--policy",
    (flags.zones ?? 0) > 0 && "--zones",
    flags.groups !== undefined && "--groups",
  ].filter((f) => f !== false);
  if (playground.length > 0 && (flags.bare === true || flags.realNodes === true)) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `${playground.join(", ")}: only for the kwok demo (not with ${flags.bare === true ? "--bare" : "--real-nodes"})`,
    );
  }
  if (flags.bare === true && (flags.failHost !== undefined || flags.keep === true)) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      "--bare: brupop is not installed, so --fail-host and --keep do not apply",
    );
  }
}

/** The playground's files and labels, read and checked before anything starts. Throws BRUPOP_E_CONFIG. */
export function readPlayground(flags: DemoFlags): {
  script: ScriptStep[] | undefined;
  policy: PolicyManifest | undefined;
  group: { name: string; count: number } | undefined;
} {
  const group = flags.groups === undefined ? undefined : parseGroups(flags.groups);
  if (group !== undefined && group.count > flags.nodes) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `--groups: ${group.count} nodes in "${group.name}", but --nodes is ${flags.nodes}`,
    );
  }
  let script: ScriptStep[] | undefined;
  if (flags.script !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.script, "utf8");
    } catch (err) {
      throw new BrupopError(
        "BRUPOP_E_CONFIG",
        `--script: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    script = parseScript(text, flags.script, demoNodeNames(flags.nodes));
  }
  const policy = flags.policy === undefined ? undefined : readPolicyFile(flags.policy);
  return { script, policy, group };
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(KIT_COMMANDS.demo.description)
    .option("--nodes <n>", "number of nodes", wholeNumber("--nodes", 1, 200), 6)
    .option("--max-concurrent <n|unlimited>", "MAX_CONCURRENT_UPDATE for the controller", concurrency, 2)
    .option("--cron <expr>", "SCHEDULER_CRON_EXPRESSION (7 fields, UTC)", cronArg, "* * * * * * *")
    .option(
      "--fail-host <node>",
      "make this node's first prepare fail (it retries after the crash back-off, 3 min)",
    )
    .option(
      "--pdb-max-unavailable <n>",
      "maxUnavailable of the workload's PodDisruptionBudget (0 blocks every drain)",
      wholeNumber("--pdb-max-unavailable", 0, 200),
      1,
    )
    .option("--speed", "short host command times", false)
    .option("--keep", "keep the cluster running after the rollout (prints its kubeconfig)", false)
    .option("--bare", "only a cluster with labelled nodes, brupop not installed (to try the charts)", false)
    .option(
      "--real-nodes",
      "1-3 real nodes (containerd, kubelet; root) running brupop's image from its charts, instead of kwok nodes",
      false,
    )
    .option(
      "--timeout <seconds>",
      "give up after this long (exit 1)",
      wholeNumber("--timeout", 1, 86_400),
      900,
    )
    .option(
      "--policy <file>",
      "an UpdatePolicy (YAML, named default) applied at start; the controller honours it",
    )
    .option(
      "--zones <n>",
      "label the nodes topology.kubernetes.io/zone=zone-a… round-robin",
      wholeNumber("--zones", 0, 26),
      0,
    )
    .option("--groups <name=count>", "label the first COUNT nodes brupop.example/wave=NAME (e.g. canary=1)")
    .option(
      "--script <file>",
      "actions at times, one a line: `<seconds> release VERSION|pause|resume|fail-host NODE|unhealthy NODE|quit` (the keys' actions without a terminal)",
    )
    .option("--verbose", "log brupop's components (to a file on a terminal, else to stderr)", false)
    .option("--log-file <path>", "with --verbose: the log file (default: a new file in the temp dir)")
    .action(async (flags: DemoFlags) => {
      checkDemoFlags(flags);
      const play = readPlayground(flags);
      const [{ ensureControlPlane }, { runDemo }, { createLogger, silentLogger }] = await Promise.all([
        import("./build.js"),
        import("./run.js"),
        import("../../src/log.js"),
      ]);
      const tty = process.stdout.isTTY === true;
      const verbose = flags.verbose === true || flags.logFile !== undefined;
      // On a terminal the live view owns the screen: logs go to a file, never into the view.
      const logFile =
        verbose && (tty || flags.logFile !== undefined)
          ? (flags.logFile ??
            join(tmpdir(), `brupop-demo-${new Date().toISOString().replace(/[:.]/g, "-")}.log`))
          : undefined;
      const logger = !verbose
        ? silentLogger()
        : createLogger({
            name: "demo",
            level: "info",
            ...(logFile !== undefined && { destination: logFile }),
          });
      await ensureControlPlane();
      await runService(
        (stop) =>
          runDemo({
            nodes: flags.nodes,
            maxConcurrent: flags.maxConcurrent,
            cron: flags.cron,
            failHost: flags.failHost,
            pdbMaxUnavailable: flags.pdbMaxUnavailable,
            speed: flags.speed === true,
            keep: flags.keep === true,
            bare: flags.bare === true,
            realNodes: flags.realNodes === true,
            timeoutMs: flags.timeout * 1000,
            out: process.stdout,
            tty,
            size: () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 }),
            logger,
            logFile,
            signal: stop,
            script: play.script,
            policy: play.policy,
            zones: flags.zones,
            group: play.group,
          }),
        // Ctrl-C ends the demo with 130 (143 for SIGTERM), after it stopped its cluster.
        { onSignal: "signal", stopDeadlineMs: DEMO_STOP_DEADLINE_MS },
      );
    });
}
