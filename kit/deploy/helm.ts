// A small wrapper around the `helm` binary (built by tools/testenv/build.sh) for rendering and
// linting the charts. Helm gets a private, throw-away home (cache/config/data), so a developer's
// repositories and plugins never leak into what we render, and nothing is written to $HOME.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrupopError } from "../../src/errors.js";

export type ChartValues = Record<string, unknown>;

export interface TemplateOptions {
  /** Release name (default "brupop"); the charts do not use it in object names. */
  releaseName?: string;
  /** Values, passed as one values file (JSON is YAML). */
  values?: ChartValues;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Helm {
  readonly binary: string;
  readonly #home: string;
  #files = 0;

  private constructor(binary: string, home: string) {
    this.binary = binary;
    this.#home = home;
  }

  static async create(binary: string): Promise<Helm> {
    return new Helm(binary, await mkdtemp(join(tmpdir(), "brupop-helm-")));
  }

  /** Runs helm; resolves with the exit code (never rejects for a non-zero exit). */
  run(args: readonly string[]): Promise<HelmResult> {
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(this.#home, "cache"),
      HELM_CONFIG_HOME: join(this.#home, "config"),
      HELM_DATA_HOME: join(this.#home, "data"),
    };
    return new Promise((resolve, reject) => {
      execFile(this.binary, args, { env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err === null) return resolve({ code: 0, stdout, stderr });
        if (typeof err.code === "number") return resolve({ code: err.code, stdout, stderr });
        reject(
          new BrupopError(
            "BRUPOP_E_TESTENV",
            `cannot run ${this.binary}: ${err.message}`,
            {},
            { cause: err },
          ),
        );
      });
    });
  }

  /** `helm template`; throws with helm's message when rendering fails. */
  async template(chartDir: string, opts: TemplateOptions = {}): Promise<string> {
    const args = [
      "template",
      opts.releaseName ?? "brupop",
      chartDir,
      ...(await this.#valuesArgs(opts.values)),
    ];
    return this.#ok(await this.run(args), args).stdout;
  }

  /** `helm lint --strict`; throws with helm's report when the chart has errors or warnings. */
  async lint(chartDir: string, values?: ChartValues): Promise<string> {
    const args = ["lint", "--strict", chartDir, ...(await this.#valuesArgs(values))];
    return this.#ok(await this.run(args), args).stdout;
  }

  async close(): Promise<void> {
    await rm(this.#home, { recursive: true, force: true });
  }

  async #valuesArgs(values: ChartValues | undefined): Promise<string[]> {
    if (values === undefined) return [];
    const file = join(this.#home, `values-${this.#files++}.json`);
    await writeFile(file, JSON.stringify(values));
    return ["--values", file];
  }

  #ok(result: HelmResult, args: readonly string[]): HelmResult {
    if (result.code !== 0) {
      throw new BrupopError(
        "BRUPOP_E_TESTENV",
        `helm ${args.slice(0, 3).join(" ")} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`,
        { args: [...args], code: result.code },
      );
    }
    return result;
  }
}
