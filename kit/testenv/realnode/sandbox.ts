// The sandbox real nodes run in: one PID + mount + network namespace made by `unshare` (the
// "sandbox init"), and one more mount namespace per node inside it (so each node has its own
// /run, /run/api.sock and /var/lib like a separate machine). Everything the real-node cluster
// changes lives in those namespaces and dies with them: addresses, bridges, veths, routes,
// iptables rules, net.* sysctls, mounts, pod network namespaces, every process (killing the
// sandbox init kills every process of its PID namespace, containers included).
//
// Two things cannot live in a namespace; both are journalled BEFORE they are made and undone by
// one cleanup script, run by stop() and by a reaper process if the test process dies by SIGKILL:
//  - cgroups: kubelet's cgroupRoot in every v1 hierarchy (pods' cgroups go below it);
//  - the temp dir.
// The kubelet's machine-wide kernel tunables (vm.overcommit_memory, kernel.panic, ...) are never
// written: inside the sandbox each /proc/sys file it would change is bind-mounted over with a
// plain file holding the current value, so the kubelet "sets" that file instead.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

import { BrupopError } from "../../../src/errors.js";
import { ManagedProcess } from "../process.js";

const execFileAsync = promisify(execFile);

/** Sysctls the kubelet's container manager sets machine-wide (setupKernelTunables). */
export const KUBELET_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
] as const;

const CGROUP_BASE = "/sys/fs/cgroup";

/**
 * Undo script: args are the journal file. Kills every sandbox init it lists (the kernel then
 * kills each process of those PID namespaces), kills what is left in the journalled cgroups and
 * removes them deepest first, then removes the journalled dirs. Idempotent. Passed with -c so
 * removing the dir (which holds the journal) cannot cut a running script short.
 */
export const CLEANUP_SCRIPT = String.raw`
j="$1"
[ -f "$j" ] || exit 0
mapfile -t lines <"$j"
for l in "${"$"}{lines[@]}"; do
  case "$l" in pid\ *) kill -KILL "${"$"}{l#pid }" 2>/dev/null ;; esac
done
for l in "${"$"}{lines[@]}"; do
  case "$l" in pid\ *)
    p="${"$"}{l#pid }"
    for _ in $(seq 100); do
      [ -d "/proc/$p" ] || break
      st="$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)"
      [ "$st" = Z ] && break
      sleep 0.1
    done ;;
  esac
done
for l in "${"$"}{lines[@]}"; do
  case "$l" in cgroup\ *)
    c="${"$"}{l#cgroup }"
    [ -d "$c" ] || continue
    for _ in $(seq 100); do
      left=0
      while read -r d; do
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; left=1; done
        rmdir "$d" 2>/dev/null || left=1
      done < <(find "$c" -depth -type d 2>/dev/null)
      [ "$left" = 0 ] && break
      [ -d "$c" ] || break
      sleep 0.1
    done ;;
  esac
done
for l in "${"$"}{lines[@]}"; do
  case "$l" in dir\ *) rm -rf -- "${"$"}{l#dir }" ;; esac
done
`;

export interface SandboxOptions {
  /** The temp dir (created by the caller, journalled here). */
  readonly dir: string;
  /** Addresses put on the namespace's `lo` (/32 each). */
  readonly addresses: readonly string[];
  /** cgroupRoot name (one path segment), created below it in every v1 hierarchy. */
  readonly cgroupName: string;
  /** Keep the dir after stop (logs) — cgroups and namespaces are always removed. */
  readonly keepDir?: boolean;
}

/** A mount namespace (the sandbox's or a node's) processes can be started in. */
export interface NamespaceHost {
  /** Host PID of that namespace's init: nsenter -t target. */
  readonly target: number;
}

export class Sandbox {
  readonly dir: string;
  readonly journal: string;
  readonly cgroupRoot: string;
  readonly logs: string;
  private init: ManagedProcess | undefined;
  private initPid = 0;
  private reaper: ChildProcess | undefined;
  private readonly servers: Server[] = [];
  private readonly procs: ManagedProcess[] = [];
  private stopped = false;

