import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "./prng.js";

describe("Prng", () => {
  it("gives the same sequence for the same seed and a different one for another seed", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 20 }, () => a.next());
    const sb = Array.from({ length: 20 }, () => b.next());
    const sc = Array.from({ length: 20 }, () => c.next());
    assert.deepEqual(sa, sb);
    assert.notDeepEqual(sa, sc);
  });

  it("pins the sequence (a change would break every recorded seed)", () => {
    const r = new Prng(1);
    assert.deepEqual(
      Array.from({ length: 5 }, () => r.int(0, 999)),
      [189, 317, 783, 534, 781],
    );
  });

  it("int stays in range, covers it, and rejects bad ranges and seeds", () => {
    const r = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const x = r.int(2, 5);
      assert.ok(x >= 2 && x <= 5);
      seen.add(x);
    }
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5]);
    assert.throws(() => r.int(3, 2), RangeError);
    assert.throws(() => new Prng(-1), TypeError);
    assert.throws(() => new Prng(1.5), TypeError);
    assert.throws(() => r.pick([]), RangeError);
  });
});
