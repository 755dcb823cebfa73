// The chaos observer: its own connection and its own watches of the run's Nodes, BottlerocketShadows,
// workload pods, PDBs, UpdatePolicy and controller Lease, each event compacted (the pure `compact*`
// functions) and appended to the history with the time it arrived. The runner adds what no watch can
// see (reboots from the simulated hosts' log, faults, the controllers' requests) through record().
// Nothing here reads a brupop component's own state.
import { createWriteStream, type WriteStream } from "node:fs";
import { Informer, type InformerEventType } from "../../src/k8s/informer.js";
import { KubeRest } from "../../src/k8s/rest.js";
import type { KubeAccess } from "../../src/k8s/access.js";
import { silentLogger } from "../../src/log.js";
import { API_GROUP, EXCLUDE_FROM_LB_LABEL, nodeNameForShadow } from "../../src/model/constants.js";
import { POLICY_COLLECTION_PATH } from "../../src/model/policy.js";
import type { HistoryEvent, NodeEvent, PodEvent, PdbEvent, ShadowEvent } from "./history.js";
import type { PolicyEdit } from "./schedule.js";

export const ZONE_LABEL = "topology.kubernetes.io/zone";

/** Milliseconds since the epoch, sub-millisecond and monotonic within the process. */
export const now = (): number => performance.timeOrigin + performance.now();

interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}

export interface RawNode {
  metadata?: Meta;
  spec?: { unschedulable?: boolean };
  status?: { conditions?: { type: string; status: string }[] };
}

export interface RawShadow {
  metadata?: Meta;
  spec?: { state?: string; version?: string | null };
  status?: {
    current_state?: string;
    current_version?: string;
    target_version?: string;
    crash_count?: number;
    failure?: { state?: string; reason?: string; message?: string };
  };
}

export interface RawPod {
  metadata?: Meta;
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

interface RawPdb {
  metadata?: Meta;
  spec?: { minAvailable?: number | string };
  status?: { disruptionsAllowed?: number; disruptedPods?: Record<string, string> };
}

interface RawPolicy {
  metadata?: Meta;
  spec?: PolicyEdit;
}

interface RawLease {
  metadata?: Meta;
  spec?: { holderIdentity?: string | null };
}

const conditionTrue = (conds: { type: string; status: string }[] | undefined, type: string): boolean =>
  conds?.some((c) => c.type === type && c.status === "True") === true;

export function compactNode(type: InformerEventType, n: RawNode, t: number): NodeEvent {
  const labels = n.metadata?.labels ?? {};
  const e: NodeEvent = {
    t,
    kind: "node",
    name: n.metadata?.name ?? "",
    unschedulable: n.spec?.unschedulable === true,
    ready: conditionTrue(n.status?.conditions, "Ready"),
    lbExcluded: EXCLUDE_FROM_LB_LABEL in labels,
    zone: labels[ZONE_LABEL] ?? null,
    brupopAnnotations: Object.keys(n.metadata?.annotations ?? {}).filter((k) =>
      k.startsWith(`${API_GROUP}/`),
    ),
  };
  if (type === "delete") e.deleted = true;
  return e;
}

function failureText(f: NonNullable<RawShadow["status"]>["failure"]): string | null {
  if (f === undefined) return null;
  return [f.reason, f.state, f.message].filter((x) => x !== undefined).join(": ");
}

export function compactShadow(type: InformerEventType, b: RawShadow, t: number): ShadowEvent {
  const name = b.metadata?.name ?? "";
  const st = b.status;
  const e: ShadowEvent = {
    t,
    kind: "shadow",
    node: nodeNameForShadow(name) ?? name,
    spec: b.spec?.state === undefined ? null : { state: b.spec.state, version: b.spec.version ?? null },
    status:
      st?.current_state === undefined
        ? null
        : {
            state: st.current_state,
            version: st.current_version ?? "",
            target: st.target_version ?? "",
            crash: st.crash_count ?? 0,
            failure: failureText(st.failure),
          },
  };
  if (type === "delete") e.deleted = true;
  return e;
}

export function compactPod(type: InformerEventType, p: RawPod, t: number): PodEvent {
  const e: PodEvent = {
    t,
    kind: "pod",
    name: p.metadata?.name ?? "",
    node: p.spec?.nodeName ?? null,
    ready: conditionTrue(p.status?.conditions, "Ready"),
    deleting: p.metadata?.deletionTimestamp !== undefined || type === "delete",
  };
  if (type === "delete") e.deleted = true;
  return e;
}

export interface ObserverOptions {
  kubeConfig: KubeAccess;
  namespace: string;
  /** Label selector of the run's Nodes. */
  nodeSelector: string;
  /** Label selector of the workload's pods. */
  podSelector: string;
  /** Where the workload's pods and PDBs are (default `namespace`, the shadows'). */
  podNamespace?: string;
  policyName: string;
  leaseName: string;
  /** history.jsonl; every entry is appended as it arrives. */
  file: string;
  /**
   * brupop's CRDs and namespace may not exist yet (real nodes: the observer starts before brupop is
   * installed): the shadow, policy and lease watches retry their list within 1 s, and start() does
   * not wait for them.
   */
  brupopLater?: boolean;
}

export class ChaosObserver {
  readonly history: HistoryEvent[] = [];
  readonly #rest: KubeRest;
  readonly #out: WriteStream;
  readonly #informers: Informer<never>[] = [];
  /** The informers start() does not wait for (ObserverOptions.brupopLater). */
  readonly #late = new Set<Informer<never>>();

