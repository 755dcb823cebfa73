// Builders for the status unit tests: raw API objects as the cluster would return them.
import { settingsToData, type PublishedSettings } from "../../src/controller/act/round-store.js";
import { roundStateToData, type RoundState } from "../../src/controller/decide/gate.js";
import { UPDATER_INTERFACE_LABEL, UPDATER_INTERFACE_VERSION } from "../../src/model/constants.js";
import type { ShadowSpec, ShadowStatus } from "../../src/model/shadow.js";
import { shadowStatus } from "./fixtures.js";
import type { DrainView, RawNode, RawPdb, RawPod, RawShadow, StatusInput } from "../../src/status/inputs.js";

export const NOW = new Date("2030-06-01T12:00:00.000Z");
export const FROM = "1.19.0";
export const TO = "1.20.0";

export const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();

export function shadow(
  node: string,
  spec: Partial<ShadowSpec> = {},
  status?: Partial<ShadowStatus> | null,
): RawShadow {
  const raw: RawShadow = {
    metadata: { name: `brs-${node}`, namespace: "ns", resourceVersion: "1" },
    spec: { state: "Idle", state_transition_timestamp: null, version: null, ...spec },
  };
  if (status !== null) {
    raw.status = shadowStatus({ current_version: FROM, target_version: TO, ...status });
  }
  return raw;
}

/** A shadow that has nothing to do. */
export const upToDate = (node: string): RawShadow =>
  shadow(node, {}, { current_version: TO, target_version: TO });

/** Asked for `state` `secondsAgo`, status still `current`. */
export const asked = (
  node: string,
  state: ShadowSpec["state"],
  secondsAgo: number,
  current: ShadowStatus["current_state"],
) =>
  shadow(
    node,
    { state, state_transition_timestamp: ago(secondsAgo), version: TO },
    { current_state: current },
  );

export function node(
  name: string,
  opts: { cordoned?: boolean; ready?: boolean | null; labelled?: boolean; readySince?: string } = {},
): RawNode {
  const n: RawNode = {
    metadata: {
      name,
      labels: opts.labelled === false ? {} : { [UPDATER_INTERFACE_LABEL]: UPDATER_INTERFACE_VERSION },
    },
    spec: opts.cordoned === true ? { unschedulable: true } : {},
    status: {},
  };
  if (opts.ready !== null && n.status !== undefined) {
    n.status.conditions = [
      {
        type: "Ready",
        status: opts.ready === false ? "False" : "True",
        lastTransitionTime: opts.readySince ?? ago(600),
      },
    ];
  }
  return n;
}

export function pod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  extra: Partial<RawPod> = {},
): RawPod {
  return {
    metadata: { namespace, name, labels, ...extra.metadata },
    status: { phase: "Running", ...extra.status },
  };
}

export function pdb(
  namespace: string,
  name: string,
  matchLabels: Record<string, string>,
  allowed: number | undefined,
): RawPdb {
  return {
    metadata: { namespace, name },
    spec: { selector: { matchLabels } },
    status: allowed === undefined ? {} : { disruptionsAllowed: allowed },
  };
}

export function settings(over: Partial<PublishedSettings> = {}, round?: RoundState): Record<string, string> {
  const s: PublishedSettings = {
    maxConcurrent: 2,
    schedule: "* * * * * * *",
    controllerNode: null,
    leader: "brupop-controller-0",
    leaderSince: ago(3600),
    ...over,
  };
  return { ...(round === undefined ? {} : roundStateToData(round, s.schedule)), ...settingsToData(s) };
}

export function input(
  shadows: RawShadow[],
  nodes: RawNode[],
  opts: {
    state?: Record<string, string> | null;
    stateError?: string;
    drain?: Record<string, DrainView>;
    now?: Date;
  } = {},
): StatusInput {
  return {
    namespace: "ns",
    now: opts.now ?? NOW,
    shadows,
    nodes,
    controllerState: opts.state === undefined ? settings() : opts.state,
    controllerStateError: opts.stateError,
    drain: new Map(Object.entries(opts.drain ?? {})),
  };
}
