// The real Bottlerocket host API (v1.20.5's apiserver + thar-be-updates, built by
// tools/realhost/build.sh) as a test host: a state dir of its own, the apiserver started by
// tools/realhost/start-ns.sh inside a private mount namespace with shims for updog,
// thar-be-settings and the reboot, and a "boot" that restarts it on the image marked next to boot.
// Nothing outside the state dir changes; the real updog, signpost and reboot never run.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { raw } from "../../kit/simulator/test-helpers.js";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");
const START_NS = join(ROOT, "tools/realhost/start-ns.sh");
export const VARIANT = "aws-k8s-1.30";
/** v1.20.5's build id (what its os-release says). */
const BUILD_IDS: Record<string, string> = { "1.20.5": "a3e8bda1" };

/** Where tools/realhost/build.sh put the binaries. */
export function realHostBinDir(): string {
  return (
    process.env.BRUPOP_REALHOST_BIN_DIR ??
    join(process.env.BRUPOP_REALHOST_CACHE ?? join(homedir(), ".cache/brupop-realhost"), "bin")
  );
}

/** Why the real host cannot run here, or undefined when it can. */
export function realHostUnavailable(): string | undefined {
  const bin = realHostBinDir();
  if (!existsSync(join(bin, "COMPLETE"))) {
    return (
      `the real Bottlerocket host API is not built (no ${join(bin, "COMPLETE")}): run ` +
      "tools/realhost/build.sh <bottlerocket v1.20.5 tree> <bottlerocket-settings-sdk v0.1.0-alpha.2 tree> " +
      "(docs/testenv.md, 'The real host API')"
    );
  }
  if (process.getuid?.() !== 0)
    return "the real host needs root for its private mount namespace (overlay, binds)";
  if (spawnSync("unshare", ["--version"]).status !== 0) return "unshare (util-linux) is not installed";
  return undefined;
}

export interface RealHostOptions {
  version: string;
  /** Versions the repository offers besides the running one. */
  releases: string[];
  /** How long updog update-image takes (s). */
  prepareSeconds?: number;
}

type Command = "refresh" | "prepare" | "activate" | "deactivate";

interface StatusFile {
  staging_partition: { image: { version: string }; next_to_boot: boolean } | null;
}

export class RealHost {
  readonly dir: string;
  readonly socketPath: string;
  readonly #bin: string;
  #version: string;
  #proc: ChildProcess | undefined;
  /** Every process group this host started (a SIGKILLed apiserver may leave a child in its group). */
  readonly #groups: number[] = [];
  #boots = 0;
  readonly #repository = new Set<string>();

  private constructor(dir: string, bin: string, version: string) {
    this.dir = dir;
    this.socketPath = join(dir, "api.sock");
    this.#bin = bin;
    this.#version = version;
  }

  static async start(opts: RealHostOptions): Promise<RealHost> {
    const dir = await mkdtemp(join(tmpdir(), "brupop-realhost-"));
    const host = new RealHost(dir, realHostBinDir(), opts.version);
    try {
      await mkdir(join(dir, "faults"), { recursive: true });
      await mkdir(join(dir, "run/cache/thar-be-updates"), { recursive: true });
      await host.setReleases(opts.releases);
      await writeFile(join(dir, "prepare-seconds"), String(opts.prepareSeconds ?? 2));
      await writeFile(join(dir, "thar-be-updates.toml"), 'version-lock = "latest"\n');
      await writeFile(join(dir, "inventory.json"), '{"Content":[]}\n');
      host.#storewolf(opts.version);
      await host.#boot(true);
      // What settings-committer does at boot: commit storewolf's defaults.
      const launch = await raw(host.socketPath, "POST", "/tx/commit?tx=bottlerocket-launch");
      if (launch.status !== 200)
        throw new Error(`committing the launch settings: ${launch.status} ${launch.body}`);
      return host;
    } catch (err) {
      await host.stop();
      throw err;
    }
  }

  get version(): string {
    return this.#version;
  }

  /** The log of the apiserver (and everything it ran). */
  log(): Promise<string> {
    return readFile(join(this.dir, "apiserver.log"), "utf8").catch(() => "");
  }

