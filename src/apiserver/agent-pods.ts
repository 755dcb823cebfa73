// Agent pods in our namespace, for the per-request "is this still an agent pod on that node" check.
// An informer (label brupop.bottlerocket.aws/component=agent) answers almost every lookup from memory;
// a miss falls back to one GET, because the pod may be newer than the watch, or may not be an agent
// (no label) — the decision then sees the real object. Only the few fields the check reads are kept.
import type { Logger } from "pino";
import { AGENT_COMPONENT, COMPONENT_LABEL } from "../model/constants.js";
import { Informer } from "../k8s/informer.js";
import { upstreamError } from "../k8s/node-ops.js";
import type { KubeRest } from "../k8s/rest.js";
import type { AgentPod } from "./authz.js";

interface RawPod {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec?: { nodeName?: string };
}

/** Keeps what authorizeCaller reads (and what the informer needs), drops the rest of the pod. */
export function slimPod(pod: RawPod): RawPod {
  const m = pod.metadata;
  return {
    metadata: {
      name: m?.name,
      namespace: m?.namespace,
      uid: m?.uid,
      resourceVersion: m?.resourceVersion,
      labels: m?.labels,
    },
    spec: { nodeName: pod.spec?.nodeName },
  };
}

export class AgentPodCache {
  readonly #rest: KubeRest;
  readonly #namespace: string;
  readonly #informer: Informer<RawPod>;

  constructor(rest: KubeRest, namespace: string, logger: Logger) {
    this.#rest = rest;
    this.#namespace = namespace;
    this.#informer = new Informer<RawPod>({
      rest,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      labelSelector: `${COMPONENT_LABEL}=${AGENT_COMPONENT}`,
      logger,
      transform: slimPod,
    });
  }

  get synced(): boolean {
    return this.#informer.synced;
  }

  start(): void {
    this.#informer.start();
  }

  waitForSync(): Promise<void> {
    return this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** The pod named `name` in our namespace, or undefined when it does not exist. */
  async get(name: string, signal?: AbortSignal): Promise<AgentPod | undefined> {
    const cached = this.#informer.get(name, this.#namespace);
    if (cached !== undefined) return cached;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/pods/${encodeURIComponent(name)}`;
    const res = await this.#rest.request<RawPod>("GET", path, { signal, timeoutMs: 10_000 });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw upstreamError(`GET pod ${name}`, res);
    return slimPod(res.body);
  }
}
