// The set-up the apiserver e2e files share (test/e2e/apiserver, attack, drain-policy): a real
// control plane with brupop's namespace, its CRD whose conversion webhook is our in-process server,
// agents as DaemonSet pods with real bound service-account tokens, and raw HTTPS calls to the server.
import { request } from "node:https";
import { text } from "node:stream/consumers";

import {
  AGENT_TOKEN_AUDIENCE,
  UPDATER_INTERFACE_LABEL,
  UPDATER_INTERFACE_VERSION,
} from "../../src/model/constants.js";
import { buildCrd } from "../../src/model/crd.js";
import type { TestCluster } from "../../kit/testenv/cluster.js";
import { crdEstablished, type KubeFn, type Poll } from "./kube.js";

/** brupop's namespace and the agents' service account, as the install names them. */
export const BRUPOP_NS = "brupop-bottlerocket-aws";
export const AGENT_SA = "brupop-agent-service-account";

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
