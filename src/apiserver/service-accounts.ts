// Service accounts in our namespace, for the per-request "does the token's service account still
// exist" check: kube-apiserver refuses a deleted service account's token (after its own ~10 s token
// cache), and so must we, whatever our review cache holds. A watch answers from memory; a miss falls
// back to one GET (the account may be newer than the watch). Only name and uid are kept.
import type { Logger } from "pino";
import { Informer } from "../k8s/informer.js";
import { upstreamError } from "../k8s/node-ops.js";
import type { KubeRest } from "../k8s/rest.js";

interface RawServiceAccount {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

function slim(sa: RawServiceAccount): RawServiceAccount {
  const m = sa.metadata;
  return {
    metadata: { name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion },
  };
}

export class ServiceAccountCache {
  readonly #rest: KubeRest;
  readonly #namespace: string;
  readonly #informer: Informer<RawServiceAccount>;

  constructor(rest: KubeRest, namespace: string, logger: Logger) {
    this.#rest = rest;
    this.#namespace = namespace;
    this.#informer = new Informer<RawServiceAccount>({
      rest,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts`,
      logger,
      transform: slim,
    });
  }

  start(): void {
    this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** The uid of service account `name` in our namespace, or undefined when it does not exist. */
  async uid(name: string, signal?: AbortSignal): Promise<string | undefined> {
    const cached = this.#informer.get(name, this.#namespace);
    if (cached !== undefined) return cached.metadata?.uid;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/serviceaccounts/${encodeURIComponent(name)}`;
    const res = await this.#rest.request<RawServiceAccount>("GET", path, { signal, timeoutMs: 10_000 });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw upstreamError(`GET serviceaccount ${name}`, res);
    return res.body.metadata?.uid;
  }
}
