// tools/testenv/cache-lib.sh, the cache contract of every testenv build script, driven through a
// fake build script that sources it (a temp cache root, a build step that only writes a file).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";

import { toolsDir } from "./paths.js";

const LIB = join(toolsDir(), "cache-lib.sh");

// The fake build: key = hash of $FAKE_SRC/input; each build appends a line to $FAKE_SRC/builds;
// $FAKE_SRC/fail makes it fail after starting; FAKE_SLEEP makes it slow.
const FAKE_BUILD = `#!/usr/bin/env bash
set -euo pipefail
source "$CACHE_LIB"
key="fake-$(cache_hash_files "$FAKE_SRC" input)"
cache_init fake-build "$(cache_testenv_root)" "$key" -x bin/tool -s data/out
cache_exit_if_complete
cache_lock
on_abort() { echo aborted >>"$FAKE_SRC/aborts"; }
cache_begin on_abort
echo "$CACHE_WORK" >>"$FAKE_SRC/builds"
sleep "\${FAKE_SLEEP:-0}"
if [[ -f "$FAKE_SRC/fail" ]]; then cache_log "failing on purpose"; exit 1; fi
printf '#!/bin/sh\\necho tool\\n' >"$CACHE_WORK/bin/tool"
chmod +x "$CACHE_WORK/bin/tool"
mkdir -p "$CACHE_WORK/data"
echo out >"$CACHE_WORK/data/out"
cache_commit
`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

