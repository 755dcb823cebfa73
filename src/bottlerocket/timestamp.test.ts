import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareTimestamps, isRfc3339 } from "./timestamp.js";

describe("compareTimestamps", () => {
  it("orders beyond millisecond precision", () => {
    assert.ok(compareTimestamps("2025-01-01T00:00:00.000000002Z", "2025-01-01T00:00:00.000000001Z") > 0);
    assert.equal(compareTimestamps("2025-01-01T00:00:00.5Z", "2025-01-01T00:00:00.500000000Z"), 0);
    assert.ok(compareTimestamps("2025-01-01T00:00:00Z", "2025-01-01T00:00:00.1Z") < 0);
  });

  it("honours offsets", () => {
    assert.equal(compareTimestamps("2025-01-01T01:00:00+01:00", "2025-01-01T00:00:00Z"), 0);
    assert.ok(compareTimestamps("2025-01-01T00:30:00-01:00", "2025-01-01T01:00:00Z") > 0);
  });

  it("rejects what is not RFC 3339", () => {
    assert.equal(isRfc3339("yesterday"), false);
    assert.equal(isRfc3339("2025-13-01T00:00:00Z"), false);
    assert.equal(isRfc3339("2025-01-01t00:00:00z"), true);
    assert.throws(() => compareTimestamps("2025-01-01", "2025-01-01T00:00:00Z"), TypeError);
  });
});
