import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  parseDuration,
  parseFailure,
  parseHostPort,
  parseReleaseSpec,
  parseSeed,
  parseVersionLock,
} from "./options.js";

describe("simulate-host option parsers", () => {
  it("durations", () => {
    assert.equal(parseDuration("250"), 250);
    assert.equal(parseDuration("250ms"), 250);
    assert.equal(parseDuration("1.5s"), 1_500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    for (const bad of ["", "-1s", "1d", "fast"]) assert.throws(() => parseDuration(bad), TypeError, bad);
  });

  it("release specs with delay and waves", () => {
    assert.deepEqual(parseReleaseSpec("1.20.0"), { version: "1.20.0", delayMs: 0, waves: [] });
    assert.deepEqual(parseReleaseSpec("1.20.0@30s"), { version: "1.20.0", delayMs: 30_000, waves: [] });
    assert.deepEqual(parseReleaseSpec("1.21.0@0s:512=0s,2048=1m"), {
      version: "1.21.0",
      delayMs: 0,
      waves: [
        { seed: 512, startAfterMs: 0 },
        { seed: 2048, startAfterMs: 60_000 },
      ],
    });
    assert.throws(() => parseReleaseSpec("1.21"), /semver/);
    assert.throws(() => parseReleaseSpec("1.21.0:512"), /SEED=START/);
    assert.throws(() => parseReleaseSpec("1.21.0:4096=1s"), /1\.\.2048/);
  });

  it("seed, version-lock, failures, host:port", () => {
    assert.equal(parseSeed("2047"), 2047);
    assert.throws(() => parseSeed("2048"), /0\.\.2047/);
    assert.throws(() => parseSeed("1e3"), TypeError);
    assert.equal(parseVersionLock("latest"), "latest");
    assert.equal(parseVersionLock("1.20.0"), "1.20.0");
    assert.throws(() => parseVersionLock("newest"), TypeError);
    assert.deepEqual(parseFailure("prepare"), { cmd: "prepare" });
    assert.deepEqual(parseFailure("refresh:2"), { cmd: "refresh", times: 2 });
    assert.throws(() => parseFailure("reboot"), /refresh, prepare/);
    assert.throws(() => parseFailure("prepare:0"), /positive/);
    assert.deepEqual(parseHostPort("8080"), { host: "127.0.0.1", port: 8080 });
    assert.deepEqual(parseHostPort("0.0.0.0:0"), { host: "0.0.0.0", port: 0 });
    assert.throws(() => parseHostPort("host:http"), TypeError);
  });
});
