import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../../errors.js";
import { parseMaxConcurrentUpdate } from "./config.js";

describe("MAX_CONCURRENT_UPDATE", () => {
  const ok: [string | undefined, number | "unlimited"][] = [
    [undefined, 1],
    ["", 1],
    ["0", 0], // upstream accepts it: the pause switch
    ["+2", 2], // so does Rust's usize::from_str
    ["1", 1],
    ["50", 50],
    [" 3 ", 3],
    ["unlimited", "unlimited"],
    ["Unlimited", "unlimited"],
  ];
  for (const [input, expected] of ok) {
    it(`${JSON.stringify(input)} → ${expected}`, () =>
      assert.equal(parseMaxConcurrentUpdate(input), expected));
  }
  for (const bad of ["-1", "1.5", "ten", "1e3", "99999999999999999999", "unlimited!"]) {
    it(`rejects ${JSON.stringify(bad)} naming the variable`, () => {
      assert.throws(
        () => parseMaxConcurrentUpdate(bad),
        (err: unknown) =>
          isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith("MAX_CONCURRENT_UPDATE:"),
      );
    });
  }
});
