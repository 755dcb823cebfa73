// A real Prometheus for the tests (issue 31): started on 127.0.0.1:<free port> with a temporary
// config, rule files and TSDB, `--web.enable-lifecycle` so rule changes take effect by a reload,
// stopped and cleaned up by stop(). The binary is Debian's `prometheus` (installed by
// tools/testenv/install-prometheus.sh), or $BRUPOP_PROMETHEUS, or the Go build
// (tools/testenv/build-prometheus.sh) when that exists.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

import { BrupopError } from "../../src/errors.js";
import { installCleanupHooks, ManagedProcess, removeOnExit } from "./process.js";
import { prometheusBinary } from "./prometheus.js";

/** One `scrape_configs` entry (as Prometheus documents it; only what the tests use is typed). */
export interface ScrapeConfig {
  job_name: string;
  scheme?: "http" | "https";
  metrics_path?: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
  tls_config?: { ca_file?: string; server_name?: string; insecure_skip_verify?: boolean };
}

export interface PrometheusOptions {
  scrapeConfigs?: readonly ScrapeConfig[];
  /** Rule files by file name (content is a Prometheus rules file). */
  ruleFiles?: Readonly<Record<string, string>>;
  /** Files written next to the config (CA certificates for tls_config.ca_file), by name. */
  extraFiles?: Readonly<Record<string, string>>;
  /** Scrape and rule evaluation interval; default "1s" (tests want data fast). */
  interval?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "firing" | "pending" | "inactive";
  activeAt?: string;
  value: string;
}

export interface PromRule {
  name: string;
  type: "alerting" | "recording";
  health: string;
  lastError?: string;
  labels?: Record<string, string>;
  state?: string;
}

export interface PromRuleGroup {
  name: string;
  file: string;
  rules: PromRule[];
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  lastError: string;
}

/** Where the prometheus binary is: $BRUPOP_PROMETHEUS, `prometheus` on PATH, or the Go build. */
export function findPrometheus(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env["BRUPOP_PROMETHEUS"];
  if (explicit !== undefined && explicit !== "") return explicit;
  const onPath = which("prometheus", env);
  if (onPath !== undefined) return onPath;
  try {
    return prometheusBinary(env);
  } catch {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      "prometheus not found: run `bash tools/testenv/install-prometheus.sh` (Debian's prometheus) or set BRUPOP_PROMETHEUS",
    );
  }
}

