// A KubeRest that reports every request it makes: the apiserver benchmark and the attack e2e count
// the Kubernetes calls (TokenReviews, node reads) the brupop apiserver makes under load. The product
// client has no such hook: this subclass is the kit's.
import { KubeRest, type Query, type RequestOptions, type RestResponse } from "../../src/k8s/rest.js";
import type { KubeAccess } from "../../src/k8s/access.js";
import type { WatchHandler } from "../../src/k8s/api.js";

/** Called once per request (watch: true for a watch stream). */
export type RequestObserver = (method: string, path: string, watch: boolean) => void;

export class ObservedKubeRest extends KubeRest {
  readonly #observer: RequestObserver;

  constructor(kc: KubeAccess, observer: RequestObserver) {
    super(kc);
    this.#observer = observer;
  }

  override request<T = unknown>(
    method: string,
    path: string,
    opts?: RequestOptions,
  ): Promise<RestResponse<T>> {
    this.#observer(method, path, false);
    return super.request<T>(method, path, opts);
  }

  override watch(path: string, query: Query, onEvent: WatchHandler, signal: AbortSignal): Promise<void> {
    this.#observer("GET", path, true);
    return super.watch(path, query, onEvent, signal);
  }
}
