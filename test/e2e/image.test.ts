// The container image as shipped (`npm run image` → tools/image/build.sh): built from the
// Dockerfile, runs `brupop` as the non-root user, ships production dependencies only and carries
// nothing of the build machine (its CA bundle, npm's cache or config, node's compile cache).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { imageCacheRoot } from "../../kit/testenv/realnode/paths.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");

interface ArchiveManifest {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** The ENTRYPOINT of the Dockerfile as shipped (exec form). */
function dockerfileEntrypoint(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
  assert.ok(m?.[1] !== undefined, "Dockerfile has no exec-form ENTRYPOINT");
  return JSON.parse(m[1]) as string[];
}

describe("container image", { timeout: 1_800_000 }, () => {
  let archive = "";
  let extracted = "";
  let manifest: ArchiveManifest;
  let files: string[] = [];
  const bah = (args: readonly string[]): Promise<{ stdout: string }> =>
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
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      name: string;
      version: string;
    };
    // What kubelets resolve the chart's `image: brupop-ts:<version>` to.
    assert.ok(
      manifest.RepoTags.includes(`docker.io/library/${pkg.name}:${pkg.version}`),
      manifest.RepoTags.join(),
    );
    const config = JSON.parse(await readFile(join(extracted, manifest.Config), "utf8")) as {
      config: { User: string; Entrypoint: string[] };
    };
    assert.equal(config.config.User, "1000:1000");
    assert.deepEqual(config.config.Entrypoint, dockerfileEntrypoint());

    const ref = `localhost/${pkg.name}:${pkg.version}`;
    const { stdout: ctr } = await bah(["from", "--pull-never", ref]);
    const container = ctr.trim();
    try {
      const { stdout: id } = await bah(["run", "--isolation", "chroot", container, "--", "id", "-u"]);
      assert.equal(id.trim(), "1000");
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

  it("ships the compiled code and production dependencies only", () => {
    const script = dockerfileEntrypoint().find((a) => a.endsWith(".js") || a.endsWith(".mjs")) ?? "";
    assert.ok(files.includes(script.replace(/^\//, "")), `the entrypoint ${script} is missing`);
    for (const dev of ["typescript", "eslint", "tsx", "c8", "prettier", "node"]) {
      assert.ok(!files.includes(`app/node_modules/${dev}`), `devDependency ${dev} shipped`);
    }
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

  it("reports its size", async () => {
    const layers = await readdir(extracted, { recursive: true });
    assert.ok(layers.length > 0);
    const bytes = statSync(archive).size;
    process.stderr.write(`image archive ${archive}: ${(bytes / 1e6).toFixed(0)} MB\n`);
    assert.ok(bytes < 600e6, `image archive is ${String(bytes)} bytes`);
  });
});
