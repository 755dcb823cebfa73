// The test Prometheus itself (kit/testenv/prometheus-server.ts): starts, evaluates rules, reloads
// changed rules, stops and leaves nothing behind. Needs the prometheus binary
// (tools/testenv/install-prometheus.sh; CI installs it); skipped with a message when it is absent.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { findPrometheus, PrometheusServer } from "./prometheus-server.js";

function missing(): string | undefined {
  try {
    findPrometheus();
    return undefined;
  } catch (err) {
    return `${(err as Error).message}`;
  }
}

const RULES = `groups:
  - name: t
    rules:
      - alert: Always
        expr: vector(1)
      - alert: Later
        expr: vector(1)
        for: 1h
`;

describe("test Prometheus", { skip: missing() }, () => {
  it("evaluates its rule files, reloads changed ones, and stops without leaving its directory", async () => {
    const prom = await PrometheusServer.start({ ruleFiles: { "t.yaml": RULES } });
    try {
      assert.equal(prom.url.hostname, "127.0.0.1");
      const deadline = Date.now() + 10_000;
      let states: string[] = [];
      while (Date.now() < deadline) {
        states = (await prom.alerts()).map((a) => `${a.labels["alertname"]}=${a.state}`).sort();
        if (states.includes("Always=firing")) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(states, ["Always=firing", "Later=pending"]);
      const [two] = await prom.query("vector(2)");
      assert.equal(two?.value[1], "2");
      await prom.setRules({});
      assert.deepEqual(await prom.rules(), []);
      assert.deepEqual(await prom.alerts(), [], "no rules, no alerts");
      await assert.rejects(prom.query("sum("), /bad_data/);
    } finally {
      await prom.stop();
    }
    assert.equal(existsSync(prom.dir), false);
  });
});
