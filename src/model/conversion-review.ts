// The Kubernetes ConversionReview (apiextensions.k8s.io/v1) exchange, as a pure function. The
// webhook always answers HTTP 200; success or failure travels in `response.result` (SPEC §5).
import { BrupopError } from "../errors.js";
import { convertShadow, type KubeObject } from "./conversion.js";

export const CONVERSION_REVIEW_API_VERSION = "apiextensions.k8s.io/v1";

export interface ConversionReviewResponse {
  apiVersion: typeof CONVERSION_REVIEW_API_VERSION;
  kind: "ConversionReview";
  response: {
    uid: string;
    convertedObjects: KubeObject[];
    result: { status: "Success" } | { status: "Failure"; message: string };
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function failure(uid: string, message: string): ConversionReviewResponse {
  return {
    apiVersion: CONVERSION_REVIEW_API_VERSION,
    kind: "ConversionReview",
    response: { uid, convertedObjects: [], result: { status: "Failure", message } },
  };
}

/** Answers a ConversionReview request body (already JSON-parsed). Never throws. */
export function reviewConversion(body: unknown): ConversionReviewResponse {
  const request = isRecord(body) && isRecord(body.request) ? body.request : undefined;
  const uid = typeof request?.uid === "string" ? request.uid : "";
  if (!isRecord(body) || body.kind !== "ConversionReview" || request === undefined) {
    return failure(uid, "request: body is not a ConversionReview with a request");
  }
  if (uid === "") return failure(uid, "request.uid: is required");
  if (typeof request.desiredAPIVersion !== "string")
    return failure(uid, "request.desiredAPIVersion: is required");
  if (!Array.isArray(request.objects)) return failure(uid, "request.objects: must be an array");
  const desired = request.desiredAPIVersion;
  const converted: KubeObject[] = [];
  for (const [i, obj] of (request.objects as unknown[]).entries()) {
    try {
      if (!isRecord(obj)) throw new BrupopError("BRUPOP_E_CONVERSION", "must be an object");
      converted.push(convertShadow(obj, desired));
    } catch (err) {
      const name = isRecord(obj) && isRecord(obj.metadata) ? String(obj.metadata.name) : "?";
      const message = err instanceof Error ? err.message : String(err);
      return failure(uid, `request.objects[${i}] (${name}): ${message}`);
    }
  }
  return {
    apiVersion: CONVERSION_REVIEW_API_VERSION,
    kind: "ConversionReview",
    response: { uid, convertedObjects: converted, result: { status: "Success" } },
  };
}
