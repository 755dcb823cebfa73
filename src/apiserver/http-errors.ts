// Every error the apiserver answers with is a JSON `{code, message, details?}` from the BrupopError
// catalogue, with the catalogue's HTTP status. Fastify's own errors (body too large, bad JSON, ...) are
// mapped onto catalogue codes here, so clients only ever see one shape.
import { BrupopError, ERRORS, type ErrorCode, type ErrorSpec } from "../errors.js";

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Readonly<Record<string, unknown>>;
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** 5xx: worth logging with the cause. */
  internal: boolean;
}

function statusOf(code: ErrorCode): number {
  const spec: ErrorSpec = ERRORS[code];
  return spec.status ?? 500;
}

function make(code: ErrorCode, message: string, details?: Readonly<Record<string, unknown>>): HttpError {
  const status = statusOf(code);
  const body: ErrorBody = { code, message };
  if (details !== undefined && Object.keys(details).length > 0) body.details = details;
  return { status, body, internal: status >= 500 };
}

/** Transport failures (Node's errno codes) of a request to kube-apiserver. */
const TRANSPORT_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/** Codes whose details are safe and useful to a client (which field was wrong, which pod blocked). */
const PUBLIC_DETAILS = new Set<ErrorCode>([
  "BRUPOP_E_INVALID_OBJECT",
  "BRUPOP_E_BAD_REQUEST",
  "BRUPOP_E_DRAIN",
  "BRUPOP_E_NOT_FOUND",
]);

export function toHttpError(err: unknown): HttpError {
  if (err instanceof BrupopError) {
    if (statusOf(err.code) === 500 && err.code !== "BRUPOP_E_DRAIN") {
      // A code without an HTTP meaning escaped to the edge: do not leak its text.
      return make("BRUPOP_E_INTERNAL", "internal error");
    }
    return make(err.code, err.message, PUBLIC_DETAILS.has(err.code) ? err.details : undefined);
  }
  return fromForeignError(err);
}

/** Fastify's errors and Node's transport errors onto catalogue codes. */
function fromForeignError(err: unknown): HttpError {
  const e = (typeof err === "object" && err !== null ? err : {}) as FastifyLikeError;
  const fcode = typeof e.code === "string" ? e.code : "";
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  const message = typeof e.message === "string" ? e.message : "request failed";
  if (fcode === "FST_ERR_CTP_BODY_TOO_LARGE" || status === 413) {
    return make("BRUPOP_E_PAYLOAD_TOO_LARGE", "request body too large");
  }
  // Our only outbound calls go to kube-apiserver: a connection it dropped or refused (restart, a cut
  // watch connection) is its failure, 502, which agents retry, not an internal error (found by chaos
  // seed 3000: a reset uncordon answered 500 and the agent quarantined an updated node).
  if (TRANSPORT_CODES.has(fcode)) return make("BRUPOP_E_UPSTREAM", `Kubernetes API unreachable (${fcode})`);
  if (status === 404) return make("BRUPOP_E_NOT_FOUND", message);
  if (status >= 400 && status < 500) return make("BRUPOP_E_BAD_REQUEST", message);
  return make("BRUPOP_E_INTERNAL", "internal error");
}
