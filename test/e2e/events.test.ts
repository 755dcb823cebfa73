// Issue 34 end to end: every Event reason the docs table (docs/controller.md, docs/agent.md,
// docs/apiserver.md, docs/policy.md; read by test/kit/event-docs.ts) is provoked on a real control
// plane and found in the cluster through events.k8s.io/v1, on the object the docs name, with the
// documented type, action and text; none is refused (brupop_events_refused_total stays 0).
//
// One cluster and one fleet for every row: the real Controller (blockers, silent-agent check, an
// UpdatePolicy with a failure budget of 1) and a BrupopTestbed (real agents, simulated hosts):
//   ok      updates all the way            StartUpdate, Progress (steps and "update complete")
//   bad     its first prepare fails        Recover; the budget trips: FailureBudgetExhausted
//   silent  its agent is killed            StartUpdate, then AgentSilent
//   held    a labelled pod runs on it      UpdateBlocked
//   ghost   a shadow without status        Initialise
// and then the test clears the halt:      HaltCleared.
// A reason in the docs without a row in PROVOKED fails, and so does a row the docs do not list.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { Registry } from "prom-client";

import type { Controller } from "../../src/controller/run/controller.js";
import { EventRecorder, kubeEventSender, type EventsV1Event } from "../../src/k8s/events.js";
import { silentLogger } from "../../src/log.js";
import { API_VERSION_V2, KIND, shadowNameForNode } from "../../src/model/constants.js";
import {
  CLEAR_HALT_ANNOTATION,
  POLICY_API_VERSION,
  POLICY_COLLECTION_PATH,
  POLICY_KIND,
  type RawPolicy,
} from "../../src/model/policy.js";
import { E2eScenarios, elapsed } from "../kit/e2e.js";
import { documentedEvents, type DocumentedEvent } from "../kit/event-docs.js";
import { eventually, kube } from "../kit/kube.js";
import type { BrupopTestbed } from "../kit/testbed.js";
import { shadowsPath } from "../kit/watchers.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";

const ROOT = join(import.meta.dirname, "..", "..");
const FROM = "1.19.0";
const TO = "1.20.0";
const NS = "ev";
const POLICY = "e2e-events";
const GHOST = "brs-ev-ghost";
const BLOCK_LABEL = "e2e.brupop/block";
const TICK_MS = 300;
const HOST_DURATIONS = { refresh: 50, prepare: 200, activate: 50, deactivate: 50, reboot: 300 };
const AGENT_TIMINGS = { loopIntervalMs: 500, updateCheckIntervalMs: 1_000, excludeFromLbWaitMs: 0 };
const EVENTS = "/apis/events.k8s.io/v1/events";

interface Fleet {
  ok: string;
  bad: string;
  silent: string;
  held: string;
}

/** Per reason: the object, by kind, each documented Event must be found on in this fleet. */
const PROVOKED: Record<string, (f: Fleet) => Record<string, string>> = {
  StartUpdate: (f) => ({ BottlerocketShadow: shadowNameForNode(f.ok), Node: f.ok }),
  Progress: (f) => ({ BottlerocketShadow: shadowNameForNode(f.ok), Node: f.ok }),
  Recover: (f) => ({ BottlerocketShadow: shadowNameForNode(f.bad), Node: f.bad }),
  Initialise: () => ({ BottlerocketShadow: GHOST }),
  UpdateBlocked: (f) => ({ BottlerocketShadow: shadowNameForNode(f.held) }),
  AgentSilent: (f) => ({ BottlerocketShadow: shadowNameForNode(f.silent) }),
  FailureBudgetExhausted: () => ({ UpdatePolicy: POLICY }),
  HaltCleared: () => ({ UpdatePolicy: POLICY }),
};

const documented = documentedEvents(ROOT);

