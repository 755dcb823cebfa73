import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import pino from "pino";
import { Registry } from "prom-client";
import { FakeTimers, ManualClock } from "../clock.js";
import { CONTROLLER_EVENTS } from "../controller/act/event-reasons.js";
import { isBrupopError, KubeApiError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { buildEvent, EVENT_LIMITS, truncateUtf8, type EventsV1Event } from "./event.js";
import { catalogueProblems, eventProblems } from "./event-problems.js";
import { EventRecorder, type EventSender } from "./events.js";

const regarding = {
  apiVersion: "brupop.bottlerocket.aws/v2",
  kind: "BottlerocketShadow",
  name: "brs-n1",
  namespace: "ns",
  uid: "u1",
};
const reporter = { controller: "brupop-controller", instance: "pod-1" };
const NOW = new Date("2024-05-01T12:00:00.123Z");
const CATALOGUE = {
  StartUpdate: { type: "Normal", action: "SetSpec" },
  Recover: { type: "Warning", action: "SetSpec" },
} as const;

const noPatch = (): Promise<void> => Promise.reject(new Error("no PATCH expected"));

function recorder(
  sender: Pick<EventSender, "send"> & Partial<EventSender>,
  extra: {
    maxQueue?: number;
    concurrency?: number;
    logger?: Logger;
    registry?: Registry;
    clock?: ManualClock;
    timers?: FakeTimers;
  } = {},
) {
  return new EventRecorder({
    sender: { patchSeries: noPatch, ...sender },
    catalogue: CATALOGUE,
    reporter,
    clock: new ManualClock(NOW.toISOString()),
    logger: silentLogger(),
    registry: new Registry(),
    ...extra,
  });
}

/** A logger whose warn-and-above records land in `lines`. */
function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "warn" }, stream), lines };
}

const valid = (): EventsV1Event =>
  buildEvent(
    { reason: "StartUpdate", kind: CATALOGUE.StartUpdate, regarding, note: "Idle → Staged" },
    reporter,
    NOW,
    "abc123",
  );

async function refusedSamples(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric("brupop_events_refused_total")?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels["reason"]), v.value]));
}

describe("buildEvent", () => {
  it("builds an events.k8s.io/v1 Event with every field kube-apiserver requires", () => {
    assert.deepEqual(valid(), {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: {
        name: `brs-n1.${(BigInt(NOW.getTime()) * 1_000_000n).toString(16)}abc123`,
        namespace: "ns",
      },
      eventTime: "2024-05-01T12:00:00.123000Z",
      reportingController: "brupop-controller",
      reportingInstance: "pod-1",
      action: "SetSpec",
      reason: "StartUpdate",
      type: "Normal",
      regarding,
      note: "Idle → Staged",
    });
    assert.deepEqual(eventProblems(valid()), []);
  });

  it("puts Events about a cluster-scoped object in `default`", () => {
    const ev = buildEvent(
      {
        reason: "Halt",
        kind: { type: "Warning", action: "Halt" },
        regarding: { apiVersion: "v1", kind: "Node", name: "ip-10-0-0-1.ec2.internal" },
        note: "x",
      },
      reporter,
      NOW,
      "000000",
    );
    assert.equal(ev.metadata.namespace, "default");
    assert.deepEqual(eventProblems(ev), []);
  });

  it("cuts the note to kube's 1 KiB in UTF-8 bytes, never inside a character", () => {
    for (const note of ["x".repeat(5000), "→".repeat(1000), `a${"é".repeat(600)}`]) {
      const ev = { ...valid(), note: truncateUtf8(note, EVENT_LIMITS.note) };
      assert.ok(Buffer.byteLength(ev.note) <= 1024, `${Buffer.byteLength(ev.note)} bytes`);
      assert.ok(ev.note.endsWith("…"));
      assert.ok(!ev.note.includes("\uFFFD"));
      assert.deepEqual(eventProblems(ev), []);
    }
    assert.equal(truncateUtf8("short", 1024), "short");
  });

  it("keeps a very long object name within the 253 characters of an Event name", () => {
    const ev = buildEvent(
      {
        reason: "R",
        kind: { type: "Normal", action: "A" },
        regarding: { ...regarding, name: "a".repeat(253) },
        note: "",
      },
      reporter,
      NOW,
      "ffffff",
    );
    assert.equal(ev.metadata.name.length, 253);
    assert.deepEqual(eventProblems(ev), []);
  });

  it("every controller reason makes a valid Event, even with a long note", () => {
    assert.deepEqual(catalogueProblems(CONTROLLER_EVENTS, reporter), []);
    for (const [reason, kind] of Object.entries(CONTROLLER_EVENTS)) {
      const ev = buildEvent({ reason, kind, regarding, note: "→".repeat(2000) }, reporter, NOW, "000001");
      assert.deepEqual(eventProblems(ev), [], reason);
    }
  });
});

