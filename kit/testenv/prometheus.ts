// Where the Go-built Prometheus lives (tools/testenv/build-prometheus.sh): the fallback of
// prometheus-server.ts when Debian's prometheus is not installed. Its cache key is computed here like
// tools/testenv/prometheus-key.sh (prometheus.test.ts checks that both agree).
import { createHash } from "node:crypto";
import { constants, readFileSync } from "node:fs";
import { join } from "node:path";

import { BrupopError } from "../../src/errors.js";
import { cacheRoot, toolsDir, unreadable } from "./paths.js";

/** Files whose content decides what build-prometheus.sh builds, in prometheus-key.sh's order. */
export const PROMETHEUS_KEY_FILES = [
  "prometheus.env",
  "go/prometheus/go.mod",
  "go/prometheus/go.sum",
] as const;

/** Same string as `bash tools/testenv/prometheus-key.sh`. */
export function prometheusKey(dir: string = toolsDir()): string {
  const h = createHash("sha256");
  for (const f of PROMETHEUS_KEY_FILES) h.update(readFileSync(join(dir, f)));
  const m = /^PROMETHEUS_MODULE_VERSION=(\S+)\s*$/m.exec(readFileSync(join(dir, "prometheus.env"), "utf8"));
  if (m?.[1] === undefined) {
    throw new BrupopError("BRUPOP_E_TESTENV", "PROMETHEUS_MODULE_VERSION missing from prometheus.env");
  }
  return `prometheus-${m[1]}_${h.digest("hex").slice(0, 12)}`;
}

/**
 * The prometheus binary; fails loudly when it has not been built (tests never skip silently).
 */
export function prometheusBinary(env: NodeJS.ProcessEnv = process.env): string {
  const bin = join(cacheRoot(env), prometheusKey(), "bin", "prometheus");
  if (unreadable([bin], constants.X_OK).length > 0) {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `prometheus missing (${bin}); run \`npm run testenv:build-prometheus\``,
      { binary: bin },
    );
  }
  return bin;
}
