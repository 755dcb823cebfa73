// The container image as shipped (`npm run image` → tools/image/build.sh): FROM scratch with Node,
// the libraries it links, CA certificates, the bundles, licences and an SBOM; runs `brupop` as the
// non-root user; amd64 and arm64 under one OCI index (the arm64 Node runs under qemu-user here);
// carries nothing of the build machine and no distribution userland.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { BrupopTestbed } from "../../kit/testbed/testbed.js";
import { binDir } from "../../kit/testenv/paths.js";
import { imageCacheRoot } from "../../kit/testenv/realnode/paths.js";
import { startRegistry } from "../../kit/testenv/registry.js";
import { productionPackages, type LockFile } from "../../tools/image/lockfile.js";
import { blobPath, readOciArchive, type OciArchive } from "../../tools/image/oci.js";
import { CHART_NODE_FLAGS } from "../../tools/bundle/compile-cache.js";
import { testbedAgentFlags } from "../kit/agent-command.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
/** The image's entrypoint (the chart's args pick the component). */
const ENTRYPOINT = ["/usr/local/bin/node", "/app/dist/cli/main.js"];
/** Issue 29's goals, per architecture. */
const MAX_UNCOMPRESSED = 130e6;
const MAX_COMPRESSED = 45e6;

interface ArchiveManifest {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}
interface CdxComponent {
  type: string;
  name: string;
  group?: string;
  version?: string;
  purl?: string;
  licenses?: { license?: { id?: string; name?: string }; expression?: string }[];
  components?: CdxComponent[];
}

