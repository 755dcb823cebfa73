// The demo's fixed facts and its flag checks: light (no cluster code), so `brupop demo` can refuse
// bad flags before it builds or starts anything.
import { BrupopError } from "../errors.js";

export const FROM_VERSION = "1.19.0";
export const TO_VERSION = "1.20.0";
export const NODE_PREFIX = "demo-node-";

/** The names the demo's nodes get: demo-node-0 … demo-node-(n-1). */
export function demoNodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${NODE_PREFIX}${i}`);
}

/** Throws BRUPOP_E_CONFIG when --fail-host names no node of the demo. */
export function checkFailHost(failHost: string | undefined, nodes: number): void {
  if (failHost === undefined) return;
  const names = demoNodeNames(nodes);
  if (names.includes(failHost)) return;
  const shown = names.length <= 6 ? names.join(", ") : `${names.slice(0, 3).join(", ")} … ${names.at(-1)}`;
  throw new BrupopError("BRUPOP_E_CONFIG", `--fail-host: no node "${failHost}" (nodes: ${shown})`);
}
