import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { EventRecorder, type CoreV1Event, type EventSender } from "./events.js";

const regarding = {
  apiVersion: "brupop.bottlerocket.aws/v2",
  kind: "BottlerocketShadow",
  name: "brs-n1",
  namespace: "ns",
  uid: "u1",
};

function recorder(sender: EventSender, extra: { maxQueue?: number; concurrency?: number } = {}) {
  return new EventRecorder({
    sender,
    component: "brupop-controller",
    instance: "pod-1",
    clock: new ManualClock("2024-05-01T12:00:00.123Z"),
    logger: silentLogger(),
    ...extra,
  });
}

describe("EventRecorder", () => {
  it("sends a core/v1 Event about the object", async () => {
    const sent: { ns: string; ev: CoreV1Event }[] = [];
    const r = recorder({
      send: (ns, ev) => {
        sent.push({ ns, ev });
        return Promise.resolve();
      },
    });
    r.record({
      regarding,
      reason: "StartUpdate",
      message: "Idle → StagedAndPerformedUpdate",
      action: "SetSpec",
    });
    r.record({ regarding, reason: "Progress", message: "x" });
    await r.flush();
    assert.equal(sent.length, 2);
    const first = sent[0];
    assert.equal(first?.ns, "ns");
    assert.deepEqual(first.ev.involvedObject, regarding);
    assert.equal(first.ev.reason, "StartUpdate");
    assert.equal(first.ev.type, "Normal");
    assert.equal(first.ev.action, "SetSpec");
    assert.equal(first.ev.source.component, "brupop-controller");
    assert.equal(first.ev.reportingInstance, "pod-1");
    assert.equal(first.ev.firstTimestamp, "2024-05-01T12:00:00Z");
    assert.equal(first.ev.eventTime, "2024-05-01T12:00:00.123000Z");
    assert.match(first.ev.metadata.name, /^brs-n1\.[0-9a-f]+$/);
    assert.notEqual(first.ev.metadata.name, sent[1]?.ev.metadata.name, "names are unique");
    assert.equal(r.stats.sent, 2);
  });

  it("never throws and never blocks when sending fails", async () => {
    const r = recorder({ send: () => Promise.reject(new Error("boom")) });
    assert.doesNotThrow(() => r.record({ regarding, reason: "Progress", message: "m" }));
    await r.flush();
    assert.equal(r.stats.failed, 1);
  });

  it("is bounded: beyond the queue limit new events are dropped", async () => {
    const releases: (() => void)[] = [];
    const sent: string[] = [];
    const r = recorder(
      {
        send: (_ns, ev) =>
          new Promise<void>((resolve) => {
            releases.push(() => {
              sent.push(ev.message);
              resolve();
            });
          }),
      },
      { maxQueue: 2, concurrency: 1 },
    );
    for (let i = 0; i < 5; i++) r.record({ regarding, reason: "Progress", message: String(i) });
    // One in flight, two queued, two dropped.
    assert.equal(r.stats.dropped, 2);
    while (releases.length > 0 || sent.length < 3) {
      const next = releases.shift();
      if (next === undefined) {
        await new Promise((res) => setImmediate(res));
        continue;
      }
      next();
    }
    await r.flush();
    assert.deepEqual(sent, ["0", "1", "2"]);
  });

  it("truncates very long messages", async () => {
    let got = "";
    const r = recorder({
      send: (_ns, ev) => {
        got = ev.message;
        return Promise.resolve();
      },
    });
    r.record({ regarding, reason: "Progress", message: "x".repeat(5000) });
    await r.flush();
    assert.equal(got.length, 1024);
  });
});
