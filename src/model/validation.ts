// Validators of wire objects. The checks are precompiled at build time (validator-codegen.ts →
// validators.generated.ts, `npm run validators`): no process loads TypeBox's schema compiler.
// Only a value that fails its check goes through TypeBox's (interpreted) error reporting, which
// is turned into one BrupopError naming the offending field, so bad input is rejected with a
// message an operator can act on ("status.current_version: ...").
import type { TSchema, Static } from "typebox";
import { Errors } from "typebox/schema";
import { BrupopError } from "../errors.js";
import { SEMVER_PATTERN } from "./semver.js";
import { PRECOMPILED } from "./validators.generated.js";

export interface SchemaError {
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

/** Every schema a validator was made for, in order: what `npm run validators` generates checks for. */
export const VALIDATED_SCHEMAS: TSchema[] = [];

/** The schema's precompiled check; throws (on first use, so the generator can still run) if stale. */
function precompiledCheck(schema: TSchema): (value: unknown) => boolean {
  VALIDATED_SCHEMAS.push(schema);
  const check = PRECOMPILED.get(JSON.stringify(schema));
  if (check !== undefined) return check;
  return () => {
    throw new Error(
      "src/model/validators.generated.ts has no check for a schema (changed without regenerating): run `npm run validators`",
    );
  };
}

/** TypeBox's error list for a value that failed its check. */
export function schemaErrors(schema: TSchema, value: unknown): SchemaError[] {
  return Errors(schema, value)[1];
}

export function compileValidator<S extends TSchema>(schema: S, fieldPrefix: string): Validator<Static<S>> {
  const check = precompiledCheck(schema);
  return {
    check: (value: unknown): value is Static<S> => check(value),
    parse(value: unknown): Static<S> {
      if (check(value)) return value as Static<S>;
      const first = describeErrors(schemaErrors(schema, value), fieldPrefix);
      throw new BrupopError("BRUPOP_E_INVALID_OBJECT", first.message, { field: first.field });
    },
  };
}

/** A bare precompiled check with TypeBox's errors on failure (host answers: src/bottlerocket/types.ts). */
export function compileCheck(schema: TSchema): {
  Check(value: unknown): boolean;
  Errors(value: unknown): SchemaError[];
} {
  const check = precompiledCheck(schema);
  return { Check: check, Errors: (value: unknown) => schemaErrors(schema, value) };
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
