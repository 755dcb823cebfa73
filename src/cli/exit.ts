// How every brupop command ends, like kubectl: one `error: <message>` line on stderr, no stack trace
// (BRUPOP_DEBUG=1 adds the code and stack), and documented exit codes (docs/cli.md):
//   0 done · 1 failed · 2 usage or configuration error · 130 interrupted (Ctrl-C) · 143 terminated
// A reader that closes the pipe (`brupop status -o json | head -1`) ends the command quietly.
// Commander only as types: the agent's start (./run.ts) ends through here without loading it.
import type { Command, CommanderError } from "commander";
import { BrupopError } from "../errors.js";

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130, terminated: 143 } as const;

/** Exit code for a process stopped by `signal` (128 + its number, as a shell reports it). */
export function signalExitCode(signal: NodeJS.Signals | undefined): number {
  return signal === "SIGTERM" ? EXIT.terminated : EXIT.interrupted;
}

/** Commander's own errors (usage, help, version): their codes all start with "commander.". */
function isCommanderError(err: unknown): err is CommanderError {
  return (
    err instanceof Error &&
    typeof (err as Partial<CommanderError>).exitCode === "number" &&
    String((err as Partial<CommanderError>).code).startsWith("commander.")
  );
}

/** The exit code and the line (if any) for an error that ended a command. */
export function describeFailure(err: unknown, debug = false): { code: number; text: string } {
  if (isCommanderError(err)) {
    // Commander already printed its message (in our style, see styleCommander); help/version are 0.
    return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage, text: "" };
  }
  const message = err instanceof Error ? err.message : String(err);
  const config =
    err instanceof BrupopError && (err.code === "BRUPOP_E_CONFIG" || err.code === "BRUPOP_E_CRON");
  const extra =
    debug && err instanceof Error
      ? `${err instanceof BrupopError ? `code: ${err.code}\n` : ""}${err.stack ?? ""}\n`
      : "";
  return { code: config ? EXIT.usage : EXIT.failed, text: `error: ${message}\n${extra}` };
}

/** Commander's usage errors as `error: …` (its own style) with exit 2, and no process.exit inside. */
export function styleCommander(cmd: Command): Command {
  return cmd.exitOverride().configureOutput({
    outputError: (text, write) => write(text.startsWith("error: ") ? text : `error: ${text}`),
  });
}

/** A closed stdout/stderr pipe ends the process quietly (no EPIPE stack trace). */
export function quietOnClosedPipe(
  streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr],
): void {
  for (const s of streams) {
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(EXIT.ok);
      throw err;
    });
  }
}

/** Runs a CLI program to its end. */
export async function runCli(
  program: Command,
  args: readonly string[],
  from: "node" | "user",
): Promise<void> {
  await runReported(async () => void (await program.parseAsync(args, { from })));
}

/** Runs a command to its end: how it fails is one `error: …` line and the exit code above. */
export async function runReported(command: () => Promise<void>): Promise<void> {
  quietOnClosedPipe();
  try {
    await command();
  } catch (err) {
    const { code, text } = describeFailure(err, process.env["BRUPOP_DEBUG"] === "1");
    if (text !== "") process.stderr.write(text);
    process.exitCode = code;
  }
}