  private constructor(private readonly opts: SandboxOptions) {
    this.dir = opts.dir;
    this.journal = join(opts.dir, "journal");
    this.cgroupRoot = `/${opts.cgroupName}`;
    this.logs = join(opts.dir, "logs");
  }

  /** Creates the namespaces, the reaper, the cgroup root; see the module comment. */
  static async create(opts: SandboxOptions): Promise<Sandbox> {
    const s = new Sandbox(opts);
    await mkdir(s.logs, { recursive: true });
    writeFileSync(s.journal, "");
    if (opts.keepDir !== true) s.record(`dir ${opts.dir}`);
    s.reaper = startJournalReaper(s.journal);
    try {
      await s.createCgroups();
      await s.startInit();
      await s.setup();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  private record(line: string): void {
    appendFileSync(this.journal, `${line}\n`);
  }

  /** Every cgroup hierarchy mounted below /sys/fs/cgroup (v1, plus hybrid's v2 "unified"). */
  static async hierarchies(): Promise<string[]> {
    const mounts = await readFile("/proc/self/mountinfo", "utf8");
    const out: string[] = [];
    for (const line of mounts.split("\n")) {
      const [pre, post] = line.split(" - ");
      if (pre === undefined || post === undefined) continue;
      const mountPoint = pre.split(" ")[4];
      const fsType = post.split(" ")[0];
      // v1 hierarchies, and the v2 one of a hybrid setup ("unified"): the kubelet mirrors its
      // cgroups there too.
      const isCgroup = fsType === "cgroup" || fsType === "cgroup2";
      if (isCgroup && mountPoint?.startsWith(`${CGROUP_BASE}/`) === true) out.push(mountPoint);
    }
    return out.sort();
  }

  private async createCgroups(): Promise<void> {
    const hs = await Sandbox.hierarchies();
    if (hs.length === 0) {
      throw new BrupopError("BRUPOP_E_TESTENV", "real nodes need cgroup v1 hierarchies under /sys/fs/cgroup");
    }
    for (const h of hs) {
      const path = join(h, this.opts.cgroupName);
      this.record(`cgroup ${path}`);
      await mkdir(path, { recursive: true });
      if (h.endsWith("/cpuset")) {
        // A new cpuset has no cpus/mems: copy the parent's, or no task may join it.
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          await writeFile(join(path, f), await readFile(join(h, f), "utf8"));
        }
      }
    }
  }

  /** Creates the node's cgroup below the root, e.g. /brupop-x/node-0 (kubelet's cgroupRoot). */
  async createNodeCgroup(name: string): Promise<string> {
    for (const h of await Sandbox.hierarchies()) {
      const path = join(h, this.opts.cgroupName, name);
      await mkdir(path, { recursive: true });
      if (h.endsWith("/cpuset")) {
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          await writeFile(join(path, f), await readFile(join(h, this.opts.cgroupName, f), "utf8"));
        }
      }
    }
    return `${this.cgroupRoot}/${name}`;
  }

  private async startInit(): Promise<void> {
    // bash as PID 1 of the namespace: it reaps orphans (the kernel reparents them to it).
    this.init = new ManagedProcess({
      name: "sandbox-init",
      command: "unshare",
      args: [
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--mount",
        "--net",
        "--propagation",
        "private",
        "--",
        "bash",
        "-c",
        "trap '' TERM; while :; do sleep 3600 & wait $!; done",
      ],
      logFile: join(this.logs, "sandbox-init.log"),
    });
    this.record(`pid ${String(this.init.pid)}`);
    this.initPid = await childOf(this.init.pid);
    this.record(`pid ${String(this.initPid)}`);
  }

  private async setup(): Promise<void> {
    const sys = join(this.dir, "sysctl");
    await mkdir(sys);
    const binds = KUBELET_SYSCTLS.map((k) => {
      const file = join(sys, k.replaceAll("/", "."));
      return `cat /proc/sys/${k} >'${file}' && mount --bind '${file}' /proc/sys/${k}`;
    });
    await this.run(this.sandbox, [
      "set -e",
      "ip link set lo up",
      ...this.opts.addresses.map((a) => `ip addr add ${a}/32 dev lo`),
      // The namespace's own copy of net.ipv4.ip_forward (the bridge plugin would set it anyway).
      "sysctl -qw net.ipv4.ip_forward=1",
      ...binds,
    ]);
  }

