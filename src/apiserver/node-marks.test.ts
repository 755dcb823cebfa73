import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  parseAnnotationMarks,
  parseLabelMarks,
  parseTaintMarks,
  unmarkPatch,
  UPDATE_MARKS_ANNOTATION,
  type NodeMarks,
} from "./node-marks.js";
import { CORDONED_BY_BRUPOP_ANNOTATION } from "../k8s/cordon-marker.js";
import { cordonAndMarkPatch, uncordonAndUnmarkPatch, type MergePatch } from "./node-ops.js";
import type { KubeNode } from "../k8s/objects.js";

describe("mark settings syntax", () => {
  const labels: [string, Record<string, string> | RegExp][] = [
    ["k=v", { k: "v" }],
    ["k=v, example.com/k2=v2", { k: "v", "example.com/k2": "v2" }],
    ["k=", { k: "" }],
    ["k", /not key=value/],
    ["k=v,", /empty item/],
    ["k=v,k=w", /given twice/],
    ["k=a b", /not a valid label value/],
    ["Bad.io/k=v", /not a valid label key/],
    ["brupop.bottlerocket.aws/x=1", /managed by brupop/],
    ["node.kubernetes.io/exclude-from-external-load-balancers=True", /managed by brupop/],
    ["bottlerocket.aws/updater-interface-version=2.0.0", /managed by brupop/],
  ];
  for (const [raw, want] of labels) {
    it(`labels ${JSON.stringify(raw)}`, () => {
      if (want instanceof RegExp) assert.throws(() => parseLabelMarks(raw), want);
      else assert.deepEqual(parseLabelMarks(raw), want);
    });
  }

  const annotations: [string, Record<string, string> | RegExp][] = [
    ["karpenter.sh/do-not-disrupt=true", { "karpenter.sh/do-not-disrupt": "true" }],
    ["note=updating: see runbook", { note: "updating: see runbook" }],
    ["a=1,a=2", /given twice/],
    ["brupop.bottlerocket.aws/update-marks={}", /managed by brupop/],
    ["=v", /not a valid annotation key/],
  ];
  for (const [raw, want] of annotations) {
    it(`annotations ${JSON.stringify(raw)}`, () => {
      if (want instanceof RegExp) assert.throws(() => parseAnnotationMarks(raw), want);
      else assert.deepEqual(parseAnnotationMarks(raw), want);
    });
  }

  const taints: [string, object | RegExp][] = [
    ["updating=true:NoSchedule", [{ key: "updating", value: "true", effect: "NoSchedule" }]],
    ["example.com/upd:PreferNoSchedule", [{ key: "example.com/upd", value: "", effect: "PreferNoSchedule" }]],
    [
      "a=1:NoSchedule,a=1:PreferNoSchedule",
      [
        { key: "a", value: "1", effect: "NoSchedule" },
        { key: "a", value: "1", effect: "PreferNoSchedule" },
      ],
    ],
    ["a=1:NoExecute", /NoExecute would evict brupop's own agent/],
    ["a=1:Sometimes", /not a taint effect/],
    ["a=1", /not key\[=value\]:Effect/],
    ["a=1:NoSchedule,a=2:NoSchedule", /given twice/],
    ["node.kubernetes.io/unschedulable:NoSchedule", /managed by brupop or Kubernetes/],
    ["a=b c:NoSchedule", /not a valid taint value/],
  ];
  for (const [raw, want] of taints) {
    it(`taints ${JSON.stringify(raw)}`, () => {
      if (want instanceof RegExp) assert.throws(() => parseTaintMarks(raw), want);
      else assert.deepEqual(parseTaintMarks(raw), want);
    });
  }
});

/** Applies a JSON merge patch (RFC 7386) the way kube-apiserver does. */
function applyMerge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMerge(out[k], v);
  }
  return out;
}

const apply = (node: KubeNode, patch: MergePatch | undefined): KubeNode =>
  patch === undefined ? node : (applyMerge(node, patch) as KubeNode);

const MARKS: NodeMarks = {
  labels: { "example.com/updating": "true" },
  annotations: { "karpenter.sh/do-not-disrupt": "true" },
  taints: [{ key: "example.com/updating", value: "true", effect: "NoSchedule" }],
};

const base = (
  over: { labels?: Record<string, string>; annotations?: Record<string, string>; taints?: object[] } = {},
): KubeNode => ({
  metadata: {
    name: "n1",
    resourceVersion: "7",
    labels: { keep: "me", ...over.labels },
    annotations: over.annotations,
  },
  spec: { taints: over.taints ?? [{ key: "other", effect: "NoSchedule" }] },
});

/** The node without resourceVersion (what the marks and the cordon change). */
const shape = (n: KubeNode): unknown => ({ ...n, metadata: { ...n.metadata, resourceVersion: undefined } });

