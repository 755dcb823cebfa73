import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import {
  composeStaticManifest,
  CRD_CHART_DIR,
  documentKind,
  OPERATOR_CHART_DIR,
  renderStaticManifest,
  splitDocuments,
  STATIC_MANIFEST_VALUES,
  type ChartRenderer,
} from "./manifest.js";

const CRD_OUT = `---
# Source: bottlerocket-shadow/templates/crd.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: x
`;

const OPERATOR_OUT = `---
# Source: c/templates/pc.yaml
kind: PriorityClass
metadata:
  name: pc
---
# Source: c/templates/namespace.yaml
kind: Namespace
metadata:
  name: ns
---
# Source: c/templates/empty.yaml
---
# Source: c/templates/sa.yaml
kind: ServiceAccount
metadata:
  name: sa
`;

describe("static manifest composition", () => {
  it("splits helm output into non-empty documents, keeping their Source comments", () => {
    const docs = splitDocuments(OPERATOR_OUT);
    assert.deepEqual(docs.map(documentKind), ["PriorityClass", "Namespace", "ServiceAccount"]);
    assert.ok(docs.every((d) => d.startsWith("# Source: ") && d.endsWith("\n") && !d.endsWith("\n\n")));
  });

  it("puts the Namespace first, then the CRD, then the rest in Helm's order", () => {
    const manifest = composeStaticManifest(CRD_OUT, OPERATOR_OUT);
    assert.match(manifest, /^# brupop-ts .*\n(#.*\n)*---\n/);
    const kinds = parseAllDocuments(manifest).map((d) => d.get("kind") as string | undefined);
    assert.deepEqual(kinds, ["Namespace", "CustomResourceDefinition", "PriorityClass", "ServiceAccount"]);
  });

  it("renders both charts under the root, the operator with createNamespace", async () => {
    const calls: { chart: string; values: unknown }[] = [];
    const fake: ChartRenderer = {
      template(chart, opts) {
        calls.push({ chart, values: opts?.values });
        return Promise.resolve(chart.endsWith(CRD_CHART_DIR) ? CRD_OUT : OPERATOR_OUT);
      },
    };
    const manifest = await renderStaticManifest(fake, "/repo");
    assert.deepEqual(calls, [
      { chart: `/repo/${CRD_CHART_DIR}`, values: undefined },
      { chart: `/repo/${OPERATOR_CHART_DIR}`, values: STATIC_MANIFEST_VALUES },
    ]);
    assert.equal(manifest, composeStaticManifest(CRD_OUT, OPERATOR_OUT));
  });
});
