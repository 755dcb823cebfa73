import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { buildPolicyCrd, renderPolicyCrdYaml } from "./policy-crd.js";

const CHECKED_IN = new URL("../../deploy/crds/updatepolicy-crd.yaml", import.meta.url);

describe("UpdatePolicy CRD", () => {
  const crd = buildPolicyCrd() as {
    spec: {
      scope: string;
      versions: {
        subresources: unknown;
        schema: {
          openAPIV3Schema: {
            properties: Record<string, { properties: Record<string, Record<string, unknown>> }>;
          };
        };
      }[];
    };
  };
  it("is cluster-scoped with a status subresource and int-or-string maxConcurrent", () => {
    assert.equal(crd.spec.scope, "Cluster");
    const v = crd.spec.versions[0];
    assert.deepEqual(v?.subresources, { status: {} });
    const mc = v?.schema.openAPIV3Schema.properties["spec"]?.properties["maxConcurrent"];
    assert.equal(mc?.["x-kubernetes-int-or-string"], true);
  });
  it("is what deploy/crds holds (regenerate: npx brupop crd --policy > deploy/crds/updatepolicy-crd.yaml)", () => {
    assert.equal(readFileSync(CHECKED_IN, "utf8"), renderPolicyCrdYaml());
    assert.deepEqual(parse(renderPolicyCrdYaml()), JSON.parse(JSON.stringify(buildPolicyCrd())));
  });
});
