// A real Kubernetes control plane for tests and `brupop demo`: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (simulated nodes), all on loopback with free
// ports, a throw-away PKI and a temp dir. Binaries come from tools/testenv/build.sh.
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

import { BrupopError } from "../../src/errors.js";
import { renderKubeconfig } from "./kubeconfig.js";
import {
  hasNodeProblemTaint,
  isNodeReady,
  KWOK_MANAGED_VALUE,
  KWOK_NODE_LABEL,
  kwokNodeManifest,
  markNodePodsReady,
  setNodeReady,
  type NodeOptions,
} from "./nodes.js";
import { createCA, createKeyPair, issueCert, type CertificateAuthority, type IssuedCert } from "./pki.js";
import { binDir as defaultBinDir, requireBinaries } from "./paths.js";
import {
  describeExit,
  installCleanupHooks,
  ManagedProcess,
  removeOnExit,
  startReaper,
  tailFile,
} from "./process.js";

const execFileAsync = promisify(execFile);

export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";
export const SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24";

export interface StartClusterOptions {
  /** Directory with the binaries (default: the cache dir of tools/testenv/build.sh). */
  binDir?: string;
  /** Extra kube-apiserver flags, appended last (so they win over ours), e.g. "--v=4". */
  apiserverArgs?: readonly string[];
  /** Start kube-controller-manager (default true; needed for GC, Deployments, PDB status, SAs). */
  controllerManager?: boolean;
  /** Start kube-scheduler (default true; without it pods must set spec.nodeName). */
  scheduler?: boolean;
  /** Start the kwok controller (default true; without it Nodes never become Ready). */
  kwok?: boolean;
  /**
   * Hook to route the admin client's traffic (kubeconfig file + `kubeConfig`), e.g. through a
   * counting TCP proxy for a benchmark. Gets the real server URL, returns the URL to use. The
   * serving cert covers 127.0.0.1 and localhost; other hosts should keep tlsServerName in mind.
   * Components always talk to the real server.
   */
  adminEndpoint?: (server: URL) => string | Promise<string>;
  /** Keep the temp dir (logs, etcd data) after stop(). Also set by BRUPOP_TESTENV_KEEP=1. */
  keepDir?: boolean;
  /** Overall start-up deadline (default 90 s). */
  timeoutMs?: number;
  /** Base directory for the temp dir (default os.tmpdir()). */
  tmpBase?: string;
  /**
   * Runs every component through a wrapper, e.g. `nsenter` into the network namespace of real
   * nodes (kit/testenv/realnode). Gets the binary and its args, returns what to spawn.
   */
  wrapCommand?: (command: string, args: readonly string[]) => { command: string; args: readonly string[] };
  /**
   * Called once the loopback ports are chosen, before any component starts (the real-node
   * sandbox forwards the host's 127.0.0.1:<port> into its namespace with it).
   */
  exposePorts?: (ports: readonly number[]) => Promise<void>;
  /** More IP addresses for the kube-apiserver serving certificate. */
  servingIPs?: readonly string[];
}

export interface AddNodesOptions extends NodeOptions {
  /** Node names are `${namePrefix}${i}` (default "kwok-node-"), i counting on across calls. */
  namePrefix?: string;
  /** How long to wait for the nodes to be Ready (default 30 s). */
  timeoutMs?: number;
}

