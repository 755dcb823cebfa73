// Where the real-node binaries and images live: tools/testenv/build-realnode.sh puts them in
// ${BRUPOP_TESTENV_CACHE:-~/.cache/brupop-testenv}/<realnode key>/{bin,images}; this module
// computes the same key (tools/testenv/realnode-key.sh is the shell twin; paths.test.ts checks
// that both agree). The key is separate from the control plane's (../paths.ts) on purpose.
import { createHash } from "node:crypto";
import { constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

import { BrupopError } from "../../../src/errors.js";
import { cacheRoot, readVersions, toolsDir, unreadable } from "../paths.js";

/** Files whose content decides what build-realnode.sh builds, in realnode-key.sh's order. */
export const REALNODE_KEY_FILES = [
  "versions.env",
  "realnode.env",
  "go/kubenode/go.mod",
  "go/kubenode/go.sum",
  "go/coredns/go.mod",
  "go/coredns/go.sum",
] as const;

export const REALNODE_BINARIES = ["kubelet", "kube-proxy", "coredns", "pause"] as const;
export const REALNODE_IMAGES = ["pause.tar", "coredns.tar"] as const;

export function readRealNodeVersions(dir: string = toolsDir()): { COREDNS_VERSION: string } {
  const m = /^COREDNS_VERSION=(\S+)\s*$/m.exec(readFileSync(join(dir, "realnode.env"), "utf8"));
  if (m?.[1] === undefined)
    throw new BrupopError("BRUPOP_E_TESTENV", "COREDNS_VERSION missing from realnode.env");
  return { COREDNS_VERSION: m[1] };
}

/** Same string as `bash tools/testenv/realnode-key.sh`. */
export function realNodeKey(dir: string = toolsDir()): string {
  const h = createHash("sha256");
  for (const f of REALNODE_KEY_FILES) h.update(readFileSync(join(dir, f)));
  const hash = h.digest("hex").slice(0, 12);
  const { K8S_VERSION } = readVersions(dir);
  const { COREDNS_VERSION } = readRealNodeVersions(dir);
  return `realnode-k8s-${K8S_VERSION}_coredns-${COREDNS_VERSION}_${hash}`;
}

/** The real-node cache dir (holds bin/ and images/). */
export function realNodeDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), realNodeKey());
}

/** Fails loudly (never skips) when build-realnode.sh has not run; returns the cache dir. */
export function requireRealNodeBinaries(dir: string = realNodeDir()): string {
  const missing = unreadable(
    [
      ...REALNODE_BINARIES.map((b) => join(dir, "bin", b)),
      ...REALNODE_IMAGES.map((i) => join(dir, "images", i)),
    ],
    constants.R_OK,
  );
  if (missing.length > 0) {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `real-node binaries missing: ${missing.join(", ")}; run \`npm run testenv:build-realnode\``,
      { missing },
    );
  }
  return dir;
}

/** Default cache of `npm run image` (tools/image/build.sh). */
export function imageCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const o = env["BRUPOP_IMAGE_CACHE"];
  return o !== undefined && o !== "" ? o : join(homedir(), ".cache", "brupop-image");
}
