// What the agent reads from Kubernetes: its own BottlerocketShadow and its own Node, kept current by
// watches. Two implementations of one narrow interface:
//   - OwnObjectsWatch: two informers with field selectors (metadata.name=…), like upstream's agent pod;
//   - SharedObjectsWatch: one brs informer and one Node informer for MANY agents in one process (the
//     demo and the fleet benchmark), each agent given a per-node view.
// Caches keep only the fields the agent reads, so a Node costs a few hundred bytes, not kilobytes.
import type { Logger } from "pino";
import { Informer } from "../k8s/informer.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../k8s/cordon-marker.js";
import type { KubeApi } from "../k8s/api.js";
import { paths, type KubeNode, type NodeCondition, type RawShadow } from "../k8s/objects.js";
import {
  ACCEPT_FAILURE_ANNOTATION,
  EXCLUDE_FROM_LB_LABEL,
  nodeNameForShadow,
  shadowNameForNode,
  VERSION_LOCK_ANNOTATION,
} from "../model/constants.js";

/** The brs as read from the API (validated by the agent with parseShadow); the Node as slimNode keeps it. */
export type { RawShadow };
export type SlimNode = KubeNode;

export interface AgentObjects {
  /** The node's brs as last seen; undefined when it does not exist. */
  shadow(): RawShadow | undefined;
  /** The Node as last seen; undefined when not (yet) known. */
  node(): SlimNode | undefined;
  /** Called when the brs or a field of the Node the agent reads changed (one listener). */
  onChange(listener: () => void): void;
  start(): void;
  /** Resolves once both caches are filled (or the watch is stopped). */
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
}

/** Kept for the agent's test bed; the path is built in src/k8s/objects.ts. */
export const shadowsPath = paths.shadows;

function pick(
  record: Record<string, string> | undefined,
  ...keys: string[]
): Record<string, string> | undefined {
  const kept = keys.flatMap((k) => (record?.[k] === undefined ? [] : [[k, record[k]] as const]));
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

/** Keeps the Node fields the agent reads (brupop's cordon marker, the LB label, unschedulable). */
export function slimNode(node: SlimNode): SlimNode {
  const m = node.metadata;
  return {
    metadata: {
      name: m?.name,
      uid: m?.uid,
      resourceVersion: m?.resourceVersion,
      labels: pick(m?.labels, EXCLUDE_FROM_LB_LABEL),
      annotations: pick(m?.annotations, CORDONED_BY_BRUPOP_ANNOTATION),
    },
    spec: { unschedulable: node.spec?.unschedulable === true },
    // Only the Ready condition, without its heartbeat: the health gate after a reboot reads it.
    status: { conditions: readyCondition(node) },
  };
}

function readyCondition(node: SlimNode): NodeCondition[] {
  const c = node.status?.conditions?.find((x) => x.type === "Ready");
  if (c === undefined) return [];
  const { type, status, lastTransitionTime } = c;
  return [lastTransitionTime === undefined ? { type, status } : { type, status, lastTransitionTime }];
}

function slimShadow(brs: RawShadow): RawShadow {
  const m = brs.metadata;
  return {
    metadata: {
      name: m?.name,
      namespace: m?.namespace,
      resourceVersion: m?.resourceVersion,
      uid: m?.uid,
      // The version pin (issue 18) and an accepted failure (issue 25): the annotations the agent reads.
      annotations: pick(m?.annotations, VERSION_LOCK_ANNOTATION, ACCEPT_FAILURE_ANNOTATION),
    },
    spec: brs.spec,
    status: brs.status,
  };
}

/** What of a slim Node matters to the agent (kwok's heartbeats change the resourceVersion only). */
function nodeSignature(node: SlimNode | undefined): string {
  if (node === undefined) return "";
  const m = node.metadata;
  return JSON.stringify([m?.uid, m?.labels, m?.annotations, node.spec?.unschedulable, readyCondition(node)]);
}

export interface OwnObjectsOptions {
  rest: KubeApi;
  namespace: string;
  nodeName: string;
  logger: Logger;
}

/** The brs informer and the Node informer behind both watches (field or label selected). */
class ShadowAndNodeInformers {
  readonly shadows: Informer<RawShadow>;
  readonly nodes: Informer<SlimNode>;

  constructor(
    opts: { rest: KubeApi; namespace: string; logger: Logger },
    select: { shadowName?: string; nodeName?: string; nodeLabelSelector?: string | undefined },
  ) {
    const byName = (name: string | undefined) => (name === undefined ? undefined : `metadata.name=${name}`);
    this.shadows = new Informer<RawShadow>({
      rest: opts.rest,
      path: paths.shadows(opts.namespace),
      fieldSelector: byName(select.shadowName),
      logger: opts.logger,
      transform: slimShadow,
    });
    this.nodes = new Informer<SlimNode>({
      rest: opts.rest,
      path: paths.nodes(),
      fieldSelector: byName(select.nodeName),
      labelSelector: select.nodeLabelSelector,
      logger: opts.logger,
      transform: slimNode,
    });
  }

  start(): void {
    this.shadows.start();
    this.nodes.start();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([this.shadows.waitForSync(), this.nodes.waitForSync()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.shadows.stop(), this.nodes.stop()]);
  }
}

/** The agent's own brs and Node, each through its own field-selected informer. */
export class OwnObjectsWatch implements AgentObjects {
  readonly #informers: ShadowAndNodeInformers;
  readonly #namespace: string;
  readonly #nodeName: string;
  readonly #shadowName: string;
  #listener: (() => void) | undefined;
  #nodeSig = "";

  constructor(opts: OwnObjectsOptions) {
    this.#namespace = opts.namespace;
    this.#nodeName = opts.nodeName;
    this.#shadowName = shadowNameForNode(opts.nodeName);
    this.#informers = new ShadowAndNodeInformers(opts, {
      shadowName: this.#shadowName,
      nodeName: opts.nodeName,
    });
    this.#informers.shadows.on(() => this.#listener?.());
    this.#informers.nodes.on(() => {
      const sig = nodeSignature(this.node());
      if (sig === this.#nodeSig) return;
      this.#nodeSig = sig;
      this.#listener?.();
    });
  }

  shadow(): RawShadow | undefined {
    return this.#informers.shadows.get(this.#shadowName, this.#namespace);
  }

  node(): SlimNode | undefined {
    return this.#informers.nodes.get(this.#nodeName);
  }

  onChange(listener: () => void): void {
    this.#listener = listener;
  }

  start(): void {
    this.#informers.start();
  }

  waitForSync(): Promise<void> {
    return this.#informers.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informers.stop();
  }
}