describe("every documented Event reaches the cluster (real control plane)", { timeout: 240_000 }, () => {
  const e2e = new E2eScenarios({
    timings: { tickMs: TICK_MS, hostDurations: HOST_DURATIONS, agentTimings: AGENT_TIMINGS },
    to: TO,
  });
  let tb: BrupopTestbed;
  let controller: Controller;
  let rest: RawKubeRest;
  let fleet: Fleet;
  const t0 = performance.now();

  async function listEvents(): Promise<EventsV1Event[]> {
    return (await kube<{ items: EventsV1Event[] }>(rest, "GET", EVENTS)).items.filter(
      (e) => e.reportingController === "brupop-controller",
    );
  }

  before(async () => {
    await e2e.start();
    rest = e2e.rest;
    await e2e.withLogs(provoke)();
    process.stderr.write(`events e2e: fleet provoked in ${elapsed(t0)}\n`);
  });

  /** Sets up the fleet and provokes every Event reason (see the file's comment). */
  async function provoke(): Promise<void> {
    tb = await e2e.testbed(NS);
    const [ok, bad, silent, held] = await e2e.offered(tb, "ev-", 4, { version: FROM });
    assert.ok(ok !== undefined && bad !== undefined && silent !== undefined && held !== undefined);
    fleet = { ok, bad, silent, held };
    tb.fleet.host(bad).failCommand("prepare", { times: 1, stderr: "e2e: injected prepare failure" });
    tb.killAgent(silent);
    await kube(rest, "POST", `/api/v1/namespaces/${NS}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "batch-job", labels: { [BLOCK_LABEL]: "true" } },
      spec: { nodeName: held, containers: [{ name: "job", image: "e2e/job:1" }] },
    });
    await kube(rest, "POST", shadowsPath(NS), {
      apiVersion: API_VERSION_V2,
      kind: KIND,
      metadata: { name: GHOST },
      spec: { state: "StagedAndPerformedUpdate", version: TO, state_transition_timestamp: null },
    });
    await kube(rest, "POST", POLICY_COLLECTION_PATH, {
      apiVersion: POLICY_API_VERSION,
      kind: POLICY_KIND,
      metadata: { name: POLICY },
      spec: { failureBudget: { maxFailures: 1, window: "1h" } },
    });
    controller = e2e.controller(
      tb,
      {
        maxConcurrent: 10,
        extras: { blockers: { podSelector: `${BLOCK_LABEL}=true` }, agentSilenceLimitMs: 3_000 },
      },
      {},
      { policyName: POLICY },
    );
    await controller.start();

    // The budget trips on `bad`'s failure; then a person clears the halt.
    const policy = () => kube<RawPolicy>(rest, "GET", `${POLICY_COLLECTION_PATH}/${POLICY}`);
    const halted = async () =>
      (await policy()).status?.conditions?.find((c) => c.type === "Halted")?.status === "True";
    await eventually("the failure budget halts the fleet", 60_000, halted);
    await eventually("the halt's Event is in", 10_000, async () =>
      (await listEvents()).some((e) => e.reason === "FailureBudgetExhausted"),
    );
    await kube(
      rest,
      "PATCH",
      `${POLICY_COLLECTION_PATH}/${POLICY}`,
      { metadata: { annotations: { [CLEAR_HALT_ANNOTATION]: "1" } } },
      { contentType: "application/merge-patch+json" },
    );
  }

  after(async () => {
    await e2e.stop();
    process.stderr.write(`events e2e: ${elapsed(t0)} in all\n`);
  });

  it("the docs table Events, and this test provokes exactly the documented reasons", () => {
    assert.ok(documented.length > 0, "no Event table found in the docs");
    const reasons = [...new Set(documented.map((d) => d.reason))].sort();
    assert.deepEqual(reasons, Object.keys(PROVOKED).sort(), "docs vs PROVOKED (add the missing row)");
  });

  for (const row of documented) {
    it(`${row.reason} (${row.doc}): "${row.note}" on ${row.regarding.join(" and ")}`, async () => {
      const where = PROVOKED[row.reason]?.(fleet);
      assert.ok(where !== undefined, `${row.reason} is documented but this test does not provoke it`);
      for (const kind of row.regarding) {
        const name = where[kind];
        assert.ok(name !== undefined, `${row.reason}: the docs say it is on a ${kind}; PROVOKED names none`);
        let seen: EventsV1Event[] = [];
        try {
          await eventually(`${row.reason} on ${kind} ${name}`, 60_000, async () => {
            seen = (await listEvents()).filter((e) => e.reason === row.reason);
            return seen.some((e) => matches(e, row, kind, name));
          });
        } catch (err) {
          const got = seen.map(
            (e) => `${e.regarding.kind}/${e.regarding.name} ${e.type} ${e.action}: ${e.note}`,
          );
          assert.fail(`${(err as Error).message}\nEvents with that reason:\n  ${got.join("\n  ")}`);
        }
      }
    });
  }

  it("no Event was refused: brupop_events_refused_total stays 0", async () => {
    const text = await controller.metrics.text();
    assert.match(text, /^# TYPE brupop_events_refused_total counter$/m, "the counter is registered");
    const refused = text.split("\n").filter((l) => /^brupop_events_refused_total\{/.test(l));
    assert.deepEqual(
      refused.filter((l) => !l.endsWith(" 0")),
      [],
    );
  });

  it("a refusal by the real API is counted and logged at warn with its message", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const registry = new Registry();
    const recorder = new EventRecorder({
      sender: kubeEventSender(rest),
      catalogue: { Probe: { type: "Normal", action: "Probe" } },
      reporter: { controller: "brupop-e2e", instance: "events-test" },
      clock: { now: () => new Date() },
      logger: pino({ level: "warn" }, sink),
      registry,
    });
    recorder.record("Probe", { apiVersion: "v1", kind: "ConfigMap", name: "x", namespace: NS }, "accepted");
    recorder.record(
      "Probe",
      { apiVersion: "v1", kind: "ConfigMap", name: "x", namespace: "no-such-namespace" },
      "refused: its namespace does not exist",
    );
    await recorder.flush();
    assert.deepEqual([recorder.stats.sent, recorder.stats.refused], [1, 1]);
    assert.match(await registry.metrics(), /^brupop_events_refused_total\{reason="Probe"\} 1$/m);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.["level"], 40);
    assert.equal(lines[0]?.["reason"], "Probe");
    assert.match(String(lines[0]?.["apiMessage"]), /namespaces "no-such-namespace" not found/);
  });

  it("a repeat becomes a series: the real API takes the PATCH, and a gone Event is created anew (issue 30)", async () => {
    const recorder = new EventRecorder({
      sender: kubeEventSender(rest),
      catalogue: { Probe: { type: "Warning", action: "Probe" } },
      reporter: { controller: "brupop-e2e", instance: "events-test" },
      clock: { now: () => new Date() },
      logger: silentLogger(),
      registry: new Registry(),
    });
    const regarding = { apiVersion: "v1", kind: "ConfigMap", name: "series", namespace: NS };
    const mine = async () =>
      (
        await kube<{ items: EventsV1Event[] }>(rest, "GET", `/apis/events.k8s.io/v1/namespaces/${NS}/events`)
      ).items.filter((e) => e.regarding.name === "series");
    recorder.record("Probe", regarding, "again");
    await recorder.flush();
    recorder.record("Probe", regarding, "again");
    await recorder.flush();
    const [one] = await mine();
    assert.equal(one?.series?.count, 2);
    await kube(rest, "DELETE", `/apis/events.k8s.io/v1/namespaces/${NS}/events/${one?.metadata.name}`);
    recorder.record("Probe", regarding, "again");
    await recorder.close(); // the pending count is PATCHed; its Event gone, it is created anew
    const again = await mine();
    assert.deepEqual(
      again.map((e) => e.series?.count),
      [3],
    );
    assert.deepEqual([recorder.stats.refused, recorder.stats.failed], [0, 0]);
  });

  it("kube-apiserver refuses what eventProblems refuses (issue 34's missing action, a note over 1 KiB of UTF-8)", async () => {
    const base = (name: string): EventsV1Event => ({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name, namespace: NS },
      eventTime: new Date().toISOString().replace(/Z$/, "000Z"),
      reportingController: "brupop-e2e",
      reportingInstance: "events-test",
      action: "Probe",
      reason: "Probe",
      type: "Normal",
      regarding: { apiVersion: "v1", kind: "ConfigMap", name: "x", namespace: NS },
      note: "→".repeat(341),
    });
    const path = `/apis/events.k8s.io/v1/namespaces/${NS}/events`;
    const post = (ev: EventsV1Event) => kube<{ message?: string }>(rest, "POST", path, ev, { ok: [422] });
    await kube(rest, "POST", path, base("probe-ok"), { ok: [201] }); // 1 023 bytes: accepted
    const noAction = await post({ ...base("probe-no-action"), action: "" });
    assert.match(noAction.message ?? "", /action: Required value/);
    const long = await post({ ...base("probe-long-note"), note: "→".repeat(342) });
    assert.match(long.message ?? "", /at most 1024 characters/);
  });
});

function matches(e: EventsV1Event, row: DocumentedEvent, kind: string, name: string): boolean {
  return (
    e.regarding.kind === kind &&
    e.regarding.name === name &&
    e.type === row.type &&
    e.action === row.action &&
    row.pattern.test(e.note) &&
    e.reportingInstance !== "" &&
    (kind !== "Node" && kind !== "UpdatePolicy"
      ? e.metadata.namespace === NS
      : e.metadata.namespace === "default")
  );
}
