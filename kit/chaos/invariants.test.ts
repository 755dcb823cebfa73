import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HistoryEvent, NodeEvent, PodEvent, ShadowEvent } from "./history.js";
import {
  allowedStatusStep,
  checkAll,
  checkConcurrency,
  checkFinal,
  checkPdb,
  checkReboots,
  checkSingleWriter,
  checkStatusProgress,
  effectiveLimit,
  finalOutcome,
  type InvariantId,
} from "./invariants.js";
import { generateSchedule } from "./schedule.js";

const NODES = ["n0", "n1", "n2"];
const FROM = "1.19.0";
const TO = "1.20.0";

function meta(maxConcurrent = 1): HistoryEvent {
  const schedule = { ...generateSchedule(1, { nodes: 3 }), maxConcurrent };
  return { t: 0, kind: "meta", schedule, nodes: NODES, fromVersion: FROM, targetVersion: TO };
}

function shadow(t: number, node: string, spec: string, status: string, version = FROM): ShadowEvent {
  return {
    t,
    kind: "shadow",
    node,
    spec: { state: spec, version: spec === "Idle" ? null : TO },
    status: { state: status, version, target: TO, crash: 0, failure: null },
  };
}

/** Back in Idle on FROM after a failed attempt, with the agent's reason. */
function failedShadow(t: number, node: string): ShadowEvent {
  const s = shadow(t, node, "Idle", "Idle");
  return { ...s, status: { state: "Idle", version: FROM, target: TO, crash: 1, failure: "prepare failed" } };
}

function node(t: number, name: string, over: Partial<NodeEvent> = {}): NodeEvent {
  return {
    t,
    kind: "node",
    name,
    unschedulable: false,
    ready: true,
    lbExcluded: false,
    zone: "zone-a",
    brupopAnnotations: [],
    ...over,
  };
}

function pod(t: number, name: string, nodeName: string, over: Partial<PodEvent> = {}): PodEvent {
  return { t, kind: "pod", name, node: nodeName, ready: true, deleting: false, ...over };
}

const ids = (h: HistoryEvent[], check: (h: HistoryEvent[]) => { invariant: InvariantId }[]) =>
  check(h).map((v) => v.invariant);

/** A clean one-node-at-a-time rollout of NODES: every invariant holds. */
function cleanRun(): HistoryEvent[] {
  const h: HistoryEvent[] = [meta(1), { t: 1, kind: "pdb", name: "web", minAvailable: 1 }];
  h.push(pod(2, "web-a", "n0"), pod(2, "web-b", "n1"));
  for (const n of NODES) h.push(node(3, n), shadow(4, n, "Idle", "Idle"));
  h.push({ t: 5, kind: "lease", holder: "r0" }, { t: 6, kind: "phase", phase: "rollout" });
  let t = 10;
  for (const n of NODES) {
    h.push({
      t: t,
      kind: "write",
      replica: "r0",
      start: t - 1,
      method: "PATCH",
      path: `/brs-${n}`,
      status: 200,
    });
    h.push(shadow(t, n, "StagedAndPerformedUpdate", "Idle"));
    h.push(shadow(t + 1, n, "StagedAndPerformedUpdate", "StagedAndPerformedUpdate"));
    h.push(shadow(t + 2, n, "RebootedIntoUpdate", "StagedAndPerformedUpdate"));
    h.push(
      node(t + 3, n, {
        unschedulable: true,
        brupopAnnotations: ["brupop.bottlerocket.aws/cordoned-by-brupop"],
      }),
    );
    h.push(pod(t + 4, { n0: "web-a", n1: "web-b", n2: "web-c" }[n] ?? "", n, { deleting: true }));
    h.push({ t: t + 5, kind: "reboot", node: n, from: FROM, to: TO, rollback: false });
    h.push(shadow(t + 6, n, "RebootedIntoUpdate", "RebootedIntoUpdate", TO));
    h.push(shadow(t + 7, n, "MonitoringUpdate", "MonitoringUpdate", TO));
    h.push(node(t + 8, n));
    h.push(shadow(t + 9, n, "Idle", "MonitoringUpdate", TO));
    h.push(shadow(t + 10, n, "Idle", "Idle", TO));
    const [replacement, on] = { n0: ["web-c", "n2"], n1: ["web-d", "n0"], n2: ["web-e", "n0"] }[n] ?? [];
    h.push(pod(t + 11, replacement ?? "", on ?? ""));
    t += 3_000;
  }
  h.push({ t: t + 1, kind: "phase", phase: "settled" });
  return h;
}