describe("tools/testenv/cache-lib.sh", () => {
  const scratch = mkdtempSync(join(tmpdir(), "brupop-cachelib-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  let n = 0;
  let root = "";
  let src = "";
  let script = "";

  beforeEach(() => {
    n += 1;
    root = join(scratch, `cache-${n}`);
    src = join(scratch, `src-${n}`);
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "input"), "v1\n");
    script = join(src, "fake-build.sh");
    writeFileSync(script, FAKE_BUILD);
  });

  function start(extra: Record<string, string> = {}): { done: Promise<Run>; pid: number | undefined } {
    const t0 = Date.now();
    const child = spawn("bash", [script], {
      env: { ...process.env, BRUPOP_TESTENV_CACHE: root, CACHE_LIB: LIB, FAKE_SRC: src, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const done = new Promise<Run>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
    });
    return { done, pid: child.pid };
  }
  const run = (extra: Record<string, string> = {}): Promise<Run> => start(extra).done;

  const builds = (): number =>
    existsSync(join(src, "builds")) ? readFileSync(join(src, "builds"), "utf8").trim().split("\n").length : 0;
  const lastLine = (s: string): string => s.trim().split("\n").at(-1) ?? "";
  const entries = (): string[] => (existsSync(root) ? readdirSync(root).sort() : []);
  const keyDirs = (): string[] => entries().filter((e) => e.startsWith("fake-"));
  const leftovers = (): string[] => entries().filter((e) => e.startsWith(".build-"));

  async function okRun(extra: Record<string, string> = {}): Promise<Run> {
    const r = await run(extra);
    assert.equal(r.code, 0, r.stderr);
    return r;
  }

  it("a cold cache builds once: COMPLETE, BUILDINFO, renamed into place, bin dir last on stdout", async () => {
    const r = await okRun();
    assert.equal(builds(), 1);
    const [key] = keyDirs();
    assert.ok(key !== undefined && /^fake-[0-9a-f]{12}$/.test(key), `key dir: ${entries().join(", ")}`);
    const dir = join(root, key);
    assert.equal(lastLine(r.stdout), join(dir, "bin"));
    assert.ok(existsSync(join(dir, "COMPLETE")));
    const info = readFileSync(join(dir, "BUILDINFO"), "utf8");
    assert.match(info, new RegExp(`^key=${key}\n`));
    assert.match(info, /^built=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    assert.match(info, /^seconds=\d+$/m);
    assert.equal(statSync(dir).mode & 0o777, 0o755);
    assert.deepEqual(leftovers(), []);
    assert.ok(existsSync(join(root, `.lock-${key}`)));
    assert.match(r.stderr, /^fake-build: done in \d+s$/m);
  });

  it("a warm cache does not rebuild, and does not wait for a lock someone holds", async () => {
    const first = await okRun();
    const [key] = keyDirs();
    assert.ok(key !== undefined);
    // Another process holds the key's lock: a warm run must not care.
    const holder = spawn("flock", [join(root, `.lock-${key}`), "sleep", "20"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const warm = await okRun();
      assert.equal(builds(), 1, "rebuilt a warm cache");
      assert.equal(lastLine(warm.stdout), lastLine(first.stdout));
      assert.equal(warm.stderr, "");
      assert.ok(warm.ms < 5_000, `warm run took ${warm.ms} ms`);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("a failed build leaves no COMPLETE and no temp dir; the retry rebuilds", async () => {
    writeFileSync(join(src, "fail"), "");
    const failed = await run();
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /fake-build: failing on purpose/);
    assert.equal(failed.stdout, "");
    assert.deepEqual(keyDirs(), [], "a failed build left its key dir");
    assert.deepEqual(leftovers(), [], "a failed build left its temp dir");
    assert.equal(readFileSync(join(src, "aborts"), "utf8"), "aborted\n", "the abort hook ran once");
    rmSync(join(src, "fail"));
    const retry = await okRun();
    assert.equal(builds(), 2);
    const [key] = keyDirs();
    assert.ok(key !== undefined && existsSync(join(root, key, "COMPLETE")));
    assert.equal(lastLine(retry.stdout), join(root, key, "bin"));
    assert.equal(readFileSync(join(src, "aborts"), "utf8"), "aborted\n", "the hook ran after a good build");
  });

  it("two concurrent callers build once: the second waits on the lock and reuses the result", async () => {
    const [a, b] = await Promise.all([okRun({ FAKE_SLEEP: "2" }), okRun({ FAKE_SLEEP: "2" })]);
    assert.equal(builds(), 1, "both callers built");
    assert.equal(lastLine(a.stdout), lastLine(b.stdout));
    const waits = [a, b].filter((r) =>
      /fake-build: waiting for another build \(started [^)]+\) of fake-/.test(r.stderr),
    );
    assert.equal(waits.length, 1, `stderr:\n${a.stderr}\n---\n${b.stderr}`);
    assert.match(waits[0]?.stderr ?? "", /fake-build: the other build finished after 0m0\ds of waiting/);
    assert.deepEqual(leftovers(), []);
  });

  it("a changed key builds into a new dir and keeps the old one", async () => {
    const first = await okRun();
    writeFileSync(join(src, "input"), "v2\n");
    const second = await okRun();
    assert.equal(builds(), 2);
    assert.equal(keyDirs().length, 2);
    assert.notEqual(lastLine(first.stdout), lastLine(second.stdout));
    assert.ok(existsSync(join(lastLine(first.stdout), "tool")));
    writeFileSync(join(src, "input"), "v1\n");
    await okRun();
    assert.equal(builds(), 2, "back to the first key: warm");
  });

  it("rebuilds over an incomplete dir and removes a SIGKILLed build's leftovers", async () => {
    await okRun();
    const [key] = keyDirs();
    assert.ok(key !== undefined);
    rmSync(join(root, key, "data", "out")); // COMPLETE is there, a required file is not
    mkdirSync(join(root, `.build-${key}.dead01`));
    await okRun();
    assert.equal(builds(), 2);
    assert.ok(existsSync(join(root, key, "data", "out")));
    assert.deepEqual(leftovers(), []);
    chmodSync(join(root, key, "bin", "tool"), 0o644); // COMPLETE is there, the tool is not executable
    await okRun();
    assert.equal(builds(), 3);
    assert.equal(statSync(join(root, key, "bin", "tool")).mode & 0o111, 0o111);
  });

  it("a SIGTERMed build leaves nothing behind", async () => {
    const { done, pid } = start({ FAKE_SLEEP: "30" });
    assert.ok(pid !== undefined);
    const t0 = Date.now();
    while (builds() === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(leftovers().length, 1, "the build's temp dir exists while it runs");
    process.kill(-pid, "SIGTERM"); // the group: bash and its sleep
    const r = await done;
    assert.notEqual(r.code, 0);
    assert.deepEqual(keyDirs(), []);
    assert.deepEqual(leftovers(), []);
  });

  it("every testenv build script uses the library and keeps no copy of it", () => {
    for (const name of ["build.sh", "build-realnode.sh", "build-prometheus.sh", "build-registry.sh"]) {
      const text = readFileSync(join(toolsDir(), name), "utf8");
      assert.match(text, /^source "\$here\/cache-lib\.sh"$/m, name);
      const code = text
        .split("\n")
        .filter((l) => !/^\s*#/.test(l))
        .join("\n");
      for (const copied of [/\bflock\b/, /COMPLETE"/, /BUILDINFO"/, /mktemp/, /sha256sum/, /trap /])
        assert.doesNotMatch(code, copied, `${name} repeats ${copied}`);
      for (const step of ["cache_exit_if_complete", "cache_lock", "cache_begin", "cache_commit"])
        assert.ok(text.includes(step), `${name} lacks ${step}`);
    }
    for (const name of ["key.sh", "realnode-key.sh", "prometheus-key.sh"]) {
      const text = readFileSync(join(toolsDir(), name), "utf8");
      assert.match(text, /cache_hash_files "\$here" "\$\{KEY_FILES\[@\]\}"/, name);
    }
  });
});
