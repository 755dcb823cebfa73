// Turns TypeBox validation errors into one BrupopError that names the offending field, so bad
// input is rejected with a message an operator can act on ("status.current_version: ...").
import type { TSchema, Static } from "typebox";
import { Compile } from "typebox/compile";
import { BrupopError } from "../errors.js";
import { SEMVER_PATTERN } from "./semver.js";

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

export interface Validator<T> {
  check(value: unknown): value is T;
  /** Returns the value typed, or throws BRUPOP_E_INVALID_OBJECT naming the first bad field. */
  parse(value: unknown): T;
}

export function compileValidator<S extends TSchema>(schema: S, fieldPrefix: string): Validator<Static<S>> {
  const compiled = Compile(schema);
  return {
    check: (value: unknown): value is Static<S> => compiled.Check(value),
    parse(value: unknown): Static<S> {
      if (compiled.Check(value)) return value;
      const errors = [...compiled.Errors(value)] as SchemaError[];
      const first = describeErrors(errors, fieldPrefix);
      throw new BrupopError("BRUPOP_E_INVALID_OBJECT", first.message, { field: first.field });
    },
  };
}

function fieldName(prefix: string, instancePath: string, child?: string): string {
  const parts = instancePath.split("/").filter((p) => p !== "");
  if (child !== undefined) parts.push(child);
  return [prefix, ...parts].filter((p) => p !== "").join(".") || "(root)";
}

/** Picks the most useful error: a missing/unknown field or a leaf failure, never a bare anyOf. */
export function describeErrors(errors: SchemaError[], prefix: string): { field: string; message: string } {
  const useful = errors.filter(
    (e) =>
      e.keyword !== "anyOf" && e.keyword !== "boolean" && !(e.keyword === "type" && e.params.type === "null"),
  );
  const err = useful[0] ?? errors[0];
  if (err === undefined) return { field: prefix || "(root)", message: `${prefix || "value"}: invalid` };
  if (err.keyword === "required") {
    const missing = (err.params.requiredProperties as string[] | undefined)?.[0] ?? "?";
    const field = fieldName(prefix, err.instancePath, missing);
    return { field, message: `${field}: is required` };
  }
  if (err.keyword === "additionalProperties") {
    const extra = (err.params.additionalProperties as string[] | undefined)?.[0] ?? "?";
    const field = fieldName(prefix, err.instancePath, extra);
    return { field, message: `${field}: unknown field` };
  }
  const field = fieldName(prefix, err.instancePath);
  if (err.keyword === "enum") {
    const allowed = (err.params.allowedValues as unknown[] | undefined)?.join(", ") ?? "";
    return { field, message: `${field}: must be one of ${allowed}` };
  }
  if (err.keyword === "pattern" && err.params.pattern === SEMVER_PATTERN) {
    return { field, message: `${field}: is not a valid semantic version (semver.org)` };
  }
  if (err.keyword === "format") {
    return { field, message: `${field}: must be an RFC 3339 timestamp` };
  }
  return { field, message: `${field}: ${err.message}` };
}
