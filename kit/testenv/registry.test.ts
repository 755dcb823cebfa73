import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { pullSeconds } from "./registry.js";

describe("pullSeconds (a kubelet's Pulled message)", () => {
  const cases: [string, number | undefined][] = [
    [
      'Successfully pulled image "127.0.0.1:4000/brupop-ts:0.1.0" in 1.234s (1.5s including waiting). Image size: 1 bytes.',
      1.234,
    ],
    ['Successfully pulled image "127.0.0.1:4000/brupop-ts:0.1.0" in 863ms (863ms including waiting)', 0.863],
    // Slow pulls are the ones that matter (review: a minute or more was dropped).
    ['Successfully pulled image "127.0.0.1:4000/brupop-ts:0.1.0" in 1m2.5s (1m3s including waiting)', 62.5],
    ['Successfully pulled image "127.0.0.1:4000/brupop-ts:0.1.0" in 1h0m3s (1h0m3s including waiting)', 3603],
    ['Container image "127.0.0.1:4000/brupop-ts:0.1.0" already present on machine', undefined],
  ];
  for (const [message, want] of cases) {
    it(`${message.slice(0, 60)}… -> ${String(want)}`, () => assert.equal(pullSeconds(message), want));
  }
});