/** GET over HTTPS trusting `caPem` only; rejects on a non-2xx status. */
function fetchWithCa(url: string, accept: string, caPem: string): Promise<{ body: string; digest: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: caPem, headers: { accept } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${url}: HTTP ${String(res.statusCode)} ${body}`));
        else resolve({ body, digest: String(res.headers["docker-content-digest"] ?? "") });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

function flatten(components: readonly CdxComponent[]): CdxComponent[] {
  return components.flatMap((c) => [c, ...flatten(c.components ?? [])]);
}

describe("container image", { timeout: 1_800_000 }, () => {
  let archive = "";
  let extracted = "";
  let manifest: ArchiveManifest;
  let files: string[] = [];
  let oci: OciArchive;
  let ociPath = "";
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    name: string;
    version: string;
    devDependencies: Record<string, string>;
  };
  const bah = (args: readonly string[]): Promise<{ stdout: string; stderr: string }> =>
    run(
      "buildah",
      [
        "--root",
        join(imageCacheRoot(), "storage"),
        "--runroot",
        join(imageCacheRoot(), "run"),
        "--storage-driver",
        "overlay",
        ...args,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );

  before(async () => {
    // Cached: a warm run only checks the cache dir.
    const { stdout } = await run("bash", [join(ROOT, "tools", "image", "build.sh")], {
      maxBuffer: 64 * 1024 * 1024,
    });
    archive = stdout.trim().split("\n").at(-1) ?? "";
    ociPath = archive.replace(/\.tar$/, ".oci.tar");
    oci = readOciArchive(ociPath);
    extracted = await mkdtemp(join(tmpdir(), "brupop-image-test-"));
    await run("tar", ["-xf", archive, "-C", extracted]);
    const manifests = JSON.parse(
      await readFile(join(extracted, "manifest.json"), "utf8"),
    ) as ArchiveManifest[];
    assert.equal(manifests.length, 1, "one image in the archive");
    manifest = manifests[0] as ArchiveManifest;
    for (const layer of manifest.Layers) {
      const { stdout: list } = await run("tar", ["-tf", join(extracted, layer)], {
        maxBuffer: 256 * 1024 * 1024,
      });
      files.push(...list.split("\n").filter((l) => l !== ""));
    }
    files = files.map((f) => f.replace(/^\.\//, "").replace(/\/$/, ""));
  });
  after(async () => {
    if (extracted !== "") await rm(extracted, { recursive: true, force: true });
  });

  it("is tagged with the package version and runs brupop as uid 1000", async () => {
    // What kubelets resolve the chart's `image: brupop-ts:<version>` to.
    assert.ok(
      manifest.RepoTags.includes(`docker.io/library/${pkg.name}:${pkg.version}`),
      manifest.RepoTags.join(),
    );
    const config = JSON.parse(await readFile(join(extracted, manifest.Config), "utf8")) as {
      config: { User: string; Entrypoint: string[] };
    };
    assert.equal(config.config.User, "1000:1000");
    assert.deepEqual(config.config.Entrypoint, ENTRYPOINT);

    const ref = `localhost/${pkg.name}:${pkg.version}`;
    const { stdout: ctr } = await bah(["from", "--pull-never", ref]);
    const container = ctr.trim();
    try {
      const { stdout: id } = await bah([
        "run",
        "--isolation",
        "chroot",
        container,
        "--",
        "node",
        "-e",
        "process.stdout.write(`${process.getuid()}:${process.getgid()}`)",
      ]);
      assert.equal(id.trim(), "1000:1000");
      const { stdout: help } = await bah([
        "run",
        "--isolation",
        "chroot",
        container,
        "--",
        "brupop",
        "--help",
      ]);
      assert.match(help, /^Usage: brupop/m);
      for (const cmd of ["agent", "apiserver", "controller"])
        assert.match(help, new RegExp(`^\\s+${cmd}\\b`, "m"));
    } finally {
      await bah(["rm", container]);
    }
  });

  it("ships a V8 compile cache that the image's node accepts for each component as the chart runs it", async () => {
    // tools/bundle/compile-cache.ts, written at image build (build.sh): keyed by path, Node version,
    // flags and uid; the agent runs as root with its flags, the apiserver and controller as 1000.
    assert.ok(
      files.some((f) => f.startsWith("app/dist/cli/.compile-cache/")),
      "no compile cache in the image",
    );
    const ref = `localhost/${pkg.name}:${pkg.version}`;
    const { stdout: ctr } = await bah(["from", "--pull-never", ref]);
    const container = ctr.trim();
    try {
      const runs: [string, string, string[]][] = [
        ["agent", "0:0", [...CHART_NODE_FLAGS.agent]],
        ["controller", "1000:1000", [...CHART_NODE_FLAGS.controller]],
        ["apiserver", "1000:1000", [...CHART_NODE_FLAGS.apiserver]],
      ];
      for (const [component, user, flags] of runs) {
        const { stderr } = await bah([
          "run",
          "--isolation",
          "chroot",
          "--user",
          user,
          "--env",
          "NODE_DEBUG_NATIVE=COMPILE_CACHE",
          container,
          "--",
          "node",
          ...flags,
          "/app/dist/cli/main.js",
          component,
          "--help",
        ]);
        assert.match(
          stderr,
          new RegExp(`code cache for CommonJS /app/dist/cli/${component}\\.js was accepted`),
          `${component} as ${user}: ${stderr}`,
        );
      }
    } finally {
      await bah(["rm", container]);
    }
  });

  it("is FROM scratch: Node, its libraries, CA certificates, the bundles, licences and the SBOM only", () => {
    const script = ENTRYPOINT[1] ?? "";
    assert.ok(files.includes(script.replace(/^\//, "")), `the entrypoint ${script} is missing`);
    const allowed =
      /^(usr\/local\/bin\/(node|brupop)|app\/dist\/cli\/([^/]+|\.compile-cache\/v[^/]+\/[0-9a-f]+)|lib64\/ld-linux-x86-64\.so\.2|(usr\/)?lib\/x86_64-linux-gnu\/lib[a-z0-9+_-]+\.so[.0-9]*|lib\/x86_64-linux-gnu\/ld-linux-x86-64\.so\.2|etc\/(passwd|group|ssl\/certs\/ca-certificates\.crt)|licenses\/.+|sbom\/.+)$/;
    const dirs = new Set(
      files.flatMap((f) =>
        f
          .split("/")
          .map((_, i, parts) => parts.slice(0, i + 1).join("/"))
          .slice(0, -1),
      ),
    );
    const unexpected = files.filter((f) => !dirs.has(f) && f !== "tmp" && !allowed.test(f));
    assert.deepEqual(unexpected, [], "files outside the slim layout");
    for (const shell of ["bin/sh", "bin/bash", "usr/bin/env", "usr/bin/apt-get", "usr/bin/dpkg"]) {
      assert.ok(!files.includes(shell), `${shell} shipped`);
    }
    assert.ok(!files.some((f) => f.startsWith("app/node_modules")), "node_modules shipped");
    assert.ok(!files.some((f) => f.endsWith(".map")), "source maps shipped (they stay beside the archive)");
    assert.ok(
      !files.some((f) => f.startsWith("src/") || f.startsWith("app/src/")),
      "TypeScript sources shipped",
    );
  });

  it("carries nothing of the build machine: no CA bundle, npm cache or config, compile cache", async () => {
    const leaks = files.filter((f) =>
      /(^|\/)(\.npmrc|_cacache|\.npm|node-compile-cache|\.build-ca\.crt)(\/|$)/.test(f),
    );
    assert.deepEqual(leaks, []);
    // No file with the host CA bundle's exact size+content in any layer.
    const ca = process.env["NODE_EXTRA_CA_CERTS"] ?? "/etc/ssl/certs/ca-certificates.crt";
    let caText: string | undefined;
    try {
      caText = statSync(ca).isFile() ? readFileSync(ca, "utf8") : undefined;
    } catch {
      caText = undefined;
    }
    if (caText !== undefined) {
      const { stdout } = await run("bash", [
        "-c",
        `for l in "$@"; do tar -tvf "$l"; done | awk '$3 == ${String(Buffer.byteLength(caText))} {print $6}'`,
        "x",
        ...manifest.Layers.map((l) => join(extracted, l)),
      ]);
      assert.equal(stdout.trim(), "", `a file the size of the host CA bundle is in the image: ${stdout}`);
    }
  });

  it("is one OCI index of linux/amd64 and linux/arm64 images with the same entrypoint and user", () => {
    const platforms = oci.images.map((i) => `${i.config.os}/${i.config.architecture}`).sort();
    assert.deepEqual(platforms, ["linux/amd64", "linux/arm64"]);
    for (const image of oci.images) {
      assert.deepEqual(image.descriptor.platform?.architecture, image.config.architecture);
      assert.deepEqual(image.descriptor.platform?.os, "linux");
      assert.deepEqual(image.config.config.Entrypoint, ENTRYPOINT);
      assert.equal(image.config.config.User, "1000:1000");
      assert.equal(image.layers.length, 1, "one layer (FROM scratch)");
    }
  });

  it("meets the size goals per architecture", () => {
    const sizes = readFileSync(join(archive, "..", "SIZES"), "utf8")
      .trim()
      .split("\n");
    for (const line of sizes) {
      const [arch, uncompressed, compressed] = line.split(" ");
      process.stderr.write(
        `image ${arch ?? ""}: ${(Number(uncompressed) / 1e6).toFixed(1)} MB, ${(Number(compressed) / 1e6).toFixed(1)} MB compressed\n`,
      );
      assert.ok(Number(uncompressed) <= MAX_UNCOMPRESSED, line);
      assert.ok(Number(compressed) > 1e6 && Number(compressed) <= MAX_COMPRESSED, line);
      const image = oci.images.find((i) => i.config.architecture === arch);
      assert.equal(
        image?.compressedBytes,
        Number(compressed),
        `SIZES agrees with the index for ${arch ?? ""}`,
      );
    }
    assert.equal(sizes.length, 2);
  });

  it("lists every production dependency of package-lock.json in its SBOM, with version and licence", async () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as LockFile;
    const wanted = productionPackages(lock);
    assert.ok(wanted.length > 20, "the lockfile has production packages");
    for (const arch of ["amd64", "arm64"]) {
      const bom = JSON.parse(
        await readFile(join(archive, "..", `${pkg.name}-${pkg.version}.${arch}.cdx.json`), "utf8"),
      ) as { bomFormat: string; components: CdxComponent[] };
      assert.equal(bom.bomFormat, "CycloneDX");
      const all = flatten(bom.components);
      const byPurl = new Map(all.filter((c) => c.purl !== undefined).map((c) => [c.purl?.split("?")[0], c]));
      const missing: string[] = [];
      for (const p of wanted) {
        const purl = `pkg:npm/${p.name.replace(/^@/, "%40")}@${p.version}`;
        const c = byPurl.get(purl);
        const licensed = (c?.licenses ?? []).some(
          (l) => (l.license?.id ?? l.license?.name ?? l.expression ?? "") !== "",
        );
        if (c === undefined || !licensed)
          missing.push(`${p.name}@${p.version}${c === undefined ? "" : " (no licence)"}`);
      }
      assert.deepEqual(missing, [], `${arch}: production dependencies missing from the SBOM`);
      const node = all.find((c) => c.name === "node" && c.type === "application");
      assert.equal(`v${node?.version ?? ""}`, process.version);
      assert.ok(
        all.some((c) => c.purl?.startsWith(`pkg:deb/debian/libc6@`) && c.purl.includes(`arch=${arch}`)),
      );
    }
    // The same SBOM and the licence texts are inside the image.
    assert.ok(files.includes(`sbom/${pkg.name}.cdx.json`));
    assert.ok(files.includes("licenses/node/LICENSE"));
    assert.ok(files.includes("licenses/debian/libc6/copyright"));
    for (const p of wanted) {
      assert.ok(
        files.some((f) => f.startsWith(`licenses/npm/${p.name}@${p.version}/`)),
        `no licence text for ${p.name}@${p.version}`,
      );
    }
  });

  it("runs on arm64 under qemu-user: Node, `brupop --help`, `brupop agent --help`, and the agent against a simulated host to its first status", async () => {
    const arm = oci.images.find((i) => i.config.architecture === "arm64");
    const layer = arm?.layers[0];
    assert.ok(layer !== undefined);
    const rootfs = join(extracted, "arm64-rootfs");
    await mkdir(rootfs);
    await run("bash", [
      "-c",
      `tar -xOf "$1" "$2" | tar -xzf - -C "$3"`,
      "x",
      ociPath,
      blobPath(layer.digest),
      rootfs,
    ]);
    const { stdout: file } = await run("file", ["-L", join(rootfs, "usr/local/bin/node")]);
    assert.match(file, /ARM aarch64/);
    // qemu-aarch64-static -L: the ELF interpreter and libraries come from the image's own root.
    const qemu = (args: readonly string[]): Promise<{ stdout: string }> =>
      run("qemu-aarch64-static", ["-L", rootfs, join(rootfs, "usr/local/bin/node"), ...args], {
        maxBuffer: 16 * 1024 * 1024,
        env: { PATH: "/usr/bin:/bin", HOME: rootfs },
      });
    const main = join(rootfs, ENTRYPOINT[1] ?? "");
    const { stdout: v } = await qemu(["-p", "process.arch + ' ' + process.version"]);
    // The same Node as the tests' own (devDependencies.node).
    assert.equal(v.trim(), `arm64 ${process.version}`);
    const { stdout: help } = await qemu([main, "--help"]);
    assert.match(help, /^Usage: brupop/m);
    const { stdout: agentHelp } = await qemu([main, "agent", "--help"]);
    assert.match(agentHelp, /^Usage: brupop agent/m);
    // A short simulator-backed run (kit/testbed: the real control plane, brupop's apiserver and a
    // simulated Bottlerocket host on a Unix socket): the arm64 agent creates its node's shadow,
    // reads the host over the socket and reports the host's version as its first status.
    const tb = await BrupopTestbed.start({ releases: [{ version: "1.20.0", releasedAt: 0 }] });
    try {
      const [node] = (await tb.addNodes(1, {
        version: "1.19.0",
        namePrefix: "arm64-",
        startAgents: false,
      })) as [string];
      const agent = spawn(
        "qemu-aarch64-static",
        ["-L", rootfs, join(rootfs, "usr/local/bin/node"), main, "agent", ...testbedAgentFlags(tb, node)],
        { stdio: ["ignore", "pipe", "pipe"], env: { MY_NODE_NAME: node, PATH: "/usr/bin:/bin" } },
      );
      let out = "";
      agent.stdout.on("data", (d: Buffer) => (out += d.toString()));
      agent.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => agent.on("exit", (code) => resolve(code)));
      try {
        const status = await tb
          .waitForStatus(node, "the arm64 agent's first status", (s) => s.current_state === "Idle", {
            timeoutMs: 240_000,
          })
          .catch((err: unknown) => {
            throw new Error(`${String(err)}\n${out.slice(-3000)}`);
          });
        assert.equal(status.current_version, "1.19.0", "the simulated host's version, read over its socket");
        assert.equal(status.target_version, "1.20.0", "the simulated host's offered release");
        agent.kill("SIGTERM");
        assert.equal(await exited, 0, out.slice(-3000));
      } finally {
        if (agent.exitCode === null) agent.kill("SIGKILL");
      }
    } finally {
      await tb.stop();
    }
  });

  it("pushes the index and the charts (OCI artefacts) to an OCI registry over TLS", async () => {
    const registry = await startRegistry();
    try {
      const ref = `${registry.host}/${pkg.name}:${pkg.version}`;
      const { stderr } = await run("bash", [join(ROOT, "tools", "image", "build.sh"), "--push", ref], {
        env: { ...process.env, REGISTRY_CA_DIR: registry.caDir },
        maxBuffer: 64 * 1024 * 1024,
      });
      assert.match(stderr, /pushed in \d+s/);
      // What a node's containerd reads first: the index by tag, then each platform's manifest.
      const get = async (path: string, accept: string): Promise<{ body: string; digest: string }> => {
        const res = await fetchWithCa(`https://${registry.host}${path}`, accept, registry.caPem);
        return res;
      };
      const index = JSON.parse(
        (await get(`/v2/${pkg.name}/manifests/${pkg.version}`, "application/vnd.oci.image.index.v1+json"))
          .body,
      ) as { manifests: { digest: string; platform?: { architecture: string; os: string } }[] };
      const platforms = index.manifests
        .map((m) => `${m.platform?.os ?? ""}/${m.platform?.architecture ?? ""}`)
        .sort();
      assert.deepEqual(platforms, ["linux/amd64", "linux/arm64"]);
      for (const m of index.manifests) {
        const local = oci.images.find((i) => i.config.architecture === m.platform?.architecture);
        const got = await get(
          `/v2/${pkg.name}/manifests/${m.digest}`,
          "application/vnd.oci.image.manifest.v1+json",
        );
        const manifest = JSON.parse(got.body) as { layers: { size: number }[] };
        assert.equal(
          manifest.layers.reduce((t, l) => t + l.size, 0),
          local?.compressedBytes,
          `${m.platform?.architecture ?? ""}: the pushed layer is the archive's`,
        );
      }
      // The charts as OCI artefacts in the same registry: `helm package`, `helm push`, and what
      // `helm install oci://...` resolves (docs/install.md).
      const helm = join(binDir(), "helm");
      const charts = await mkdtemp(join(tmpdir(), "brupop-charts-"));
      const helmEnv = {
        ...process.env,
        HELM_CONFIG_HOME: charts,
        HELM_CACHE_HOME: charts,
        HELM_DATA_HOME: charts,
      };
      try {
        for (const chart of ["bottlerocket-shadow", "bottlerocket-update-operator"]) {
          await run(helm, ["package", join(ROOT, "deploy", "charts", chart), "-d", charts], { env: helmEnv });
          const tgz = join(charts, `${chart}-${pkg.version}.tgz`);
          const { stdout: pushed, stderr: pushLog } = await run(
            helm,
            ["push", tgz, `oci://${registry.host}/charts`, "--ca-file", registry.caFile],
            { env: helmEnv },
          );
          assert.match(`${pushed}${pushLog}`, /Digest: sha256:/);
          const { stdout: shown } = await run(
            helm,
            [
              "show",
              "chart",
              `oci://${registry.host}/charts/${chart}`,
              "--version",
              pkg.version,
              "--ca-file",
              registry.caFile,
            ],
            { env: helmEnv },
          );
          assert.match(shown, new RegExp(`^name: ${chart}$`, "m"));
        }
      } finally {
        await rm(charts, { recursive: true, force: true });
      }
    } finally {
      await registry.stop();
    }
  });
});
