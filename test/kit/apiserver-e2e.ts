// The set-up the apiserver e2e files share (test/e2e/apiserver, attack, drain-policy): a real
// control plane with brupop's namespace, its CRD whose conversion webhook is our in-process server,
// agents as DaemonSet pods with real bound service-account tokens, and raw HTTPS calls to the server.
// `ApiserverBed` puts them together for a file:
//
//   const e2e = new E2eCluster();
//   const bed = new ApiserverBed(e2e, { fleet: {...}, tlsPrefix: "...", agents: {...} });
//   before(() => bed.start());
//   after(() => bed.stop());
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { text } from "node:stream/consumers";

import {
  AGENT_COMPONENT,
  AGENT_TOKEN_AUDIENCE,
  COMPONENT_LABEL,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../src/model/constants.js";
import { Apiserver, type ApiserverOptions } from "../../src/apiserver/server.js";
import { silentLogger } from "../../src/log.js";
import { buildCrd } from "../../src/model/crd.js";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import type { E2eCluster } from "./e2e.js";
import { bindKube, crdEstablished, type KubeFn, type Poll } from "./kube.js";
import { eventuallyFast } from "./poll.js";
import { freshCert, tlsDir as makeTlsDir, type TlsDir } from "./tls.js";

/** brupop's namespace and the agents' service account, as the install names them. */
export const BRUPOP_NS = "brupop-bottlerocket-aws";
export const AGENT_SA = "brupop-agent-service-account";

/** The metadata the apiserver e2e files read of the objects they GET. */
export interface ObjMeta {
  name: string;
  uid: string;
  resourceVersion: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  deletionTimestamp?: string;
}

/** An object as those files read it (a Node, a pod, a shadow, a ConfigMap). */
export interface Obj {
  metadata: ObjMeta;
  spec?: Record<string, unknown> & { nodeName?: string; unschedulable?: boolean };
  status?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** One agent pod of the DaemonSet, with a token bound to it. */
export interface AgentIdentity {
  node: string;
  nodeUid: string;
  pod: string;
  podUid: string;
  token: string;
}

export interface Answer {
  status: number;
  body: unknown;
}

/** The three headers an agent sends, each overridable (to forge). */
export const agentHeaders = (
  a: AgentIdentity,
  over: Partial<Record<"node" | "uid" | "token", string>> = {},
): Record<string, string> => ({
  BrupopNodeName: over.node ?? a.node,
  BrupopNodeUid: over.uid ?? a.nodeUid,
  BrupopK8sAuthToken: over.token ?? a.token,
});

/** `text` parsed as JSON, or `text` itself when it is not JSON (metrics are text). */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export type HttpsCall = (
  method: string,
  path: string,
  headers?: Record<string, string | string[]>,
  body?: string | Buffer,
  opts?: { chunked?: boolean; contentType?: string },
) => Promise<Answer>;

/**
 * Raw HTTPS calls to the server `target()` names (for requests the client would never make). The
 * body is JSON unless `contentType` says otherwise; `chunked` sends it in 16 KiB chunks without a
 * Content-Length. The answer's body is parsed JSON, or the text when it is not JSON.
 */
export function httpsCaller(target: () => { url: string; caPem: string }): HttpsCall {
  return (method, path, headers = {}, body, opts = {}) => {
    const server = target();
    return new Promise((resolve, reject) => {
      const h: Record<string, string | string[]> = { ...headers };
      if (body !== undefined) {
        h["content-type"] = opts.contentType ?? "application/json";
        if (opts.chunked !== true) h["content-length"] = String(Buffer.byteLength(body));
      }
      const req = request(`${server.url}${path}`, { method, headers: h, ca: server.caPem }, (res) => {
        text(res).then(
          (answer) => resolve({ status: res.statusCode ?? 0, body: jsonOrText(answer) }),
          reject,
        );
      });
      req.on("error", reject);
      if (body !== undefined && opts.chunked === true) {
        // Several chunks, so the body really is streamed.
        const buf = Buffer.from(body);
        for (let i = 0; i < buf.length; i += 16 * 1024) req.write(buf.subarray(i, i + 16 * 1024));
        req.end();
      } else req.end(body);
    });
  };
}

/** A TokenRequest for `sa` in `namespace`, bound to `pod` when given. */
export async function requestToken(
  kube: KubeFn,
  namespace: string,
  sa: string,
  pod: { name: string; uid: string } | undefined,
  audience = AGENT_TOKEN_AUDIENCE,
): Promise<string> {
  const tr = await kube<{ status: { token: string } }>(
    "POST",
    `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        audiences: [audience],
        expirationSeconds: 3600,
        boundObjectRef:
          pod === undefined ? undefined : { apiVersion: "v1", kind: "Pod", name: pod.name, uid: pod.uid },
      },
    },
  );
  return tr.status.token;
}

/** A bare pod running as `sa`, bound to `node` (kwok runs it). */
export function createBarePod<T>(
  kube: KubeFn,
  namespace: string,
  pod: { name: string; node: string; labels: Record<string, string>; sa: string },
): Promise<T> {
  return kube<T>("POST", `/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod.name, labels: pod.labels },
    spec: {
      nodeName: pod.node,
      serviceAccountName: pod.sa,
      automountServiceAccountToken: false,
      containers: [{ name: "main", image: "registry.example/none:1" }],
    },
  });
}

