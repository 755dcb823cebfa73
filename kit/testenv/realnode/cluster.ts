// A Kubernetes cluster with REAL nodes: the control plane of ../cluster.ts plus, per node,
// containerd + runc (Debian), a kubelet and a CNI bridge; one kube-proxy (iptables) and CoreDNS
// pods. Everything runs inside the sandbox's namespaces (sandbox.ts): no address, route, rule or
// mount appears on the machine, and stop() — or the reaper, after a SIGKILL — undoes the rest.
// Pods really run: the test images (pause, CoreDNS) are loaded from docker-archive files; with
// `registry: true` an OCI registry (../registry.ts, TLS from its own CA) runs on 127.0.0.1 inside
// the sandbox and every node's containerd pulls from it through a certs.d hosts.toml, as on a
// real cluster (brupop's image is pushed there with `npm run image -- --push`).
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";

import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";

import { BrupopError } from "../../../src/errors.js";
import { startCluster, type TestCluster } from "../cluster.js";
import { renderKubeconfig } from "../kubeconfig.js";
import { isNodeReady } from "../nodes.js";
import { requireBinaries, binDir as controlPlaneBinDir } from "../paths.js";
import { issueCert } from "../pki.js";
import type { ManagedProcess } from "../process.js";
import { startRegistry, type TestRegistry } from "../registry.js";
import {
  CONTROL_PLANE_IP,
  cniConfig,
  containerdConfig,
  corednsManifests,
  kubeletConfig,
  kubeProxyConfig,
  nodeIP,
  registryHostsToml,
  type NodePaths,
} from "./config.js";
import { readRealNodeVersions, requireRealNodeBinaries } from "./paths.js";
import { Sandbox, type NamespaceHost } from "./sandbox.js";
import { podUsage, type PodUsage } from "./stats.js";

const execFileAsync = promisify(execFile);

export interface StartRealNodeClusterOptions {
  /** Number of real nodes (default 2). */
  nodes?: number;
  /** docker-archive files loaded into every node's containerd (e.g. `npm run image`'s output). */
  images?: readonly string[];
  /** Labels every node registers with (kubelet --node-labels). */
  nodeLabels?: Readonly<Record<string, string>>;
  /** CoreDNS replicas (default: one per node; 0 = no CoreDNS). */
  corednsReplicas?: number;
  /** Keep the temp dirs (logs) after stop(); namespaces and cgroups are removed anyway. */
  keepDir?: boolean;
  /** Start-up deadline (default 180 s). */
  timeoutMs?: number;
  /** Real-node cache dir (default: build-realnode.sh's). */
  realNodeDir?: string;
  /**
   * Runs a TLS OCI registry on 127.0.0.1 inside the sandbox (reachable from the host at the same
   * address through a port forward); every node's containerd trusts it through
   * <dir>/registry-hosts/<host>/hosts.toml (`config_path`), never the machine's containerd config.
   */
  registry?: boolean;
}

export interface RealNode {
  readonly name: string;
  readonly index: number;
  readonly ip: string;
  /** The node's /run as seen from the host: a host API socket goes at `${runDir}/api.sock`. */
  readonly runDir: string;
  /** kubelet's cgroupRoot, e.g. /brupop-realnode-x/node-0 (pods' cgroups are below it). */
  readonly cgroupRoot: string;
}

export interface HostApiOptions {
  /** argv of `brupop` (default: this checkout's src/cli/main.ts through tsx). */
  brupop?: readonly string[];
  /** Extra `brupop simulate-host` flags, e.g. ["--current-version", "1.19.0", "--release", "1.20.0"]. */
  args?: readonly string[];
  /** Each line of its log as it is read, before a reboot line powers the node off (the chaos observer's reboot log). */
  onLine?: (line: string) => void;
}

/** A node daemon the chaos suite can kill and start again on its own (kit/chaos/realnode.ts). */
export type NodeDaemon = "kubelet" | "containerd";