describe("invariants over a clean history", () => {
  it("find nothing", () => {
    assert.deepEqual(checkAll(cleanRun()), []);
    assert.deepEqual(finalOutcome(cleanRun()), { upToDate: NODES, failed: [], stuck: [] });
  });
});

describe("1: concurrency", () => {
  const cases: { name: string; h: HistoryEvent[]; want: number }[] = [
    {
      name: "two starts under limit 1",
      h: [
        meta(1),
        shadow(1, "n0", "StagedAndPerformedUpdate", "Idle"),
        shadow(2, "n1", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 1,
    },
    {
      name: "two starts under limit 2",
      h: [
        meta(2),
        shadow(1, "n0", "StagedAndPerformedUpdate", "Idle"),
        shadow(2, "n1", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 0,
    },
    {
      name: "a node whose spec is Idle but status still MonitoringUpdate still counts",
      h: [
        meta(1),
        shadow(1, "n0", "Idle", "MonitoringUpdate", TO),
        shadow(2, "n1", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 1,
    },
    {
      name: "a start under a pause seen long before",
      h: [
        meta(2),
        { t: 1, kind: "policy", spec: { paused: true } },
        shadow(5_000, "n0", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 1,
    },
    {
      name: "a start just after a pause (within the grace: the controller had not seen it)",
      h: [
        meta(2),
        { t: 4_000, kind: "policy", spec: { paused: true } },
        shadow(5_000, "n0", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 0,
    },
    {
      name: "a start just before the observer sees the pause lifted (watch lag after a kube-apiserver restart: seed 6201)",
      h: [
        meta(2),
        { t: 1, kind: "policy", spec: { paused: true } },
        shadow(22_817, "n0", "StagedAndPerformedUpdate", "Idle"),
        { t: 23_631, kind: "policy", spec: null },
      ],
      want: 0,
    },
    {
      name: "a start long before the pause is lifted",
      h: [
        meta(2),
        { t: 1, kind: "policy", spec: { paused: true } },
        shadow(12_000, "n0", "StagedAndPerformedUpdate", "Idle"),
        { t: 23_631, kind: "policy", spec: null },
      ],
      want: 1,
    },
    {
      name: "a second start in one zone under maxConcurrentPerZone 1",
      h: [
        meta(3),
        node(0, "n0"),
        node(0, "n1"),
        { t: 0, kind: "policy", spec: { maxConcurrentPerZone: 1 } },
        shadow(5_000, "n0", "StagedAndPerformedUpdate", "Idle"),
        shadow(5_001, "n1", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 1,
    },
    {
      name: "a second start in another zone under maxConcurrentPerZone 1",
      h: [
        meta(3),
        node(0, "n0"),
        node(0, "n1", { zone: "zone-b" }),
        { t: 0, kind: "policy", spec: { maxConcurrentPerZone: 1 } },
        shadow(5_000, "n0", "StagedAndPerformedUpdate", "Idle"),
        shadow(5_001, "n1", "StagedAndPerformedUpdate", "Idle"),
      ],
      want: 0,
    },
    {
      name: "progress of a node already in flight is not a start",
      h: [
        meta(1),
        shadow(1, "n0", "StagedAndPerformedUpdate", "Idle"),
        shadow(2, "n0", "RebootedIntoUpdate", "StagedAndPerformedUpdate"),
      ],
      want: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(ids(c.h, checkConcurrency).length, c.want));
  }

  it("effectiveLimit follows docs/policy.md", () => {
    assert.equal(effectiveLimit(2, null, 10), 2);
    assert.equal(effectiveLimit(2, { paused: true, maxConcurrent: 5 }, 10), 0);
    assert.equal(effectiveLimit(2, { maxConcurrent: 0 }, 10), 0);
    assert.equal(effectiveLimit(2, { maxConcurrent: 5 }, 10), 5);
    assert.equal(effectiveLimit(2, { maxConcurrent: "25%" }, 10), 2);
    assert.equal(effectiveLimit(2, { maxConcurrent: "10%" }, 6), 1, "at least 1");
    assert.equal(effectiveLimit(2, {}, 10), 2);
  });
});

describe("2: PDB", () => {
  const base = (): HistoryEvent[] => [
    meta(),
    { t: 0, kind: "pdb", name: "web", minAvailable: 2 },
    pod(0, "a", "n0"),
    pod(0, "b", "n1"),
    pod(0, "c", "n2"),
    { t: 1, kind: "phase", phase: "rollout" },
  ];
  const cases: { name: string; extra: HistoryEvent[]; want: number }[] = [
    {
      name: "one eviction leaves 2 of minAvailable 2",
      extra: [pod(5, "a", "n0", { deleting: true })],
      want: 0,
    },
    {
      name: "a second eviction before a replacement is ready",
      extra: [pod(5, "a", "n0", { deleting: true }), pod(6, "b", "n1", { deleting: true })],
      want: 1,
    },
    {
      name: "a second eviction after a replacement is ready",
      extra: [
        pod(5, "a", "n0", { deleting: true }),
        pod(6, "d", "n2"),
        pod(7, "b", "n1", { deleting: true }),
      ],
      want: 0,
    },
    {
      name: "a deletion without a deleting phase counts as well",
      extra: [pod(5, "a", "n0", { deleting: true }), pod(6, "b", "n1", { deleted: true })],
      want: 1,
    },
    {
      name: "an unready pod may go (it is not healthy)",
      extra: [pod(4, "b", "n1", { ready: false }), pod(5, "b", "n1", { ready: false, deleting: true })],
      want: 0,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(checkPdb([...base(), ...c.extra]).length, c.want));

  it("nothing counts before the rollout starts", () => {
    const h: HistoryEvent[] = [
      meta(),
      { t: 0, kind: "pdb", name: "web", minAvailable: 2 },
      pod(0, "a", "n0"),
      pod(1, "a", "n0", { deleting: true }),
    ];
    assert.deepEqual(checkPdb(h), []);
  });
});

describe("3: reboots", () => {
  const ready = (): HistoryEvent[] => [
    meta(),
    node(0, "n0", { unschedulable: true }),
    pod(0, "a", "n0", { deleting: true }),
  ];
  const reboot = (t: number, to = TO, from = FROM): HistoryEvent => ({
    t,
    kind: "reboot",
    node: "n0",
    from,
    to,
    rollback: false,
  });
  const cases: { name: string; h: HistoryEvent[]; want: string[] }[] = [
    { name: "one reboot, cordoned and drained", h: [...ready(), reboot(10)], want: [] },
    {
      name: "a second reboot into the same version",
      h: [...ready(), reboot(10), reboot(5_000)],
      want: ["rebooted into 1.20.0 2 times"],
    },
    { name: "a reboot without an update", h: [...ready(), reboot(10, FROM)], want: ["without an update"] },
    {
      name: "a reboot while schedulable",
      h: [meta(), node(0, "n0"), reboot(10)],
      want: ["not cordoned"],
    },
    {
      name: "a reboot with a pod still running on the node",
      h: [meta(), node(0, "n0", { unschedulable: true }), pod(0, "a", "n0"), reboot(10)],
      want: ["not drained"],
    },
    {
      name: "a pod whose deletion the observer sees just after the reboot (watch lag) is drained",
      h: [
        meta(),
        node(0, "n0", { unschedulable: true }),
        pod(0, "a", "n0"),
        reboot(10),
        pod(500, "a", "n0", { deleting: true }),
      ],
      want: [],
    },
    {
      name: "a pod still not deleted well after the reboot is not",
      h: [
        meta(),
        node(0, "n0", { unschedulable: true }),
        pod(0, "a", "n0"),
        reboot(10),
        pod(5_000, "a", "n0", { deleting: true }),
      ],
      want: ["not drained"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = checkReboots(c.h);
      assert.equal(got.length, c.want.length, JSON.stringify(got));
      for (const [i, w] of c.want.entries()) assert.match(got[i]?.message ?? "", new RegExp(w));
    });
  }
});

describe("4: the end", () => {
  const end: HistoryEvent = { t: 100, kind: "phase", phase: "settled" };
  const done = (n: string): HistoryEvent[] => [node(1, n), shadow(2, n, "Idle", "Idle", TO)];
  it("all up to date and clean: nothing", () => {
    assert.deepEqual(checkFinal([meta(), ...NODES.flatMap(done), end]), []);
  });
  it("a node left cordoned, excluded and marked: three violations", () => {
    const h = [
      meta(),
      ...NODES.flatMap(done),
      node(3, "n1", {
        unschedulable: true,
        lbExcluded: true,
        brupopAnnotations: ["brupop.bottlerocket.aws/update-marks"],
      }),
      end,
    ];
    assert.deepEqual(
      checkFinal(h).map((v) => [v.node, v.message]),
      [
        ["n1", "n1 left cordoned"],
        ["n1", "n1 left excluded from load balancers"],
        ["n1", "n1 left marked: brupop.bottlerocket.aws/update-marks"],
      ],
    );
  });
  it("a node that failed with a named failure is not a violation; one stuck mid-update is", () => {
    const h = [
      meta(),
      ...done("n0"),
      node(1, "n1"),
      failedShadow(2, "n1"),
      node(1, "n2"),
      shadow(2, "n2", "RebootedIntoUpdate", "StagedAndPerformedUpdate"),
      end,
    ];
    assert.deepEqual(
      checkFinal(h).map((v) => v.node),
      ["n2"],
    );
    assert.deepEqual(finalOutcome(h), {
      upToDate: ["n0"],
      failed: [{ node: "n1", crash: 1, failure: "prepare failed" }],
      stuck: ["n2"],
    });
  });
  it("without an end marker there is no verdict on the end", () => {
    assert.deepEqual(checkFinal([meta(), node(1, "n0", { unschedulable: true })]), []);
  });
});

describe("5: no regression", () => {
  it("allowedStatusStep follows the state table", () => {
    const table: [string, string, boolean][] = [
      ["Idle", "StagedAndPerformedUpdate", true],
      ["StagedAndPerformedUpdate", "RebootedIntoUpdate", true],
      ["MonitoringUpdate", "Idle", true],
      ["RebootedIntoUpdate", "ErrorReset", true],
      ["ErrorReset", "Idle", true],
      ["RebootedIntoUpdate", "StagedAndPerformedUpdate", false],
      ["StagedAndPerformedUpdate", "Idle", false],
      ["Idle", "MonitoringUpdate", false],
    ];
    for (const [from, to, ok] of table) assert.equal(allowedStatusStep(from, to), ok, `${from} → ${to}`);
  });
  it("a jump to Idle on the new version (steps hidden by a watch cut) completes the cycle; on the old one it regresses", () => {
    const h: HistoryEvent[] = [
      meta(),
      shadow(1, "n0", "RebootedIntoUpdate", "StagedAndPerformedUpdate", FROM),
      shadow(2, "n0", "Idle", "Idle", TO),
      shadow(3, "n1", "RebootedIntoUpdate", "StagedAndPerformedUpdate", FROM),
      shadow(4, "n1", "Idle", "Idle", FROM),
    ];
    assert.deepEqual(
      checkStatusProgress(h).map((v) => v.message),
      ["n1 status went StagedAndPerformedUpdate → Idle"],
    );
  });
  it("a jump past the reboot onto the new version (its report hidden by a watch cut, seed 5116) passes; on the old version it is flagged", () => {
    const h: HistoryEvent[] = [
      meta(),
      shadow(1, "n0", "RebootedIntoUpdate", "StagedAndPerformedUpdate", FROM),
      { t: 1.5, kind: "rebooted", node: "n0", version: TO },
      shadow(2, "n0", "MonitoringUpdate", "MonitoringUpdate", TO),
      shadow(3, "n1", "RebootedIntoUpdate", "StagedAndPerformedUpdate", FROM),
      { t: 3.5, kind: "rebooted", node: "n1", version: TO },
      shadow(4, "n1", "MonitoringUpdate", "MonitoringUpdate", FROM),
      shadow(5, "n2", "Idle", "Idle", FROM),
      { t: 5.5, kind: "rebooted", node: "n2", version: TO },
      shadow(6, "n2", "RebootedIntoUpdate", "RebootedIntoUpdate", TO),
      // No reboot logged in between (a skipped step, not a hidden one): flagged.
      shadow(7, "n3", "RebootedIntoUpdate", "StagedAndPerformedUpdate", FROM),
      shadow(8, "n3", "MonitoringUpdate", "MonitoringUpdate", TO),
    ];
    assert.deepEqual(
      checkStatusProgress(h).map((v) => v.message),
      [
        "n1 status went StagedAndPerformedUpdate → MonitoringUpdate",
        "n3 status went StagedAndPerformedUpdate → MonitoringUpdate",
      ],
    );
  });
  it("finds a state going back and a version going back, not a rollback's", () => {
    const h: HistoryEvent[] = [
      meta(),
      shadow(1, "n0", "RebootedIntoUpdate", "RebootedIntoUpdate", TO),
      shadow(2, "n0", "RebootedIntoUpdate", "StagedAndPerformedUpdate", FROM),
      shadow(3, "n1", "Idle", "Idle", TO),
      { t: 4, kind: "reboot", node: "n1", from: TO, to: FROM, rollback: true },
      shadow(5, "n1", "Idle", "Idle", FROM),
    ];
    assert.deepEqual(
      checkStatusProgress(h).map((v) => v.message),
      [
        "n0 status went RebootedIntoUpdate → StagedAndPerformedUpdate",
        "n0 reported version went back 1.20.0 → 1.19.0",
      ],
    );
  });
});

describe("6: one writer", () => {
  const w = (t: number, replica: string, status = 200): HistoryEvent => ({
    t,
    kind: "write",
    replica,
    start: t - 10,
    method: "PATCH",
    path: "/brs-n0",
    status,
  });
  const cases: { name: string; h: HistoryEvent[]; want: number }[] = [
    {
      name: "the holder writes",
      h: [meta(), { t: 0, kind: "lease", holder: "r0" }, w(5_000, "r0")],
      want: 0,
    },
    {
      name: "the other replica writes long after",
      h: [meta(), { t: 0, kind: "lease", holder: "r0" }, w(5_000, "r1")],
      want: 1,
    },
    {
      name: "a refused write (409) does not count",
      h: [meta(), { t: 0, kind: "lease", holder: "r0" }, w(5_000, "r1", 409)],
      want: 0,
    },
    {
      name: "the new holder writes before the observer sees the lease change (lag)",
      h: [
        meta(),
        { t: 0, kind: "lease", holder: "r0" },
        w(5_000, "r1"),
        { t: 5_500, kind: "lease", holder: "r1" },
      ],
      want: 0,
    },
    {
      name: "the old holder writes well after losing the lease (split brain)",
      h: [
        meta(),
        { t: 0, kind: "lease", holder: "r0" },
        { t: 1_000, kind: "lease", holder: "r1" },
        w(9_000, "r0"),
      ],
      want: 1,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(checkSingleWriter(c.h).length, c.want));
});
