// A pod's readiness as a kubelet reports it, set by tests and the demo to make a node come back
// unhealthy after its reboot. Not Ready also marks the pod as failing its readiness
// (READINESS_FAILS_ANNOTATION), so the kit's own kubelet play after a reboot (nodes.ts,
// `markNodePodsReady`) leaves it not Ready instead of racing the agent's health gate.
import { kube } from "./kube-call.js";
import { READINESS_FAILS_ANNOTATION } from "./nodes.js";
import type { RawKubeRest } from "./raw-rest.js";

const MERGE_PATCH = { contentType: "application/merge-patch+json" };

/** The pod's status patch: Ready and ContainersReady to `ready`, transition now. */
export function podReadinessStatusPatch(ready: boolean, now: Date): object {
  const at = now.toISOString();
  const status = ready ? "True" : "False";
  return {
    status: {
      conditions: [
        { type: "Ready", status, lastTransitionTime: at, ...(!ready && { reason: "ContainersNotReady" }) },
        { type: "ContainersReady", status, lastTransitionTime: at },
      ],
    },
  };
}

/**
 * Sets the pod's readiness: the annotation first (the status subresource ignores metadata), so the
 * kubelet play never sees the pod not Ready without it.
 */
export async function setPodReadiness(
  rest: RawKubeRest,
  namespace: string,
  name: string,
  ready: boolean,
  now: Date = new Date(),
): Promise<void> {
  const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
  const annotation = { metadata: { annotations: { [READINESS_FAILS_ANNOTATION]: ready ? null : "true" } } };
  await kube(rest, "PATCH", path, annotation, MERGE_PATCH);
  await kube(rest, "PATCH", `${path}/status`, podReadinessStatusPatch(ready, now), MERGE_PATCH);
}