/** brupop's CRD with its conversion webhook pointed at `serverUrl`, created and Established. */
export async function installCrd(
  kube: KubeFn,
  poll: Poll,
  namespace: string,
  server: { url: string; caPem: string },
): Promise<void> {
  const crd = buildCrd({ namespace }) as {
    spec: { conversion: { webhook: { clientConfig: unknown } } };
  };
  crd.spec.conversion.webhook.clientConfig = {
    url: `${server.url}/crdconvert`,
    caBundle: Buffer.from(server.caPem).toString("base64"),
  };
  await kube("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  await crdEstablished(kube, "bottlerocketshadows.brupop.bottlerocket.aws", 30_000, poll);
}

interface PodItem {
  metadata: { name: string; uid: string };
  spec?: { nodeName?: string };
}

/**
 * The agent DaemonSet on the brupop-managed nodes, like the real install, then one identity per node
 * in `nodes` (its pod, the node's uid, a token bound to the pod) into `agents`. The selector is
 * `selectorLabels`, narrower than the pods' labels, so the DaemonSet controller does not adopt (and
 * delete as surplus) the extra agent-labelled pods some tests create.
 */
export async function startAgents(
  kube: KubeFn,
  poll: Poll,
  opts: {
    namespace: string;
    sa: string;
    selectorLabels: Record<string, string>;
    podLabels: Record<string, string>;
    /** Which pods to take as agents. */
    labelSelector: string;
    nodes: readonly string[];
    agents: Map<string, AgentIdentity>;
  },
): Promise<void> {
  const { namespace, agents } = opts;
  await kube("POST", `/apis/apps/v1/namespaces/${namespace}/daemonsets`, {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "brupop-agent" },
    spec: {
      selector: { matchLabels: opts.selectorLabels },
      template: {
        metadata: { labels: { ...opts.selectorLabels, ...opts.podLabels } },
        spec: {
          serviceAccountName: opts.sa,
          automountServiceAccountToken: false,
          nodeSelector: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
          containers: [{ name: "agent", image: "registry.example/brupop:test" }],
        },
      },
    },
  });
  await poll("an agent pod on every node", 60_000, async () => {
    const pods = await kube<{ items: PodItem[] }>("GET", `/api/v1/namespaces/${namespace}/pods`, undefined, {
      query: { labelSelector: opts.labelSelector },
    });
    for (const p of pods.items) {
      const node = p.spec?.nodeName;
      if (node === undefined || agents.has(node)) continue;
      const nodeUid = (await kube<{ metadata: { uid: string } }>("GET", `/api/v1/nodes/${node}`)).metadata
        .uid;
      const token = await requestToken(kube, namespace, opts.sa, {
        name: p.metadata.name,
        uid: p.metadata.uid,
      });
      agents.set(node, { node, nodeUid, pod: p.metadata.name, podUid: p.metadata.uid, token });
    }
    return opts.nodes.every((n) => agents.has(n));
  });
}

/**
 * What an apiserver e2e file starts from on its fresh cluster: `nodes` brupop-managed nodes named
 * `prefix`…, the namespaces, and the service accounts ([namespace, name]); returns the nodes' names.
 */
