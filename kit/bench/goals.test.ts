import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GOALS, grossFailures, judge } from "./goals.js";

describe("goals", () => {
  it("judges met, missed, not measured and gross", () => {
    const r = judge({
      "rollout-overhead": 1.05,
      "writes-per-node": 18,
      "agent-rss": 300,
      "controller-rss": null,
    });
    const by = new Map(r.map((g) => [g.id, g]));
    assert.equal(by.get("rollout-overhead")?.verdict, "met");
    assert.equal(by.get("writes-per-node")?.verdict, "missed");
    assert.equal(by.get("writes-per-node")?.gross, false);
    assert.equal(by.get("agent-rss")?.gross, true);
    assert.equal(by.get("controller-rss")?.verdict, "not measured");
    assert.equal(by.get("decision-p99")?.verdict, "not measured");
    assert.equal(r.length, GOALS.length);
  });

  it("fails a quick run only on gross failures or an incomplete rollout", () => {
    assert.deepEqual(grossFailures(judge({ "writes-per-node": 19.9, "agent-start-cpu": 0.36 }), []), []);
    const fails = grossFailures(judge({ "writes-per-node": 21 }), ["rollout c=50"]);
    assert.equal(fails.length, 2);
    assert.match(fails[0] ?? "", /rollout c=50 did not complete/);
    assert.match(fails[1] ?? "", /writes per node.*21 writes is more than 20 \(goal 16\)/);
  });

  it("catches the regressions of issue 30 in a quick run: writes per update and the agent's start", () => {
    const gross = (figures: Record<string, number>) => grossFailures(judge(figures), []).length;
    assert.equal(gross({ "writes-per-node": 21.5 }), 1, "21.5 writes per update (Events doubled)");
    assert.equal(gross({ "agent-start": 61 }), 1);
    assert.equal(gross({ "agent-start-cpu": 0.7 }), 1);
    assert.equal(gross({ "writes-per-node": 15.8, "agent-start": 36, "agent-start-cpu": 0.36 }), 0);
  });

  it("says what limits a missed figure, and only a missed one", () => {
    const r = judge(
      { "agent-rss": 55, "apiserver-rss": 40 },
      { "agent-rss": "Node.js itself", "apiserver-rss": "x" },
    );
    const by = new Map(r.map((g) => [g.id, g]));
    assert.equal(by.get("agent-rss")?.limitedBy, "Node.js itself");
    assert.equal(by.get("apiserver-rss")?.verdict, "met");
    assert.equal(by.get("apiserver-rss")?.limitedBy, undefined);
    assert.equal(by.get("agent-start")?.limitedBy, undefined);
  });

  it("sets every gross limit at three times the goal", () => {
    for (const g of GOALS)
      if (
        g.max >= 1 &&
        g.id !== "steady-lists" &&
        g.id !== "rollout-overhead" &&
        !["agent-start", "writes-per-node"].includes(g.id)
      )
        assert.ok(Math.abs(g.grossAbove - g.max * 3) < 1e-9, g.id);
  });
});
