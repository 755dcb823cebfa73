import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBrupopError } from "../../errors.js";
import {
  legacyWindowToCron,
  normalizeCronExpression,
  parseSchedule,
  scheduleFromEnv,
  type ScheduleEnv,
} from "./schedule.js";

// 2026-11-24 is a Tuesday.
const at = (iso: string) => new Date(iso);
const NOW = at("2026-11-24T10:00:00.500Z");

describe("parseSchedule: window or trigger", () => {
  const table: [string, "window" | "trigger"][] = [
    ["* * * * * * *", "window"],
    ["* * 9-17 * * * *", "window"],
    ["* * 22-23,0-5 * * * *", "window"],
    ["* * * * * Mon-Fri *", "window"],
    ["* * * * * Sat,Sun *", "window"],
    ["* * * * * * 2027", "window"],
    ["0 0 23 * * * *", "trigger"],
    ["0 30 2 * * Sun *", "trigger"],
    ["0 0 0 1 * * *", "trigger"],
    ["0 */15 * * * * *", "trigger"],
    ["0 0 3 * * Mon-Fri *", "trigger"],
  ];
  for (const [expr, kind] of table) {
    it(`"${expr}" is a ${kind}`, () => assert.equal(parseSchedule(expr, NOW).kind, kind));
  }
});

describe("windows", () => {
  const table: [string, string, boolean][] = [
    ["* * 9-17 * * * *", "2026-11-24T10:00:00.500Z", true],
    ["* * 9-17 * * * *", "2026-11-24T17:59:59.999Z", true],
    ["* * 9-17 * * * *", "2026-11-24T18:00:00.000Z", false],
    ["* * 9-17 * * * *", "2026-11-24T08:59:59.999Z", false],
    ["* * 22-23,0-5 * * * *", "2026-11-24T23:30:00Z", true],
    ["* * 22-23,0-5 * * * *", "2026-11-25T03:00:00Z", true],
    ["* * 22-23,0-5 * * * *", "2026-11-24T12:00:00Z", false],
    ["* * * * * Mon-Fri *", "2026-11-24T12:00:00Z", true], // Tuesday
    ["* * * * * Mon-Fri *", "2026-11-28T12:00:00Z", false], // Saturday
    // Upstream's cron crate numbers days 1-7 from Sunday: 1 = Sunday.
    ["* * * * * 1 *", "2026-11-29T12:00:00Z", true], // Sunday
    ["* * * * * 1 *", "2026-11-30T12:00:00Z", false], // Monday
    ["* * * * * * 2027", "2026-12-31T23:59:59Z", false],
    ["* * * * * * 2027", "2027-01-01T00:00:00Z", true],
    // Day-of-month and day-of-week must both match (the 1st that is a Monday).
    ["* * * 1 * Mon *", "2026-12-01T10:00:00Z", false], // Tuesday the 1st
    ["* * * 1 * Mon *", "2027-02-01T10:00:00Z", true], // Monday the 1st
  ];
  for (const [expr, now, inside] of table) {
    it(`"${expr}" at ${now} → ${inside ? "open" : "closed"}`, () => {
      const s = parseSchedule(expr, NOW);
      assert.equal(s.kind, "window");
      assert.equal(s.isInWindow(at(now)), inside);
    });
  }

  it("tells how long until a closed window opens, 0 inside", () => {
    const s = parseSchedule("* * 9-17 * * * *", NOW);
    assert.equal(s.msUntilOpen(at("2026-11-24T10:00:00Z")), 0);
    assert.equal(s.msUntilOpen(at("2026-11-24T08:00:00Z")), 3600_000);
    assert.equal(s.msUntilOpen(at("2026-11-24T18:00:00Z")), 15 * 3600_000);
  });
});

describe("triggers", () => {
  it("never count as an open window and report the next and previous fire times", () => {
    const s = parseSchedule("0 0 23 * * * *", NOW);
    assert.equal(s.isInWindow(at("2026-11-24T23:00:00Z")), false);
    assert.deepEqual(s.nextFire(NOW), at("2026-11-24T23:00:00Z"));
    assert.deepEqual(s.previousFire(NOW), at("2026-11-23T23:00:00Z"));
    assert.deepEqual(s.previousFire(at("2026-11-24T23:00:00.700Z")), at("2026-11-24T23:00:00Z"));
    assert.equal(s.msUntilOpen(at("2026-11-24T22:00:00Z")), 3600_000);
  });
  it("weekly trigger on Sunday", () => {
    const s = parseSchedule("0 30 2 * * Sun *", NOW);
    assert.deepEqual(s.nextFire(NOW), at("2026-11-29T02:30:00Z"));
  });
});

