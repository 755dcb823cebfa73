// Service accounts in our namespace, for the per-request "does the token's service account still
// exist" check: kube-apiserver refuses a deleted service account's token (after its own ~10 s token
// cache), and so must we, whatever our review cache holds. A watch answers from memory; a miss falls
// back to one GET (the account may be newer than the watch). Only name and uid are kept.
import type { Logger } from "pino";
import type { KubeApi } from "../k8s/api.js";
import { CachedLookup } from "../k8s/cached-lookup.js";
import { paths, type KubeServiceAccount } from "../k8s/objects.js";

function slim(sa: KubeServiceAccount): KubeServiceAccount {
  const m = sa.metadata;
  return {
    metadata: { name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion },
  };
}

export class ServiceAccountCache {
  readonly #lookup: CachedLookup<KubeServiceAccount>;

  constructor(api: KubeApi, namespace: string, logger: Logger) {
    this.#lookup = new CachedLookup<KubeServiceAccount>({
      rest: api,
      namespace,
      path: paths.serviceAccounts(namespace),
      logger,
      transform: slim,
      fetch: (name, signal) => api.getServiceAccount(namespace, name, { signal, timeoutMs: 10_000 }),
    });
  }

  start(): void {
    this.#lookup.start();
  }

  stop(): Promise<void> {
    return this.#lookup.stop();
  }

  /** The uid of service account `name` in our namespace, or undefined when it does not exist. */
  async uid(name: string, signal?: AbortSignal): Promise<string | undefined> {
    return (await this.#lookup.get(name, signal))?.metadata?.uid;
  }
}
