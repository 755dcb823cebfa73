// Node writes the apiserver makes for an agent: cordon, uncordon, and the load-balancer exclusion
// label. The patch builders are pure (what to change, given the node as read); NodeOps applies them
// with optimistic concurrency (the node's resourceVersion travels in the patch, 409 → re-read).
//
// Cordon ownership: brupop only uncordons a node it cordoned itself. When it cordons a node that was
// schedulable it writes CORDONED_BY_BRUPOP_ANNOTATION in the same patch; uncordon acts only when the
// annotation is present (and removes it). A node an operator cordoned stays cordoned.
//
// Marks during an update (node-marks.ts): the configured labels, annotations and taints go on in the
// same patch as the cordon and come off in the same patch as the uncordon, so a crash never leaves
// one without the other; each side is also decided on its own from the node as read, so a retry
// after a partial run (an older version, a node cordoned by someone else) converges.
import { BrupopError, isConflict } from "../errors.js";
import { EXCLUDE_FROM_LB_LABEL } from "../model/constants.js";
import { ifFound, type KubeApi } from "../k8s/api.js";
import { CORDONED_BY_BRUPOP_ANNOTATION, isCordonedByBrupop } from "../k8s/cordon-marker.js";
import { markPatch, NO_MARKS, unmarkPatch, type MarkPatch, type NodeMarks } from "./node-marks.js";
import type { KubeNode } from "../k8s/objects.js";

export const EXCLUDE_FROM_LB_VALUE = "True";

/** A JSON merge patch (RFC 7386): null deletes a key. */
export type MergePatch = Record<string, unknown>;

function withVersion(node: KubeNode, patch: MergePatch): MergePatch {
  const metadata = (patch.metadata ?? {}) as Record<string, unknown>;
  return { ...patch, metadata: { ...metadata, resourceVersion: node.metadata?.resourceVersion } };
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

/** `patch` with the mark changes merged in (either may be undefined; undefined when both are). */
export function withMarks(
  patch: MergePatch | undefined,
  marks: MarkPatch | undefined,
  node: KubeNode,
): MergePatch | undefined {
  if (marks === undefined) return patch;
  const base = patch ?? withVersion(node, {});
  const metadata = { ...(base.metadata as Record<string, unknown>) };
  const annotations = {
    ...(metadata.annotations as Record<string, unknown> | undefined),
    ...marks.annotations,
  };
  metadata.annotations = annotations;
  if (marks.labels !== undefined) {
    metadata.labels = { ...(metadata.labels as Record<string, unknown> | undefined), ...marks.labels };
  }
  const out: MergePatch = { ...base, metadata };
  if (marks.taints !== undefined)
    out.spec = { ...(base.spec as Record<string, unknown> | undefined), taints: marks.taints };
  return out;
}

/** Cordon and the marks missing from the node, in one patch (pure). */
export function cordonAndMarkPatch(node: KubeNode, marks: NodeMarks = NO_MARKS): MergePatch | undefined {
  return withMarks(cordonPatch(node), markPatch(node, marks), node);
}

/** Uncordon (if brupop cordoned) and the removal of brupop's recorded marks, in one patch (pure). */
export function uncordonAndUnmarkPatch(node: KubeNode): MergePatch | undefined {
  return withMarks(uncordonPatch(node), unmarkPatch(node), node);
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
  readonly #marks: NodeMarks;

  /** `marks`: what goes on the node with the cordon and comes off with the uncordon. */
  constructor(api: KubeApi, marks: NodeMarks = NO_MARKS) {
    this.#api = api;
    this.#marks = marks;
  }

  /** The node, or undefined when it does not exist. */
  get(name: string, signal?: AbortSignal): Promise<KubeNode | undefined> {
    return ifFound(this.#api.getNode(name, { signal, timeoutMs: REQUEST_TIMEOUT_MS }));
  }

  /** Returns true when brupop cordoned the node now (false: it already was); marks it either way. */
  cordon(name: string, opts: NodeOpOptions = {}): Promise<boolean> {
    return this.#apply(
      name,
      (n) => cordonAndMarkPatch(n, this.#marks),
      opts,
      (n) => cordonPatch(n) !== undefined,
    );
  }

  /** Returns true when brupop uncordoned the node now; takes its marks off either way. */
  uncordon(name: string, opts: NodeOpOptions = {}): Promise<boolean> {
    return this.#apply(name, uncordonAndUnmarkPatch, opts, (n) => uncordonPatch(n) !== undefined);
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
    /** What the call answers (default: whether the node was patched). */
    answer: (node: KubeNode) => boolean = () => true,
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
        return answer(node);
      } catch (err) {
        // 409: someone wrote the node between our read and our patch; decide again on fresh data.
        if (!isConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }
}
