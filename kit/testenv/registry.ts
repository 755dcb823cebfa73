// An OCI registry for the tests (tools/testenv/build-registry.sh: go-containerregistry's registry,
// in memory) on 127.0.0.1 with TLS from a test CA (pki.ts). `caDir` is a certs.d-style directory
// (<host:port>/ca.crt) as buildah, containerd's hosts.toml and helm's --ca-file read it.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { CoreV1Api } from "@kubernetes/client-node";

import { BrupopError } from "../../src/errors.js";
import { toolsDir } from "./paths.js";
import { createCA, issueCert } from "./pki.js";
import { ManagedProcess } from "./process.js";
import type { RealNodeCluster } from "./realnode/cluster.js";

const run = promisify(execFile);

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:40123. */
  readonly host: string;
  /** PEM of the CA that signed the registry's certificate. */
  readonly caPem: string;
  /** The CA file. */
  readonly caFile: string;
  /** certs.d-style directory: <caDir>/<host>/ca.crt. */
  readonly caDir: string;
  stop(): Promise<void>;
}

/** Builds (or reuses) the registry binary; resolves to its bin directory. */
export async function buildRegistry(): Promise<string> {
  const { stdout } = await run("bash", [join(toolsDir(), "build-registry.sh")], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const dir = stdout.trim().split("\n").at(-1) ?? "";
  if (dir === "") throw new BrupopError("BRUPOP_E_TESTENV", "build-registry.sh printed no bin directory");
  return dir;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1");
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export interface StartRegistryOptions {
  /** Runs the registry through another command, e.g. inside a real-node sandbox (nsenter ...). */
  wrapCommand?: (command: string, args: readonly string[]) => { command: string; args: string[] };
  /** Makes host:port reachable from the host (a wrapped registry listens in another netns). */
  exposePort?: (port: number) => Promise<void>;
  /** True once the registry accepts connections (default: a TCP connect from here). */
  probe?: (port: number) => Promise<boolean>;
}

/** Starts the registry on 127.0.0.1 (a free port) with a fresh CA; stop() ends it and removes its files. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const bin = await buildRegistry();
  const dir = await mkdtemp(join(tmpdir(), "brupop-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${String(port)}`;
  const ca = await createCA({ commonName: "brupop-test-registry-ca", days: 2 });
  const tls = await issueCert({
    ca,
    commonName: "127.0.0.1",
    ipAddresses: ["127.0.0.1"],
    usage: "server",
    days: 2,
  });
  const caFile = join(dir, "ca.crt");
  const caDir = join(dir, "certs.d");
  await writeFile(caFile, ca.certPem);
  await writeFile(join(dir, "tls.crt"), tls.certPem);
  await writeFile(join(dir, "tls.key"), tls.keyPem, { mode: 0o600 });
  await mkdir(join(caDir, host), { recursive: true });
  await writeFile(join(caDir, host, "ca.crt"), ca.certPem);
  const argv = ["-addr", host, "-cert", join(dir, "tls.crt"), "-key", join(dir, "tls.key")];
  const cmd = opts.wrapCommand?.(join(bin, "registry"), argv) ?? {
    command: join(bin, "registry"),
    args: argv,
  };
  const proc = new ManagedProcess({
    name: "registry",
    command: cmd.command,
    args: cmd.args,
    logFile: join(dir, "registry.log"),
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const probe = opts.probe ?? accepts;
  for (let i = 0; i < 100 && !(await probe(port)); i++) {
    if (!proc.running) {
      const log = await proc.tail();
      await stop();
      throw new BrupopError("BRUPOP_E_TESTENV", `the registry exited: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await opts.exposePort?.(port);
  return { host, caPem: ca.certPem, caFile, caDir, stop };
}

/** A kubelet's "Pulled" Event for an image from the cluster's registry: which pod and its message. */
export interface ImagePull {
  pod: string;
  message: string;
}

/**
 * The kubelets' "Successfully pulled image <registry>/..." Events (the message carries the pull
 * time, e.g. "in 1.2s (1.2s including waiting)"); empty when nothing came from the registry.
 * Shared by the real-node e2e, `brupop demo --real-nodes` and bench/pods.ts.
 */
export async function imagePulls(
  cluster: Pick<RealNodeCluster, "registry" | "kubeConfig">,
): Promise<ImagePull[]> {
  const host = cluster.registry?.host;
  if (host === undefined) return [];
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const events = await core.listEventForAllNamespaces({ fieldSelector: "reason=Pulled" });
  return events.items
    .filter((e) => (e.message ?? "").includes(`"${host}/`))
    .map((e) => ({ pod: e.involvedObject.name ?? "", message: e.message ?? "" }));
}

/** The pull time a kubelet's "Pulled" message reports ("... in 1.234s (1.5s including waiting)..."), in seconds. */
export function pullSeconds(message: string): number | undefined {
  // A Go duration: "1.234s", "850ms", "12.5µs", "1m2.5s", "1h0m3s".
  const m = / in ((?:[0-9.]+(?:h|ms|m|s|µs|us|ns))+) \(/.exec(message);
  if (m?.[1] === undefined) return undefined;
  const perUnit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, µs: 1e-6, us: 1e-6, ns: 1e-9 };
  let seconds = 0;
  for (const [, n = "", unit = ""] of m[1].matchAll(/([0-9.]+)(h|ms|m|s|µs|us|ns)/g)) {
    seconds += Number(n) * (perUnit[unit] ?? NaN);
  }
  return Number.isFinite(seconds) ? seconds : undefined;
}