export interface RealNodeCluster extends TestCluster {
  readonly nodes: readonly RealNode[];
  readonly sandbox: Sandbox;
  /** The registry the nodes pull from (StartRealNodeClusterOptions.registry), else undefined. */
  readonly registry: TestRegistry | undefined;
  /**
   * Serves a node's Bottlerocket host API with `brupop simulate-host` on the node's /run/api.sock
   * (the agent DaemonSet's hostPath). Its reboots are made real: when it logs "rebooting" the
   * node's kubelet, containerd, containers and mount namespace die (as in a power cycle); when it
   * logs "booted" the node starts again, and the kubelet restarts the node's pods.
   */
  startHostApi(node: string, opts?: HostApiOptions): Promise<ManagedProcess>;
  /** Kills a node like a power cut (kubelet, containerd, every container, its /run). */
  powerOff(node: string): Promise<void>;
  /** Boots a powered-off node again (containerd, kubelet; images survive on its disk). */
  powerOn(node: string): Promise<void>;
  /**
   * SIGKILLs one daemon of a powered-on node (its containers keep running: shims are their own
   * processes); false if it was not running.
   */
  killDaemon(node: string, daemon: NodeDaemon): Promise<boolean>;
  /**
   * Starts a killed (or exited) daemon again with the same flags, as systemd's Restart=always would;
   * false if the node is off or it runs.
   */
  startDaemon(node: string, daemon: NodeDaemon): Promise<boolean>;
  /** Number of reboots done by powerOff/powerOn per node. */
  reboots(node: string): number;
  /** Failures of the power cycles startHostApi triggered (empty when every reboot worked). */
  rebootErrors(): readonly string[];
  /** Memory working set and CPU of every running pod, from its cgroup (as `kubectl top`). */
  podUsage(): Promise<(PodUsage & { namespace: string; name: string })[]>;
}

interface NodeState {
  readonly node: RealNode;
  readonly paths: NodePaths;
  readonly kubeletConfigPath: string;
  readonly kubeconfigPath: string;
  readonly dir: string;
  ns: NamespaceHost | undefined;
  procs: ManagedProcess[];
  reboots: number;
  poweredOn: boolean;
}