export interface TestCluster {
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  readonly caCertPem: string;
  readonly caCertPath: string;
  /** The cluster CA (also signs the admin client cert); tests may issue more certs with it. */
  readonly ca: CertificateAuthority;
  readonly serviceAccountIssuer: string;
  readonly binDir: string;
  readonly dir: string;
  readonly logsDir: string;
  /** Creates kwok-managed Nodes and waits until they are Ready. Returns their names. */
  addNodes(count: number, opts?: AddNodesOptions): Promise<string[]>;
  /** Simulates a node going down (NotReady) or coming back (Ready); waits for the new status. */
  setNodeReady(name: string, ready: boolean, timeoutMs?: number): Promise<void>;
  /** Runs the matching kubectl against this cluster; resolves to stdout. */
  kubectl(args: readonly string[]): Promise<string>;
  /**
   * Stops a control-plane component as a crash would (SIGKILL), keeps it down `downMs`, starts it
   * again with the same flags (ports, certificates, etcd's data dir) and waits until it is healthy
   * (the chaos suite's kube-apiserver and etcd restarts). Other components ride it out.
   */
  restartComponent?(
    name: RestartableComponent,
    opts?: { downMs?: number; timeoutMs?: number },
  ): Promise<void>;
  /** The last lines of every component's log, for failure output. */
  dumpLogs(lines?: number): Promise<string>;
  /** Stops every process (process groups, SIGTERM then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
}

/** The components restartComponent can restart. */
export type RestartableComponent = "etcd" | "kube-apiserver";

/** Processes stopped on purpose (a restart): waitFor does not take their exit for a crash. */
const stoppedOnPurpose = new WeakSet<ManagedProcess>();

interface Paths {
  readonly dir: string;
  readonly logs: string;
  readonly pki: string;
  readonly pidFile: string;
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<TestCluster> {
  const bin = requireBinaries(opts.binDir ?? defaultBinDir());
  installCleanupHooks();
  const keep = opts.keepDir === true || process.env["BRUPOP_TESTENV_KEEP"] === "1";
  const dir = await mkdtemp(join(opts.tmpBase ?? tmpdir(), "brupop-testenv-"));
  const paths: Paths = { dir, logs: join(dir, "logs"), pki: join(dir, "pki"), pidFile: join(dir, "pgids") };
  await Promise.all([mkdir(paths.logs), mkdir(paths.pki), writeFile(paths.pidFile, "")]);
  removeOnExit(dir, !keep);
  const reaper = startReaper(paths.pidFile, keep ? undefined : dir);
  const procs: ManagedProcess[] = [];
  const hooks = withHookDefaults(opts);
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  const argsOf = new Map<string, readonly string[]>();
  const start = (name: string, args: readonly string[]): ManagedProcess => {
    argsOf.set(name, args);
    const wrapped = hooks.wrapCommand(join(bin, name), args);
    const p = new ManagedProcess({
      name,
      command: wrapped.command,
      args: wrapped.args,
      logFile: join(paths.logs, `${name}.log`),
      cwd: dir,
      pidFile: paths.pidFile,
    });
    procs.push(p);
    return p;
  };
  const stopAll = async (): Promise<void> => {
    // Reverse start order: clients first, etcd last, so nobody logs errors about a vanished server.
    for (const p of [...procs].reverse()) await p.stop();
    reaper.kill("SIGKILL");
    removeOnExit(dir, false);
    if (!keep) await rm(dir, { recursive: true, force: true });
  };
  const dumpLogs = async (lines = 40): Promise<string> => {
    const parts = await Promise.all(
      procs.map(
        async (p) => `----- ${describeExit(p)}; last ${lines} lines of ${p.logFile}\n${await p.tail(lines)}`,
      ),
    );
    return parts.join("\n");
  };

  try {
    const [pkiFiles, ports] = await Promise.all([writePki(paths.pki, hooks.servingIPs), freePorts(5)]);
    await hooks.exposePorts(ports);
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = ports as [
      number,
      number,
      number,
      number,
      number,
    ];
    const server = `https://127.0.0.1:${apiPort}`;

    const etcd = start("etcd", etcdArgs(join(dir, "etcd"), etcdClient, etcdPeer));
    await waitFor("etcd /health", deadline, [etcd], () => httpOk(`http://127.0.0.1:${etcdClient}/health`));

    const apiserver = start("kube-apiserver", [
      ...apiserverArgs(pkiFiles, etcdClient, apiPort),
      ...(opts.apiserverArgs ?? []),
    ]);
    const componentsKubeconfig = join(dir, "components.kubeconfig");
    await writeFile(componentsKubeconfig, renderKubeconfig({ server, ...pkiFiles.adminPems }), {
      mode: 0o600,
    });
    await waitFor("kube-apiserver /readyz", deadline, [etcd, apiserver], () =>
      httpsOk(`${server}/readyz`, pkiFiles.tls),
    );

    const watched = [etcd, apiserver];
    if (opts.controllerManager !== false) {
      watched.push(start("kube-controller-manager", kcmArgs(componentsKubeconfig, pkiFiles, kcmPort)));
    }
    if (opts.scheduler !== false) {
      watched.push(start("kube-scheduler", schedulerArgs(componentsKubeconfig, schedPort)));
    }
    if (opts.kwok !== false) {
      const kwokConfig = join(dir, "kwok.yaml");
      // An explicit (empty) config so a developer's ~/.kwok/kwok.yaml never leaks in.
      await writeFile(
        kwokConfig,
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n",
      );
      watched.push(start("kwok", kwokArgs(componentsKubeconfig, kwokConfig)));
    }

    const adminServer = opts.adminEndpoint === undefined ? server : await opts.adminEndpoint(new URL(server));
    const kubeconfigText = renderKubeconfig({
      server: adminServer,
      ...pkiFiles.adminPems,
      name: "brupop-testenv-admin",
    });
    const kubeconfigPath = join(dir, "admin.kubeconfig");
    await writeFile(kubeconfigPath, kubeconfigText, { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeconfigText);
    const core = kubeConfig.makeApiClient(CoreV1Api);

    if (opts.controllerManager !== false) {
      // The ServiceAccount admission plugin rejects pods until the token controller made it.
      await waitFor("default/default ServiceAccount", deadline, watched, async () => {
        await core.readNamespacedServiceAccount({ name: "default", namespace: "default" });
        return true;
      });
    }

    let nodeCounter = 0;
    const cluster: TestCluster = {
      server,
      kubeconfigPath,
      kubeConfig,
      caCertPem: pkiFiles.ca.certPem,
      caCertPath: pkiFiles.caCertPath,
      ca: pkiFiles.ca,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      binDir: bin,
      dir,
      logsDir: paths.logs,
      async addNodes(count, nodeOpts = {}) {
        const prefix = nodeOpts.namePrefix ?? "kwok-node-";
        const names = Array.from({ length: count }, () => `${prefix}${nodeCounter++}`);
        await Promise.all(names.map((name) => core.createNode({ body: kwokNodeManifest(name, nodeOpts) })));
        const until = Date.now() + (nodeOpts.timeoutMs ?? 30_000);
        await waitFor(`${count} kwok nodes Ready`, until, watched, async () => {
          const nodes = await Promise.all(names.map((name) => core.readNode({ name })));
          return nodes.every(isNodeReady);
        });
        return names;
      },
      async setNodeReady(name, ready, timeoutMs = 15_000) {
        await setNodeReady(core, name, ready, new Date());
        await waitFor(`node ${name} Ready=${String(ready)}`, Date.now() + timeoutMs, watched, async () => {
          const node: V1Node = await core.readNode({ name });
          // Back up means schedulable again: also wait for the node lifecycle controller to lift
          // the not-ready/unreachable taints it put on while the node was down.
          return isNodeReady(node) === ready && (!ready || !hasNodeProblemTaint(node));
        });
        if (ready) {
          // Like the kubelet after a reboot: report the node's pods Ready again (the node lifecycle
          // controller marked them not Ready while it was down; left so, they would hold every
          // PodDisruptionBudget that guards them at 0 disruptions allowed).
          await waitFor(`pods on ${name} Ready`, Date.now() + timeoutMs, watched, async () => {
            return (await markNodePodsReady(core, name, new Date())) === 0;
          });
        }
      },
      async kubectl(args) {
        const { stdout } = await execFileAsync(
          join(bin, "kubectl"),
          ["--kubeconfig", kubeconfigPath, ...args],
          {
            maxBuffer: 64 * 1024 * 1024,
          },
        );
        return stdout;
      },
      async restartComponent(name, restartOpts = {}) {
        const old = procs.find((p) => p.name === name && p.running);
        const args = argsOf.get(name);
        if (old === undefined || args === undefined)
          throw new BrupopError("BRUPOP_E_TESTENV", `restartComponent: ${name} is not running`);
        stoppedOnPurpose.add(old);
        await old.stop(0);
        await new Promise((r) => setTimeout(r, restartOpts.downMs ?? 0));
        const fresh = start(name, args);
        procs.splice(procs.indexOf(old), 1);
        // Keep start order (etcd first) for stopAll, and the watched list for waitFor.
        procs.splice(procs.indexOf(fresh), 1);
        procs.splice(name === "etcd" ? 0 : 1, 0, fresh);
        const w = watched.indexOf(old);
        if (w >= 0) watched[w] = fresh;
        const until = Date.now() + (restartOpts.timeoutMs ?? 90_000);
        if (name === "etcd") {
          await waitFor("etcd /health", until, [fresh], () =>
            httpOk(`http://127.0.0.1:${etcdClient}/health`),
          );
        } else {
          await waitFor("kube-apiserver /readyz", until, [fresh], () =>
            httpsOk(`${server}/readyz`, pkiFiles.tls),
          );
        }
      },
      dumpLogs,
      stop: stopAll,
    };
    return cluster;
  } catch (err) {
    const logs = await dumpLogs(30).catch(() => "");
    await stopAll();
    if (err instanceof BrupopError) {
      throw new BrupopError(err.code, `${err.message}\n${logs}`, err.details, { cause: err });
    }
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `test cluster failed to start: ${String(err)}\n${logs}`,
      {},
      { cause: err },
    );
  }
}

type Hooks = Required<Pick<StartClusterOptions, "wrapCommand" | "exposePorts" | "servingIPs">>;

function withHookDefaults(opts: StartClusterOptions): Hooks {
  return {
    wrapCommand: opts.wrapCommand ?? ((command, args) => ({ command, args })),
    exposePorts: opts.exposePorts ?? (() => Promise.resolve()),
    servingIPs: opts.servingIPs ?? [],
  };
}

// ---- component flags -----------------------------------------------------------------------------

function etcdArgs(dataDir: string, client: number, peer: number): string[] {
  const c = `http://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  return [
    "--name=default",
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${c}`,
    `--advertise-client-urls=${c}`,
    `--listen-peer-urls=${p}`,
    `--initial-advertise-peer-urls=${p}`,
    `--initial-cluster=default=${p}`,
    "--unsafe-no-fsync", // test data: durability buys nothing, fsync costs a lot on shared disks
    "--log-level=warn",
  ];
}

function apiserverArgs(pki: PkiFiles, etcdClient: number, port: number): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    // Without these two it picks the default-route interface and fails on hosts without one.
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${port}`,
    `--cert-dir=${pki.dir}`,
    `--tls-cert-file=${pki.servingCertPath}`,
    `--tls-private-key-file=${pki.servingKeyPath}`,
    `--client-ca-file=${pki.caCertPath}`,
    // A front-proxy CA nobody holds a cert of: without it every delegating component
    // (controller-manager, scheduler) logs "missing content for CA bundle" forever.
    `--requestheader-client-ca-file=${pki.frontProxyCaPath}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.saPublicKeyPath}`,
    `--service-account-signing-key-file=${pki.saPrivateKeyPath}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    "--authorization-mode=Node,RBAC",
    "--allow-privileged=true",
    "--endpoint-reconciler-type=none",
    "--profiling=false",
  ];
}