describe("eventProblems (kube-apiserver's validation of events.k8s.io/v1 create)", () => {
  const cases: [string, (e: EventsV1Event) => EventsV1Event, RegExp][] = [
    ["no action (issue 34)", (e) => ({ ...e, action: "" }), /^action: Required value$/],
    ["action over 128", (e) => ({ ...e, action: "A".repeat(129) }), /^action: can have at most 128/],
    ["no reason", (e) => ({ ...e, reason: "" }), /^reason: Required value$/],
    ["reason over 128", (e) => ({ ...e, reason: "R".repeat(129) }), /^reason: can have at most 128/],
    ["note over 1 KiB", (e) => ({ ...e, note: "x".repeat(1025) }), /^note: can have at most 1024/],
    ["note over 1 KiB in bytes", (e) => ({ ...e, note: "→".repeat(342) }), /^note: can have at most 1024/],
    ["no reportingController", (e) => ({ ...e, reportingController: "" }), /^reportingController: Required/],
    [
      "reportingController not a qualified name",
      (e) => ({ ...e, reportingController: "brupop controller" }),
      /^reportingController: .* not a qualified name/,
    ],
    ["no reportingInstance", (e) => ({ ...e, reportingInstance: "" }), /^reportingInstance: Required/],
    [
      "reportingInstance over 128",
      (e) => ({ ...e, reportingInstance: "i".repeat(129) }),
      /^reportingInstance: can have at most 128/,
    ],
    ["no eventTime", (e) => ({ ...e, eventTime: "" }), /^eventTime: Required value/],
    ["eventTime without microseconds", (e) => ({ ...e, eventTime: "2024-05-01T12:00:00Z" }), /^eventTime/],
    ["a type kube does not know", (e) => ({ ...e, type: "Info" as "Normal" }), /^type: has invalid value/],
    ["an upper-case name", (e) => ({ ...e, metadata: { ...e.metadata, name: "Brs.1" } }), /^metadata\.name/],
    [
      "a name over 253",
      (e) => ({ ...e, metadata: { ...e.metadata, name: "a".repeat(254) } }),
      /^metadata\.name/,
    ],
    [
      "a cluster-scoped object's Event outside default",
      (e) => ({ ...e, regarding: { apiVersion: "v1", kind: "Node", name: "n1" } }),
      /^regarding\.namespace: does not match/,
    ],
    ["no regarding kind", (e) => ({ ...e, regarding: { ...e.regarding, kind: "" } }), /^regarding: /],
  ];
  for (const [what, mutate, problem] of cases) {
    it(`refuses ${what}`, () => {
      const got = eventProblems(mutate(valid()));
      assert.equal(got.length, 1, got.join("; "));
      assert.match(got[0] ?? "", problem);
    });
  }
  it("accepts the limits themselves", () => {
    const ev = { ...valid(), action: "A".repeat(128), reason: "R".repeat(128), note: "x".repeat(1024) };
    assert.deepEqual(eventProblems({ ...ev, reportingInstance: "i".repeat(128) }), []);
  });
});

