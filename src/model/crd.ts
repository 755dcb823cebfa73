// Generates the BottlerocketShadow CustomResourceDefinition from the TypeBox schemas (SPEC §2), so
// the schema the API server enforces and the one our code validates against cannot drift.
import { stringify } from "yaml";
import {
  API_GROUP,
  APISERVER_SERVICE_NAME,
  CONVERSION_PATH,
  CRD_NAME,
  DEFAULT_APISERVER_SERVICE_PORT,
  DEFAULT_NAMESPACE,
  KIND,
  PLURAL,
  ROOT_CERTIFICATE_NAME,
  SHORT_NAME,
  SINGULAR,
} from "./constants.js";
import { ShadowSpecSchema, ShadowSpecV1Schema, ShadowStatusSchema, ShadowStatusV1Schema } from "./shadow.js";

/** A Kubernetes structural OpenAPI v3 schema node (the subset we emit). */
export interface StructuralSchema {
  type?: "object" | "string" | "integer" | "number" | "boolean" | "array";
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  enum?: string[];
  pattern?: string;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  format?: string;
}

interface JsonSchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

/**
 * JSON Schema (as TypeBox emits it) → structural schema: `X | null` becomes `nullable: true`, a
 * string enum gets `type: string`. `format: date-time` is left out on purpose: upstream's CRD has
 * none, and objects it wrote must stay valid.
 */
export function toStructural(node: JsonSchemaNode, description?: string): StructuralSchema {
  const out: StructuralSchema = {};
  if (description !== undefined) out.description = description;
  if (node.anyOf !== undefined) {
    const nonNull = node.anyOf.filter((n) => n.type !== "null");
    const [only] = nonNull;
    if (nonNull.length !== 1 || only === undefined) throw new Error("only `X | null` unions are supported");
    return { ...toStructural(only, description), nullable: true };
  }
  if (node.enum !== undefined) {
    return { ...out, type: "string", enum: node.enum.map(String) };
  }
  switch (node.type) {
    case "object": {
      out.type = "object";
      out.properties = {};
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        out.properties[key] = toStructural(child, fieldDoc(key, child));
      }
      if (node.required !== undefined && node.required.length > 0) out.required = [...node.required];
      return out;
    }
    case "string":
      out.type = "string";
      if (node.pattern !== undefined) out.pattern = node.pattern;
      return out;
    case "integer":
      out.type = "integer";
      if (node.minimum !== undefined) out.minimum = node.minimum;
      if (node.maximum !== undefined) out.maximum = node.maximum;
      return out;
    default:
      throw new Error(`unsupported schema type ${String(node.type)}`);
  }
}

const FIELD_DOCS: Readonly<Record<string, string>> = {
  state: "The desired state of the node in the update state machine.",
  state_transition_timestamp: "When the controller set the desired state (RFC 3339).",
  version: "The version the node must reach, if any.",
  current_version: "The Bottlerocket version the node runs.",
  target_version: "The newest version the host's update API offers (equal to current_version if none).",
  current_state: "The state the node has reached.",
  crash_count: "Consecutive failed update attempts.",
  state_transition_failure_timestamp: "When the last failed update attempt happened (RFC 3339).",
  failure: "Why the last update attempt failed (brupop-ts agents only; optional).",
};

/** A field's own description (nested fields whose names repeat, like failure.state) or the table's. */
function fieldDoc(key: string, node: JsonSchemaNode): string | undefined {
  return node.description ?? FIELD_DOCS[key];
}

function versionSchema(spec: unknown, status: unknown): StructuralSchema {
  const specNode = toStructural(spec as JsonSchemaNode, "The state the controller wants the node to reach.");
  const statusNode = toStructural(status as JsonSchemaNode, "The state the node's agent reports.");
  return {
    type: "object",
    description: "A BottlerocketShadow mirrors one Bottlerocket node's update state.",
    properties: { spec: specNode, status: { ...statusNode, nullable: true } },
    required: ["spec"],
  };
}

const PRINTER_COLUMNS = [
  { name: "State", type: "string", jsonPath: ".status.current_state" },
  { name: "Version", type: "string", jsonPath: ".status.current_version" },
  { name: "Target State", type: "string", jsonPath: ".spec.state" },
  { name: "Target Version", type: "string", jsonPath: ".spec.version" },
  { name: "Crash Count", type: "integer", jsonPath: ".status.crash_count" },
] as const;

export interface CrdOptions {
  namespace?: string;
  servicePort?: number;
}

export function buildCrd(opts: CrdOptions = {}): Record<string, unknown> {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const port = opts.servicePort ?? DEFAULT_APISERVER_SERVICE_PORT;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: CRD_NAME,
      annotations: { "cert-manager.io/inject-ca-from": `${namespace}/${ROOT_CERTIFICATE_NAME}` },
    },
    spec: {
      group: API_GROUP,
      // No `categories`: an empty list is dropped by the API server and GitOps tools would fight it.
      names: { kind: KIND, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT_NAME] },
      scope: "Namespaced",
      conversion: {
        strategy: "Webhook",
        webhook: {
          clientConfig: {
            service: { name: APISERVER_SERVICE_NAME, namespace, path: CONVERSION_PATH, port },
          },
          conversionReviewVersions: ["v2", "v1"],
        },
      },
      versions: [
        {
          name: "v2",
          served: true,
          storage: true,
          additionalPrinterColumns: PRINTER_COLUMNS,
          schema: { openAPIV3Schema: versionSchema(ShadowSpecSchema, ShadowStatusSchema) },
          subresources: { status: {} },
        },
        {
          name: "v1",
          served: true,
          storage: false,
          additionalPrinterColumns: PRINTER_COLUMNS.filter((c) => c.name !== "Crash Count"),
          schema: { openAPIV3Schema: versionSchema(ShadowSpecV1Schema, ShadowStatusV1Schema) },
          subresources: { status: {} },
        },
      ],
    },
  };
}

/** The CRD as YAML, exactly as `brupop crd` prints it and deploy/ checks it in. */
export function renderCrdYaml(opts: CrdOptions = {}): string {
  return stringify(buildCrd(opts), { aliasDuplicateObjects: false, lineWidth: 0 });
}
