import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NODE_PAUSED_ANNOTATION } from "../model/policy.js";
import { buildFleetStatus } from "./core.js";
import { slimNode } from "./inputs.js";
import { renderTable } from "./table.js";
import { input, node, NOW, settings, shadow } from "../../test/kit/status-fixtures.js";

const idle = (n: string) => shadow(n, { state: "Idle" }, { current_state: "Idle" });

describe("brupop status with an UpdatePolicy", () => {
  it("names the policy's rule for waiting nodes and shows the policy line", () => {
    const inp = input([idle("a"), idle("b")], [node("a"), node("b")], { state: settings() });
    inp.policy = {
      metadata: { name: "default" },
      spec: { paused: true, maxConcurrent: "50%" },
      status: {
        conditions: [
          {
            type: "Paused",
            status: "True",
            reason: "PausedBySpec",
            message: "paused by UpdatePolicy default: no node starts; 0 node(s) still finishing",
            lastTransitionTime: NOW.toISOString(),
          },
        ],
      },
    };
    const st = buildFleetStatus(inp);
    for (const row of st.nodes) {
      assert.equal(row.reason.kind, "policy-hold");
      assert.equal(row.message, "paused by UpdatePolicy default");
    }
    assert.deepEqual(st.policy?.hold, "paused by UpdatePolicy default");
    assert.equal(st.policy?.maxConcurrent, 1);
    assert.match(
      renderTable(st, NOW),
      /UpdatePolicy default: paused by UpdatePolicy default; limit 1; Paused \(PausedBySpec\)/,
    );
  });

  it("without a policy, a Node's pause annotation still holds it (and survives the watch cache's slimming)", () => {
    const held = node("a");
    held.metadata = { ...held.metadata, annotations: { [NODE_PAUSED_ANNOTATION]: "true" } };
    const st = buildFleetStatus(input([idle("a")], [slimNode(held)], { state: settings() }));
    assert.equal(st.nodes[0]?.reason.kind, "policy-hold");
    assert.match(st.nodes[0]?.message ?? "", /paused by Node annotation/);
    assert.equal(st.policy, undefined);
  });

  it("a group hold survives the watch cache's slimming (--watch keeps the Node labels groups match)", () => {
    const canary = node("a");
    canary.metadata = { ...canary.metadata, labels: { ...canary.metadata?.labels, "e2e/tier": "canary" } };
    const inp = input([idle("a"), idle("b")], [slimNode(canary), slimNode(node("b"))], { state: settings() });
    inp.policy = {
      metadata: { name: "default" },
      spec: { maxConcurrent: 5, groups: [{ name: "canary", matchLabels: { "e2e/tier": "canary" } }] },
    };
    const st = buildFleetStatus(inp);
    const b = st.nodes.find((r) => r.node === "b");
    assert.equal(b?.reason.kind, "policy-hold");
    assert.match(b?.message ?? "", /group \(rest\) waits for group canary to finish/);
    assert.notEqual(st.nodes.find((r) => r.node === "a")?.reason.kind, "policy-hold");
  });
});
