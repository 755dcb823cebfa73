import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../../errors.js";
import { controllerSettings, type ControllerEnv, type ControllerFlags } from "./settings.js";

const NOW = new Date("2024-05-01T00:00:00Z");

function settings(env: ControllerEnv, flags: ControllerFlags = {}) {
  const warnings: string[] = [];
  const s = controllerSettings(
    { MY_NODE_NAME: "n", ...env },
    flags,
    NOW,
    () => "ns",
    (w) => warnings.push(w),
  );
  return { extras: s.extras, warnings };
}

function rejectsNaming(variable: string, env: ControllerEnv): void {
  assert.throws(
    () => settings(env),
    (e) => isBrupopError(e, "BRUPOP_E_CONFIG") && e.message.startsWith(`${variable}:`),
  );
}

describe("controller settings: notifications, blockers, silent agents", () => {
  it("defaults: all off (upstream's behaviour)", () => {
    const { extras, warnings } = settings({});
    assert.deepEqual(extras, {
      notify: null,
      blockers: { podSelector: undefined, prometheus: undefined },
      agentSilenceLimitMs: null,
    });
    assert.deepEqual(warnings, []);
  });

  it("reads every variable", () => {
    const { extras } = settings({
      NOTIFY_WEBHOOK_URL: "https://hooks.example.com/x",
      NOTIFY_WEBHOOK_FORMAT: "Slack",
      NOTIFY_WEBHOOK_TIMEOUT_SECONDS: "2.5",
      BLOCKING_POD_SELECTOR: "app=batch",
      PROMETHEUS_URL: "http://prometheus:9090",
      ALERT_FILTER_REGEXP: "^Watchdog$",
      ALERT_FILTER_MATCH_ONLY: "false",
      ALERT_FIRING_ONLY: "true",
      AGENT_SILENCE_LIMIT_SECONDS: "3600",
    });
    assert.equal(extras.notify?.url.href, "https://hooks.example.com/x");
    assert.equal(extras.notify?.format, "slack");
    assert.equal(extras.notify?.timeoutMs, 2_500);
    assert.equal(extras.blockers?.podSelector, "app=batch");
    assert.equal(extras.blockers?.prometheus?.url.href, "http://prometheus:9090/");
    assert.deepEqual(extras.blockers?.prometheus?.filter, /^Watchdog$/);
    assert.equal(extras.blockers?.prometheus?.firingOnly, true);
    assert.equal(extras.blockers?.prometheus?.matchOnly, false);
    assert.equal(extras.agentSilenceLimitMs, 3_600_000);
  });

  it("flags win over the environment", () => {
    const { extras } = settings(
      { PROMETHEUS_URL: "http://a:9090" },
      { prometheusUrl: "http://b:9090", alertFiringOnly: true },
    );
    assert.equal(extras.blockers?.prometheus?.url.host, "b:9090");
    assert.equal(extras.blockers?.prometheus?.firingOnly, true);
  });

  it("bad values fail at start-up, naming the variable", () => {
    rejectsNaming("NOTIFY_WEBHOOK_URL", { NOTIFY_WEBHOOK_URL: "ftp://x" });
    rejectsNaming("NOTIFY_WEBHOOK_FORMAT", { NOTIFY_WEBHOOK_FORMAT: "teams" });
    rejectsNaming("PROMETHEUS_URL", { PROMETHEUS_URL: "not a url" });
    rejectsNaming("ALERT_FILTER_REGEXP", { ALERT_FILTER_REGEXP: "(" });
    rejectsNaming("AGENT_SILENCE_LIMIT_SECONDS", { AGENT_SILENCE_LIMIT_SECONDS: "0" });
    rejectsNaming("ALERT_FIRING_ONLY", { ALERT_FIRING_ONLY: "yes" });
  });

  it("an alert filter without Prometheus is said", () => {
    assert.match(settings({ ALERT_FILTER_REGEXP: "x" }).warnings.join(), /do nothing without PROMETHEUS_URL/);
  });
});
