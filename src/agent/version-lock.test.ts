import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../errors.js";
import { VERSION_LOCK_ANNOTATION } from "../model/constants.js";
import { sameVersionLock, wantedVersionLock } from "./version-lock.js";

describe("wantedVersionLock (the brs annotation → the host's settings.updates.version-lock)", () => {
  const cases: [string, Record<string, string> | undefined, string | undefined][] = [
    // No annotation: the host's lock is not brupop's to change (upstream never touches it).
    ["no annotations", undefined, undefined],
    ["other annotations only", { "example.com/x": "1" }, undefined],
    ["a version", { [VERSION_LOCK_ANNOTATION]: "1.20.3" }, "v1.20.3"],
    ["a v-prefixed version", { [VERSION_LOCK_ANNOTATION]: "v1.20.3" }, "v1.20.3"],
    ["spaces around", { [VERSION_LOCK_ANNOTATION]: " 1.20.3 " }, "v1.20.3"],
    ["empty", { [VERSION_LOCK_ANNOTATION]: "" }, "latest"],
    ["latest", { [VERSION_LOCK_ANNOTATION]: "latest" }, "latest"],
  ];
  for (const [name, annotations, want] of cases) {
    it(`${name} → ${want ?? "leave the host's lock"}`, () =>
      assert.equal(wantedVersionLock(annotations), want));
  }

  it("a value that is not a version is an assertion naming the annotation", () => {
    assert.throws(
      () => wantedVersionLock({ [VERSION_LOCK_ANNOTATION]: "1.20" }),
      (err: unknown) =>
        isBrupopError(err, "BRUPOP_E_AGENT_ASSERTION") && err.message.includes(VERSION_LOCK_ANNOTATION),
    );
  });
});

describe("sameVersionLock", () => {
  const cases: [string, string, boolean][] = [
    ["latest", "latest", true],
    ["v1.20.3", "1.20.3", true],
    ["1.20.3", "v1.20.3", true],
    ["v1.20.3", "v1.20.4", false],
    ["latest", "v1.20.3", false],
  ];
  for (const [a, b, want] of cases) {
    it(`${a} vs ${b} → ${want}`, () => assert.equal(sameVersionLock(a, b), want));
  }
});