  constructor(opts: ObserverOptions) {
    this.#rest = new KubeRest(opts.kubeConfig);
    this.#out = createWriteStream(opts.file, { flags: "a" });
    const ns = opts.namespace;
    const podNs = opts.podNamespace ?? ns;
    const logger = silentLogger();
    const rest = this.#rest;
    const late = opts.brupopLater === true ? { late: true, backoffMaxMs: 1_000 } : {};
    this.#watch<RawNode>(
      { rest, logger, path: "/api/v1/nodes", labelSelector: opts.nodeSelector },
      (type, o) => compactNode(type, o, now()),
    );
    this.#watch<RawShadow>(
      { rest, logger, path: `/apis/${API_GROUP}/v2/namespaces/${ns}/bottlerocketshadows`, ...late },
      (type, o) => compactShadow(type, o, now()),
    );
    this.#watch<RawPod>(
      { rest, logger, path: `/api/v1/namespaces/${podNs}/pods`, labelSelector: opts.podSelector },
      (type, o) => compactPod(type, o, now()),
    );
    this.#watch<RawPdb>(
      { rest, logger, path: `/apis/policy/v1/namespaces/${podNs}/poddisruptionbudgets` },
      (type, o) => {
        const min = o.spec?.minAvailable;
        const e: PdbEvent = {
          t: now(),
          kind: "pdb",
          name: o.metadata?.name ?? "",
          minAvailable: typeof min === "number" ? min : 0,
          allowed: o.status?.disruptionsAllowed ?? 0,
          disrupted: Object.keys(o.status?.disruptedPods ?? {}),
        };
        return type === "delete" ? { ...e, minAvailable: 0 } : e;
      },
    );
    this.#watch<RawPolicy>({ rest, logger, path: POLICY_COLLECTION_PATH, ...late }, (type, o) =>
      o.metadata?.name !== opts.policyName
        ? undefined
        : { t: now(), kind: "policy", spec: type === "delete" ? null : (o.spec ?? {}) },
    );
    this.#watch<RawLease>(
      { rest, logger, path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, ...late },
      (type, o) =>
        o.metadata?.name !== opts.leaseName
          ? undefined
          : { t: now(), kind: "lease", holder: type === "delete" ? null : (o.spec?.holderIdentity ?? null) },
    );
  }

  #watch<T extends { metadata?: Meta }>(
    { late, ...opts }: ConstructorParameters<typeof Informer<T>>[0] & { late?: boolean },
    compact: (type: InformerEventType, obj: T) => HistoryEvent | undefined,
  ): void {
    const informer = new Informer<T>(opts);
    if (late === true) this.#late.add(informer as unknown as Informer<never>);
    informer.on((type, obj) => {
      const e = compact(type, obj);
      if (e !== undefined) this.record(e);
    });
    this.#informers.push(informer as unknown as Informer<never>);
  }

  /** Appends an entry (the runner's own: reboots, faults, writes, phases). */
  record(e: HistoryEvent): void {
    this.history.push(e);
    this.#out.write(`${JSON.stringify(e)}\n`);
  }

  async start(): Promise<void> {
    for (const i of this.#informers) i.start();
    await Promise.all(this.#informers.filter((i) => !this.#late.has(i)).map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
    await new Promise<void>((resolve) => this.#out.end(resolve));
    this.#rest.close();
  }
}
