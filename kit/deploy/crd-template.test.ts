import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { renderCrdYaml } from "../../src/model/crd.js";
import { CRD_TEMPLATE_PATH, expandCrdChartTemplate, renderCrdChartTemplate } from "./crd-template.js";

const CHECKED_IN = new URL(`../../${CRD_TEMPLATE_PATH}`, import.meta.url);

describe("bottlerocket-shadow chart template", () => {
  const template = renderCrdChartTemplate();

  it("references the chart values and nothing of the sentinels is left", () => {
    assert.equal(template.match(/\{\{ \.Values\.namespace \}\}/g)?.length, 2);
    assert.match(
      template,
      /cert-manager\.io\/inject-ca-from: \{\{ \.Values\.namespace \}\}\/root-certificate\n/,
    );
    assert.match(template, /\n {10}port: \{\{ \.Values\.apiserver_service_port \| int \}\}\n/);
    assert.doesNotMatch(template, /sentinel|65431/);
  });

  it("expands to exactly `brupop crd` for the default and for other values", () => {
    assert.equal(
      expandCrdChartTemplate(template, { namespace: "brupop-bottlerocket-aws", port: 443 }),
      renderCrdYaml(),
    );
    assert.equal(
      expandCrdChartTemplate(template, { namespace: "ops", port: 8443 }),
      renderCrdYaml({ namespace: "ops", servicePort: 8443 }),
    );
  });

  it("is what the chart holds (regenerate with `npx tsx tools/render-manifest.ts`)", () => {
    assert.equal(readFileSync(CHECKED_IN, "utf8"), template);
  });
});
