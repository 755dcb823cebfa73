import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { COMPONENT_OPTIONS, CONFIGURATION_DOC, renderConfigurationDoc } from "./config-docs.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CHART = join(ROOT, "deploy", "charts", "bottlerocket-update-operator");

function valueAt(values: unknown, path: string): unknown {
  let at: unknown = values;
  for (const key of path.split(".")) {
    if (typeof at !== "object" || at === null || !(key in at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

describe("configuration docs and the chart follow the option tables", () => {
  it(`${CONFIGURATION_DOC} is up to date (npm run config:docs)`, async () => {
    assert.equal(readFileSync(join(ROOT, CONFIGURATION_DOC), "utf8"), await renderConfigurationDoc());
  });

  const values: unknown = parseYaml(readFileSync(join(CHART, "values.yaml"), "utf8"));
  const templates = readdirSync(join(CHART, "templates"))
    .map((f) => readFileSync(join(CHART, "templates", f), "utf8"))
    .join("\n");
  for (const { command, table } of COMPONENT_OPTIONS) {
    for (const [key, spec] of Object.entries(table)) {
      if (spec.chartValue === undefined) continue;
      const chartValue = spec.chartValue;
      it(`${command} ${key}: the chart's ${chartValue} sets ${spec.env?.join(", ")} with the same default`, () => {
        const value = valueAt(values, chartValue);
        assert.notEqual(value, undefined, `values.yaml has no ${chartValue}`);
        for (const variable of spec.env ?? []) {
          assert.match(templates, new RegExp(`name: ${variable}\\b`), `no template sets ${variable}`);
        }
        if (spec.default !== undefined) {
          assert.deepEqual(spec.parse(String(value), chartValue), spec.default);
        }
      });
    }
  }
});
