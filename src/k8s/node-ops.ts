// Node writes the apiserver makes for an agent: cordon, uncordon, and the load-balancer exclusion
// label. The patch builders are pure (what to change, given the node as read); NodeOps applies them
// with optimistic concurrency (the node's resourceVersion travels in the patch, 409 → re-read).
//
// Cordon ownership: brupop only uncordons a node it cordoned itself. When it cordons a node that was
// schedulable it writes CORDONED_BY_BRUPOP_ANNOTATION in the same patch; uncordon acts only when the
// annotation is present (and removes it). A node an operator cordoned stays cordoned.
import { BrupopError, isConflict } from "../errors.js";
import { API_GROUP, EXCLUDE_FROM_LB_LABEL } from "../model/constants.js";
import { ifFound, type KubeApi } from "./api.js";
import type { KubeNode } from "./objects.js";

export const CORDONED_BY_BRUPOP_ANNOTATION = `${API_GROUP}/cordoned-by-brupop`;
export const EXCLUDE_FROM_LB_VALUE = "True";

/** A JSON merge patch (RFC 7386): null deletes a key. */
export type MergePatch = Record<string, unknown>;

function withVersion(node: KubeNode, patch: MergePatch): MergePatch {
  const metadata = (patch.metadata ?? {}) as Record<string, unknown>;
  return { ...patch, metadata: { ...metadata, resourceVersion: node.metadata?.resourceVersion } };
}

export function isCordonedByBrupop(node: KubeNode): boolean {
  return node.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION] === "true";
}

/** Cordons a schedulable node and records that brupop did it; undefined if already cordoned. */
export function cordonPatch(node: KubeNode): MergePatch | undefined {
  if (node.spec?.unschedulable === true) return undefined;
  return withVersion(node, {
    metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" } },
    spec: { unschedulable: true },
  });
}

/**
 * Makes the node schedulable again only if brupop cordoned it (and drops the marker); undefined
 * when there is nothing brupop may do (never cordoned by brupop, or already cleaned up).
 */
export function uncordonPatch(node: KubeNode): MergePatch | undefined {
  if (node.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION] === undefined) return undefined;
  const patch: MergePatch = { metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: null } } };
  if (isCordonedByBrupop(node) && node.spec?.unschedulable === true) patch.spec = { unschedulable: null };
  return withVersion(node, patch);
}

/** Sets or removes `node.kubernetes.io/exclude-from-external-load-balancers`; undefined if no change. */
export function lbExclusionPatch(node: KubeNode, exclude: boolean): MergePatch | undefined {
  const current = node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL];
  if (exclude && current === EXCLUDE_FROM_LB_VALUE) return undefined;
  if (!exclude && current === undefined) return undefined;
  return withVersion(node, {
    metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: exclude ? EXCLUDE_FROM_LB_VALUE : null } },
  });
}

export interface NodeOpOptions {
  /** The uid the caller proved; a node re-created under the same name is a different node. */
  expectedUid?: string;
  signal?: AbortSignal;
}

const MAX_CONFLICT_RETRIES = 5;
const REQUEST_TIMEOUT_MS = 30_000;

export class NodeOps {
  readonly #api: KubeApi;

  constructor(api: KubeApi) {
    this.#api = api;
  }

  /** The node, or undefined when it does not exist. */
  get(name: string, signal?: AbortSignal): Promise<KubeNode | undefined> {
    return ifFound(this.#api.getNode(name, { signal, timeoutMs: REQUEST_TIMEOUT_MS }));
  }

  /** Returns true when the node was changed (false: it already was as asked). */
  cordon(name: string, opts: NodeOpOptions = {}): Promise<boolean> {
    return this.#apply(name, cordonPatch, opts);
  }

  uncordon(name: string, opts: NodeOpOptions = {}): Promise<boolean> {
    return this.#apply(name, uncordonPatch, opts);
  }

  excludeFromLb(name: string, opts: NodeOpOptions = {}): Promise<boolean> {
    return this.#apply(name, (n) => lbExclusionPatch(n, true), opts);
  }

  removeExclusionFromLb(name: string, opts: NodeOpOptions = {}): Promise<boolean> {
    return this.#apply(name, (n) => lbExclusionPatch(n, false), opts);
  }

  async #apply(
    name: string,
    build: (node: KubeNode) => MergePatch | undefined,
    opts: NodeOpOptions,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const node = await this.get(name, opts.signal);
      if (node === undefined) throw new BrupopError("BRUPOP_E_NOT_FOUND", `node ${name} not found`);
      if (opts.expectedUid !== undefined && node.metadata?.uid !== opts.expectedUid) {
        throw new BrupopError("BRUPOP_E_CONFLICT", `node ${name} was replaced (uid changed)`, {
          node: name,
        });
      }
      const patch = build(node);
      if (patch === undefined) return false;
      try {
        await this.#api.patchNode(name, patch, { signal: opts.signal, timeoutMs: REQUEST_TIMEOUT_MS });
        return true;
      } catch (err) {
        // 409: someone wrote the node between our read and our patch; decide again on fresh data.
        if (!isConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }
}