describe("upstream's cron syntax (the Rust cron crate)", () => {
  // [expression, kind, next fire after NOW = Tuesday 2026-11-24T10:00:00.500Z]
  const table: [string, "window" | "trigger", string][] = [
    ["0 0 10 * * Mon", "trigger", "2026-11-30T10:00:00Z"], // 6 fields: no year
    ["0 0 10 * * Mon *", "trigger", "2026-11-30T10:00:00Z"],
    ["* * 10-12 * * Mon-Fri", "window", "2026-11-24T10:00:01Z"],
    ["0/15 * * * * * *", "trigger", "2026-11-24T10:00:15Z"], // step on a number: 0,15,30,45
    ["0/15 * * * * *", "trigger", "2026-11-24T10:00:15Z"],
    ["5/20 * * * * *", "trigger", "2026-11-24T10:00:05Z"], // 5,25,45
    ["0 0/30 * * * *", "trigger", "2026-11-24T10:30:00Z"],
    ["0 0 8/6 * * *", "trigger", "2026-11-24T14:00:00Z"], // 8,14,20
    ["0,30/10 * * * * *", "trigger", "2026-11-24T10:00:30Z"], // 0 and 30,40,50
    ["@hourly", "trigger", "2026-11-24T11:00:00Z"],
    ["@daily", "trigger", "2026-11-25T00:00:00Z"],
    ["@weekly", "trigger", "2026-11-29T00:00:00Z"], // Sunday
    ["@monthly", "trigger", "2026-12-01T00:00:00Z"],
    ["@yearly", "trigger", "2027-01-01T00:00:00Z"],
    ["  @daily ", "trigger", "2026-11-25T00:00:00Z"],
  ];
  for (const [expr, kind, next] of table) {
    it(`"${expr}" is a ${kind}, next fire ${next}`, () => {
      const s = parseSchedule(expr, NOW);
      assert.equal(s.kind, kind);
      assert.equal(s.expression, expr, "the expression is kept as the user wrote it");
      assert.deepEqual(s.nextFire(NOW), at(next));
    });
  }
  it("rewrites into croner's 7-field form", () => {
    assert.equal(normalizeCronExpression("0/15 * * * * *"), "0-59/15 * * * * * *");
    assert.equal(normalizeCronExpression("0 0 10 * * Mon"), "0 0 10 * * Mon *");
    assert.equal(
      normalizeCronExpression("* * * 1/7 2/3 2/2 2030/5"),
      "* * * 1-31/7 2-12/3 2-7/2 2030-2100/5",
    );
    assert.equal(normalizeCronExpression("@weekly"), "0 0 0 * * 1 *");
    assert.equal(normalizeCronExpression("*/5 1-10/2 * * * * *"), "*/5 1-10/2 * * * * *");
  });
});

