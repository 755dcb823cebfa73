// A reusable brupop testbed on a REAL control plane: the in-process brupop apiserver (real TLS, real
// bound service-account tokens, real TokenReview), the CRD, an agent DaemonSet (its pods are what the
// tokens are bound to; kwok "runs" them), and for each kwok node a simulated Bottlerocket host
// (SimulatedFleet, one Unix socket each) driven by an in-process Agent.
//
// Reboots behave like a real node's: when a host starts rebooting its agent is killed (the kubelet
// would kill the pod) and the node is taken NotReady; when the host is back, a NEW agent starts (a new
// pod) and the node is Ready again.
//
// Used by test/e2e/agent.test.ts (through test/kit/testbed.ts), the agent benchmark
// (kit/bench/agents.ts), and meant for the controller e2e and `brupop demo`: play the controller with
// setSpec()/playController(), or run the real Controller against `testbed.namespace`. Kit, not
// product: the image never contains it (docs/adr/0006-product-and-kit-trees.md).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";

import { Agent, type AgentTimings } from "../../src/agent/agent.js";
import { NodeHealthChecks, type HealthCheckConfig } from "../../src/agent/health.js";
import {
  OwnObjectsWatch,
  SharedObjectsWatch,
  shadowsPath,
  type AgentObjects,
} from "../../src/agent/objects.js";
import { ApiserverClient, tokenFileProvider, type BrupopApiserverApi } from "../../src/apiserver/client.js";
import { Apiserver } from "../../src/apiserver/server.js";
import {
  BottlerocketApiClient,
  type BottlerocketClientOptions,
  type BottlerocketHost,
} from "../../src/bottlerocket/client.js";
import { SimulatedFleet } from "../simulator/fleet.js";
import type { HostDurations, RebootEvent, RebootedEvent } from "../simulator/host.js";
import type { ReleaseInput } from "../simulator/releases.js";
import { silentLogger } from "../../src/log.js";
import {
  AGENT_COMPONENT,
  AGENT_TOKEN_AUDIENCE,
  COMPONENT_LABEL,
  CRD_NAME,
  DEFAULT_NAMESPACE,
  nodeNameForShadow,
  shadowNameForNode,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../src/model/constants.js";
import { buildCrd } from "../../src/model/crd.js";
import { buildPolicyCrd } from "../../src/model/policy-crd.js";
import { POLICY_CRD_NAME } from "../../src/model/policy.js";
import type { ShadowSpec, ShadowStatus } from "../../src/model/shadow.js";
import type { ShadowState } from "../../src/model/state.js";
import { startCluster, type TestCluster } from "../testenv/cluster.js";
import { eventually, kube } from "../testenv/kube-call.js";
import { createCA, issueCert, type CertificateAuthority } from "../testenv/pki.js";
import { setTimeout as sleepTimer } from "node:timers/promises";
import { BrupopError } from "../../src/errors.js";
import { RawKubeRest } from "../testenv/raw-rest.js";
import { setPodReadiness } from "../testenv/pod-readiness.js";
import type { KubeAccess } from "../../src/k8s/access.js";

export const AGENT_SERVICE_ACCOUNT = "brupop-agent-service-account";
const TESTBED_LABEL = "brupop-e2e/testbed";

/** Where a call is in its life when a CallHook sees it. */
export type CallPhase = "before" | "after";
/**
 * Called around every host and apiserver call an agent makes, named `host.<method>` or
 * `apiserver.<method>`. Throwing in "before" keeps the call from happening (e.g. after killing the
 * agent: a crash just before the call).
 */
export type CallHook = (node: string, call: string, phase: CallPhase) => void | Promise<void>;

export interface TestbedOptions {
  /** An existing cluster (not stopped by the testbed); default a new one, stopped by stop(). */
  cluster?: TestCluster;
  /** Default brupop's namespace. Several testbeds on one cluster need different namespaces. */
  namespace?: string;
  releases?: readonly ReleaseInput[];
  hostDurations?: Partial<HostDurations>;
  agentTimings?: Partial<AgentTimings>;
  /** The agents' health gate checks beyond the Node (DaemonSet pods, selector, probe); default none. */
  health?: HealthCheckConfig;
  /** Poll intervals and limits of the agents' host clients (default: 25 ms polls, up to 100 ms). */
  hostClient?: Pick<BottlerocketClientOptions, "pollIntervalMs" | "maxPollIntervalMs" | "limits">;
  /**
   * How the agents' own watches (and brupop's apiserver) reach kube-apiserver; default the cluster's
   * kubeconfig. The chaos suite puts a CutProxy in between (kit/chaos: "cut-connections",
   * "cut-agent-connections").
   */
  kubeAccess?: { agents?: KubeAccess; apiserver?: KubeAccess };
  /** The apiserver's drain timings (default: fast retries and polls, 2 min deadline). */
  drain?: { retryIntervalMs?: number; pollIntervalMs?: number; timeoutMs?: number };
  /** Take the kwok node NotReady while its host reboots (default true). */
  nodeDownDuringReboot?: boolean;
  /** Start a new agent when a host is back from a reboot (default true). */
  restartAgentsAfterReboot?: boolean;
  /**
   * "own": each agent watches its own brs and Node with its own connection (like a pod; default);
   * "shared": one watch serves every agent (hundreds of agents in one process).
   */
  watch?: "own" | "shared";
  logger?: Logger;
}

export interface AddNodesOptions {
  version: string;
  /** Node names are `${namePrefix}${i}` (default "brupop-node-"). */
  namePrefix?: string;
  labels?: Record<string, string>;
  /** Start an agent on each new node (default true). */
  startAgents?: boolean;
}

interface NodeEntry {
  uid: string;
  tokenPath: string;
}

export interface ShadowObject {
  metadata: {
    name: string;
    resourceVersion: string;
    uid: string;
    ownerReferences?: { kind: string; name: string; uid: string }[];
  };
  spec?: Partial<ShadowSpec>;
  status?: ShadowStatus;
}

interface NodeObject {
  metadata: {
    name: string;
    uid: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: { unschedulable?: boolean };
}

export class BrupopTestbed {
  readonly cluster: TestCluster;
  readonly rest: RawKubeRest;
  readonly namespace: string;
  readonly apiserver: Apiserver;
  readonly fleet: SimulatedFleet;
  readonly ca: CertificateAuthority;
  readonly logger: Logger;
  /** See CallHook; settable at any time. */
  onCall: CallHook | undefined;
  /** Awaited when a host starts rebooting, after its agent is killed and before the node goes NotReady. */
  onReboot: ((e: RebootEvent) => void | Promise<void>) | undefined;
  /** Errors from reboot handling (a test should expect none). */
  readonly errors: Error[] = [];
  /** Every reboot the fleet performed, in order. */
  readonly reboots: RebootEvent[] = [];

  readonly #opts: TestbedOptions;
  readonly #ownsCluster: boolean;
  readonly #dir: string;
  readonly #shared: SharedObjectsWatch | undefined;
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #agents = new Map<string, Agent>();
  /** Aborting one crashes that node's agent. */
  readonly #crashes = new Map<string, AbortController>();
  /**
   * Where agents reach the apiserver, taken once: a closed server has no address, and a chaos run
   * (kit/chaos) kills the apiserver and starts a replacement on the same port.
   */
  readonly #apiserverUrl: string;
  readonly #chains = new Map<string, Promise<void>>();
  #stopped = false;

  private constructor(parts: {
    opts: TestbedOptions;
    cluster: TestCluster;
    ownsCluster: boolean;
    rest: RawKubeRest;
    namespace: string;
    apiserver: Apiserver;
    fleet: SimulatedFleet;
    ca: CertificateAuthority;
    dir: string;
    shared: SharedObjectsWatch | undefined;
    logger: Logger;
  }) {
    this.#opts = parts.opts;
    this.cluster = parts.cluster;
    this.#ownsCluster = parts.ownsCluster;
    this.rest = parts.rest;
    this.namespace = parts.namespace;
    this.apiserver = parts.apiserver;
    this.#apiserverUrl = parts.apiserver.url;
    this.fleet = parts.fleet;
    this.ca = parts.ca;
    this.#dir = parts.dir;
    this.#shared = parts.shared;
    this.logger = parts.logger;
    this.fleet.on("reboot", (e) => this.#chain(e.hostId, () => this.#onHostReboot(e)));
    this.fleet.on("rebooted", (e) => this.#chain(e.hostId, () => this.#onHostRebooted(e)));
  }

  static async start(opts: TestbedOptions = {}): Promise<BrupopTestbed> {
    if (opts.watch === "shared" && opts.kubeAccess?.agents !== undefined) {
      // The shared watch serves every agent from the testbed's own connection: the agents' access
      // would be ignored (a cut of it would cut nothing).
      throw new BrupopError(
        "BRUPOP_E_TESTENV",
        'testbed: kubeAccess.agents does not apply with watch: "shared"',
      );
    }
    const logger = opts.logger ?? silentLogger();
    const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
    const cluster = opts.cluster ?? (await startCluster());
    const rest = new RawKubeRest(cluster.kubeConfig);
    const dir = await mkdtemp(join(tmpdir(), "brupop-testbed-"));
    try {
      await kube(rest, "POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: namespace },
      });
      await kube(rest, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: AGENT_SERVICE_ACCOUNT },
      });

      // The apiserver's serving certificate, from a test CA (what cert-manager would mount).
      const ca = await createCA({ commonName: "brupop-testbed-root" });
      const serving = await issueCert({
        ca,
        commonName: "brupop-apiserver",
        dnsNames: ["brupop-apiserver", `brupop-apiserver.${namespace}.svc.cluster.local`],
        ipAddresses: ["127.0.0.1"],
        usage: "server",
      });
      await writeFile(join(dir, "tls.crt"), serving.certPem);
      await writeFile(join(dir, "tls.key"), serving.keyPem);
      await writeFile(join(dir, "ca.crt"), ca.certPem);
      const apiserver = await Apiserver.start({
        kubeConfig: opts.kubeAccess?.apiserver ?? cluster.kubeConfig,
        namespace,
        tlsDir: dir,
        logger: logger.child({ component: "apiserver" }),
        drain: { retryIntervalMs: 500, pollIntervalMs: 100, timeoutMs: 120_000, ...opts.drain },
      });

      await installCrd(rest, apiserver.url, ca.certPem);
      await installPolicyCrd(rest);
      await installAgentDaemonSet(rest, namespace);

      const fleet = await SimulatedFleet.create({
        releases: opts.releases,
        durations: {
          refresh: 100,
          prepare: 300,
          activate: 100,
          deactivate: 100,
          reboot: 500,
          ...opts.hostDurations,
        },
        onError: (hostId, err) => logger.warn({ hostId, err }, "simulated host error"),
      });
      let shared: SharedObjectsWatch | undefined;
      if (opts.watch === "shared") {
        shared = new SharedObjectsWatch({
          rest,
          namespace,
          logger,
          nodeLabelSelector: `${TESTBED_LABEL}=${namespace}`,
        });
        shared.start();
        await shared.waitForSync();
      }
      return new BrupopTestbed({
        opts,
        cluster,
        ownsCluster: opts.cluster === undefined,
        rest,
        namespace,
        apiserver,
        fleet,
        ca,
        dir,
        shared,
        logger,
      });
    } catch (err) {
      rest.close();
      await rm(dir, { recursive: true, force: true });
      if (opts.cluster === undefined) await cluster.stop();
      throw err;
    }
  }

  /**
   * Adds kwok nodes, a simulated host for each (on `opts.version`), waits for their agent pods,
   * requests a bound token for each, and starts their agents (unless told not to).
   */
  async addNodes(count: number, opts: AddNodesOptions): Promise<string[]> {
    const names = await this.cluster.addNodes(count, {
      namePrefix: opts.namePrefix ?? "brupop-node-",
      labels: {
        ...opts.labels,
        [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION,
        [TESTBED_LABEL]: this.namespace,
      },
    });
    await this.fleet.addHosts(names.map((id) => ({ id, version: opts.version })));
    const pods = await this.#agentPods(names);
    await Promise.all(
      names.map(async (name) => {
        const node = await kube<NodeObject>(this.rest, "GET", `/api/v1/nodes/${name}`);
        const pod = pods.get(name);
        if (pod === undefined) throw testbedError(`no agent pod on ${name}`);
        const tokenPath = join(this.#dir, `${name}.token`);
        await writeFile(tokenPath, await this.tokenFor(pod.name, pod.uid));
        this.#nodes.set(name, { uid: node.metadata.uid, tokenPath });
      }),
    );
    if (opts.startAgents !== false) for (const name of names) this.startAgent(name);
    return names;
  }

  /** A bound service-account token for an agent pod (what the kubelet projects into the pod). */
  async tokenFor(podName: string, podUid: string): Promise<string> {
    const tr = await kube<{ status: { token: string } }>(
      this.rest,
      "POST",
      `/api/v1/namespaces/${this.namespace}/serviceaccounts/${AGENT_SERVICE_ACCOUNT}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: [AGENT_TOKEN_AUDIENCE],
          expirationSeconds: 3600,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: podName, uid: podUid },
        },
      },
    );
    return tr.status.token;
  }

  async #agentPods(nodes: readonly string[]): Promise<Map<string, { name: string; uid: string }>> {
    const found = new Map<string, { name: string; uid: string }>();
    await eventually(`agent pods on ${nodes.join(", ")}`, 60_000, async () => {
      const list = await kube<{
        items: { metadata: { name: string; uid: string }; spec?: { nodeName?: string } }[];
      }>(this.rest, "GET", `/api/v1/namespaces/${this.namespace}/pods`, undefined, {
        query: { labelSelector: `${COMPONENT_LABEL}=${AGENT_COMPONENT}` },
      });
      for (const p of list.items) {
        const node = p.spec?.nodeName;
        if (node !== undefined && nodes.includes(node))
          found.set(node, { name: p.metadata.name, uid: p.metadata.uid });
      }
      return nodes.every((n) => found.has(n));
    });
    return found;
  }

  get nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  #node(node: string): NodeEntry {
    const entry = this.#nodes.get(node);
    if (entry === undefined) throw testbedError(`unknown node ${node}`);
    return entry;
  }

  /** The node's bound agent token file (what `brupop agent --token-path` reads). */
  tokenPath(node: string): string {
    return this.#node(node).tokenPath;
  }

  nodeUid(node: string): string {
    return this.#node(node).uid;
  }

  /** The CA that signed the apiserver's certificate, as a file (`brupop agent --ca-path`). */
  get caPath(): string {
    return join(this.#dir, "ca.crt");
  }

  agent(node: string): Agent | undefined {
    const a = this.#agents.get(node);
    return a?.alive === true ? a : undefined;
  }

  /** Starts a new agent for the node (killing the one running, if any: never two at once). */
  startAgent(node: string): Agent {
    const entry = this.#node(node);
    this.killAgent(node);
    const log = this.logger.child({ component: "agent" });
    // A dead process neither retries nor polls: once the agent is gone its clients stop waiting.
    let dead = false;
    const sleep = (ms: number): Promise<void> =>
      dead ? Promise.reject(testbedError("agent is gone")) : sleepTimer(ms);
    const apiClient = new ApiserverClient({
      baseUrl: this.#apiserverUrl,
      caPem: this.ca.certPem,
      nodeName: node,
      nodeUid: entry.uid,
      token: tokenFileProvider(entry.tokenPath),
      logger: log,
      attempts: 3,
      baseDelayMs: 100,
      maxDelayMs: 500,
      sleep,
    });
    const hostClient = new BottlerocketApiClient({
      socketPath: this.fleet.socketPath(node),
      pollIntervalMs: 25,
      maxPollIntervalMs: 100,
      sleep,
      ...this.#opts.hostClient,
    });
    let rest: RawKubeRest | undefined;
    let objects: AgentObjects;
    if (this.#shared !== undefined) {
      objects = this.#shared.forNode(node);
    } else {
      rest = new RawKubeRest(this.#opts.kubeAccess?.agents ?? this.cluster.kubeConfig);
      objects = new OwnObjectsWatch({ rest, namespace: this.namespace, nodeName: node, logger: log });
    }
    const crash = new AbortController();
    const agent = new Agent({
      nodeName: node,
      host: this.#intercept(node, "host", hostClient, HOST_METHODS),
      apiserver: this.#intercept(node, "apiserver", apiClient, APISERVER_METHODS),
      objects,
      ...(this.#opts.health && {
        health: new NodeHealthChecks({ kube: rest ?? this.rest, nodeName: node, config: this.#opts.health }),
      }),
      logger: log,
      timings: { loopIntervalMs: 500, ...this.#opts.agentTimings },
      signal: crash.signal,
    });
    this.#agents.set(node, agent);
    this.#crashes.set(node, crash);
    void agent.exited.then(() => {
      dead = true;
      apiClient.close();
      rest?.close();
    });
    agent.start();
    return agent;
  }

  /** Crashes the node's agent (if one runs). */
  killAgent(node: string): void {
    this.#crashes.get(node)?.abort();
  }

  /** A crash and a new agent right away (what a pod restart looks like). */
  restartAgent(node: string): Agent {
    return this.startAgent(node);
  }

  /** Wraps a client so every call passes the CallHook. */
  #intercept<T extends object>(
    node: string,
    prefix: string,
    target: T,
    methods: readonly (keyof T & string)[],
  ): T {
    const wrapped = Object.create(null) as Record<string, unknown>;
    for (const m of methods) {
      const fn = (target[m] as (...args: unknown[]) => Promise<unknown>).bind(target);
      wrapped[m] = async (...args: unknown[]): Promise<unknown> => {
        const call = `${prefix}.${m}`;
        await this.onCall?.(node, call, "before");
        const result = await fn(...args);
        await this.onCall?.(node, call, "after");
        return result;
      };
    }
    return wrapped as T;
  }

  // --- reboots ---

  #chain(node: string, step: () => Promise<void>): void {
    const prev = this.#chains.get(node) ?? Promise.resolve();
    const next = prev.then(step).catch((err: unknown) => {
      if (this.#stopped) return;
      const e = err instanceof Error ? err : new Error(String(err));
      this.errors.push(e);
      this.logger.error({ err: e, node }, "testbed reboot handling failed");
    });
    this.#chains.set(node, next);
  }

  async #onHostReboot(e: RebootEvent): Promise<void> {
    this.reboots.push(e);
    this.killAgent(e.hostId);
    await this.onReboot?.(e);
    if (this.#opts.nodeDownDuringReboot !== false && !this.#stopped) {
      await this.cluster.setNodeReady(e.hostId, false);
    }
  }

  async #onHostRebooted(e: RebootedEvent): Promise<void> {
    if (this.#stopped) return;
    // The new boot's agent starts at once (its watches and reads do not need the node Ready).
    if (this.#opts.restartAgentsAfterReboot !== false) this.startAgent(e.hostId);
    if (this.#opts.nodeDownDuringReboot !== false) await this.cluster.setNodeReady(e.hostId, true);
  }

  // --- the controller's side ---

  async shadow(node: string): Promise<ShadowObject> {
    return kube<ShadowObject>(this.rest, "GET", `${shadowsPath(this.namespace)}/${shadowNameForNode(node)}`);
  }

  /**
   * Sets a pod's Ready condition (and ContainersReady), as a kubelet would: how a test makes a node
   * come back unhealthy (a DaemonSet pod that does not get Ready after the reboot). Not Ready stays
   * so: neither kwok nor the kit's kubelet play after a reboot changes it back (pod-readiness.ts).
   */
  async setPodReady(namespace: string, name: string, ready: boolean): Promise<void> {
    await setPodReadiness(this.rest, namespace, name, ready);
  }

  async node(node: string): Promise<NodeObject> {
    return kube<NodeObject>(this.rest, "GET", `/api/v1/nodes/${node}`);
  }

  /** Every brs status in the namespace by node (one LIST), e.g. to wait for many nodes at once. */
  async statuses(): Promise<Map<string, ShadowStatus | undefined>> {
    const list = await kube<{ items: ShadowObject[] }>(this.rest, "GET", shadowsPath(this.namespace));
    const out = new Map<string, ShadowStatus | undefined>();
    for (const brs of list.items) {
      const node = nodeNameForShadow(brs.metadata.name);
      if (node !== undefined) out.set(node, brs.status);
    }
    return out;
  }

  /** Waits until every node's status satisfies `check` (one LIST per poll, fine for hundreds). */
  async waitForAll(
    nodes: readonly string[],
    what: string,
    check: (s: ShadowStatus) => boolean,
    timeoutMs = 120_000,
  ): Promise<void> {
    await eventually(`${nodes.length} nodes: ${what}`, timeoutMs, async () => {
      const all = await this.statuses();
      return nodes.every((n) => {
        const s = all.get(n);
        return s !== undefined && check(s);
      });
    });
  }

  /** Writes the brs spec, as the controller would. */
  async setSpec(node: string, state: ShadowState, version: string | null): Promise<void> {
    const spec: ShadowSpec = { state, version, state_transition_timestamp: new Date().toISOString() };
    await kube(
      this.rest,
      "PATCH",
      `${shadowsPath(this.namespace)}/${shadowNameForNode(node)}`,
      { spec },
      {
        contentType: "application/merge-patch+json",
      },
    );
  }

  /** Waits until the node's status satisfies `check`; `failOn` ends the wait early with an error. */
  async waitForStatus(
    node: string,
    what: string,
    check: (s: ShadowStatus) => boolean,
    opts: { timeoutMs?: number; failOn?: (s: ShadowStatus) => boolean } = {},
  ): Promise<ShadowStatus> {
    let last: ShadowStatus | undefined;
    let failed: ShadowStatus | undefined;
    await eventually(`${node}: ${what}`, opts.timeoutMs ?? 30_000, async () => {
      last = (await this.shadow(node)).status;
      if (last !== undefined && opts.failOn?.(last) === true) {
        failed = last;
        return true;
      }
      return last !== undefined && check(last);
    });
    if (failed !== undefined) {
      throw testbedError(`${node}: unexpected status while waiting for ${what}: ${JSON.stringify(failed)}`);
    }
    if (last === undefined) throw testbedError(`${node}: no status`);
    return last;
  }

  /**
   * Plays the controller for one node: Idle → StagedAndPerformedUpdate → RebootedIntoUpdate →
   * MonitoringUpdate → Idle on `version`, each spec written once the status reached the previous one.
   * `onState` hears each spec before it is written. An ErrorReset status fails the cycle.
   */
  async playController(
    node: string,
    version: string,
    opts: { onState?: (state: ShadowState) => void; stepTimeoutMs?: number } = {},
  ): Promise<ShadowStatus> {
    let status: ShadowStatus | undefined;
    for (const state of CYCLE) {
      opts.onState?.(state);
      await this.setSpec(node, state, version);
      status = await this.waitForStatus(node, `status ${state}`, (s) => s.current_state === state, {
        timeoutMs: opts.stepTimeoutMs,
        failOn: (s) => s.current_state === "ErrorReset",
      });
    }
    if (status === undefined) throw testbedError(`${node}: no status`);
    return status;
  }

  // --- teardown ---

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Stopping the cluster waits on processes that do not keep the event loop alive; without this a
    // script with nothing else to do would exit half-way through stop().
    const hold = setInterval(() => undefined, 60_000);
    try {
      await this.#teardown();
    } finally {
      clearInterval(hold);
    }
  }

  async #teardown(): Promise<void> {
    for (const node of this.#agents.keys()) this.killAgent(node);
    await Promise.allSettled(this.#chains.values());
    await this.#shared?.stop();
    await this.apiserver.close(1_000);
    await this.fleet.close();
    this.rest.close();
    await rm(this.#dir, { recursive: true, force: true });
    if (this.#ownsCluster) await this.cluster.stop();
  }
}

export const CYCLE: readonly ShadowState[] = [
  "StagedAndPerformedUpdate",
  "RebootedIntoUpdate",
  "MonitoringUpdate",
  "Idle",
];

const HOST_METHODS = [
  "osInfo",
  "updateStatus",
  "refresh",
  "prepare",
  "activate",
  "deactivate",
  "reboot",
  "versionLock",
  "setVersionLock",
] as const satisfies readonly (keyof BottlerocketHost)[];

const APISERVER_METHODS = [
  "createShadow",
  "updateStatus",
  "cordonAndDrain",
  "cordon",
  "uncordon",
  "excludeFromLb",
  "removeExclusionFromLb",
] as const satisfies readonly (keyof BrupopApiserverApi)[];

/** The CRD with its conversion webhook pointed at our in-process apiserver (created or re-pointed). */
async function installCrd(rest: RawKubeRest, apiserverUrl: string, caPem: string): Promise<void> {
  const crd = buildCrd() as {
    metadata: Record<string, unknown>;
    spec: { conversion: { webhook: { clientConfig: unknown } } };
  };
  crd.spec.conversion.webhook.clientConfig = {
    url: `${apiserverUrl}/crdconvert`,
    caBundle: Buffer.from(caPem).toString("base64"),
  };
  const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  const res = await rest.request("POST", path, { body: crd });
  if (res.status === 409) {
    const existing = await kube<{ metadata: { resourceVersion: string } }>(
      rest,
      "GET",
      `${path}/${CRD_NAME}`,
    );
    crd.metadata.resourceVersion = existing.metadata.resourceVersion;
    await kube(rest, "PUT", `${path}/${CRD_NAME}`, crd);
  } else if (res.status !== 201 && res.status !== 200) {
    throw new Error(`create CRD: HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  await eventually("CRD Established", 30_000, async () => {
    const got = await kube<{ status?: { conditions?: { type: string; status: string }[] } }>(
      rest,
      "GET",
      `${path}/${CRD_NAME}`,
    );
    return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
  });
}

/** The UpdatePolicy CRD (cluster-wide, no webhook): created once per cluster, then reused. */
async function installPolicyCrd(rest: RawKubeRest): Promise<void> {
  const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  const res = await rest.request("POST", path, { body: buildPolicyCrd() });
  if (res.status !== 201 && res.status !== 200 && res.status !== 409) {
    throw new Error(`create UpdatePolicy CRD: HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  await eventually("UpdatePolicy CRD Established", 30_000, async () => {
    const got = await kube<{ status?: { conditions?: { type: string; status: string }[] } }>(
      rest,
      "GET",
      `${path}/${POLICY_CRD_NAME}`,
    );
    return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
  });
}

/** The agent DaemonSet, like the real install (its pods hold the tokens; drains skip them). */
async function installAgentDaemonSet(rest: RawKubeRest, namespace: string): Promise<void> {
  await kube(rest, "POST", `/apis/apps/v1/namespaces/${namespace}/daemonsets`, {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "brupop-agent" },
    spec: {
      selector: { matchLabels: { [COMPONENT_LABEL]: AGENT_COMPONENT } },
      template: {
        metadata: { labels: { [COMPONENT_LABEL]: AGENT_COMPONENT } },
        spec: {
          serviceAccountName: AGENT_SERVICE_ACCOUNT,
          automountServiceAccountToken: false,
          nodeSelector: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION, [TESTBED_LABEL]: namespace },
          containers: [{ name: "agent", image: "registry.example/brupop:test" }],
        },
      },
    },
  });
}

function testbedError(message: string): BrupopError {
  return new BrupopError("BRUPOP_E_TESTENV", message);
}
