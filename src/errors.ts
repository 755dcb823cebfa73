// The one error catalogue of brupop-ts. Every error we raise on purpose has a stable code
// (tests check the code, not the text) and, where it reaches an HTTP client, a status.
// Add entries to the section of your component; keep codes stable once released.

export interface ErrorSpec {
  readonly status?: number;
  readonly summary: string;
}

export const ERRORS = {
  // --- configuration (startup) ---
  BRUPOP_E_CONFIG: { summary: "invalid configuration" },
  // --- model / validation ---
  BRUPOP_E_INVALID_OBJECT: { status: 400, summary: "object does not match the schema" },
  BRUPOP_E_CONVERSION: { status: 400, summary: "conversion between CRD versions failed" },
  // --- scheduler ---
  BRUPOP_E_CRON: { summary: "invalid cron expression" },
  // --- build (npm run image) ---
  BRUPOP_E_BUILD_PIN: { summary: "a downloaded build input does not match its pinned sha256" },
  // --- bottlerocket host API (client + simulator) ---
  BRUPOP_E_HOST_API: { summary: "Bottlerocket host API request failed" },
  BRUPOP_E_HOST_COMMAND_FAILED: { summary: "Bottlerocket host command failed" },
  BRUPOP_E_HOST_TIMEOUT: { summary: "Bottlerocket host command did not finish in time" },
  BRUPOP_E_HOST_UNREACHABLE: { summary: "Bottlerocket host API socket unreachable" },
  // --- apiserver ---
  BRUPOP_E_UNAUTHENTICATED: { status: 401, summary: "request is not authenticated" },
  BRUPOP_E_FORBIDDEN: { status: 403, summary: "caller may not act on this node" },
  BRUPOP_E_BAD_REQUEST: { status: 400, summary: "bad request" },
  BRUPOP_E_NOT_FOUND: { status: 404, summary: "not found" },
  BRUPOP_E_CONFLICT: { status: 409, summary: "conflict" },
  BRUPOP_E_PAYLOAD_TOO_LARGE: { status: 413, summary: "request body too large" },
  BRUPOP_E_TOO_MANY_REQUESTS: { status: 429, summary: "too many requests; retry later" },
  BRUPOP_E_UPSTREAM: { status: 502, summary: "Kubernetes API request failed" },
  BRUPOP_E_DRAIN: { status: 500, summary: "drain failed" },
  BRUPOP_E_TIMEOUT: { status: 504, summary: "request did not finish in time" },
  BRUPOP_E_INTERNAL: { status: 500, summary: "internal error" },
  // --- agent ---
  BRUPOP_E_AGENT_ASSERTION: { summary: "agent invariant violated" },
  BRUPOP_E_APISERVER_CALL: { summary: "call to brupop apiserver failed" },
  // --- test environment ---
  BRUPOP_E_TESTENV: { summary: "test environment failure" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class BrupopError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "BrupopError";
    this.code = code;
    this.details = details;
  }

  /** HTTP status for this error where it reaches a client (500 when the code has none). */
  get status(): number {
    const spec: ErrorSpec = ERRORS[this.code];
    return spec.status ?? 500;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isBrupopError(err: unknown, code?: ErrorCode): err is BrupopError {
  return err instanceof BrupopError && (code === undefined || err.code === code);
}

function kubeStatusField(body: unknown, key: "message" | "reason"): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const v = (body as Record<string, unknown>)[key];
  return typeof v === "string" ? v : undefined;
}

/**
 * A Kubernetes API answer outside 2xx: what every typed call of src/k8s/api.ts throws. Its catalogue
 * code is BRUPOP_E_UPSTREAM (a client of ours sees 502); `httpStatus` is the Kubernetes API's status,
 * `reason` and `body` its Status object. Ask with isNotFound/isConflict/isGone/isTooManyRequests.
 */
export class KubeApiError extends BrupopError {
  readonly httpStatus: number;
  readonly reason: string | undefined;
  readonly body: unknown;

  constructor(what: string, httpStatus: number, body: unknown) {
    const message = kubeStatusField(body, "message") ?? "";
    const reason = kubeStatusField(body, "reason");
    super("BRUPOP_E_UPSTREAM", `${what}: HTTP ${httpStatus}${message === "" ? "" : `: ${message}`}`, {
      status: httpStatus,
      reason,
    });
    this.name = "KubeApiError";
    this.httpStatus = httpStatus;
    this.reason = reason;
    this.body = body;
  }
}

function kubeStatusIs(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.httpStatus === status;
}

/** 404: the object (or its collection) does not exist. */
export const isNotFound = (err: unknown): boolean => kubeStatusIs(err, 404);
/** 409: a conflicting write (resourceVersion moved on, or the object already exists). */
export const isConflict = (err: unknown): boolean => kubeStatusIs(err, 409);
/** 410: the resourceVersion asked for is too old (relist). */
export const isGone = (err: unknown): boolean => kubeStatusIs(err, 410);
/** 429: not now (a PodDisruptionBudget refusing an eviction, or API priority and fairness). */
export const isTooManyRequests = (err: unknown): boolean => kubeStatusIs(err, 429);