describe("EventRecorder", () => {
  it("sends the Event with its catalogued type and action", async () => {
    const sent: { ns: string; ev: EventsV1Event }[] = [];
    const r = recorder({
      send: (ns, ev) => {
        sent.push({ ns, ev });
        return Promise.resolve();
      },
    });
    r.record("StartUpdate", regarding, "Idle → StagedAndPerformedUpdate");
    r.record("Recover", regarding, "update failed");
    await r.flush();
    assert.deepEqual(
      sent.map((s) => [s.ns, s.ev.reason, s.ev.type, s.ev.action, s.ev.note]),
      [
        ["ns", "StartUpdate", "Normal", "SetSpec", "Idle → StagedAndPerformedUpdate"],
        ["ns", "Recover", "Warning", "SetSpec", "update failed"],
      ],
    );
    assert.match(sent[0]?.ev.metadata.name ?? "", /^brs-n1\.[0-9a-f]+$/);
    assert.notEqual(sent[0]?.ev.metadata.name, sent[1]?.ev.metadata.name, "names are unique");
    for (const s of sent) assert.deepEqual(eventProblems(s.ev), []);
    assert.equal(r.stats.sent, 2);
  });

  it("the types leave nothing required out (checked by tsc: each line must not compile)", () => {
    const r = recorder({ send: () => Promise.resolve() });
    const notCompiling = (): void => {
      // @ts-expect-error a reason outside the catalogue has no type or action
      r.record("Unknown", regarding, "m");
      // @ts-expect-error the note is required
      r.record("StartUpdate", regarding);
      // @ts-expect-error the regarding object needs its kind
      r.record("StartUpdate", { apiVersion: "v1", name: "n" }, "m");
      // @ts-expect-error a catalogue entry needs its action
      const noAction: Parameters<typeof catalogueProblems>[0] = { X: { type: "Normal" } };
      assert.ok(noAction);
    };
    assert.equal(typeof notCompiling, "function");
  });

  it("refuses to start with a reporter kube would refuse", () => {
    for (const bad of [
      { controller: "", instance: "pod" },
      { controller: "brupop controller", instance: "pod" },
      { controller: "brupop-controller", instance: "i".repeat(129) },
    ]) {
      assert.throws(
        () =>
          new EventRecorder({
            sender: { send: () => Promise.resolve(), patchSeries: noPatch },
            catalogue: CATALOGUE,
            reporter: bad,
            clock: new ManualClock(NOW.toISOString()),
            logger: silentLogger(),
            registry: new Registry(),
          }),
        (err: unknown) => isBrupopError(err, "BRUPOP_E_CONFIG"),
      );
    }
  });

  it("a refusal is counted by reason and logged at warn with the API's message", async () => {
    const { logger, lines } = capture();
    const registry = new Registry();
    const message = 'Event "brs-n1.1" is invalid: action: Required value';
    const r = recorder(
      {
        send: () =>
          Promise.reject(new KubeApiError("POST event", 422, { kind: "Status", reason: "Invalid", message })),
      },
      { logger, registry },
    );
    r.record("Recover", regarding, "m1");
    r.record("Recover", regarding, "m2");
    await r.flush();
    assert.deepEqual(await refusedSamples(registry), { Recover: 2 });
    assert.equal(r.stats.refused, 2);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.["level"], 40);
    assert.equal(lines[0]?.["reason"], "Recover");
    assert.equal(lines[0]?.["apiMessage"], message);
    assert.match(String(lines[0]?.["msg"]), /Recover refused: .*action: Required value/);
  });

  it("not-now answers and network errors are failures, not refusals", async () => {
    const registry = new Registry();
    const errors = [
      new KubeApiError("POST event", 429, {}),
      new KubeApiError("POST event", 503, {}),
      new Error("ECONNRESET"),
    ];
    const r = recorder({ send: () => Promise.reject(errors.shift() ?? new Error("?")) }, { registry });
    for (let i = 0; i < 3; i++) assert.doesNotThrow(() => r.record("StartUpdate", regarding, `m${i}`));
    await r.flush();
    assert.deepEqual([r.stats.failed, r.stats.refused], [3, 0]);
    assert.deepEqual(await refusedSamples(registry), {});
  });

  it("is bounded: beyond the queue limit new events are dropped", async () => {
    const releases: (() => void)[] = [];
    const sent: string[] = [];
    const r = recorder(
      {
        send: (_ns, ev) =>
          new Promise<void>((resolve) => {
            releases.push(() => {
              sent.push(ev.note);
              resolve();
            });
          }),
      },
      { maxQueue: 2, concurrency: 1 },
    );
    for (let i = 0; i < 5; i++) r.record("StartUpdate", regarding, String(i));
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
});

describe("EventRecorder: repeats become a series (client-go's isomorphic Events)", () => {
  /** A sender that records creates and series PATCHes, in order. */
  function fakeApi() {
    const calls: string[] = [];
    const created: EventsV1Event[] = [];
    const gone = new Set<string>();
    const sender: EventSender = {
      send: (_ns, ev) => {
        created.push(ev);
        calls.push(`create ${ev.note}${ev.series === undefined ? "" : ` ×${ev.series.count}`}`);
        return Promise.resolve();
      },
      patchSeries: (_ns, name, series) => {
        if (gone.has(name)) return Promise.reject(new KubeApiError("PATCH event", 404, {}));
        const ev = created.find((e) => e.metadata.name === name);
        calls.push(`patch ${ev?.note ?? name} ×${series.count} at ${series.lastObservedTime}`);
        return Promise.resolve();
      },
    };
    return { sender, calls, created, gone };
  }

  it("creates the first, PATCHes the first repeat at once, and later repeats together once per flush", async () => {
    const api = fakeApi();
    const clock = new ManualClock(NOW.toISOString());
    const timers = new FakeTimers();
    const r = recorder(api.sender, { clock, timers });
    r.record("Recover", regarding, "update failed");
    await r.flush();
    clock.advance(60_000);
    r.record("Recover", regarding, "update failed");
    await r.flush();
    clock.advance(60_000);
    r.record("Recover", regarding, "update failed");
    clock.advance(1_000);
    r.record("Recover", regarding, "update failed");
    r.record("Recover", regarding, "something else"); // another note: another Event
    await r.flush();
    assert.deepEqual(api.calls, [
      "create update failed",
      "patch update failed ×2 at 2024-05-01T12:01:00.123000Z",
      "create something else",
    ]);
    await timers.advance(60_000);
    await r.flush();
    assert.equal(api.calls.at(-1), "patch update failed ×4 at 2024-05-01T12:02:01.123000Z");
    assert.deepEqual(api.created.length, 2);
    assert.deepEqual(r.stats, { sent: 2, patched: 2, aggregated: 3, failed: 0, dropped: 0, refused: 0 });
    for (const ev of api.created) assert.deepEqual(eventProblems(ev), []);
  });

  it("a repeat after the 6-minute window, or about another object, is a new Event", async () => {
    const api = fakeApi();
    const clock = new ManualClock(NOW.toISOString());
    const r = recorder(api.sender, { clock, timers: new FakeTimers() });
    r.record("StartUpdate", regarding, "start");
    r.record("StartUpdate", { ...regarding, name: "brs-n2", uid: "u2" }, "start");
    await r.flush();
    clock.advance(6 * 60_000 + 1);
    r.record("StartUpdate", regarding, "start");
    await r.flush();
    assert.deepEqual(api.calls, ["create start", "create start", "create start"]);
  });

  it("repeats while the create is in flight follow it in one PATCH, by the flush", async () => {
    const api = fakeApi();
    const timers = new FakeTimers();
    const r = recorder(api.sender, { timers });
    for (let i = 0; i < 3; i++) r.record("Recover", regarding, "update failed");
    await r.flush();
    // The create was already on its way when the repeats came: they follow in one PATCH.
    await timers.advance(60_000);
    await r.flush();
    assert.deepEqual(api.calls, [
      "create update failed",
      "patch update failed ×3 at 2024-05-01T12:00:00.123000Z",
    ]);
  });

  it("a series whose Event is gone is created anew with its count; close() PATCHes what is pending", async () => {
    const api = fakeApi();
    const timers = new FakeTimers();
    const r = recorder(api.sender, { timers });
    r.record("Recover", regarding, "update failed");
    await r.flush();
    api.gone.add(api.created[0]?.metadata.name ?? "");
    r.record("Recover", regarding, "update failed");
    await r.flush();
    assert.deepEqual(api.calls, ["create update failed", "create update failed ×2"]);
    assert.notEqual(api.created[1]?.metadata.name, api.created[0]?.metadata.name);
    assert.deepEqual(eventProblems(api.created[1] as EventsV1Event), []);
    r.record("Recover", regarding, "update failed");
    await r.close();
    assert.equal(api.calls.at(-1), "patch update failed ×3 at 2024-05-01T12:00:00.123000Z");
    assert.equal(timers.pending, 0, "no flush left scheduled");
  });

  it("carries the related object, which is part of what makes Events equal", async () => {
    const api = fakeApi();
    const r = recorder(api.sender, { timers: new FakeTimers() });
    const node = { apiVersion: "v1", kind: "Node", name: "n1", uid: "un1" };
    r.record("StartUpdate", node, "start", regarding);
    r.record("StartUpdate", node, "start", { ...regarding, uid: "u-other" });
    await r.flush();
    assert.deepEqual(
      api.created.map((e) => [e.metadata.namespace, e.regarding.kind, e.related?.uid]),
      [
        ["default", "Node", "u1"],
        ["default", "Node", "u-other"],
      ],
    );
  });

  it("eventProblems checks a series as kube-apiserver does", () => {
    const ev = { ...valid(), series: { count: 1, lastObservedTime: "2024-05-01T12:00:00Z" } };
    assert.deepEqual(
      eventProblems(ev).map((p) => p.split(":")[0]),
      ["series.count", "series.lastObservedTime"],
    );
  });
});
