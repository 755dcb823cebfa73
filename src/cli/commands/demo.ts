// `brupop demo`: the main job. Flag parsing only; src/demo/run.ts does the work, loaded lazily so
// other commands do not pay for it.
import { InvalidArgumentError, type Command } from "commander";
import { parseMaxConcurrentUpdate } from "../../controller/config.js";
import type { ConcurrencyLimit } from "../../controller/decisions.js";
import { isBrupopError } from "../../errors.js";

interface DemoFlags {
  nodes: number;
  maxConcurrent: ConcurrencyLimit;
  cron: string;
  failHost?: string;
  speed?: boolean;
  keep?: boolean;
  timeout: number;
  verbose?: boolean;
}

function positiveInt(flag: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) {
      throw new InvalidArgumentError(`${flag} must be a whole number from 1 to ${max}`);
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

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "a live local fleet: a real control plane, simulated Bottlerocket nodes, brupop updating them",
    )
    .option("--nodes <n>", "number of nodes", positiveInt("--nodes", 200), 6)
    .option("--max-concurrent <n|unlimited>", "MAX_CONCURRENT_UPDATE for the controller", concurrency, 2)
    .option("--cron <expr>", "SCHEDULER_CRON_EXPRESSION (7 fields, UTC)", "* * * * * * *")
    .option("--fail-host <node>", "make this node's first prepare fail (it retries after its back-off)")
    .option("--speed", "short host command times")
    .option("--keep", "keep the cluster running after the rollout (prints its kubeconfig)")
    .option("--timeout <seconds>", "give up after this long", positiveInt("--timeout", 86_400), 900)
    .option("--verbose", "log brupop's components to stderr")
    .action(async (flags: DemoFlags) => {
      const [{ runDemo }, { createLogger, silentLogger }] = await Promise.all([
        import("../../demo/run.js"),
        import("../../log.js"),
      ]);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        process.exitCode = await runDemo({
          nodes: flags.nodes,
          maxConcurrent: flags.maxConcurrent,
          cron: flags.cron,
          failHost: flags.failHost,
          speed: flags.speed === true,
          keep: flags.keep === true,
          timeoutMs: flags.timeout * 1000,
          out: process.stdout,
          tty: process.stdout.isTTY,
          logger: flags.verbose === true ? createLogger({ name: "demo", level: "info" }) : silentLogger(),
          signal: abort.signal,
        });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
