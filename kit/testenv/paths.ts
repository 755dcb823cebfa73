// Where the Go-built control plane lives. tools/testenv/build.sh puts the binaries in
// ${BRUPOP_TESTENV_CACHE:-~/.cache/brupop-testenv}/<key>/bin; this module computes the same key
// (tools/testenv/key.sh is the shell twin; paths.test.ts checks that both agree).
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

import { BrupopError } from "../../src/errors.js";

/** Files whose content decides what build.sh builds, in key.sh's order. */
export const KEY_FILES = [
  "versions.env",
  "go/kube/go.mod",
  "go/kube/go.sum",
  "go/etcd/go.mod",
  "go/etcd/go.sum",
  "go/kwok/go.mod",
  "go/kwok/go.sum",
  "go/helm/go.mod",
  "go/helm/go.sum",
] as const;

export const BINARIES = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
  "etcd",
  "kwok",
  "helm",
] as const;
export type BinaryName = (typeof BINARIES)[number];

export interface TestenvVersions {
  readonly K8S_VERSION: string;
  readonly ETCD_VERSION: string;
  readonly KWOK_VERSION: string;
  readonly HELM_VERSION: string;
}

/** tools/testenv of this checkout (found from this file, so it works from src/ and dist/). */
export function toolsDir(start: string = import.meta.dirname): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const candidate = join(dir, "tools", "testenv");
    if (existsSync(join(candidate, "versions.env"))) return candidate;
    if (dirname(dir) === dir) {
      throw new BrupopError("BRUPOP_E_TESTENV", `tools/testenv/versions.env not found above ${start}`);
    }
  }
}

export function readVersions(dir: string = toolsDir()): TestenvVersions {
  const vars = new Map<string, string>();
  for (const line of readFileSync(join(dir, "versions.env"), "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(\S*)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2]);
  }
  const get = (k: keyof TestenvVersions): string => {
    const v = vars.get(k);
    if (v === undefined) throw new BrupopError("BRUPOP_E_TESTENV", `${k} missing from versions.env`);
    return v;
  };
  return {
    K8S_VERSION: get("K8S_VERSION"),
    ETCD_VERSION: get("ETCD_VERSION"),
    KWOK_VERSION: get("KWOK_VERSION"),
    HELM_VERSION: get("HELM_VERSION"),
  };
}

/** Same string as `bash tools/testenv/key.sh`. */
export function versionKey(dir: string = toolsDir()): string {
  const h = createHash("sha256");
  for (const f of KEY_FILES) h.update(readFileSync(join(dir, f)));
  const v = readVersions(dir);
  const hash = h.digest("hex").slice(0, 12);
  return `k8s-${v.K8S_VERSION}_etcd-${v.ETCD_VERSION}_kwok-${v.KWOK_VERSION}_helm-${v.HELM_VERSION}_${hash}`;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const override = env["BRUPOP_TESTENV_CACHE"];
  return override !== undefined && override !== "" ? override : join(homedir(), ".cache", "brupop-testenv");
}

/** The bin dir build.sh fills (BRUPOP_TESTENV_BIN_DIR overrides it, for binaries built elsewhere). */
export function binDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env["BRUPOP_TESTENV_BIN_DIR"];
  if (override !== undefined && override !== "") return override;
  return join(cacheRoot(env), versionKey(), "bin");
}

/** The paths of `files` this process cannot access with `mode` (e.g. fs.constants.X_OK). */
export function unreadable(files: readonly string[], mode: number): string[] {
  return files.filter((f) => {
    try {
      accessSync(f, mode);
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Checks that every binary is present and executable and returns the bin dir. Fails loudly
 * (never skips): tests that need the control plane must not silently pass without it.
 */
export function requireBinaries(dir: string = binDir()): string {
  const missing = unreadable(
    BINARIES.map((b) => join(dir, b)),
    constants.X_OK,
  ).map((f) => f.slice(dir.length + 1));
  if (missing.length > 0) {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `control-plane binaries missing in ${dir}: ${missing.join(", ")}; run \`npm run testenv:build\``,
      { binDir: dir, missing },
    );
  }
  return dir;
}
