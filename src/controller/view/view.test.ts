import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rvAtLeast, ShadowView, type RawShadow } from "./view.js";

function raw(name: string, rv: string, specState = "Idle", status: unknown = undefined): RawShadow {
  const r: RawShadow = {
    metadata: { name, resourceVersion: rv, uid: `uid-${name}` },
    spec: { state: specState, state_transition_timestamp: null, version: null },
  };
  if (status !== undefined) r.status = status;
  return r;
}

const idle = {
  current_state: "Idle",
  current_version: "1.19.0",
  target_version: "1.20.0",
  crash_count: 0,
  state_transition_failure_timestamp: null,
};

describe("rvAtLeast", () => {
  it("compares integers numerically and anything else only for equality", () => {
    assert.equal(rvAtLeast("10", "9"), true);
    assert.equal(rvAtLeast("9", "10"), false);
    assert.equal(rvAtLeast("10", "10"), true);
    assert.equal(rvAtLeast("abc", "abc"), true);
    assert.equal(rvAtLeast("abd", "abc"), false);
    assert.equal(rvAtLeast(undefined, "1"), false);
  });
});

describe("ShadowView", () => {
  it("prefers our own newer write over a lagging cache, until the cache catches up", () => {
    const view = new ShadowView();
    const cache = [raw("brs-a", "10", "Idle", idle), raw("brs-b", "11", "Idle", idle)];
    view.noteFresh(raw("brs-a", "12", "StagedAndPerformedUpdate", idle));
    let v = view.build(cache);
    assert.deepEqual(
      v.shadows.map((s) => [s.metadata.name, s.spec.state]),
      [
        ["brs-a", "StagedAndPerformedUpdate"],
        ["brs-b", "Idle"],
      ],
    );
    // The cache catches up (and moves past): the overlay is dropped, the cache wins.
    v = view.build([
      raw("brs-a", "13", "StagedAndPerformedUpdate", { ...idle, current_state: "StagedAndPerformedUpdate" }),
      cache[1] as RawShadow,
    ]);
    assert.equal(v.shadows[0]?.status?.current_state, "StagedAndPerformedUpdate");
    assert.equal(view.overlaySize, 0);
  });

  it("ignores an older fresh copy and forgets overlay-only objects on delete or after a TTL", () => {
    let now = 0;
    const view = new ShadowView({ nowMs: () => now, overlayTtlMs: 1_000 });
    view.noteFresh(raw("brs-a", "12"));
    view.noteFresh(raw("brs-a", "11", "RebootedIntoUpdate"));
    assert.equal(view.build([]).shadows[0]?.spec.state, "Idle", "the newer copy stays");
    view.noteDeleted(raw("brs-a", "13"));
    assert.equal(view.build([]).shadows.length, 0);
    view.noteFresh(raw("brs-b", "20"));
    now = 500;
    assert.equal(view.build([]).shadows.length, 1, "not in the cache yet: still counted");
    now = 1_501;
    assert.equal(view.build([]).shadows.length, 0);
  });

  it("reports invalid shadows with their metadata instead of throwing", () => {
    const view = new ShadowView();
    const bad = raw("brs-bad", "5", "Exploded");
    const v = view.build([
      bad,
      raw("brs-ok", "6", "Idle", idle),
      { metadata: { name: "brs-weird", resourceVersion: "7" }, spec: 42 },
    ]);
    assert.deepEqual(
      v.shadows.map((s) => s.metadata.name),
      ["brs-ok"],
    );
    assert.deepEqual(
      v.invalid.map((i) => [i.name, i.uid, i.resourceVersion]),
      [
        ["brs-bad", "uid-brs-bad", "5"],
        ["brs-weird", undefined, "7"],
      ],
    );
    assert.ok(v.invalid.every((i) => i.error.length > 0));
  });

  it("re-parses only changed objects", () => {
    const view = new ShadowView();
    const a1 = raw("brs-a", "1", "Idle", idle);
    const first = view.build([a1]).shadows[0];
    assert.equal(view.build([a1]).shadows[0], first, "same rv: same parsed object");
    assert.notEqual(view.build([raw("brs-a", "2", "Idle", idle)]).shadows[0], first);
  });
});
