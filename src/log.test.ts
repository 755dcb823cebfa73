import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "./errors.js";
import { parseLogLevel } from "./log.js";

describe("parseLogLevel", () => {
  const table: [string | undefined, string][] = [
    [undefined, "info"],
    ["", "info"],
    ["DEBUG", "debug"],
    ["off", "silent"],
    ["warning", "warn"],
    ["agent=debug,warn", "warn"],
    ["agent=debug,apiserver=error", "debug"],
    ["a=trace,b=error", "trace"],
  ];
  for (const [input, level] of table) {
    it(`${JSON.stringify(input)} → ${level}`, () => assert.equal(parseLogLevel(input, "V"), level));
  }
  it("rejects an unknown level naming the variable", () => {
    assert.throws(
      () => parseLogLevel("loud", "TRACING_FILTER_DIRECTIVE"),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_CONFIG") && err.message.startsWith('TRACING_FILTER_DIRECTIVE: "loud"'),
    );
  });
});
