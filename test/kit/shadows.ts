// The one BottlerocketShadow builder of the unit tests: `brs("a", { spec: "StagedAndPerformedUpdate",
// state: "Idle" })` is node a's shadow (brs-a) asked to update and not yet moving. Defaults: Idle, on
// 1.19.0 with 1.20.0 available, no failure; the spec's version is 1.20.0 while it asks for more
// than Idle. `name`, `transitionAt` and `status` reach the fields the shorthands do not.
import type { BottlerocketShadow, ShadowFailure, ShadowStatus } from "../../src/model/shadow.js";
import type { ShadowState } from "../../src/model/state.js";

export interface ShadowOpts {
  /** The spec's state (default Idle). */
  spec?: ShadowState;
  /** The spec's version (default: 1.20.0 unless the spec is Idle). */
  version?: string | null;
  /** The status's current_state (default Idle). */
  state?: ShadowState;
  cur?: string;
  tgt?: string;
  crashes?: number;
  failedAt?: string | null;
  failure?: ShadowFailure;
  /** No status at all (the agent has not reported yet). */
  noStatus?: boolean;
  /** The metadata's resourceVersion (default "1"); undefined leaves it out. */
  resourceVersion?: string | undefined;
  namespace?: string;
  annotations?: Record<string, string>;
  /** The metadata's name (default `brs-<node>`). */
  name?: string;
  /** The spec's state_transition_timestamp (default null). */
  transitionAt?: string | null;
  /** Status fields written over the ones above. */
  status?: Partial<ShadowStatus>;
}

/** Node `node`'s shadow, `brs-<node>`. */
export function brs(node: string, o: ShadowOpts = {}): BottlerocketShadow {
  const rv = "resourceVersion" in o ? o.resourceVersion : "1";
  const s: BottlerocketShadow = {
    apiVersion: "brupop.bottlerocket.aws/v2",
    kind: "BottlerocketShadow",
    metadata: {
      name: o.name ?? `brs-${node}`,
      ...(rv !== undefined && { resourceVersion: rv }),
      ...(o.namespace !== undefined && { namespace: o.namespace }),
      ...(o.annotations !== undefined && { annotations: o.annotations }),
    },
    spec: {
      state: o.spec ?? "Idle",
      state_transition_timestamp: o.transitionAt ?? null,
      version:
        o.version !== undefined ? o.version : o.spec !== undefined && o.spec !== "Idle" ? "1.20.0" : null,
    },
  };
  if (o.noStatus !== true) s.status = status(o);
  return s;
}

function status(o: ShadowOpts): ShadowStatus {
  return {
    current_state: o.state ?? "Idle",
    current_version: o.cur ?? "1.19.0",
    target_version: o.tgt ?? "1.20.0",
    crash_count: o.crashes ?? 0,
    state_transition_failure_timestamp: o.failedAt ?? null,
    ...(o.failure !== undefined && { failure: o.failure }),
    ...o.status,
  };
}
