// The UpdatePolicy CRD (policy.ts holds the schemas): the TypeBox schemas turned into the structural
// OpenAPI v3 schema the API server wants, and the CRD around it (`brupop crd --policy`,
// deploy/crds/updatepolicy-crd.yaml through `npm run generate`).
import type { TSchema } from "typebox";
import { stringify } from "yaml";
import { API_GROUP } from "./constants.js";
import {
  POLICY_CRD_NAME,
  POLICY_KIND,
  POLICY_PLURAL,
  POLICY_SHORT_NAME,
  POLICY_SINGULAR,
  POLICY_VERSION,
  PolicySpecSchema,
  PolicyStatusSchema,
} from "./policy.js";

/** A structural OpenAPI v3 schema node, as the CRD carries it. */
export interface PolicyStructuralSchema {
  type?: string;
  description?: string;
  properties?: Record<string, PolicyStructuralSchema>;
  items?: PolicyStructuralSchema;
  additionalProperties?: PolicyStructuralSchema;
  required?: string[];
  enum?: string[];
  pattern?: string;
  minimum?: number;
  "x-kubernetes-int-or-string"?: true;
  anyOf?: PolicyStructuralSchema[];
}

interface JsonNode {
  type?: string;
  description?: string;
  properties?: Record<string, JsonNode>;
  items?: JsonNode;
  patternProperties?: Record<string, JsonNode>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonNode[];
  pattern?: string;
  minimum?: number;
}

function objectSchema(node: JsonNode): PolicyStructuralSchema {
  if (node.patternProperties !== undefined) {
    const values = Object.values(node.patternProperties)[0] ?? {};
    return { type: "object", additionalProperties: policyStructural(values) };
  }
  const out: PolicyStructuralSchema = { type: "object", properties: {} };
  for (const [k, child] of Object.entries(node.properties ?? {}))
    (out.properties as Record<string, PolicyStructuralSchema>)[k] = policyStructural(child);
  if (node.required !== undefined && node.required.length > 0) out.required = [...node.required];
  return out;
}

function scalar(node: JsonNode, type: string): PolicyStructuralSchema {
  const out: PolicyStructuralSchema = { type };
  if (node.pattern !== undefined) out.pattern = node.pattern;
  if (node.minimum !== undefined) out.minimum = node.minimum;
  return out;
}

/**
 * integer|string → int-or-string. The API server allows no types inside its anyOf, so each
 * alternative's own check moves to the top, where JSON Schema applies it to its type only
 * (`minimum` to numbers, `pattern` to strings).
 */
function intOrString(alternatives: JsonNode[]): PolicyStructuralSchema {
  const types = alternatives.map((n) => n.type).sort();
  if (types.join(",") !== "integer,string") throw new Error("only integer|string unions are supported");
  const out: PolicyStructuralSchema = { "x-kubernetes-int-or-string": true };
  for (const n of alternatives) {
    if (n.minimum !== undefined) out.minimum = n.minimum;
    if (n.pattern !== undefined) out.pattern = n.pattern;
  }
  return out;
}

/** TypeBox JSON Schema → structural schema (integer|string unions become int-or-string). */
export function policyStructural(node: JsonNode): PolicyStructuralSchema {
  const out: PolicyStructuralSchema = {};
  if (node.description !== undefined) out.description = node.description;
  if (node.anyOf !== undefined) return { ...out, ...intOrString(node.anyOf) };
  if (node.enum !== undefined) return { ...out, type: "string", enum: node.enum.map(String) };
  switch (node.type) {
    case "object":
      return { ...out, ...objectSchema(node) };
    case "array":
      out.type = "array";
      out.items = policyStructural(node.items ?? {});
      return out;
    case "string":
    case "integer":
    case "boolean":
      return { ...out, ...scalar(node, node.type) };
    default:
      throw new Error(`unsupported schema type ${String(node.type)}`);
  }
}

const asJson = (s: TSchema): JsonNode => JSON.parse(JSON.stringify(s)) as JsonNode;

export function buildPolicyCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: POLICY_CRD_NAME },
    spec: {
      group: API_GROUP,
      names: {
        kind: POLICY_KIND,
        plural: POLICY_PLURAL,
        singular: POLICY_SINGULAR,
        shortNames: [POLICY_SHORT_NAME],
      },
      scope: "Cluster",
      versions: [
        {
          name: POLICY_VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: [
            { name: "Paused", type: "boolean", jsonPath: ".spec.paused" },
            { name: "Max", type: "string", jsonPath: ".status.effectiveMaxConcurrent" },
            { name: "Updating", type: "integer", jsonPath: ".status.nodes.updating" },
            { name: "Halted", type: "string", jsonPath: '.status.conditions[?(@.type=="Halted")].status' },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description:
                "The fleet's update policy (brupop-ts): pause, failure budget, concurrency, window. The controller honours the one named `default`.",
              properties: {
                spec: policyStructural(asJson(PolicySpecSchema)),
                status: policyStructural(asJson(PolicyStatusSchema)),
              },
            },
          },
          subresources: { status: {} },
        },
      ],
    },
  };
}

/** The UpdatePolicy CRD as YAML (`brupop crd --policy`; deploy/ checks it in). */
export function renderPolicyCrdYaml(): string {
  return stringify(buildPolicyCrd(), { aliasDuplicateObjects: false, lineWidth: 0 });
}
