// `brupop status` / `kubectl brupop` end to end: kubeconfig → reader → snapshot(s) → output. Returns
// the exit code; every failure is one `error: ...` line on stderr and exit code 1.
import { type Terminal } from "./screen.js";
import { systemClock, type Clock } from "../clock.js";
import { KubeRest } from "../k8s/rest.js";
import { silentLogger, type Logger } from "../log.js";
import { buildFleetStatus } from "./core.js";
import { errorLine } from "./errors.js";
import { loadKubeConfig, StatusReader } from "./fetch.js";
import { renderStatus, type OutputFormat } from "./output.js";
import { watchStatus } from "./watch.js";

export interface StatusOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace: string;
  output: OutputFormat;
  watch?: boolean | undefined;
}

export interface StatusIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stdout, if it is a terminal (watch shows the table as a full-screen live view). */
  terminal?: Terminal | undefined;
  /** Ends a watch. */
  signal: AbortSignal;
  clock?: Clock;
  logger?: Logger;
  /** Print the stack of unexpected errors too. */
  debug?: boolean;
}

export async function runStatus(opts: StatusOptions, io: StatusIo): Promise<number> {
  const clock = io.clock ?? systemClock;
  let rest: KubeRest | undefined;
  try {
    const kc = loadKubeConfig(opts);
    const server = kc.getCurrentCluster()?.server ?? "(unknown server)";
    rest = new KubeRest(kc);
    const reader = new StatusReader(rest, opts.namespace, server);
    if (opts.watch === true) {
      await watchStatus(
        { rest, reader, clock, logger: io.logger ?? silentLogger() },
        { format: opts.output, terminal: io.terminal, write: io.out, signal: io.signal },
      );
    } else {
      const input = await reader.snapshot(() => clock.now());
      io.out(renderStatus(buildFleetStatus(input), opts.output, input.now));
    }
    return 0;
  } catch (err) {
    io.err(`${errorLine(err)}\n`);
    if (io.debug === true && err instanceof Error && err.stack !== undefined) io.err(`${err.stack}\n`);
    return 1;
  } finally {
    rest?.close();
  }
}
