// The demo's fixed facts and its flag checks: light (no cluster code), so `brupop demo` can refuse
// bad flags before it builds or starts anything.
import { BrupopError } from "../../src/errors.js";

export const FROM_VERSION = "1.19.0";
export const TO_VERSION = "1.20.0";
export const NODE_PREFIX = "demo-node-";

/** `--real-nodes`: the names kit/testenv/realnode gives its nodes. */
export const REAL_NODE_PREFIX = "real-node-";
/** Real nodes are processes on this machine: a few, not a fleet. */
export const MAX_REAL_NODES = 3;

/** The names the demo's nodes get: demo-node-0 … demo-node-(n-1) (real-node-… with --real-nodes). */
export function demoNodeNames(count: number, prefix = NODE_PREFIX): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** What --real-nodes needs before anything starts; throws BRUPOP_E_CONFIG naming the gap. */
export function checkRealNodeDemo(nodes: number, uid: number | undefined): void {
  if (nodes < 1 || nodes > MAX_REAL_NODES) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      `--real-nodes: --nodes must be 1 to ${MAX_REAL_NODES} (each is a kubelet and containerd on this machine), not ${nodes}`,
    );
  }
  if (uid !== 0) {
    throw new BrupopError(
      "BRUPOP_E_CONFIG",
      "--real-nodes needs root (it makes a network namespace, cgroups and mounts; docs/testenv.md, Real nodes)",
    );
  }
}

/** Throws BRUPOP_E_CONFIG when --fail-host names no node of the demo. */
export function checkFailHost(failHost: string | undefined, nodes: number, prefix = NODE_PREFIX): void {
  if (failHost === undefined) return;
  const names = demoNodeNames(nodes, prefix);
  if (names.includes(failHost)) return;
  const shown = names.length <= 6 ? names.join(", ") : `${names.slice(0, 3).join(", ")} … ${names.at(-1)}`;
  throw new BrupopError("BRUPOP_E_CONFIG", `--fail-host: no node "${failHost}" (nodes: ${shown})`);
}