export async function apiserverFleet(
  cluster: TestCluster,
  kube: KubeFn,
  o: {
    nodes: number;
    prefix: string;
    namespaces: readonly string[];
    serviceAccounts: readonly (readonly [string, string])[];
  },
): Promise<string[]> {
  const names = await cluster.addNodes(o.nodes, {
    namePrefix: o.prefix,
    labels: { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
  });
  for (const name of o.namespaces)
    await kube("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  for (const [ns, name] of o.serviceAccounts)
    await kube("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name },
    });
  return names;
}

export interface ApiserverBedOptions {
  /** How many brupop-managed nodes, named `prefix`… (apiserverFleet). */
  nodes: number;
  prefix: string;
  /** Namespaces and service accounts ([namespace, name]) beyond brupop's and its agents'. */
  namespaces?: readonly string[];
  serviceAccounts?: readonly (readonly [string, string])[];
  /** The serving certificate's temporary directory's prefix. */
  tlsPrefix: string;
  /** A serving certificate of the bed's own, not the process's shared one (for files that replace it). */
  freshCert?: boolean;
  /** Apiserver.start's options beyond namespace, tlsDir and logger (default: the cluster's kubeConfig). */
  server?: (cluster: TestCluster) => Omit<ApiserverOptions, "namespace" | "tlsDir" | "logger">;
  /** brupop's CRD with its conversion webhook pointed at the server (default true). */
  crd?: boolean;
  /**
   * The agent DaemonSet (startAgents, in BRUPOP_NS as AGENT_SA); default: selected by
   * `app.kubernetes.io/name=brupop-agent`, its pods labelled as agents, and the agents taken by that label.
   */
  agents?: Partial<Pick<Parameters<typeof startAgents>[2], "selectorLabels" | "podLabels" | "labelSelector">>;
}

/**
 * An apiserver e2e file's bed on its E2eCluster: the fleet, an in-process `brupop apiserver` serving
 * the kit's certificate (the CA's as ca.crt beside it, as cert-manager mounts it), the CRD, and one
 * agent identity per node. stop() undoes what start() got to.
 */
export class ApiserverBed {
  readonly #e2e: E2eCluster;
  readonly #o: ApiserverBedOptions;
  #server: Apiserver | undefined;
  #tls: TlsDir | undefined;
  #nodes: string[] = [];
  /** The agents by node name. */
  readonly agents = new Map<string, AgentIdentity>();

  constructor(e2e: E2eCluster, o: ApiserverBedOptions) {
    this.#e2e = e2e;
    this.#o = o;
  }

  /** For before(). */
  async start(): Promise<void> {
    const cluster = await this.#e2e.start();
    const kube = bindKube(this.#e2e.rest);
    const o = this.#o;
    this.#nodes = await apiserverFleet(cluster, kube, {
      nodes: o.nodes,
      prefix: o.prefix,
      namespaces: [BRUPOP_NS, ...(o.namespaces ?? [])],
      serviceAccounts: [[BRUPOP_NS, AGENT_SA], ...(o.serviceAccounts ?? [])],
    });
    const tls = await makeTlsDir(
      this.#o.tlsPrefix,
      this.#o.freshCert === true ? await freshCert() : undefined,
    );
    this.#tls = tls;
    await writeFile(join(tls.dir, "ca.crt"), tls.caPem);
    this.#server = await Apiserver.start({
      kubeConfig: cluster.kubeConfig,
      ...this.#o.server?.(cluster),
      namespace: BRUPOP_NS,
      tlsDir: tls.dir,
      logger: silentLogger(),
    });
    if (this.#o.crd !== false)
      await installCrd(kube, eventuallyFast, BRUPOP_NS, { url: this.server.url, caPem: tls.caPem });
    await startAgents(kube, eventuallyFast, {
      namespace: BRUPOP_NS,
      sa: AGENT_SA,
      selectorLabels: { "app.kubernetes.io/name": "brupop-agent" },
      podLabels: { [COMPONENT_LABEL]: AGENT_COMPONENT },
      labelSelector: `${COMPONENT_LABEL}=${AGENT_COMPONENT}`,
      ...this.#o.agents,
      nodes: this.#nodes,
      agents: this.agents,
    });
  }

  /** For after(). */
  async stop(): Promise<void> {
    await this.#server?.close(1_000);
    await this.#e2e.stop();
    await this.#tls?.remove();
  }

  get server(): Apiserver {
    if (this.#server === undefined) throw new Error("apiserver bed: start() first");
    return this.#server;
  }

  get tls(): TlsDir {
    if (this.#tls === undefined) throw new Error("apiserver bed: start() first");
    return this.#tls;
  }

  /** The fleet's node names, in order. */
  get nodes(): readonly string[] {
    return this.#nodes;
  }

  /** The agent on `node` (fails the test when there is none). */
  agent(node: string): AgentIdentity {
    const a = this.agents.get(node);
    assert.ok(a, `agent on ${node}`);
    return a;
  }

  /** Raw HTTPS calls to the bed's server (httpsCaller). */
  readonly call: HttpsCall = httpsCaller(() => ({ url: this.server.url, caPem: this.tls.caPem }));
}
