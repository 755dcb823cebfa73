// Agent pods in our namespace, for the per-request "is this still an agent pod on that node" check.
// An informer (label brupop.bottlerocket.aws/component=agent) answers almost every lookup from memory;
// a miss falls back to one GET, because the pod may be newer than the watch, or may not be an agent
// (no label) — the decision then sees the real object. Only the few fields the check reads are kept.
import type { Logger } from "pino";
import { AGENT_COMPONENT, COMPONENT_LABEL } from "../model/constants.js";
import type { KubeApi } from "../k8s/api.js";
import { CachedLookup } from "../k8s/cached-lookup.js";
import { paths, type KubePod } from "../k8s/objects.js";

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

/** The pod named `name` in our namespace (`get`), or undefined when it does not exist. */
export class AgentPodCache extends CachedLookup<KubePod> {
  constructor(api: KubeApi, namespace: string, logger: Logger) {
    super({
      rest: api,
      namespace,
      path: paths.pods(namespace),
      labelSelector: `${COMPONENT_LABEL}=${AGENT_COMPONENT}`,
      logger,
      transform: slimPod,
      fetch: (name, signal) => api.getPod(namespace, name, { signal, timeoutMs: 10_000 }),
    });
  }
}
