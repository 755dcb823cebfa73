// The demo's playground actions against its cluster, simulated hosts and health-gated DaemonSet: the same functions for
// the keys (a terminal) and `--script` (anywhere). Also `--policy FILE` (read and checked before
// anything starts) and the `--zones`/`--groups` node labels.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { BrupopError } from "../../src/errors.js";
import {
  DEFAULT_POLICY_NAME,
  parsePolicySpec,
  POLICY_API_VERSION,
  POLICY_COLLECTION_PATH,
  POLICY_KIND,
} from "../../src/model/policy.js";
import type { SimulatedFleet } from "../simulator/fleet.js";
import type { DemoHealth } from "./health.js";
import type { DemoAction } from "./script.js";
import type { RawKubeRest } from "../testenv/raw-rest.js";

/** What `--policy FILE` applies: an UpdatePolicy named `default` (the one the controller and status read). */
export interface PolicyManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

/** Reads and checks `--policy FILE`; throws BRUPOP_E_CONFIG naming the file and the problem. */
export function readPolicyFile(file: string, read = (f: string) => readFileSync(f, "utf8")): PolicyManifest {
  const bad = (why: string): never => {
    throw new BrupopError("BRUPOP_E_CONFIG", `--policy ${file}: ${why}`);
  };
  let text = "";
  try {
    text = read(file);
  } catch (err) {
    bad(err instanceof Error ? err.message : String(err));
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    bad(`not YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return bad("expected an UpdatePolicy object");
  const o = doc as Record<string, unknown>;
  if (o["kind"] !== undefined && o["kind"] !== POLICY_KIND)
    bad(`kind is ${JSON.stringify(o["kind"])}, not ${POLICY_KIND}`);
  const meta = (o["metadata"] ?? {}) as Record<string, unknown>;
  const name = meta["name"] ?? DEFAULT_POLICY_NAME;
  if (name !== DEFAULT_POLICY_NAME) {
    bad(`the controller honours the UpdatePolicy named "default"; this one is ${JSON.stringify(name)}`);
  }
  const checked = parsePolicySpec(o["spec"]);
  if ("error" in checked) bad(checked.error);
  return {
    apiVersion: POLICY_API_VERSION,
    kind: POLICY_KIND,
    metadata: { name: DEFAULT_POLICY_NAME },
    spec: (o["spec"] ?? {}) as Record<string, unknown>,
  };
}

async function ok(what: string, res: Promise<{ status: number; body: unknown }>): Promise<number> {
  const r = await res;
  if (r.status >= 300 && r.status !== 404) {
    throw new BrupopError("BRUPOP_E_UPSTREAM", `${what}: HTTP ${r.status}`, { body: r.body });
  }
  return r.status;
}

export async function applyPolicy(rest: RawKubeRest, policy: PolicyManifest): Promise<void> {
  await ok("create UpdatePolicy default", rest.request("POST", POLICY_COLLECTION_PATH, { body: policy }));
}

/** Sets labels on nodes (merge patch). */
export async function labelNodes(
  rest: RawKubeRest,
  labels: ReadonlyMap<string, Record<string, string>>,
): Promise<void> {
  await Promise.all(
    [...labels].map(([node, l]) =>
      ok(
        `label node ${node}`,
        rest.request("PATCH", `/api/v1/nodes/${node}`, {
          body: { metadata: { labels: l } },
          contentType: "application/merge-patch+json",
        }),
      ),
    ),
  );
}

/** The playground's state, which the keys read. */
export interface PlaygroundState {
  newest: string;
  paused: boolean;
  quit: boolean;
}

export interface PlaygroundDeps {
  rest: RawKubeRest;
  fleet: SimulatedFleet;
  state: PlaygroundState;
  /** The health-gated DaemonSet (health.ts); absent: `unhealthy` is refused. */
  health?: Pick<DemoHealth, "markUnhealthy">;
}

/** Performs one action; resolves with what happened (a line for the view's events). */
export async function performAction(action: DemoAction, deps: PlaygroundDeps): Promise<string> {
  const { state } = deps;
  switch (action.kind) {
    case "release":
      deps.fleet.releases.add({ version: action.version });
      state.newest = action.version;
      return `release ${action.version} offered to every host`;
    case "pause":
    case "resume": {
      const paused = action.kind === "pause";
      const path = `${POLICY_COLLECTION_PATH}/${DEFAULT_POLICY_NAME}`;
      const status = await ok(
        `${action.kind} UpdatePolicy default`,
        deps.rest.request("PATCH", path, {
          body: { spec: { paused } },
          contentType: "application/merge-patch+json",
        }),
      );
      if (status === 404) {
        await ok(
          "create UpdatePolicy default",
          deps.rest.request("POST", POLICY_COLLECTION_PATH, {
            body: {
              apiVersion: POLICY_API_VERSION,
              kind: POLICY_KIND,
              metadata: { name: DEFAULT_POLICY_NAME },
              spec: { paused },
            },
          }),
        );
      }
      state.paused = paused;
      return `UpdatePolicy default: spec.paused=${String(paused)}${status === 404 ? " (created)" : ""}`;
    }
    case "fail-host":
      deps.fleet
        .host(action.node)
        .failCommand("prepare", { times: 1, stderr: "demo: injected prepare failure" });
      return `${action.node}: its next prepare will fail`;
    case "unhealthy":
      if (deps.health === undefined) throw new Error("this demo runs no health-gated DaemonSet");
      deps.health.markUnhealthy(action.node);
      return `${action.node}: its DaemonSet pod will not be Ready after its next reboot (health gate)`;
    case "quit":
      state.quit = true;
      return "quit";
  }
}