  get sandbox(): NamespaceHost {
    return { target: this.initPid };
  }

  /** nsenter argv prefix for a process inside `ns` (its mount, network and PID namespaces). */
  wrap(ns: NamespaceHost, command: string, args: readonly string[]): { command: string; args: string[] } {
    return {
      command: "nsenter",
      args: ["-t", String(ns.target), "-m", "-n", "-p", "--", command, ...args],
    };
  }

  /** Runs a shell script inside `ns`; rejects with its stderr. */
  async run(ns: NamespaceHost, lines: readonly string[]): Promise<string> {
    const w = this.wrap(ns, "bash", ["-c", lines.join("\n")]);
    try {
      const { stdout } = await execFileAsync(w.command, w.args, { maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new BrupopError("BRUPOP_E_TESTENV", `sandbox command failed: ${e.stderr ?? e.message}`, {
        script: lines.join("; "),
      });
    }
  }

  /** Starts a long-running process inside `ns` (own process group, log in logs/<name>.log). */
  start(ns: NamespaceHost, name: string, command: string, args: readonly string[]): ManagedProcess {
    const w = this.wrap(ns, command, args);
    const p = new ManagedProcess({
      name,
      command: w.command,
      args: w.args,
      logFile: join(this.logs, `${name}.log`),
      cwd: this.dir,
    });
    this.procs.push(p);
    return p;
  }

  /** Starts a tracked process on the host itself (outside every namespace), stopped by stop(). */
  startOnHost(name: string, command: string, args: readonly string[]): ManagedProcess {
    const p = new ManagedProcess({
      name,
      command,
      args,
      logFile: join(this.logs, `${name}.log`),
      cwd: this.dir,
    });
    this.procs.push(p);
    return p;
  }

  /** Stops (SIGKILL) the running tracked processes called `name` and forgets them. */
  async stopProcess(name: string): Promise<void> {
    const mine = this.procs.filter((p) => p.name === name);
    for (const p of mine) await p.stop(0);
    for (const p of mine) this.procs.splice(this.procs.indexOf(p), 1);
  }

  /**
   * A node's own mount namespace inside the sandbox, with /run bound to `runDir` (so the host can
   * reach a node's /run/api.sock at runDir/api.sock) and a fresh tmpfs on /var/lib.
   */
  async nodeNamespace(name: string, runDir: string): Promise<{ ns: NamespaceHost; init: ManagedProcess }> {
    await mkdir(runDir, { recursive: true });
    const init = this.start(this.sandbox, `${name}-init`, "unshare", [
      "--mount",
      "--propagation",
      "private",
      "--",
      "bash",
      "-c",
      "trap '' TERM; while :; do sleep 3600 & wait $!; done",
    ]);
    const ns = { target: await childOf(init.pid) };
    // The child exists before it has called unshare(): mounts made then land in the SANDBOX's mount
    // namespace, and the node (kubelet, pods) would see the machine's /run — no host API socket.
    await untilOwnMountNamespace(ns.target, init.pid);
    await this.run(ns, [
      "set -e",
      `mount --bind '${runDir}' /run`,
      "mkdir -p /run/netns /run/containerd",
      "mount -t tmpfs -o mode=0755 tmpfs /var/lib",
      "mkdir -p /var/lib/kubelet /var/lib/cni",
    ]);
    return { ns, init };
  }

  /**
   * Makes 127.0.0.1:<port> on the host reach 127.0.0.1:<port> inside the sandbox, for each port
   * (a Unix socket per port in between; Unix sockets cross network namespaces). The host side
   * lives in this process, so keep using async child processes (kubectl, helm) meanwhile.
   */
  async forwardPorts(ports: readonly number[]): Promise<void> {
    const sockDir = join(this.dir, "fwd");
    await mkdir(sockDir, { recursive: true });
    const fwd = this.start(this.sandbox, "port-forward", process.execPath, [
      "-e",
      FORWARDER_SCRIPT,
      sockDir,
      ...ports.map(String),
    ]);
    for (let i = 0; ; i++) {
      if (ports.every((p) => existsSync(join(sockDir, `${String(p)}.sock`)))) break;
      if (!fwd.running || i > 100) {
        throw new BrupopError("BRUPOP_E_TESTENV", "port forwarder did not start", { log: fwd.logFile });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(
      ports.map(
        (port) =>
          new Promise<void>((resolve, reject) => {
            const server = createServer((c) => {
              const u = createConnection(join(sockDir, `${String(port)}.sock`));
              c.pipe(u).pipe(c);
              u.on("error", () => c.destroy());
              c.on("error", () => u.destroy());
            });
            server.once("error", reject);
            server.listen(port, "127.0.0.1", () => resolve());
            server.unref();
            this.servers.push(server);
          }),
      ),
    );
  }

  /** Stops every process, kills the namespaces, removes cgroups (and the dir). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.servers) s.close();
    // Kill the namespaces first: the kernel ends every process inside at once (no component's
    // graceful shutdown is worth waiting for in a throw-away cluster). Then reap our children.
    await runCleanup(this.journal);
    for (const p of [...this.procs].reverse()) await p.stop(1_000);
    await this.init?.stop(1_000);
    this.reaper?.kill("SIGKILL");
  }
}

const FORWARDER_SCRIPT = `
const net = require("node:net"), fs = require("node:fs");
const [dir, ...ports] = process.argv.slice(1);
for (const p of ports) {
  const path = dir + "/" + p + ".sock";
  try { fs.unlinkSync(path); } catch {}
  net.createServer((c) => {
    const u = net.connect(Number(p), "127.0.0.1");
    c.pipe(u).pipe(c);
    u.on("error", () => c.destroy());
    c.on("error", () => u.destroy());
  }).listen(path);
}
`;

/** The host PID of the only child of `pid` (unshare --fork / nsenter forks one). */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const kids = readFileSync(`/proc/${String(pid)}/task/${String(pid)}/children`, "utf8").trim();
      const first = kids.split(" ")[0];
      if (first !== undefined && first !== "") return Number(first);
    } catch {
      // not there yet, or gone (checked below)
    }
    if (!existsSync(`/proc/${String(pid)}`)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new BrupopError("BRUPOP_E_TESTENV", `no child of ${String(pid)} (did unshare/nsenter fail?)`);
}

/** Waits until `pid` is in a mount namespace of its own (not `parentPid`'s): unshare() has run. */
export async function untilOwnMountNamespace(pid: number, parentPid: number, proc = "/proc"): Promise<void> {
  const mnt = (p: number) => readlinkSync(`${proc}/${String(p)}/ns/mnt`);
  for (let i = 0; i < 400; i++) {
    try {
      if (mnt(pid) !== mnt(parentPid)) return;
    } catch {
      // gone: the caller's next step reports it
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new BrupopError("BRUPOP_E_TESTENV", `process ${String(pid)} never left its parent's mount namespace`);
}

export async function runCleanup(journal: string): Promise<void> {
  await execFileAsync("bash", ["-c", CLEANUP_SCRIPT, "brupop-realnode-cleanup", journal]);
}

/**
 * A detached shell that runs the cleanup once our pid is gone (SIGKILL included). stop() runs the
 * same cleanup itself and then kills the reaper.
 */
function startJournalReaper(journal: string): ChildProcess {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 0.5; done\nbash -c "$3" cleanup "$2"`;
  const child = spawn(
    "bash",
    ["-c", script, "brupop-realnode-reaper", String(process.pid), journal, CLEANUP_SCRIPT],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  child.once("error", () => undefined);
  child.unref();
  return child;
}

/** Cgroup dirs below `root` in every hierarchy (diagnostics and tests). */
export async function listCgroups(name: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of await Sandbox.hierarchies()) {
    const walk = async (d: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      out.push(d);
      for (const e of entries) if (e.isDirectory()) await walk(join(d, e.name));
    };
    await walk(join(h, name));
  }
  return out;
}
