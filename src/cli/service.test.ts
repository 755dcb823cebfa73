import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { runService, whenStopped, type ServiceProcess } from "./service.js";

class FakeProcess extends EventEmitter implements ServiceProcess {
  exitCode: number | string | null | undefined;
  exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
  signal(s: NodeJS.Signals): void {
    this.emit(s, s);
  }
}

describe("runService", () => {
  it("a run that ends by itself: its code, listeners removed", async () => {
    const proc = new FakeProcess();
    assert.equal(await runService(() => Promise.resolve(3), { onSignal: "ok", proc }), 3);
    assert.equal(proc.exitCode, 3);
    assert.equal(proc.listenerCount("SIGTERM") + proc.listenerCount("SIGINT"), 0);
    assert.deepEqual(proc.exits, []);
  });

  const table: [string, NodeJS.Signals, "ok" | "signal", number | undefined, number][] = [
    ["component, SIGTERM", "SIGTERM", "ok", undefined, 0],
    ["component, SIGINT", "SIGINT", "ok", undefined, 0],
    ["watch, Ctrl-C", "SIGINT", "signal", 130, 130],
    ["watch, SIGTERM", "SIGTERM", "signal", 130, 143],
    ["demo kept after a finished rollout", "SIGINT", "signal", 0, 0],
    ["demo failed while stopping", "SIGTERM", "signal", 1, 1],
  ];
  for (const [name, signal, onSignal, result, code] of table) {
    it(`${name} → ${code}`, async () => {
      const proc = new FakeProcess();
      const stopping: NodeJS.Signals[] = [];
      const done = runService(
        async (stop) => {
          assert.equal(await whenStopped(stop), signal);
          return result;
        },
        { onSignal, proc, stopping: (s) => stopping.push(s) },
      );
      proc.signal(signal);
      assert.equal(await done, code);
      assert.equal(proc.exitCode, code);
      assert.deepEqual(stopping, [signal]);
    });
  }

  it("a second signal ends the process at once; exitWhenDone exits with the code", async () => {
    const proc = new FakeProcess();
    let finish = (): void => undefined;
    const done = runService(
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
      { onSignal: "ok", proc, exitWhenDone: true },
    );
    proc.signal("SIGTERM");
    proc.signal("SIGINT");
    assert.deepEqual(proc.exits, [130]);
    finish();
    assert.equal(await done, 0);
    assert.deepEqual(proc.exits, [130, 0]);
  });

  it("a stop that overruns its deadline ends the process with 1", async () => {
    const proc = new FakeProcess();
    let finish = (): void => undefined;
    let written = "";
    const done = runService(
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
      { onSignal: "ok", proc, stopDeadlineMs: 10, writeErr: (t) => (written += t) },
    );
    proc.signal("SIGTERM");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(proc.exits, [1]);
    assert.equal(written, "error: did not stop within 0.01 s after SIGTERM\n");
    finish();
    await done;
  });

  it("a throw is the caller's (runCli reports it)", async () => {
    const proc = new FakeProcess();
    await assert.rejects(
      runService(() => Promise.reject(new Error("boom")), { onSignal: "ok", proc }),
      /boom/,
    );
    assert.equal(proc.listenerCount("SIGTERM"), 0);
  });
});
