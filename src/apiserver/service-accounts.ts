// Service accounts in our namespace, for the per-request "does the token's service account still
// exist" check: kube-apiserver refuses a deleted service account's token (after its own ~10 s token
// cache), and so must we, whatever our review cache holds. A watch answers from memory; a miss falls
// back to one GET (the account may be newer than the watch). Only name and uid are kept.
import type { Logger } from "pino";
import { Informer } from "../k8s/informer.js";
import { ifFound, type KubeApi } from "../k8s/api.js";
import { paths, type KubeServiceAccount } from "../k8s/objects.js";

function slim(sa: KubeServiceAccount): KubeServiceAccount {
  const m = sa.metadata;
  return {
    metadata: { name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion },
  };
}

export class ServiceAccountCache {
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #informer: Informer<KubeServiceAccount>;

  constructor(api: KubeApi, namespace: string, logger: Logger) {
    this.#api = api;
    this.#namespace = namespace;
    this.#informer = new Informer<KubeServiceAccount>({
      rest: api,
      path: paths.serviceAccounts(namespace),
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
    const sa = await ifFound(
      this.#api.getServiceAccount(this.#namespace, name, { signal, timeoutMs: 10_000 }),
    );
    return sa?.metadata?.uid;
  }
}
