import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseUpdate, ReleaseCatalog, validateRelease, visibleFrom, type Release } from "./releases.js";

describe("waves", () => {
  const release: Release = {
    version: "1.20.0",
    releasedAt: 1_000,
    waves: [
      { seed: 512, startAfterMs: 0 },
      { seed: 1024, startAfterMs: 100 },
      { seed: 1536, startAfterMs: 200 },
    ],
  };

  it("a seed belongs to the first wave whose bound is above it", () => {
    assert.equal(visibleFrom(release, 0), 1_000);
    assert.equal(visibleFrom(release, 511), 1_000);
    assert.equal(visibleFrom(release, 512), 1_100);
    assert.equal(visibleFrom(release, 1535), 1_200);
  });

  it("seeds past the last bound follow the last wave; no waves means everyone at release time", () => {
    assert.equal(visibleFrom(release, 2047), 1_200);
    assert.equal(visibleFrom({ ...release, waves: [] }, 2047), 1_000);
  });

  it("the catalog lists what a seed sees at a time, newest first", () => {
    const catalog = new ReleaseCatalog([release, { version: "1.19.5", releasedAt: 0 }], () => 0);
    assert.deepEqual(catalog.visibleVersions(700, 1_099), ["1.19.5"]);
    assert.deepEqual(catalog.visibleVersions(700, 1_100), ["1.20.0", "1.19.5"]);
    assert.deepEqual(catalog.visibleVersions(0, 500), ["1.19.5"], "nothing before the release time");
    assert.throws(() => catalog.add({ version: "1.20.0" }), /already exists/);
    assert.equal(catalog.add({ version: "1.21.0" }).releasedAt, 0, "defaults to now");
  });

  it("rejects malformed releases", () => {
    assert.throws(() => validateRelease({ version: "1.20" }), /semver/);
    assert.throws(
      () => validateRelease({ version: "1.20.0", waves: [{ seed: 0, startAfterMs: 0 }] }),
      /1\.\.2048/,
    );
    assert.throws(
      () => validateRelease({ version: "1.20.0", waves: [{ seed: 5, startAfterMs: -1 }] }),
      />= 0/,
    );
    assert.throws(
      () =>
        validateRelease({
          version: "1.20.0",
          waves: [
            { seed: 512, startAfterMs: 10 },
            { seed: 256, startAfterMs: 20 },
          ],
        }),
      /increasing/,
    );
  });
});

describe("chooseUpdate (version-lock)", () => {
  const visible = ["1.21.0", "1.20.0", "1.19.0"];
  it("latest: the newest visible version above the running one", () => {
    assert.equal(chooseUpdate(visible, "1.19.0", "latest"), "1.21.0");
    assert.equal(chooseUpdate(visible, "1.21.0", "latest"), null);
    assert.equal(chooseUpdate(visible, "1.22.0", "latest"), null, "never a downgrade");
    assert.equal(chooseUpdate([], "1.19.0", "latest"), null);
  });
  it("pinned: that version if visible and not running", () => {
    assert.equal(chooseUpdate(visible, "1.19.0", "1.20.0"), "1.20.0");
    assert.equal(chooseUpdate(visible, "1.21.0", "1.20.0"), "1.20.0", "pinning may go down");
    assert.equal(chooseUpdate(visible, "1.20.0", "1.20.0"), null);
    assert.equal(chooseUpdate(visible, "1.19.0", "1.22.0"), null);
  });
});
