// Counting the requests brupop's components make to kube-apiserver, from kube-apiserver's own audit
// log. Each component talks to the cluster with its own client certificate, so the audit event's
// user says who asked; a policy logs (at Metadata level, no bodies) only those users.
//
// One request = one auditID. Its RequestReceived event gives the time it arrived; its ResponseComplete
// event (watches: when the stream ends) gives the HTTP code. Requests are classified by user, and
// for the user that the in-process brupop apiserver and the agents' watches share, by what they ask.

/** The brupop identities the benchmark gives its components (client certificate CNs). */
/**
 * The bench's controller runs as deployed, on the in-cluster path with a service account's token
 * (bench/lib/identities.ts `inClusterAccess`): a kubeconfig would load client-node and add ≈ 40 MiB
 * to the RSS the bench measures.
 */
export const BENCH_CONTROLLER_SA = { namespace: "default", name: "bench-brupop-controller" } as const;

export const BENCH_USERS = {
  controller: `system:serviceaccount:${BENCH_CONTROLLER_SA.namespace}:${BENCH_CONTROLLER_SA.name}`,
  /** The testbed: the in-process brupop apiserver and the agents' own watches. */
  node: "bench-brupop-node",
} as const;

/** Who made a request. */
export type Component = "controller" | "apiserver" | "agent";

/** How the benchmark splits API load. */
export type RequestKind = "read" | "write" | "watch";

/** An audit policy that logs the given users at Metadata level and nobody else. */
export function auditPolicyYaml(users: readonly string[]): string {
  return [
    "apiVersion: audit.k8s.io/v1",
    "kind: Policy",
    "omitStages: [ResponseStarted]",
    "rules:",
    "  - level: Metadata",
    `    users: [${users.map((u) => JSON.stringify(u)).join(", ")}]`,
    "  - level: None",
    "",
  ].join("\n");
}

/** One request as the audit log tells it (joined over its stages). */
export interface AuditedRequest {
  id: string;
  user: string;
  verb: string;
  resource: string;
  subresource: string;
  uri: string;
  /** When kube-apiserver received it (epoch ms). */
  receivedMs: number;
  /** HTTP status, once the response completed. */
  code: number | undefined;
}

interface AuditEvent {
  auditID?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string };
  requestReceivedTimestamp?: string;
  responseStatus?: { code?: number };
}

/** Folds audit log lines (JSON, one event each) into requests, keyed by auditID. */
export class AuditLog {
  readonly #requests = new Map<string, AuditedRequest>();
  #bad = 0;

  get requests(): AuditedRequest[] {
    return [...this.#requests.values()];
  }

  /** Lines that were not audit events (a torn last line while the log is written). */
  get unparsed(): number {
    return this.#bad;
  }

  add(line: string): void {
    if (line.trim() === "") return;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      this.#bad++;
      return;
    }
    const id = e.auditID;
    if (id === undefined) {
      this.#bad++;
      return;
    }
    let r = this.#requests.get(id);
    if (r === undefined) {
      r = toRequest(id, e);
      this.#requests.set(id, r);
    }
    if (e.stage === "ResponseComplete" || e.stage === "Panic") r.code = e.responseStatus?.code;
  }
}

function toRequest(id: string, e: AuditEvent): AuditedRequest {
  return {
    id,
    user: e.user?.username ?? "",
    verb: e.verb ?? "",
    resource: e.objectRef?.resource ?? "",
    subresource: e.objectRef?.subresource ?? "",
    uri: e.requestURI ?? "",
    receivedMs: Date.parse(e.requestReceivedTimestamp ?? ""),
    code: undefined,
  };
}

export function requestKind(verb: string): RequestKind {
  if (verb === "watch") return "watch";
  if (verb === "get" || verb === "list") return "read";
  return "write";
}

/**
 * Who made the request: the controller by its user; of the testbed's user, LIST/WATCH of Nodes and
 * BottlerocketShadows are the agents' watches (the brupop apiserver only gets single Nodes, and
 * watches pods), everything else is the brupop apiserver. Undefined: not one of ours.
 */
export function classify(r: Pick<AuditedRequest, "user" | "verb" | "resource">): Component | undefined {
  if (r.user === BENCH_USERS.controller) return "controller";
  if (r.user !== BENCH_USERS.node) return undefined;
  const watchLike = r.verb === "list" || r.verb === "watch";
  if (watchLike && (r.resource === "nodes" || r.resource === "bottlerocketshadows")) return "agent";
  return "apiserver";
}

export interface KindCounts {
  read: number;
  write: number;
  watch: number;
  /** LIST requests (part of `read`): the "no polling LISTs" check. */
  list: number;
  total: number;
}

export interface LoadCounts {
  fromMs: number;
  toMs: number;
  total: KindCounts;
  byComponent: Record<Component, KindCounts>;
  /** `component verb resource[/subresource]` → count, e.g. `controller patch bottlerocketshadows`. */
  byRequest: Record<string, number>;
  /** Requests answered 409 Conflict (e.g. conditional writes refused). */
  conflicts: number;
}

function emptyKinds(): KindCounts {
  return { read: 0, write: 0, watch: 0, list: 0, total: 0 };
}

/** Counts our components' requests received in [fromMs, toMs). */
export function countLoad(requests: Iterable<AuditedRequest>, fromMs: number, toMs: number): LoadCounts {
  const out: LoadCounts = {
    fromMs,
    toMs,
    total: emptyKinds(),
    byComponent: { controller: emptyKinds(), apiserver: emptyKinds(), agent: emptyKinds() },
    byRequest: {},
    conflicts: 0,
  };
  for (const r of requests) {
    if (!(r.receivedMs >= fromMs && r.receivedMs < toMs)) continue;
    const component = classify(r);
    if (component === undefined) continue;
    const kind = requestKind(r.verb);
    for (const k of [out.total, out.byComponent[component]]) {
      k[kind]++;
      k.total++;
      if (r.verb === "list") k.list++;
    }
    const what = r.subresource === "" ? r.resource : `${r.resource}/${r.subresource}`;
    const key = `${component} ${r.verb} ${what}`;
    out.byRequest[key] = (out.byRequest[key] ?? 0) + 1;
    if (r.code === 409) out.conflicts++;
  }
  return out;
}

/** Counts divided by `n` (e.g. per node updated), rounded to 2 decimals. */
export function perUnit(k: KindCounts, n: number): KindCounts {
  const d = (v: number): number => (n > 0 ? Math.round((v / n) * 100) / 100 : 0);
  return { read: d(k.read), write: d(k.write), watch: d(k.watch), list: d(k.list), total: d(k.total) };
}