describe("marks with the cordon, and their removal with the uncordon", () => {
  it("one patch cordons, marks and records; one patch undoes exactly that", () => {
    const before = base();
    const cordoned = apply(before, cordonAndMarkPatch(before, MARKS));
    assert.equal(cordoned.spec?.unschedulable, true);
    assert.equal(cordoned.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], "true");
    assert.equal(cordoned.metadata?.labels?.["example.com/updating"], "true");
    assert.equal(cordoned.metadata?.annotations?.["karpenter.sh/do-not-disrupt"], "true");
    assert.deepEqual(cordoned.spec?.taints, [
      { key: "other", effect: "NoSchedule" },
      { key: "example.com/updating", value: "true", effect: "NoSchedule" },
    ]);
    assert.ok(cordoned.metadata?.annotations?.[UPDATE_MARKS_ANNOTATION]);
    // A retried cordon changes nothing.
    assert.equal(cordonAndMarkPatch(cordoned, MARKS), undefined);
    const after = apply(cordoned, uncordonAndUnmarkPatch(cordoned));
    assert.deepEqual(shape(after), shape({ ...before, metadata: { ...before.metadata, annotations: {} } }));
    assert.equal(uncordonAndUnmarkPatch(after), undefined);
  });

  it("a mark already there as asked is not recorded and stays after the update", () => {
    const before = base({ annotations: { "karpenter.sh/do-not-disrupt": "true" } });
    const cordoned = apply(before, cordonAndMarkPatch(before, MARKS));
    const record = JSON.parse(cordoned.metadata?.annotations?.[UPDATE_MARKS_ANNOTATION] ?? "{}") as {
      annotations: object;
    };
    assert.deepEqual(record.annotations, {});
    const after = apply(cordoned, uncordonAndUnmarkPatch(cordoned));
    assert.equal(after.metadata?.annotations?.["karpenter.sh/do-not-disrupt"], "true");
    assert.equal(after.metadata?.labels?.["example.com/updating"], undefined);
  });

  it("a mark there with another value is set, then restored", () => {
    const before = base({
      labels: { "example.com/updating": "no" },
      taints: [{ key: "example.com/updating", value: "no", effect: "NoSchedule" }],
    });
    const cordoned = apply(before, cordonAndMarkPatch(before, MARKS));
    assert.equal(cordoned.metadata?.labels?.["example.com/updating"], "true");
    assert.deepEqual(cordoned.spec?.taints, [
      { key: "example.com/updating", value: "true", effect: "NoSchedule" },
    ]);
    const after = apply(cordoned, uncordonAndUnmarkPatch(cordoned));
    assert.equal(after.metadata?.labels?.["example.com/updating"], "no");
    assert.deepEqual(after.spec?.taints, [
      { key: "example.com/updating", value: "no", effect: "NoSchedule" },
    ]);
  });

  it("a mark someone changed during the update is theirs: left as it is", () => {
    const cordoned = apply(base(), cordonAndMarkPatch(base(), MARKS));
    const changed = apply(cordoned, { metadata: { labels: { "example.com/updating": "theirs" } } });
    const after = apply(changed, uncordonAndUnmarkPatch(changed));
    assert.equal(after.metadata?.labels?.["example.com/updating"], "theirs");
    assert.equal(after.metadata?.annotations?.["karpenter.sh/do-not-disrupt"], undefined);
  });

  it("a node someone else cordoned still gets the marks, and loses only them at uncordon", () => {
    const before: KubeNode = { ...base(), spec: { ...base().spec, unschedulable: true } };
    const patched = apply(before, cordonAndMarkPatch(before, MARKS));
    assert.equal(patched.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], undefined);
    assert.equal(patched.metadata?.labels?.["example.com/updating"], "true");
    const after = apply(patched, uncordonAndUnmarkPatch(patched));
    assert.equal(after.spec?.unschedulable, true);
    assert.equal(after.metadata?.labels?.["example.com/updating"], undefined);
  });

  it("crash-safe: a cordon made without marks (older version, another setting) gets them on retry", () => {
    const cordonedOnly = apply(base(), cordonAndMarkPatch(base()));
    assert.equal(cordonedOnly.spec?.unschedulable, true);
    const retried = apply(cordonedOnly, cordonAndMarkPatch(cordonedOnly, MARKS));
    assert.equal(retried.metadata?.labels?.["example.com/updating"], "true");
    assert.equal(retried.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION], "true");
    const after = apply(retried, uncordonAndUnmarkPatch(retried));
    assert.equal(after.spec?.unschedulable, undefined);
    assert.equal(after.metadata?.labels?.["example.com/updating"], undefined);
  });

  it("crash-safe: marks left after an uncordon (or by an older run) come off at the next uncordon", () => {
    const marked = apply(base(), cordonAndMarkPatch(base(), MARKS));
    const uncordonedOnly = apply(marked, {
      metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: null } },
      spec: { unschedulable: null },
    });
    const after = apply(uncordonedOnly, uncordonAndUnmarkPatch(uncordonedOnly));
    assert.equal(after.metadata?.annotations?.[UPDATE_MARKS_ANNOTATION], undefined);
    assert.equal(after.metadata?.annotations?.["karpenter.sh/do-not-disrupt"], undefined);
    assert.deepEqual(after.spec?.taints, [{ key: "other", effect: "NoSchedule" }]);
  });

  it("a record changed by new settings keeps the original value to restore", () => {
    const before = base({ labels: { "example.com/updating": "orig" } });
    const first = apply(before, cordonAndMarkPatch(before, MARKS));
    const second = apply(
      first,
      cordonAndMarkPatch(first, { ...MARKS, labels: { "example.com/updating": "v2" } }),
    );
    assert.equal(second.metadata?.labels?.["example.com/updating"], "v2");
    const after = apply(second, uncordonAndUnmarkPatch(second));
    assert.equal(after.metadata?.labels?.["example.com/updating"], "orig");
  });

  it("an unreadable record is dropped; nothing else is touched", () => {
    const n = base({ annotations: { [UPDATE_MARKS_ANNOTATION]: "not json" } });
    assert.deepEqual(unmarkPatch(n), { annotations: { [UPDATE_MARKS_ANNOTATION]: null } });
  });

  it("no marks configured: the cordon patch is today's", () => {
    assert.deepEqual(cordonAndMarkPatch(base()), {
      metadata: { annotations: { [CORDONED_BY_BRUPOP_ANNOTATION]: "true" }, resourceVersion: "7" },
      spec: { unschedulable: true },
    });
  });
});