  /**
   * The repository the updog shim lists: these versions and every version this host has run (it
   * was released: a real repository still lists it after the host moved on).
   */
  setReleases(versions: readonly string[]): Promise<void> {
    for (const v of versions) this.#repository.add(v);
    this.#repository.add(this.#version);
    return writeFile(join(this.dir, "releases"), [...this.#repository].map((v) => `${v}\n`).join(""));
  }

  /** The next command of this type fails (updog exits `exitStatus` with `stderr`). */
  async failNext(cmd: Command, stderr: string, exitStatus = 1): Promise<void> {
    await writeFile(join(this.dir, "faults", `${cmd}.exit`), String(exitStatus));
    await writeFile(join(this.dir, "faults", cmd), stderr);
  }

  /** Whether the API asked for a reboot (the systemctl shim logged it). */
  async rebootRequested(): Promise<boolean> {
    return (await readFile(join(this.dir, "reboots.log"), "utf8").catch(() => "")).trim() !== "";
  }

  /**
   * The host reboots: the apiserver stops, the image marked next to boot (status.json) becomes the
   * running one, the status is seeded as thar-be-updates would create it, and the API starts again.
   */
  async reboot(): Promise<void> {
    const status = JSON.parse(
      await readFile(join(this.dir, "run/cache/thar-be-updates/status.json"), "utf8"),
    ) as StatusFile;
    const staged = status.staging_partition;
    if (staged?.next_to_boot === true) this.#version = staged.image.version;
    await this.#kill("SIGTERM", true);
    await rm(join(this.dir, "reboots.log"), { force: true });
    await this.#boot(true);
  }

  /** SIGKILL the apiserver (a forked thar-be-updates keeps running and holding the lock), then start it again. */
  async killAndRestart(): Promise<void> {
    await this.#kill("SIGKILL");
    await this.#boot(false);
  }

  async stop(): Promise<void> {
    await this.#kill("SIGTERM", true);
    for (const pgid of this.#groups.splice(0)) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  #storewolf(version: string): void {
    const res = spawnSync(
      join(this.#bin, "storewolf"),
      [
        "--data-store-base-path",
        join(this.dir, "ds"),
        "--version",
        version,
        "--inventory-file-path",
        join(this.dir, "inventory.json"),
        "--inventory-file-symlink-path",
        join(this.dir, "inventory-link.json"),
      ],
      { encoding: "utf8" },
    );
    if (res.status !== 0) throw new Error(`storewolf failed (${res.status}): ${res.stderr}`);
  }

  /** Writes os-release (and, when `seed`, the status a first command creates) and starts the apiserver. */
  async #boot(seed: boolean): Promise<void> {
    const v = this.#version;
    // A new file each boot: a bind mount pins the inode it was made with.
    this.#boots++;
    const osRelease = [
      "NAME=Bottlerocket",
      "ID=bottlerocket",
      `VERSION="${v} (${VARIANT})"`,
      `PRETTY_NAME="Bottlerocket OS ${v} (${VARIANT})"`,
      `VARIANT_ID=${VARIANT}`,
      `VERSION_ID=${v}`,
      `BUILD_ID=${BUILD_IDS[v] ?? "0000000" + String(this.#boots)}`,
      "",
    ].join("\n");
    await rm(join(this.dir, "os-release"), { force: true });
    await writeFile(join(this.dir, "os-release"), osRelease);
    if (seed) {
      const status = {
        update_state: "Idle",
        available_updates: [],
        chosen_update: null,
        active_partition: { image: { arch: "x86_64", version: v, variant: VARIANT }, next_to_boot: true },
        staging_partition: null,
        most_recent_command: null,
      };
      await writeFile(
        join(this.dir, "run/cache/thar-be-updates/status.json"),
        JSON.stringify(status, null, 2),
      );
    }
    const log = openSync(join(this.dir, "apiserver.log"), "a");
    // detached: a session of its own (setsid); unshare and bash exec, so the pid is the apiserver's.
    const proc = spawn("unshare", ["-m", "--propagation", "private", "bash", START_NS, this.dir, this.#bin], {
      stdio: ["ignore", log, log],
      detached: true,
    });
    this.#proc = proc;
    if (proc.pid !== undefined) this.#groups.push(proc.pid);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null)
        throw new Error(`the apiserver exited (${proc.exitCode}):\n${await this.log()}`);
      const up = await raw(this.socketPath, "GET", "/os").then(
        (r) => r.status === 200,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline)
        throw new Error(`the apiserver did not answer in 15 s:\n${await this.log()}`);
      await sleep(50);
    }
  }

  /**
   * Signals the apiserver (the exec'd start-ns.sh). `group`: its whole process group too (a forked
   * thar-be-updates and its updog), as a shutdown would; without it a forked child lives on, as
   * after a crash of the apiserver.
   */
  async #kill(signal: NodeJS.Signals, group = false): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    const pid = proc?.pid;
    if (proc === undefined || pid === undefined) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      proc.kill(signal);
      await Promise.race([exited, sleep(5_000)]);
    }
    if (group) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // the group is empty already
      }
    }
  }
}