function kcmArgs(kubeconfig: string, pki: PkiFiles, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    "--leader-elect=false",
    `--root-ca-file=${pki.caCertPath}`,
    `--service-account-private-key-file=${pki.saPrivateKeyPath}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
    "--profiling=false",
  ];
}

function schedulerArgs(kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    "--leader-elect=false",
    "--profiling=false",
  ];
}

function kwokArgs(kubeconfig: string, config: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    "--manage-all-nodes=false",
    `--manage-nodes-with-label-selector=${KWOK_NODE_LABEL}=${KWOK_MANAGED_VALUE}`, // see nodes.ts
    "--node-lease-duration-seconds=40",
    "--cidr=10.128.0.1/16", // room for many simulated pod IPs
  ];
}

// ---- PKI files -----------------------------------------------------------------------------------

interface PkiFiles {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly caCertPath: string;
  readonly frontProxyCaPath: string;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  readonly saPublicKeyPath: string;
  readonly saPrivateKeyPath: string;
  readonly adminPems: { caCertPem: string; clientCertPem: string; clientKeyPem: string };
  readonly tls: { ca: string; cert: string; key: string };
}

async function writePki(dir: string, servingIPs: readonly string[]): Promise<PkiFiles> {
  const [ca, frontProxyCa] = await Promise.all([
    createCA({ commonName: "brupop-testenv-ca" }),
    createCA({ commonName: "brupop-testenv-front-proxy-ca" }),
  ]);
  const [serving, admin]: IssuedCert[] = await Promise.all([
    issueCert({
      ca,
      commonName: "kube-apiserver",
      dnsNames: [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      ipAddresses: ["127.0.0.1", "10.0.0.1", ...servingIPs],
      usage: "server",
    }),
    issueCert({ ca, commonName: "brupop-testenv-admin", organization: "system:masters", usage: "client" }),
  ]);
  if (serving === undefined || admin === undefined)
    throw new BrupopError("BRUPOP_E_TESTENV", "PKI generation failed");
  const sa = createKeyPair();
  const f = (n: string): string => join(dir, n);
  await Promise.all([
    writeFile(f("ca.crt"), ca.certPem),
    writeFile(f("ca.key"), ca.keyPem, { mode: 0o600 }),
    writeFile(f("front-proxy-ca.crt"), frontProxyCa.certPem),
    writeFile(f("apiserver.crt"), serving.certPem),
    writeFile(f("apiserver.key"), serving.keyPem, { mode: 0o600 }),
    writeFile(f("sa.pub"), sa.publicKeyPem),
    writeFile(f("sa.key"), sa.privateKeyPem, { mode: 0o600 }),
  ]);
  return {
    dir,
    ca,
    caCertPath: f("ca.crt"),
    frontProxyCaPath: f("front-proxy-ca.crt"),
    servingCertPath: f("apiserver.crt"),
    servingKeyPath: f("apiserver.key"),
    saPublicKeyPath: f("sa.pub"),
    saPrivateKeyPath: f("sa.key"),
    adminPems: { caCertPem: ca.certPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem },
    tls: { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem },
  };
}

// ---- small helpers -------------------------------------------------------------------------------

/** Distinct free loopback ports (bound at once so none is handed out twice). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Polls `check` until it returns true. Fails early, with a clear message, when one of the
 * `watched` processes exits (a crashed apiserver should not look like a 90 s timeout).
 */
async function waitFor(
  what: string,
  deadline: number,
  watched: readonly ManagedProcess[],
  check: () => Promise<boolean>,
): Promise<void> {
  let lastError: unknown;
  for (let delay = 50; ; delay = Math.min(delay * 2, 250)) {
    const dead = watched.find((p) => !p.running && !stoppedOnPurpose.has(p));
    if (dead !== undefined) {
      throw new BrupopError("BRUPOP_E_TESTENV", `while waiting for ${what}: ${describeExit(dead)}`, {
        log: dead.logFile,
      });
    }
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new BrupopError("BRUPOP_E_TESTENV", `timed out waiting for ${what}`, {
        lastError: lastError instanceof Error ? lastError.message : String(lastError),
      });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok;
}

function httpsOk(url: string, tls: { ca: string; cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 2_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Tail of a component log by name (for callers that only have the logs dir). */
export function tailLog(logsDir: string, component: string, lines = 40): Promise<string> {
  return tailFile(join(logsDir, `${component}.log`), lines);
}