/** `command -v name`, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const out = execFileSync("bash", ["-c", `command -v "$0"`, name], { encoding: "utf8", env }).trim();
    return out === "" ? undefined : out;
  } catch {
    return undefined;
  }
}

/** A TCP port free on 127.0.0.1 right now (a small race: the caller binds it next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PrometheusServer {
  readonly url: URL;
  readonly dir: string;
  readonly #process: ManagedProcess;
  readonly #opts: PrometheusOptions;
  #ruleFiles: Readonly<Record<string, string>>;

  private constructor(url: URL, dir: string, process: ManagedProcess, opts: PrometheusOptions) {
    this.url = url;
    this.dir = dir;
    this.#process = process;
    this.#opts = opts;
    this.#ruleFiles = opts.ruleFiles ?? {};
  }

  static async start(opts: PrometheusOptions = {}): Promise<PrometheusServer> {
    const binary = findPrometheus();
    installCleanupHooks();
    const dir = await mkdtemp(join(tmpdir(), "brupop-prometheus-"));
    removeOnExit(dir, true);
    try {
      for (const [name, content] of Object.entries(opts.extraFiles ?? {})) {
        await writeFile(join(dir, name), content);
      }
      await writeConfig(dir, opts, opts.ruleFiles ?? {});
      const port = await freePort();
      const proc = new ManagedProcess({
        name: "prometheus",
        command: binary,
        args: [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--web.enable-lifecycle",
          "--log.level=warn",
        ],
        logFile: join(dir, "prometheus.log"),
        cwd: dir,
      });
      const server = new PrometheusServer(new URL(`http://127.0.0.1:${port}/`), dir, proc, opts);
      try {
        await server.#waitReady(30_000);
      } catch (err) {
        await proc.stop(1_000);
        throw err;
      }
      return server;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      removeOnExit(dir, false);
      throw err;
    }
  }

  /** Replaces the rule files and reloads; resolves once Prometheus serves exactly these groups. */
  async setRules(ruleFiles: Readonly<Record<string, string>>): Promise<void> {
    for (const name of Object.keys(this.#ruleFiles)) {
      if (!(name in ruleFiles)) await rm(join(this.dir, "rules", name), { force: true });
    }
    this.#ruleFiles = ruleFiles;
    await writeConfig(this.dir, this.#opts, ruleFiles);
    const res = await fetch(new URL("-/reload", this.url), { method: "POST" });
    if (!res.ok) {
      throw new BrupopError("BRUPOP_E_TESTENV", `prometheus reload: HTTP ${res.status}: ${await res.text()}`);
    }
    const want = Object.keys(ruleFiles).map((f) => join(this.dir, "rules", f));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const files = new Set((await this.rules()).map((g) => g.file));
      if (files.size === want.length && want.every((f) => files.has(f))) return;
      if (Date.now() > deadline) {
        throw new BrupopError("BRUPOP_E_TESTENV", `prometheus did not load ${want.join(", ")}`);
      }
      await sleep(200);
    }
  }

  /** GET /api/v1/<path>; the `data` of a success answer, else throws with Prometheus's error. */
  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const url = new URL(`api/v1/${path}`, this.url);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url);
    const body = (await res.json()) as { status: string; data?: T; error?: string; errorType?: string };
    if (body.status !== "success" || body.data === undefined) {
      throw new BrupopError(
        "BRUPOP_E_TESTENV",
        `prometheus ${path}: ${body.errorType ?? res.status}: ${body.error ?? "no data"}`,
        { query: params["query"] ?? "" },
      );
    }
    return body.data;
  }

  /** An instant query; the samples of a vector result (a scalar becomes one unlabelled sample). */
  async query(expr: string): Promise<PromSample[]> {
    const data = await this.api<{ resultType: string; result: unknown }>("query", { query: expr });
    if (data.resultType === "vector") return data.result as PromSample[];
    if (data.resultType === "scalar") return [{ metric: {}, value: data.result as [number, string] }];
    throw new BrupopError("BRUPOP_E_TESTENV", `query ${expr}: ${data.resultType} result`);
  }

  async alerts(): Promise<PromAlert[]> {
    return (await this.api<{ alerts: PromAlert[] }>("alerts")).alerts;
  }

  async rules(): Promise<PromRuleGroup[]> {
    return (await this.api<{ groups: PromRuleGroup[] }>("rules")).groups;
  }

  async targets(): Promise<PromTarget[]> {
    return (await this.api<{ activeTargets: PromTarget[] }>("targets")).activeTargets;
  }

  /** The last lines of Prometheus's log (for a failing test's output). */
  log(lines = 30): Promise<string> {
    return this.#process.tail(lines);
  }

  async stop(): Promise<void> {
    await this.#process.stop(5_000);
    await rm(this.dir, { recursive: true, force: true });
    removeOnExit(this.dir, false);
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.#process.running) {
        throw new BrupopError("BRUPOP_E_TESTENV", `prometheus exited at start:\n${await this.log()}`);
      }
      try {
        if ((await fetch(new URL("-/ready", this.url))).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new BrupopError(
          "BRUPOP_E_TESTENV",
          `prometheus not ready in ${timeoutMs} ms:\n${await this.log()}`,
        );
      }
      await sleep(100);
    }
  }
}

async function writeConfig(
  dir: string,
  opts: PrometheusOptions,
  ruleFiles: Readonly<Record<string, string>>,
): Promise<void> {
  await mkdir(join(dir, "rules"), { recursive: true });
  for (const [name, content] of Object.entries(ruleFiles)) await writeFile(join(dir, "rules", name), content);
  const interval = opts.interval ?? "1s";
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: Object.keys(ruleFiles).map((name) => join(dir, "rules", name)),
    scrape_configs: opts.scrapeConfigs ?? [],
  };
  await writeFile(join(dir, "prometheus.yml"), stringify(config));
}
