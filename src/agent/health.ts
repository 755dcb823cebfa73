// The health gate's facts beyond the Node (issue 19): the pods that should run on the node (its
// DaemonSet pods), the pods the user selects, and the user's HTTP probe. Gathered only while the gate
// is open (spec MonitoringUpdate, not yet reported), so the pod LISTs cost nothing the rest of the
// time. What they mean is decided by the pure `healthGate` (decide.ts).
import type { KubeApi } from "../k8s/api.js";
import type { KubePod } from "../k8s/objects.js";
import { exchange } from "../http/core.js";
import type { HealthFacts, PodHealth } from "./decide.js";

export interface HealthCheckConfig {
  /** Check the node's DaemonSet pods (UPDATE_HEALTH_CHECK_DAEMONSET_PODS). */
  daemonSetPods: boolean;
  /** A label selector of pods on the node that must be Ready (UPDATE_HEALTH_POD_SELECTOR). */
  podSelector: string | undefined;
  /** GET this URL; a 2xx answer is healthy (UPDATE_HEALTH_PROBE_URL). */
  probeUrl: string | undefined;
  /** Limit of one probe (UPDATE_HEALTH_PROBE_TIMEOUT_IN_SEC). */
  probeTimeoutMs: number;
}

/** Nothing beyond the Node is checked (upstream, and the agent's default without a config). */
export const NO_HEALTH_CHECKS: Readonly<HealthCheckConfig> = {
  daemonSetPods: false,
  podSelector: undefined,
  probeUrl: undefined,
  probeTimeoutMs: 5_000,
};

/** What the agent asks while its health gate is open. */
export interface HealthSource {
  gather(signal?: AbortSignal): Promise<HealthFacts>;
}

export type Probe = (
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
) => Promise<{ healthy: boolean; detail: string }>;

export interface NodeHealthChecksOptions {
  /** Pods are listed from the kube-apiserver with the agent's own credentials (RBAC: pods list). */
  kube: Pick<KubeApi, "listPods">;
  nodeName: string;
  config: HealthCheckConfig;
  /** Injected for tests; default an HTTP(S) GET. */
  probe?: Probe;
}

export class NodeHealthChecks implements HealthSource {
  readonly #kube: Pick<KubeApi, "listPods">;
  readonly #node: string;
  readonly #config: HealthCheckConfig;
  readonly #probe: Probe;

  constructor(opts: NodeHealthChecksOptions) {
    this.#kube = opts.kube;
    this.#node = opts.nodeName;
    this.#config = opts.config;
    this.#probe = opts.probe ?? httpProbe;
  }

  async gather(signal?: AbortSignal): Promise<HealthFacts> {
    const c = this.#config;
    const facts: HealthFacts = {};
    const [pods, probe] = await Promise.all([
      c.daemonSetPods || c.podSelector !== undefined ? this.#pods(signal) : undefined,
      c.probeUrl === undefined ? undefined : this.#runProbe(c.probeUrl, signal),
    ]);
    if (pods !== undefined) facts.pods = pods;
    if (probe !== undefined) facts.probe = probe;
    return facts;
  }

  async #pods(signal: AbortSignal | undefined): Promise<NonNullable<HealthFacts["pods"]>> {
    const c = this.#config;
    const fieldSelector = `spec.nodeName=${this.#node}`;
    try {
      const [all, selected] = await Promise.all([
        c.daemonSetPods ? this.#kube.listPods({ fieldSelector }, { signal }) : [],
        c.podSelector === undefined
          ? []
          : this.#kube.listPods({ fieldSelector }, { signal, query: { labelSelector: c.podSelector } }),
      ]);
      return { ok: true, items: podsToCheck(all, selected) };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  async #runProbe(url: string, signal: AbortSignal | undefined): Promise<NonNullable<HealthFacts["probe"]>> {
    try {
      return { url, ...(await this.#probe(url, this.#config.probeTimeoutMs, signal)) };
    } catch (err) {
      return { url, healthy: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }
}

/**
 * The pods the gate checks: the DaemonSet pods among `onNode`, then the selected ones (each pod
 * once). Pods on their way out (deleted, or finished) are not expected to be Ready.
 */
export function podsToCheck(onNode: readonly KubePod[], selected: readonly KubePod[]): PodHealth[] {
  const out = new Map<string, PodHealth>();
  for (const pod of onNode) {
    if (!isDaemonSetPod(pod) || leaving(pod)) continue;
    const h = podHealth(pod, "DaemonSet");
    out.set(h.name, h);
  }
  for (const pod of selected) {
    if (leaving(pod)) continue;
    const h = podHealth(pod, "selected");
    if (!out.has(h.name)) out.set(h.name, h);
  }
  return [...out.values()];
}

export function isDaemonSetPod(pod: KubePod): boolean {
  return (
    pod.metadata?.ownerReferences?.some((o) => o.kind === "DaemonSet" && o.controller !== false) === true
  );
}

function leaving(pod: KubePod): boolean {
  const phase = pod.status?.phase;
  return pod.metadata?.deletionTimestamp !== undefined || phase === "Succeeded" || phase === "Failed";
}

export function podHealth(pod: KubePod, kind: PodHealth["kind"]): PodHealth {
  const c = pod.status?.conditions?.find((x) => x.type === "Ready");
  return {
    name: `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`,
    kind,
    ready: c?.status === "True",
    since: c?.lastTransitionTime ?? null,
  };
}

/** GET `url`: healthy on 2xx within the timeout. */
export async function httpProbe(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ healthy: boolean; detail: string }> {
  try {
    const answer = await exchange({
      url: new URL(url),
      options: { method: "GET", headers: { Accept: "*/*" } },
      deadlineMs: timeoutMs,
      onTimeout: () => new Error(`no answer within ${timeoutMs} ms`),
      maxBodyBytes: 64 * 1024,
      signal,
    });
    const healthy = answer.status >= 200 && answer.status <= 299;
    const body = answer.text.trim().slice(0, 200);
    return { healthy, detail: `answered ${answer.status}${healthy || body === "" ? "" : `: ${body}`}` };
  } catch (err) {
    return { healthy: false, detail: err instanceof Error ? err.message : String(err) };
  }
}
