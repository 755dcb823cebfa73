import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { untilOwnMountNamespace } from "./sandbox.js";

/** A fake /proc where each pid's ns/mnt points at `mnt:[<id>]`. */
function fakeProc(): { dir: string; set: (pid: number, id: number) => void } {
  const dir = mkdtempSync(join(tmpdir(), "brupop-proc-"));
  return {
    dir,
    set(pid, id) {
      const ns = join(dir, String(pid), "ns");
      mkdirSync(ns, { recursive: true });
      rmSync(join(ns, "mnt"), { force: true });
      symlinkSync(`mnt:[${String(id)}]`, join(ns, "mnt"));
    },
  };
}

describe("a node's mount namespace (the race that hid a node's host API socket)", () => {
  it("waits until the child has called unshare() before the node's mounts are made", async () => {
    const proc = fakeProc();
    try {
      proc.set(10, 1);
      proc.set(11, 1); // forked, not yet unshared: mounts now would land in the sandbox's namespace
      let done = false;
      const waiting = untilOwnMountNamespace(11, 10, proc.dir).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(done, false, "must not go on while the child shares its parent's namespace");
      proc.set(11, 2);
      await waiting;
      assert.equal(done, true);
    } finally {
      rmSync(proc.dir, { recursive: true, force: true });
    }
  });

  it("returns at once for a child already on its own", async () => {
    const proc = fakeProc();
    try {
      proc.set(10, 1);
      proc.set(11, 2);
      await untilOwnMountNamespace(11, 10, proc.dir);
    } finally {
      rmSync(proc.dir, { recursive: true, force: true });
    }
  });
});