describe("invalid expressions", () => {
  const table: [string, RegExp][] = [
    ["* * * * *", /has 5 fields; expected 6 or 7 fields/],
    ["* * * * * * * *", /has 8 fields; expected 6 or 7 fields/],
    ["@annually", /"@annually" is not a supported shorthand/], // the crate has no @annually
    ["@midnight", /not a supported shorthand; .*@yearly, @monthly, @weekly, @daily, @hourly/],
    ["@reboot", /not a supported shorthand/],
    ["@Daily", /not a supported shorthand/], // the crate matches shorthands case-sensitively
    ["70/5 * * * * *", /invalid cron expression "70\/5/],
    ["61 * * * * * *", /invalid cron expression "61 \* \* \* \* \* \*": Invalid value for second: 61/],
    ["* * 25 * * * *", /Invalid value for hour: 25/],
    ["* * * * * Funday *", /illegal characters/],
    ["0 0 0 1 1 * 2025", /never fires after/],
    ["", /has 0 fields|has 1 fields/],
  ];
  for (const [expr, message] of table) {
    it(`rejects "${expr}" naming SCHEDULER_CRON_EXPRESSION`, () => {
      assert.throws(
        () => parseSchedule(expr, NOW),
        (err: unknown) =>
          isBrupopError(err, "BRUPOP_E_CRON") &&
          err.message.startsWith("SCHEDULER_CRON_EXPRESSION: ") &&
          message.test(err.message),
      );
    });
  }
});

describe("legacy UPDATE_WINDOW_START/STOP", () => {
  it("converts a daytime window to an hour range", () => {
    assert.deepEqual(legacyWindowToCron("09:00:00", "17:00:00"), {
      expression: "* * 9-17 * * * *",
      lossy: false,
    });
  });
  it("converts an overnight window to two ranges", () => {
    assert.deepEqual(legacyWindowToCron("22:00:00", "05:00:00"), {
      expression: "* * 22-23,0-5 * * * *",
      lossy: false,
    });
  });
  it("flags minutes and seconds as dropped", () => {
    assert.equal(legacyWindowToCron("9:30:0", "17:00:00").lossy, true);
  });
  it("rejects a malformed time naming the variable", () => {
    assert.throws(
      () => legacyWindowToCron("25:00:00", "17:00:00"),
      /^BrupopError: UPDATE_WINDOW_START: "25:00:00"/,
    );
    assert.throws(
      () => legacyWindowToCron("09:00:00", "5pm"),
      /UPDATE_WINDOW_STOP: "5pm" is not a time of day/,
    );
  });
});

describe("scheduleFromEnv", () => {
  const run = (env: ScheduleEnv) => {
    const warnings: string[] = [];
    const schedule = scheduleFromEnv(env, NOW, (w) => warnings.push(w));
    return { schedule, warnings };
  };
  it("defaults to an always-open window", () => {
    const { schedule, warnings } = run({});
    assert.equal(schedule.expression, "* * * * * * *");
    assert.equal(schedule.kind, "window");
    assert.deepEqual(warnings, []);
  });
  it("uses the legacy window when only it is set", () => {
    const { schedule } = run({ UPDATE_WINDOW_START: "22:00:00", UPDATE_WINDOW_STOP: "05:00:00" });
    assert.equal(schedule.expression, "* * 22-23,0-5 * * * *");
  });
  it("prefers the cron expression and warns when both are set", () => {
    const { schedule, warnings } = run({
      SCHEDULER_CRON_EXPRESSION: "0 0 23 * * * *",
      UPDATE_WINDOW_START: "09:00:00",
      UPDATE_WINDOW_STOP: "17:00:00",
    });
    assert.equal(schedule.expression, "0 0 23 * * * *");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /using SCHEDULER_CRON_EXPRESSION/);
  });
  it("treats upstream's chart default 0:0:0/0:0:0 as unset, without a warning", () => {
    const { schedule, warnings } = run({
      SCHEDULER_CRON_EXPRESSION: "* * * * * * *",
      UPDATE_WINDOW_START: "0:0:0",
      UPDATE_WINDOW_STOP: "0:0:0",
    });
    assert.equal(schedule.expression, "* * * * * * *");
    assert.deepEqual(warnings, []);
  });
  it("ignores the legacy window entirely when a cron expression is set (no validation)", () => {
    const cases: ScheduleEnv[] = [
      { UPDATE_WINDOW_START: "09:00:00" },
      { UPDATE_WINDOW_STOP: "5pm" },
      { UPDATE_WINDOW_START: "25:00:00", UPDATE_WINDOW_STOP: "nonsense" },
    ];
    for (const legacy of cases) {
      const { schedule, warnings } = run({ SCHEDULER_CRON_EXPRESSION: "0 0 10 * * Mon", ...legacy });
      assert.equal(schedule.expression, "0 0 10 * * Mon");
      assert.equal(schedule.kind, "trigger");
      assert.equal(warnings.length, 1, JSON.stringify(legacy));
      assert.match(warnings[0] ?? "", /ignoring UPDATE_WINDOW_START\/STOP/);
    }
  });
  it("refuses to start with only one end of the legacy window", () => {
    assert.throws(
      () => run({ UPDATE_WINDOW_START: "09:00:00" }),
      /^BrupopError: UPDATE_WINDOW_STOP: must be set/,
    );
    assert.throws(() => run({ UPDATE_WINDOW_STOP: "09:00:00" }), /UPDATE_WINDOW_START: must be set/);
  });
  it("refuses an invalid cron expression", () => {
    assert.throws(() => run({ SCHEDULER_CRON_EXPRESSION: "every day" }), /SCHEDULER_CRON_EXPRESSION/);
  });
});
