// Small objects many tests build the same way.
import type { ShadowStatus } from "../../src/model/shadow.js";
import type { KubeFn } from "./kube.js";

/** A shadow status as an agent reports it: Idle on 1.19.0 with 1.20.0 offered, unless `over` says otherwise. */
export const shadowStatus = (over: Partial<ShadowStatus> = {}): ShadowStatus => ({
  current_version: "1.19.0",
  target_version: "1.20.0",
  current_state: "Idle",
  crash_count: 0,
  state_transition_failure_timestamp: null,
  ...over,
});

export interface WorkloadOptions {
  /** The Deployment's replicas (a DaemonSet has none). */
  replicas?: number;
  /** Which nodes its pods go to. */
  nodeSelector: Record<string, string>;
  image: string;
  /** The container's name (default: the app's). */
  container?: string;
  /** Pods without a service-account token (automountServiceAccountToken: false). */
  noToken?: boolean;
}

/** A Deployment or DaemonSet named `app`, its pods labelled app=`app`, one container each. */
export function workload(kind: "Deployment" | "DaemonSet", app: string, o: WorkloadOptions): object {
  const labels = { app };
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: { name: app },
    spec: {
      ...(o.replicas !== undefined && { replicas: o.replicas }),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: o.nodeSelector,
          ...(o.noToken === true && { automountServiceAccountToken: false }),
          containers: [{ name: o.container ?? app, image: o.image }],
        },
      },
    },
  };
}

/** Creates `workload(kind, app, o)` in namespace `ns`. */
export async function createWorkload(
  kube: KubeFn,
  ns: string,
  kind: "Deployment" | "DaemonSet",
  app: string,
  o: WorkloadOptions,
): Promise<void> {
  const plural = kind === "Deployment" ? "deployments" : "daemonsets";
  await kube("POST", `/apis/apps/v1/namespaces/${ns}/${plural}`, workload(kind, app, o));
}