export async function startRealNodeCluster(opts: StartRealNodeClusterOptions = {}): Promise<RealNodeCluster> {
  const { cacheDir, count } = checkPrerequisites(opts);
  const bin = join(cacheDir, "bin");
  const keep = opts.keepDir === true || process.env["BRUPOP_TESTENV_KEEP"] === "1";
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  const dir = await mkdtemp(join(tmpdir(), "brupop-realnode-"));
  const sandbox = await Sandbox.create({
    dir,
    addresses: [CONTROL_PLANE_IP, ...Array.from({ length: count }, (_, i) => nodeIP(i))],
    cgroupName: basename(dir),
    keepDir: keep,
  });
  let cluster: TestCluster | undefined;
  let registry: TestRegistry | undefined;
  const states: NodeState[] = [];
  const hostApis: { stop(): Promise<void> }[] = [];
  const rebootErrors: string[] = [];
  const stopAll = async (): Promise<void> => {
    for (const h of hostApis) await h.stop();
    await sandbox.stop(); // every node, pod and control-plane process dies with the namespaces
    await cluster?.stop(); // then only reaps them and removes the control plane's dir
    await registry?.stop();
  };
  try {
    cluster = await startCluster({
      wrapCommand: (command, args) => sandbox.wrap(sandbox.sandbox, command, args),
      exposePorts: (ports) => sandbox.forwardPorts(ports),
      servingIPs: [CONTROL_PLANE_IP],
      apiserverArgs: [
        "--bind-address=0.0.0.0",
        `--advertise-address=${CONTROL_PLANE_IP}`,
        // Real nodes need the `kubernetes` Service's endpoint (in-cluster clients).
        "--endpoint-reconciler-type=lease",
        "--kubelet-preferred-address-types=InternalIP",
      ],
      keepDir: keep,
      timeoutMs: Math.max(10_000, deadline - Date.now()),
    });
    const c = cluster;
    let registryHosts: string | undefined;
    if (opts.registry === true) {
      registry = await startRegistry({
        wrapCommand: (command, args) => sandbox.wrap(sandbox.sandbox, command, args),
        exposePort: (port) => sandbox.forwardPorts([port]),
        probe: (port) =>
          sandbox.run(sandbox.sandbox, [`exec 3<>/dev/tcp/127.0.0.1/${String(port)}`]).then(
            () => true,
            () => false,
          ),
      });
      registryHosts = join(dir, "registry-hosts");
      await mkdir(join(registryHosts, registry.host), { recursive: true });
      await writeFile(
        join(registryHosts, registry.host, "hosts.toml"),
        registryHostsToml(registry.host, registry.caFile),
      );
    }
    const apiPort = new URL(c.server).port;
    const resolvConf = join(dir, "resolv.conf");
    // Nothing outside the namespace is reachable, so no upstream resolver at all.
    await writeFile(resolvConf, "nameserver 127.0.0.1\noptions ndots:1\n");
    const labels = Object.entries(opts.nodeLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",");

    for (let i = 0; i < count; i++) {
      const name = `real-node-${String(i)}`;
      const ndir = join(dir, "nodes", name);
      const runDir = join(ndir, "run");
      const paths: NodePaths = {
        containerdRoot: join(ndir, "containerd"),
        // Like /run on a real machine, these are wiped by a reboot (runDir is the node's /run).
        containerdState: join(runDir, "containerd-state"),
        containerdSocket: join(ndir, "containerd.sock"),
        runcRoot: join(runDir, "runc"),
        cniConfDir: join(ndir, "cni"),
        ipamDir: join(ndir, "ipam"),
        kubeletRoot: join(ndir, "kubelet"),
        podLogsDir: join(ndir, "pod-logs"),
      };
      await Promise.all(
        [
          paths.containerdRoot,
          paths.cniConfDir,
          paths.ipamDir,
          paths.kubeletRoot,
          paths.podLogsDir,
          runDir,
        ].map((d) => mkdir(d, { recursive: true })),
      );
      const cgroupRoot = await sandbox.createNodeCgroup(name);
      const cert = await issueCert({
        ca: c.ca,
        commonName: `system:node:${name}`,
        organization: "system:nodes",
        usage: "client",
      });
      const kubeconfigPath = join(ndir, "kubelet.kubeconfig");
      await writeFile(
        kubeconfigPath,
        renderKubeconfig({
          server: `https://${CONTROL_PLANE_IP}:${apiPort}`,
          caCertPem: c.caCertPem,
          clientCertPem: cert.certPem,
          clientKeyPem: cert.keyPem,
          name,
        }),
        { mode: 0o600 },
      );
      const kubeletConfigPath = join(ndir, "kubelet.yaml");
      await Promise.all([
        writeFile(join(ndir, "containerd.toml"), containerdConfig(paths, registryHosts)),
        writeFile(join(paths.cniConfDir, "10-brupop.conflist"), cniConfig(i, paths.ipamDir)),
        writeFile(
          kubeletConfigPath,
          kubeletConfig({ index: i, paths, cgroupRoot, resolvConf, clientCAFile: c.caCertPath }),
        ),
      ]);
      states.push({
        node: { name, index: i, ip: nodeIP(i), runDir, cgroupRoot },
        paths,
        kubeletConfigPath,
        kubeconfigPath,
        dir: ndir,
        ns: undefined,
        procs: [],
        reboots: 0,
        poweredOn: false,
      });
    }

    const replicas = opts.corednsReplicas ?? count;
    const images = [
      join(cacheDir, "images", "pause.tar"),
      ...(replicas > 0 ? [join(cacheDir, "images", "coredns.tar")] : []),
      ...(opts.images ?? []),
    ];
    const startContainerd = (s: NodeState, ns: NamespaceHost): ManagedProcess => {
      const containerd = sandbox.start(ns, `${s.node.name}-containerd`, "containerd", [
        "--config",
        join(s.dir, "containerd.toml"),
      ]);
      s.procs.push(containerd);
      return containerd;
    };
    const startKubelet = (s: NodeState, ns: NamespaceHost): void => {
      const kubeletArgs = [
        `--config=${s.kubeletConfigPath}`,
        `--kubeconfig=${s.kubeconfigPath}`,
        `--hostname-override=${s.node.name}`,
        `--node-ip=${s.node.ip}`,
        `--root-dir=${s.paths.kubeletRoot}`,
        "--v=1",
      ];
      if (labels !== "") kubeletArgs.push(`--node-labels=${labels}`);
      s.procs.push(sandbox.start(ns, `${s.node.name}-kubelet`, join(bin, "kubelet"), kubeletArgs));
    };
    const boot = async (s: NodeState, loadImages: boolean): Promise<void> => {
      const { ns } = await sandbox.nodeNamespace(s.node.name, s.node.runDir);
      s.ns = ns;
      s.procs = [];
      const containerd = startContainerd(s, ns);
      await waitUntil(`${s.node.name} containerd`, deadlineOr(60_000), [containerd], () =>
        Promise.resolve(existsSync(s.paths.containerdSocket)),
      );
      if (loadImages) {
        for (const image of images) {
          await execFileAsync(
            "ctr",
            ["--address", s.paths.containerdSocket, "-n", "k8s.io", "images", "import", image],
            {
              maxBuffer: 16 * 1024 * 1024,
            },
          );
        }
      }
      startKubelet(s, ns);
      s.poweredOn = true;
    };
    const deadlineOr = (ms: number): number => Math.max(deadline, Date.now() + ms);

    // In parallel: loading the image into each node's containerd is the slow part (10-45 s).
    await Promise.all(states.map((s) => boot(s, true)));

    const [healthz, metrics] = [
      30_000 + Math.floor(Math.random() * 1000),
      31_000 + Math.floor(Math.random() * 1000),
    ];
    const proxyConfig = join(dir, "kube-proxy.yaml");
    await writeFile(proxyConfig, kubeProxyConfig(join(c.dir, "components.kubeconfig"), healthz, metrics));
    const proxy = sandbox.start(sandbox.sandbox, "kube-proxy", join(bin, "kube-proxy"), [
      `--config=${proxyConfig}`,
      "--v=1",
    ]);

    const core = c.kubeConfig.makeApiClient(CoreV1Api);
    const watched = (): ManagedProcess[] => [proxy, ...states.flatMap((s) => s.procs)];
    await waitUntil(`${String(count)} real nodes Ready`, deadline, watched(), async () => {
      const nodes = await Promise.all(
        states.map((s) => core.readNode({ name: s.node.name }).catch(() => undefined)),
      );
      return nodes.every((n) => n !== undefined && isNodeReady(n));
    });

    if (replicas > 0) {
      const { COREDNS_VERSION } = readRealNodeVersions();
      const manifests = corednsManifests(`registry.k8s.io/coredns/coredns:${COREDNS_VERSION}`, replicas);
      const file = join(dir, "coredns.json");
      await writeFile(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }));
      await c.kubectl(["apply", "-f", file]);
      const apps = c.kubeConfig.makeApiClient(AppsV1Api);
      await waitUntil("CoreDNS available", deadline, watched(), async () => {
        const d = await apps.readNamespacedDeployment({ name: "coredns", namespace: "kube-system" });
        return (d.status?.availableReplicas ?? 0) >= replicas;
      });
    }

    const byName = (name: string): NodeState => {
      const s = states.find((x) => x.node.name === name);
      if (s === undefined) throw new BrupopError("BRUPOP_E_TESTENV", `no real node ${name}`);
      return s;
    };
    const powerOff = async (name: string): Promise<void> => {
      const s = byName(name);
      if (!s.poweredOn) return;
      s.poweredOn = false;
      for (const p of [...s.procs].reverse()) await p.stop(0);
      s.procs = [];
      await killNodeLeftovers(s);
      s.ns = undefined;
      s.reboots++;
    };
    const powerOn = async (name: string): Promise<void> => {
      const s = byName(name);
      if (s.poweredOn) return;
      await boot(s, false);
    };

    const daemonName = (s: NodeState, d: NodeDaemon): string => `${s.node.name}-${d}`;
    const killDaemon = async (name: string, d: NodeDaemon): Promise<boolean> => {
      const s = byName(name);
      const p = s.procs.find((x) => x.name === daemonName(s, d) && x.running);
      if (!s.poweredOn || p === undefined) return false;
      s.procs = s.procs.filter((x) => x !== p);
      await p.stop(0);
      return true;
    };
    const startDaemon = async (name: string, d: NodeDaemon): Promise<boolean> => {
      const s = byName(name);
      const ns = s.ns;
      if (!s.poweredOn || ns === undefined || s.procs.some((x) => x.name === daemonName(s, d) && x.running))
        return false;
      // One that died on its own (a kubelet started while containerd was down exits) is replaced.
      s.procs = s.procs.filter((x) => x.name !== daemonName(s, d));
      if (d === "kubelet") {
        startKubelet(s, ns);
        return true;
      }
      const containerd = startContainerd(s, ns);
      // A killed containerd leaves its socket file behind: wait until it answers, so a kubelet started
      // next finds it (one that finds a dead socket exits).
      await waitUntil(`${s.node.name} containerd answering`, deadlineOr(60_000), [containerd], () =>
        socketAnswers(s.paths.containerdSocket),
      );
      return true;
    };

    const result: RealNodeCluster = {
      ...c,
      killDaemon,
      startDaemon,
      nodes: states.map((s) => s.node),
      sandbox,
      registry,
      powerOff,
      powerOn,
      reboots: (name) => byName(name).reboots,
      rebootErrors: () => [...rebootErrors],
      async podUsage() {
        const pods = await core.listPodForAllNamespaces();
        const byUid = new Map(pods.items.map((p) => [p.metadata?.uid ?? "", p.metadata]));
        const all = (await Promise.all(states.map((s) => podUsage(s.node.name, s.node.cgroupRoot)))).flat();
        return all.flatMap((u) => {
          const meta = byUid.get(u.podUid);
          return meta === undefined ? [] : [{ ...u, namespace: meta.namespace ?? "", name: meta.name ?? "" }];
        });
      },
      async startHostApi(name, hostOpts = {}) {
        const s = byName(name);
        const argv = hostOpts.brupop ?? defaultBrupop();
        const [command, ...pre] = argv;
        if (command === undefined) throw new BrupopError("BRUPOP_E_TESTENV", "empty brupop command");
        const sock = join(s.node.runDir, "api.sock");
        const p = sandbox.startOnHost(`${name}-host-api`, command, [
          ...pre,
          "simulate-host",
          "--socket",
          sock,
          "--host-id",
          name,
          ...(hostOpts.args ?? []),
        ]);
        const watcher = followLog(
          p.logFile,
          (line) => {
            hostOpts.onLine?.(line);
            // pino JSON lines: {"msg":"rebooting",...} / {"msg":"booted",...}
            if (line.includes('"msg":"rebooting"')) return powerOff(name);
            if (line.includes('"msg":"booted"')) return powerOn(name);
            return Promise.resolve();
          },
          (err) => rebootErrors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`),
        );
        hostApis.push({
          stop: async () => {
            watcher.stop();
            await p.stop();
          },
        });
        await waitUntil(`${name} host API socket`, Date.now() + 30_000, [p], () =>
          Promise.resolve(existsSync(sock)),
        );
        return p;
      },
      async dumpLogs(lines = 40) {
        const parts = [await c.dumpLogs(lines)];
        for (const f of await readdir(sandbox.logs).catch(() => [])) {
          parts.push(
            `----- last ${String(lines)} lines of ${f}\n${await tail(join(sandbox.logs, f), lines)}`,
          );
        }
        return parts.join("\n");
      },
      stop: stopAll,
    };
    return result;
  } catch (err) {
    const logs = await tailAll(sandbox.logs).catch(() => "");
    await stopAll();
    if (err instanceof BrupopError) {
      throw new BrupopError(err.code, `${err.message}\n${logs}`, err.details, { cause: err });
    }
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `real-node cluster failed to start: ${String(err)}\n${logs}`,
      {},
      { cause: err },
    );
  }

  /** After the node's processes died: its shims, containers, pod cgroups and /run go too. */
  async function killNodeLeftovers(s: NodeState): Promise<void> {
    // containerd-shim-runc-v2 daemonizes into its own session: find it by its containerd address.
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cmd.includes("containerd-shim") && cmd.includes(s.paths.containerdSocket)) killPid(Number(pid));
    }
    // Every container process of the node is in a cgroup below its root.
    const name = s.node.cgroupRoot.slice(1);
    for (let round = 0; round < 50; round++) {
      let left = 0;
      for (const h of await Sandbox.hierarchies()) left += killAndPruneCgroups(join(h, name));
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The node's mount namespace (pod netns bind mounts, its /var/lib tmpfs) dies with its init.
    await sandbox.stopProcess(`${s.node.name}-init`);
    // A reboot empties /run (tmpfs on a real machine); the host API socket is the host's own.
    for (const e of readdirSync(s.node.runDir)) {
      if (e !== "api.sock") rmSync(join(s.node.runDir, e), { recursive: true, force: true });
    }
  }
}

/** Bad input or a machine that cannot run real nodes: a clear error before anything is changed. */
function checkPrerequisites(opts: StartRealNodeClusterOptions): { cacheDir: string; count: number } {
  const count = opts.nodes ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 8) {
    throw new BrupopError("BRUPOP_E_TESTENV", `nodes must be 1..8, got ${String(count)}`);
  }
  if (process.getuid?.() !== 0) {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      "real nodes need root (namespaces, mounts, cgroups, containerd)",
    );
  }
  const cacheDir = requireRealNodeBinaries(opts.realNodeDir);
  requireBinaries(controlPlaneBinDir());
  return { cacheDir, count };
}

/** SIGKILLs every task below `root` and removes its (then empty) child cgroups; returns tasks seen. */
function killAndPruneCgroups(root: string): number {
  let seen = 0;
  for (const d of walkDirs(root).reverse()) {
    for (const pid of readProcs(join(d, "cgroup.procs"))) {
      killPid(pid);
      seen++;
    }
    if (d === root) continue;
    try {
      rmdirSync(d);
    } catch {
      // EBUSY while tasks remain; the caller retries
    }
  }
  return seen;
}

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
}

function readProcs(file: string): number[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

function walkDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    out.push(d);
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(root);
  return out;
}

function defaultBrupop(): string[] {
  const repo = join(import.meta.dirname, "..", "..", "..");
  const ts = join(repo, "src", "cli", "main.ts");
  // tsx by URL: processes run with the sandbox dir as cwd, where a bare "tsx" does not resolve.
  if (existsSync(ts)) return [process.execPath, "--import", import.meta.resolve("tsx"), ts];
  return [process.execPath, join(repo, "dist", "cli", "main.js")];
}

/** Calls onLine for each new line appended to `file` (polling; lines are handled in order). */
function followLog(
  file: string,
  onLine: (line: string) => Promise<void>,
  onError: (err: unknown) => void,
): { stop(): void } {
  const state = { offset: 0, partial: "" };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void readNewLines(file, state)
      .catch(() => [] as string[]) // no log yet
      .then(async (lines) => {
        for (const l of lines) await onLine(l);
      })
      .catch(onError)
      .finally(() => (busy = false));
  }, 100);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

async function readNewLines(file: string, state: { offset: number; partial: string }): Promise<string[]> {
  const fh = await open(file, "r");
  try {
    const { size } = await fh.stat();
    if (size <= state.offset) return [];
    const buf = Buffer.alloc(size - state.offset);
    await fh.read(buf, 0, buf.length, state.offset);
    state.offset = size;
    const lines = (state.partial + buf.toString("utf8")).split("\n");
    state.partial = lines.pop() ?? "";
    return lines;
  } finally {
    await fh.close();
  }
}

/** A unix socket accepts a connection. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

async function waitUntil(
  what: string,
  deadline: number,
  watched: readonly ManagedProcess[],
  check: () => Promise<boolean>,
): Promise<void> {
  let last: unknown;
  for (;;) {
    const dead = watched.find((p) => !p.running);
    if (dead !== undefined) {
      throw new BrupopError("BRUPOP_E_TESTENV", `while waiting for ${what}: ${dead.name} exited`, {
        log: dead.logFile,
      });
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new BrupopError("BRUPOP_E_TESTENV", `timed out waiting for ${what}`, {
        lastError: last instanceof Error ? last.message : String(last),
      });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function tail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .slice(-lines - 1)
    .join("\n");
}

async function tailAll(dir: string, lines = 25): Promise<string> {
  const parts: string[] = [];
  for (const f of await readdir(dir)) parts.push(`----- ${f}\n${await tail(join(dir, f), lines)}`);
  return parts.join("\n");
}
