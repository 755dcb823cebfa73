// The kit's KubeRest with `request` public: set-up, clean-up and tests that look at raw answers
// (a status code, a 404 expected) use it. The product's KubeRest keeps `request` protected, so
// product code can only call the typed, throwing methods of KubeApi (src/k8s/api.ts).
import { KubeRest, type RequestOptions, type RestResponse } from "../../src/k8s/rest.js";

export class RawKubeRest extends KubeRest {
  override request<T = unknown>(
    method: string,
    path: string,
    opts?: RequestOptions,
  ): Promise<RestResponse<T>> {
    return super.request<T>(method, path, opts);
  }
}
