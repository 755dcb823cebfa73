// Child processes of the test control plane. Each component runs in its own process group
// (detached) with stdout+stderr in a log file, so stop() can kill the whole group. Nothing may
// outlive the test run:
//  - stop() sends SIGTERM to the group, then SIGKILL after a grace period;
//  - a process-wide 'exit' hook SIGKILLs every group still registered (uncaught errors, a forgotten
//    stop(), process.exit());
//  - SIGINT/SIGTERM/SIGHUP handlers do the same and then re-raise the signal;
//  - a tiny detached "reaper" shell per cluster watches our pid and kills the groups listed in its
//    pid file if we die by SIGKILL, where no JS handler can run.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename } from "node:path";

import { BrupopError } from "../../src/errors.js";

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Short component name, used for the log file and in errors. */
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** File the cluster's reaper reads the process groups to kill from. */
  pidFile?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly pid: number;
  /** Resolves when the process exits (for any reason). Never rejects. */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly child: ChildProcess;

  constructor(opts: SpawnOptions) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    const fd = openSync(opts.logFile, "a");
    try {
      this.child = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ["ignore", fd, fd],
        detached: true, // own process group: kill(-pid) reaches every descendant
      });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    this.child.once("error", () => undefined); // spawn failures surface as pid === undefined below
    if (this.child.pid === undefined) {
      // spawn errors (ENOENT, EACCES) are reported asynchronously; pid is undefined then.
      throw new BrupopError("BRUPOP_E_TESTENV", `cannot start ${opts.name} (${opts.command})`, {
        command: opts.command,
      });
    }
    this.pid = this.child.pid;
    liveGroups.add(this.pid);
    if (opts.pidFile !== undefined) appendFileSync(opts.pidFile, `${this.pid}\n`);
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        // The group may still hold grandchildren; keep it registered only while stop() has not run.
        resolve(this.exitInfo);
      });
    });
    this.child.unref(); // a forgotten stop() must not keep the test process alive; the exit hook kills
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** SIGTERM the group, SIGKILL it after graceMs. Idempotent. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.running) {
      // While stopping, the child and the grace timer must keep the event loop alive: otherwise a
      // plain script whose last work is `await cluster.stop()` exits half-way through it.
      this.child.ref();
      killGroup(this.pid, "SIGTERM");
      let grace: NodeJS.Timeout | undefined;
      const timer = new Promise<"timeout">((r) => (grace = setTimeout(r, graceMs, "timeout")));
      const outcome = await Promise.race([this.exited, timer]);
      clearTimeout(grace);
      if (outcome === "timeout") {
        killGroup(this.pid, "SIGKILL");
        await this.exited;
      }
    }
    killGroup(this.pid, "SIGKILL"); // any stray grandchildren left in the group
    liveGroups.delete(this.pid);
  }

  /** The last `lines` lines of the log file. */
  async tail(lines = 40): Promise<string> {
    return tailFile(this.logFile, lines);
  }
}

export async function tailFile(file: string, lines: number): Promise<string> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch {
    return "(no log file)";
  }
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf
      .toString("utf8")
      .split("\n")
      .slice(-lines - 1)
      .join("\n");
  } finally {
    await fh.close();
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: already gone
  }
}

// ---- process-wide safety net -------------------------------------------------------------------

const liveGroups = new Set<number>();
const dirsToRemove = new Set<string>();
let hooksInstalled = false;

/** Number of process groups started and not yet stopped (tests use it to prove cleanup). */
export function liveProcessGroupCount(): number {
  return liveGroups.size;
}

/** Remove `dir` when the process exits abnormally (stop() removes it and unregisters normally). */
export function removeOnExit(dir: string, remove: boolean): void {
  if (remove) dirsToRemove.add(dir);
  else dirsToRemove.delete(dir);
}

function killAllSync(): void {
  for (const pgid of liveGroups) killGroup(pgid, "SIGKILL");
  liveGroups.clear();
  for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  dirsToRemove.clear();
}

export function installCleanupHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = (): void => {
      killAllSync();
      // Re-raise with the default disposition so the exit status still says "killed by signal".
      process.removeListener(sig, handler);
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/**
 * Starts the reaper: a detached shell that outlives us only to SIGKILL the process groups listed
 * in pidFile (and remove dir) once our pid is gone. Returns its process so stop() can end it.
 */
export function startReaper(pidFile: string, dir: string | undefined): ChildProcess {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'for p in $(cat "$2" 2>/dev/null); do kill -KILL -- "-$p" 2>/dev/null; done',
    'if [ -n "$3" ]; then rm -rf -- "$3"; fi',
  ].join("\n");
  const child = spawn(
    "bash",
    ["-c", script, "brupop-testenv-reaper", String(process.pid), pidFile, dir ?? ""],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  child.once("error", () => undefined);
  child.unref();
  return child;
}

/** Process groups listed in a reaper pid file (for diagnostics). */
export function readPidFile(pidFile: string): number[] {
  try {
    return readFileSync(pidFile, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

export function describeExit(p: ManagedProcess): string {
  const e = p.exit;
  if (e === undefined) return `${p.name} is running`;
  return `${p.name} (${basename(p.logFile)}) exited with ${e.signal ?? `code ${String(e.code)}`}`;
}
