// Agent pods in our namespace, for the per-request "is this still an agent pod on that node" check.
// An informer (label brupop.bottlerocket.aws/component=agent) answers almost every lookup from memory;
// a miss falls back to one GET, because the pod may be newer than the watch, or may not be an agent
// (no label) — the decision then sees the real object. Only the few fields the check reads are kept.
import type { Logger } from "pino";
import { AGENT_COMPONENT, COMPONENT_LABEL } from "../model/constants.js";
import { Informer } from "../k8s/informer.js";
import { ifFound, type KubeApi } from "../k8s/api.js";
import { paths, type KubePod } from "../k8s/objects.js";
import type { AgentPod } from "./authz.js";

/** Keeps what authorizeCaller reads (and what the informer needs), drops the rest of the pod. */
export function slimPod(pod: KubePod): KubePod {
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
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #informer: Informer<KubePod>;

  constructor(api: KubeApi, namespace: string, logger: Logger) {
    this.#api = api;
    this.#namespace = namespace;
    this.#informer = new Informer<KubePod>({
      rest: api,
      path: paths.pods(namespace),
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
    const pod = await ifFound(this.#api.getPod(this.#namespace, name, { signal, timeoutMs: 10_000 }));
    return pod === undefined ? undefined : slimPod(pod);
  }
}
