// The benchmark's child processes: the controller as it ships (`brupop controller`, the bundle when
// dist/bundle exists), the shadow observer (bench/observer.ts) and one-shot measurement scripts.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { ObserverReport, ObserverRequest } from "../observer.js";
import { CHART_NODE_FLAGS } from "../../tools/bundle/compile-cache.js";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * `brupop` as a command line: the bundles as shipped (dist/bundle, `npm run bundle`) if present,
 * else the built CLI (dist/), else the sources through tsx.
 */
export function brupopCommand(): { argv: string[]; built: boolean } {
  const bundled = join(repoRoot, "dist", "bundle", "main.js");
  if (existsSync(bundled)) return { argv: [process.execPath, bundled], built: true };
  const built = join(repoRoot, "dist", "cli", "main.js");
  if (existsSync(built)) return { argv: [process.execPath, built], built: true };
  return {
    argv: [process.execPath, "--import", "tsx", join(repoRoot, "src", "cli", "main.ts")],
    built: false,
  };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function tail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.split("\n").slice(-lines).join("\n");
}

export interface ControllerProcessOptions {
  /** In-cluster access (KUBERNETES_SERVICE_HOST/PORT, BRUPOP_SERVICE_ACCOUNT_DIR), as deployed. */
  access: Record<string, string>;
  /** The image's ENV (bench/footprint.ts imageEnv), as deployed. */
  imageEnv: Record<string, string>;
  namespace: string;
  /** MAX_CONCURRENT_UPDATE: a number or "unlimited". */
  maxConcurrent: string;
  tickIntervalMs: number;
  metricsPort: number;
  logFile: string;
}

/** `brupop controller` as a child process (leader election on, as deployed). */
export class ControllerProcess {
  readonly child: ChildProcess;
  readonly command: string[];
  readonly #opts: ControllerProcessOptions;

  private constructor(child: ChildProcess, command: string[], opts: ControllerProcessOptions) {
    this.child = child;
    this.command = command;
    this.#opts = opts;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error("controller did not start");
    return this.child.pid;
  }

  static async start(opts: ControllerProcessOptions): Promise<ControllerProcess> {
    const { argv } = brupopCommand();
    const [exe, ...base] = argv as [string, ...string[]];
    const args = [
      ...CHART_NODE_FLAGS.controller,
      ...base,
      "controller",
      `--namespace=${opts.namespace}`,
      `--metrics-port=${opts.metricsPort}`,
      `--tick-interval=${opts.tickIntervalMs}`,
    ];
    const log = createWriteStream(opts.logFile, { flags: "a" });
    const child = spawn(exe, args, {
      // The pod's environment, not the bench's: the image's ENV and in-cluster access.
      env: {
        PATH: process.env.PATH,
        ...opts.imageEnv,
        ...opts.access,
        MAX_CONCURRENT_UPDATE: opts.maxConcurrent,
        POD_NAME: "bench-controller",
        MY_NODE_NAME: "bench-controller-node",
        TRACING_FILTER_DIRECTIVE: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const proc = new ControllerProcess(child, [exe, ...args], opts);
    await proc.#waitHealthy(60_000);
    return proc;
  }

  async #waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`controller exited with ${this.child.exitCode}:\n${await tail(this.#opts.logFile)}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${this.#opts.metricsPort}/healthz`);
        const body = (await res.json()) as { leader?: boolean };
        if (res.status === 200 && body.leader === true) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(
      `controller not healthy and leading after ${timeoutMs} ms:\n${await tail(this.#opts.logFile)}`,
    );
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.#opts.metricsPort}/metrics`);
    return res.text();
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    const code = await Promise.race([exited(this.child), sleep(15_000).then(() => "timeout" as const)]);
    if (code === "timeout") {
      this.child.kill("SIGKILL");
      return exited(this.child);
    }
    return code;
  }

  logTail(): Promise<string> {
    return tail(this.#opts.logFile);
  }
}

/** The shadow observer child (bench/observer.ts). */
export class Observer {
  readonly #child: ChildProcess;
  readonly #waiters = new Map<number, (t: number) => void>();
  #next = 1;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (m: ObserverReport) => {
      if (m.type === "done") {
        this.#waiters.get(m.id)?.(m.t);
        this.#waiters.delete(m.id);
      }
    });
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  static async start(kubeconfig: string, namespace: string, eventsFile: string): Promise<Observer> {
    const child = fork(join(repoRoot, "bench", "observer.ts"), [kubeconfig, namespace, eventsFile], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: ObserverReport): void => {
        if (m.type !== "synced") return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve();
      };
      const onExit = (code: number | null): void => reject(new Error(`observer exited with ${code}`));
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
    return new Observer(child);
  }

  /** Resolves with the observer's time when every shadow is done with `version`, or null on timeout. */
  async waitDone(version: string, shadows: readonly string[], timeoutMs: number): Promise<number | null> {
    const id = this.#next++;
    const done = new Promise<number>((resolve) => this.#waiters.set(id, resolve));
    const msg: ObserverRequest = { type: "expect", id, version, nodes: [...shadows] };
    this.#child.send(msg);
    const t = await Promise.race([done, sleep(timeoutMs).then(() => null)]);
    this.#waiters.delete(id);
    return t;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const msg: ObserverRequest = { type: "stop" };
    this.#child.send(msg);
    const code = await Promise.race([exited(this.#child), sleep(10_000).then(() => "timeout" as const)]);
    if (code === "timeout") this.#child.kill("SIGKILL");
  }
}

/** Runs a one-shot TypeScript child (through tsx) and parses the last line of its stdout as JSON. */
export async function runJsonChild<T>(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<T> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(repoRoot, script), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const chunks: Buffer[] = [];
  child.stdout?.on("data", (c: Buffer) => chunks.push(c));
  const code = await exited(child);
  const lines = Buffer.concat(chunks).toString("utf8").trim().split("\n");
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(lines[lines.length - 1] ?? "null") as T;
}
