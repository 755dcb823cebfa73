import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../../errors.js";
import { controllerSettings, type ControllerEnv, type ControllerFlags } from "./settings.js";

const NOW = new Date("2024-05-01T00:00:00Z");

function settings(env: ControllerEnv, flags: ControllerFlags = {}, nsFile?: string) {
  const warnings: string[] = [];
  const s = controllerSettings(
    env,
    flags,
    NOW,
    () => nsFile,
    (w) => warnings.push(w),
  );
  return { s, warnings };
}

function rejectsNaming(variable: string, fn: () => unknown): void {
  assert.throws(
    fn,
    (e) =>
      (isBrupopError(e, "BRUPOP_E_CONFIG") || isBrupopError(e, "BRUPOP_E_CRON")) &&
      e.message.startsWith(`${variable}:`),
  );
}

describe("controller settings", () => {
  it("defaults: limit 1, always-open window, namespace from the service account", () => {
    const { s, warnings } = settings({ MY_NODE_NAME: "node-a" }, {}, "brupop-bottlerocket-aws\n");
    assert.equal(s.maxConcurrent, 1);
    assert.equal(s.schedule.kind, "window");
    assert.equal(s.schedule.isInWindow(NOW), true);
    assert.equal(s.namespace, "brupop-bottlerocket-aws");
    assert.equal(s.namespaceSource, "service-account");
    assert.equal(s.controllerNodeName, "node-a");
    assert.equal(s.metricsPort, 8080);
    assert.equal(s.leaderElect, true);
    assert.deepEqual([s.leaseDurationMs, s.renewDeadlineMs, s.retryPeriodMs], [15_000, 10_000, 2_000]);
    assert.equal(s.logLevel, "info");
    assert.deepEqual(warnings, []);
  });

  it("the --namespace flag wins over the service-account file; neither falls back with a warning", () => {
    assert.equal(settings({ MY_NODE_NAME: "n" }, { namespace: "x" }, "y").s.namespace, "x");
    const { s, warnings } = settings({ MY_NODE_NAME: "n" });
    assert.equal(s.namespaceSource, "default");
    assert.equal(warnings.length, 1);
  });

  it("reads upstream's variables", () => {
    const { s } = settings(
      {
        MAX_CONCURRENT_UPDATE: "unlimited",
        SCHEDULER_CRON_EXPRESSION: "0 0 3 * * * *",
        MY_NODE_NAME: "n",
        TRACING_FILTER_DIRECTIVE: "controller=debug,warn",
      },
      { namespace: "ns" },
    );
    assert.equal(s.maxConcurrent, "unlimited");
    assert.equal(s.schedule.kind, "trigger");
    assert.equal(s.logLevel, "warn");
  });

  it("names the variable at fault", () => {
    rejectsNaming("MAX_CONCURRENT_UPDATE", () => settings({ MAX_CONCURRENT_UPDATE: "-1" }));
    rejectsNaming("SCHEDULER_CRON_EXPRESSION", () => settings({ SCHEDULER_CRON_EXPRESSION: "every day" }));
    rejectsNaming("UPDATE_WINDOW_STOP", () => settings({ UPDATE_WINDOW_START: "01:00:00" }));
    rejectsNaming("UPDATE_WINDOW_START", () =>
      settings({ UPDATE_WINDOW_START: "25:00:00", UPDATE_WINDOW_STOP: "1:0:0" }),
    );
    rejectsNaming("MY_NODE_NAME", () => settings({ MY_NODE_NAME: "Not_A_Node" }));
    rejectsNaming("TRACING_FILTER_DIRECTIVE", () => settings({ TRACING_FILTER_DIRECTIVE: "loud" }));
    rejectsNaming("--lease-duration", () => settings({}, { leaseDuration: "-1" }));
    rejectsNaming("--lease-duration", () => settings({}, { leaseDuration: "soon" }));
    rejectsNaming("--metrics-port", () => settings({}, { metricsPort: "http" }));
    rejectsNaming("--tick-interval", () => settings({}, { tickInterval: "10" }));
    rejectsNaming("--namespace", () => settings({}, { namespace: "Not_Valid" }));
  });

  it("warns when MY_NODE_NAME is missing", () => {
    const { s, warnings } = settings({}, { namespace: "ns" });
    assert.equal(s.controllerNodeName, undefined);
    assert.match(warnings.join("\n"), /MY_NODE_NAME/);
  });
});

describe("controller flags", () => {
  it("seconds may be fractions; --no-leader-elect turns the Lease off; the table's defaults", () => {
    const { s } = settings(
      { MY_NODE_NAME: "n" },
      {
        namespace: "ns",
        leaseDuration: "1.5",
        renewDeadline: "1",
        retryPeriod: "0.25",
        tickInterval: "50",
        metricsPort: "9090",
        leaderElect: false,
        leaseName: "l",
        logLevel: "debug",
      },
    );
    assert.deepEqual(
      [s.leaseDurationMs, s.renewDeadlineMs, s.retryPeriodMs, s.tickIntervalMs, s.metricsPort],
      [1_500, 1_000, 250, 50, 9090],
    );
    assert.equal(s.leaderElect, false);
    assert.equal(s.leaseName, "l");
    assert.equal(s.logLevel, "debug");
    assert.equal(settings({}, { namespace: "ns" }).s.leaseName, "brupop-controller-leader");
    assert.equal(settings({}, { namespace: "ns" }).s.tickIntervalMs, 2_000);
  });
});
