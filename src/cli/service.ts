// How a long-running command (a component, `status --watch`, the demo, a simulated host) ends: the
// first SIGTERM or SIGINT aborts the `stop` signal it runs with and it stops gracefully; a second
// signal, or a stop that overruns its deadline, ends the process at once. The exit code follows
// docs/cli.md: the components exit 0 after a signal (what Kubernetes expects); interactive commands
// report the signal, 130 for Ctrl-C and 143 for SIGTERM.
import { EXIT, signalExitCode } from "./exit.js";

/** The part of `process` runService uses (tests pass a fake). */
export interface ServiceProcess {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
  exitCode?: number | string | null | undefined;
}

export interface ServiceOptions {
  /**
   * After a signal: "ok" exits 0 (the components: a stop asked for is a clean end); "signal" keeps
   * the run's code, but a run that says it was interrupted (130) exits 130 for SIGINT and 143 for
   * SIGTERM (watching, the demo).
   */
  onSignal: "ok" | "signal";
  /** Once stopping, how long the run may take before the process is ended (exit 1). */
  stopDeadlineMs?: number;
  /** Exit the process when the run ends (something abandoned, a host poll, may hold it open). */
  exitWhenDone?: boolean;
  /** Told of the first signal (e.g. to log "shutting down"). */
  stopping?: (signal: NodeJS.Signals) => void;
  proc?: ServiceProcess;
  /** Where the overrun line goes (stderr). */
  writeErr?: (text: string) => void;
}

export const SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
/** Below Kubernetes' default terminationGracePeriodSeconds (30), so the log says why. */
export const DEFAULT_STOP_DEADLINE_MS = 25_000;

/** Resolves with the reason `signal` aborts with (the signal's name when runService aborted it). */
export function whenStopped(signal: AbortSignal): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (): void => resolve(signal.reason as NodeJS.Signals);
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs `run` until it ends; SIGTERM/SIGINT abort the signal it gets (its reason is the signal's
 * name). Sets `process.exitCode` from what `run` returns (void: 0) and the options; a throw is left
 * to the caller (runCli prints it and exits 1 or 2).
 */
export async function runService(
  run: (stop: AbortSignal) => Promise<number | void>,
  options: ServiceOptions,
): Promise<number> {
  const proc = options.proc ?? process;
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy !== undefined) {
      proc.exit(signalExitCode(signal)); // a second signal: stop waiting
      return;
    }
    stoppedBy = signal;
    options.stopping?.(signal);
    deadline = setTimeout(() => {
      (options.writeErr ?? ((t: string) => process.stderr.write(t)))(
        `error: did not stop within ${(options.stopDeadlineMs ?? DEFAULT_STOP_DEADLINE_MS) / 1000} s after ${signal}\n`,
      );
      proc.exit(EXIT.failed);
    }, options.stopDeadlineMs ?? DEFAULT_STOP_DEADLINE_MS);
    deadline.unref();
    stop.abort(signal);
  };
  for (const s of SIGNALS) proc.on(s, onSignal);
  let code: number;
  try {
    const result = (await run(stop.signal)) ?? EXIT.ok;
    code =
      stoppedBy === undefined
        ? result
        : options.onSignal === "ok"
          ? EXIT.ok
          : result === EXIT.interrupted
            ? signalExitCode(stoppedBy)
            : result;
  } finally {
    clearTimeout(deadline);
    for (const s of SIGNALS) proc.off(s, onSignal);
  }
  proc.exitCode = code;
  if (options.exitWhenDone === true) proc.exit(code);
  return code;
}