export interface SharedObjectsOptions {
  rest: KubeApi;
  namespace: string;
  logger: Logger;
  /** Limits the Node watch (e.g. the updater-interface label); default all nodes. */
  nodeLabelSelector?: string;
}

/**
 * One brs informer and one Node informer shared by many in-process agents. The owner starts and stops
 * it; agents get views from forNode(), whose start/stop only (un)register the view.
 */
export class SharedObjectsWatch {
  readonly #informers: ShadowAndNodeInformers;
  readonly #namespace: string;
  readonly #listeners = new Map<string, () => void>();
  readonly #nodeSigs = new Map<string, string>();

  constructor(opts: SharedObjectsOptions) {
    this.#namespace = opts.namespace;
    this.#informers = new ShadowAndNodeInformers(opts, { nodeLabelSelector: opts.nodeLabelSelector });
    this.#informers.shadows.on((_type, brs) => {
      const node = nodeNameForShadow(brs.metadata?.name ?? "");
      if (node !== undefined) this.#listeners.get(node)?.();
    });
    this.#informers.nodes.on((type, node) => {
      const name = node.metadata?.name ?? "";
      const sig = type === "delete" ? "" : nodeSignature(node);
      if (this.#nodeSigs.get(name) === sig) return;
      if (sig === "") this.#nodeSigs.delete(name);
      else this.#nodeSigs.set(name, sig);
      this.#listeners.get(name)?.();
    });
  }

  start(): void {
    this.#informers.start();
  }

  waitForSync(): Promise<void> {
    return this.#informers.waitForSync();
  }

  async stop(): Promise<void> {
    this.#listeners.clear();
    await this.#informers.stop();
  }

  forNode(nodeName: string): AgentObjects {
    const shadowName = shadowNameForNode(nodeName);
    let listener: (() => void) | undefined;
    return {
      shadow: () => this.#informers.shadows.get(shadowName, this.#namespace),
      node: () => this.#informers.nodes.get(nodeName),
      onChange: (l) => {
        listener = l;
      },
      start: () => {
        if (listener !== undefined) this.#listeners.set(nodeName, listener);
      },
      waitForSync: () => this.waitForSync(),
      stop: () => {
        if (this.#listeners.get(nodeName) === listener) this.#listeners.delete(nodeName);
        return Promise.resolve();
      },
    };
  }
}
