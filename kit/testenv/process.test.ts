import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, it } from "node:test";

import { liveProcessGroupCount, ManagedProcess } from "./process.js";

const NODE = process.execPath;

/**
 * Whether any live (non-zombie) process is in group `pgid`. kill(-pgid, 0) is not enough: a killed
 * orphan stays a zombie until PID 1 reaps it, which can take a while in containers.
 */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..." - comm may contain spaces, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) return true;
  }
  return false;
}

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("ManagedProcess", () => {
  const dir = mkdtempSync(join(tmpdir(), "brupop-proc-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("logs output to its file and stop() kills the whole process group", async () => {
    const p = new ManagedProcess({
      name: "shell",
      command: "bash",
      args: ["-c", "echo hello; sleep 300 & sleep 300"],
      logFile: join(dir, "shell.log"),
    });
    await until("log written", 5_000, () => readFileSync(p.logFile, "utf8").includes("hello"));
    assert.ok(groupAlive(p.pid));
    assert.equal(liveProcessGroupCount(), 1);
    await p.stop();
    assert.equal(p.running, false);
    await until("group gone", 2_000, () => !groupAlive(p.pid));
    assert.equal(liveProcessGroupCount(), 0);
    assert.match(await p.tail(5), /hello/);
  });

  it("SIGKILLs a process that ignores SIGTERM after the grace period", async () => {
    const p = new ManagedProcess({
      name: "stubborn",
      command: "bash",
      args: ["-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"],
      logFile: join(dir, "stubborn.log"),
    });
    await until("started", 5_000, () => readFileSync(p.logFile, "utf8").includes("ready"));
    const t0 = Date.now();
    await p.stop(300);
    assert.equal(p.exit?.signal, "SIGKILL");
    assert.ok(Date.now() - t0 >= 250);
    await until("group gone", 2_000, () => !groupAlive(p.pid));
  });

  it("fails fast when the binary does not exist", () => {
    assert.throws(
      () =>
        new ManagedProcess({
          name: "nope",
          command: join(dir, "missing"),
          args: [],
          logFile: join(dir, "n.log"),
        }),
      /cannot start nope/,
    );
  });

  // A child Node process starts a component, then dies in various ways; nothing may survive it.
  const fixture = join(dir, "fixture.mts");
  const processModule = pathToFileURL(join(import.meta.dirname, "process.ts")).href;
  writeFileSync(
    fixture,
    `import { writeFileSync } from "node:fs";
     import { ManagedProcess, installCleanupHooks, startReaper } from ${JSON.stringify(processModule)};
     const [dir, mode] = process.argv.slice(2);
     installCleanupHooks();
     const pidFile = dir + "/pgids";
     writeFileSync(pidFile, "");
     // Only the SIGKILL case relies on the reaper; the others must be handled by the JS hooks alone.
     if (mode === "sigkill") startReaper(pidFile, undefined);
     const p = new ManagedProcess({ name: "sleeper", command: "sleep", args: ["300"], logFile: dir + "/s.log", pidFile });
     process.stdout.write(String(p.pid) + "\\n");
     if (mode === "throw") setTimeout(() => { throw new Error("boom"); }, 100);
     setInterval(() => undefined, 1000);
    `,
  );

  async function runFixture(
    mode: string,
    kill?: NodeJS.Signals,
  ): Promise<{ pgid: number; signal: string | null }> {
    const child = spawn(NODE, ["--import", "tsx", fixture, dir, mode], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pgid = await new Promise<number>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once("exit", () => reject(new Error("fixture exited early")));
    });
    assert.ok(groupAlive(pgid));
    if (kill !== undefined) child.kill(kill);
    const signal = await new Promise<string | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
      else child.once("exit", (_c, s) => resolve(s));
    });
    return { pgid, signal };
  }

  it("kills components when the test process gets SIGTERM (and still dies by SIGTERM)", async () => {
    const { pgid, signal } = await runFixture("wait", "SIGTERM");
    assert.equal(signal, "SIGTERM");
    await until("group killed by the signal handler", 2_000, () => !groupAlive(pgid));
  });

  it("kills components when the test process dies of an uncaught error", async () => {
    const { pgid } = await runFixture("throw");
    await until("group killed by the exit hook", 2_000, () => !groupAlive(pgid));
  });

  it("the reaper kills components when the test process is SIGKILLed", async () => {
    const { pgid, signal } = await runFixture("sigkill", "SIGKILL");
    assert.equal(signal, "SIGKILL");
    await until("reaper killed the group", 5_000, () => !groupAlive(pgid));
  });
});
