import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { buildCrd, renderCrdYaml, toStructural } from "./crd.js";

interface Version {
  name: string;
  served: boolean;
  storage: boolean;
  additionalPrinterColumns: { name: string; jsonPath: string }[];
  schema: {
    openAPIV3Schema: { properties: Record<string, { properties: Record<string, Record<string, unknown>> }> };
  };
  subresources: unknown;
}

const CHECKED_IN = new URL("../../deploy/crds/bottlerocketshadow-crd.yaml", import.meta.url);

describe("CRD", () => {
  const crd = buildCrd() as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  const spec = crd.spec as {
    names: Record<string, unknown>;
    conversion: {
      strategy: string;
      webhook: { clientConfig: { service: Record<string, unknown> }; conversionReviewVersions: string[] };
    };
    versions: Version[];
    scope: string;
  };

  it("has the names, scope and CA annotation of SPEC §2, and no empty categories", () => {
    assert.equal(crd.metadata.name, "bottlerocketshadows.brupop.bottlerocket.aws");
    assert.deepEqual(crd.metadata.annotations, {
      "cert-manager.io/inject-ca-from": "brupop-bottlerocket-aws/root-certificate",
    });
    assert.deepEqual(spec.names, {
      kind: "BottlerocketShadow",
      plural: "bottlerocketshadows",
      singular: "bottlerocketshadow",
      shortNames: ["brs"],
    });
    assert.ok(!("categories" in spec.names));
    assert.equal(spec.scope, "Namespaced");
  });

  it("converts through the apiserver webhook", () => {
    assert.equal(spec.conversion.strategy, "Webhook");
    assert.deepEqual(spec.conversion.webhook.conversionReviewVersions, ["v2", "v1"]);
    assert.deepEqual(spec.conversion.webhook.clientConfig.service, {
      name: "brupop-apiserver",
      namespace: "brupop-bottlerocket-aws",
      path: "/crdconvert",
      port: 443,
    });
  });

  it("serves v2 (storage) and v1, with status subresources and printer columns", () => {
    const [v2, v1] = spec.versions;
    assert.ok(v2 !== undefined && v1 !== undefined);
    assert.deepEqual([v2.name, v2.served, v2.storage], ["v2", true, true]);
    assert.deepEqual([v1.name, v1.served, v1.storage], ["v1", true, false]);
    assert.deepEqual(v2.subresources, { status: {} });
    assert.deepEqual(
      v2.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]),
      [
        ["State", ".status.current_state"],
        ["Version", ".status.current_version"],
        ["Target State", ".spec.state"],
        ["Target Version", ".spec.version"],
        ["Crash Count", ".status.crash_count"],
      ],
    );
  });

  it("derives the structural schema from the TypeBox schemas", () => {
    const [v2, v1] = spec.versions;
    const v2Spec = v2?.schema.openAPIV3Schema.properties.spec?.properties;
    const v2Status = v2?.schema.openAPIV3Schema.properties.status?.properties;
    assert.deepEqual(v2Spec?.state?.enum, [
      "Idle",
      "StagedAndPerformedUpdate",
      "RebootedIntoUpdate",
      "MonitoringUpdate",
      "ErrorReset",
    ]);
    assert.equal(v2Spec?.version?.nullable, true);
    assert.match(String(v2Spec?.version?.pattern), /^\^\(0\|\[1-9\]/);
    assert.equal(v2Status?.crash_count?.type, "integer");
    const v1Spec = v1?.schema.openAPIV3Schema.properties.spec?.properties;
    assert.deepEqual(v1Spec?.state?.enum, [
      "Idle",
      "StagedUpdate",
      "PerformedUpdate",
      "RebootedIntoUpdate",
      "MonitoringUpdate",
    ]);
    assert.ok(!("crash_count" in (v1?.schema.openAPIV3Schema.properties.status?.properties ?? {})));
  });

  it("honours --namespace and --service-port", () => {
    const custom = parse(renderCrdYaml({ namespace: "ops", servicePort: 8443 })) as typeof crd;
    const s = custom.spec as typeof spec;
    assert.equal(s.conversion.webhook.clientConfig.service.namespace, "ops");
    assert.equal(s.conversion.webhook.clientConfig.service.port, 8443);
    assert.deepEqual(custom.metadata.annotations, {
      "cert-manager.io/inject-ca-from": "ops/root-certificate",
    });
  });

  it("deploy/ holds exactly the generated CRD (regenerate with `npm run brupop -- crd`)", () => {
    assert.equal(readFileSync(CHECKED_IN, "utf8"), renderCrdYaml());
  });

  it("refuses schemas it cannot express structurally", () => {
    assert.throws(() => toStructural({ anyOf: [{ type: "string" }, { type: "integer" }] }), /unions/);
  });
});
