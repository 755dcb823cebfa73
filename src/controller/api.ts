// The Kubernetes calls the controller's tick makes on BottlerocketShadows, in one place: the fence
// LIST, the conditional spec PATCH and the shadow DELETE. Callers classify the answers (status codes).
import type { KubeRest, RestResponse } from "../k8s/rest.js";
import { API_GROUP, PLURAL } from "../model/constants.js";
import type { SpecChange } from "./decisions.js";
import type { RawShadow } from "./view.js";

export function shadowCollectionPath(namespace: string): string {
  return `/apis/${API_GROUP}/v2/namespaces/${namespace}/${PLURAL}`;
}

export function stripManagedFields(raw: RawShadow): RawShadow {
  if (raw.metadata !== undefined && "managedFields" in raw.metadata) delete raw.metadata["managedFields"];
  return raw;
}

export class ShadowApi {
  readonly #rest: KubeRest;
  /** The shadows collection, e.g. /apis/brupop.bottlerocket.aws/v2/namespaces/ns/bottlerocketshadows. */
  readonly path: string;

  constructor(rest: KubeRest, namespace: string) {
    this.#rest = rest;
    this.path = shadowCollectionPath(namespace);
  }

  /** A quorum LIST of the shadows (throws unless 200). */
  async list(signal: AbortSignal): Promise<RawShadow[]> {
    const res = await this.#rest.request<{ items?: RawShadow[] }>("GET", this.path, {
      signal,
      timeoutMs: 30_000,
    });
    if (res.status !== 200) throw new Error(`LIST shadows: HTTP ${res.status}`);
    return res.body.items ?? [];
  }

  /**
   * JSON Patch (keeps explicit nulls in spec). Setting metadata.resourceVersion makes the write
   * conditional: the API server answers 409 if the object changed since we decided.
   */
  patchSpec(
    change: SpecChange & { resourceVersion: string },
    signal: AbortSignal,
  ): Promise<RestResponse<RawShadow>> {
    return this.#rest.request<RawShadow>("PATCH", `${this.path}/${change.name}`, {
      body: [
        { op: "replace", path: "/metadata/resourceVersion", value: change.resourceVersion },
        { op: "add", path: "/spec", value: change.to },
      ],
      contentType: "application/json-patch+json",
      signal,
      timeoutMs: 10_000,
    });
  }

  /** Deletes a shadow, only if it is still the object with `uid` (when known). */
  delete(name: string, uid: string | undefined, signal: AbortSignal): Promise<RestResponse> {
    return this.#rest.request("DELETE", `${this.path}/${name}`, {
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        ...(uid !== undefined && { preconditions: { uid } }),
      },
      signal,
      timeoutMs: 10_000,
    });
  }
}
