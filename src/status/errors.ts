// Turns everything that can go wrong talking to a cluster into one clear BrupopError line: no cluster,
// bad credentials, forbidden, CRD not installed. The CLI prints `error: <message>` and exits 1.
import { BrupopError } from "../errors.js";
import { CRD_NAME } from "../model/constants.js";

interface StatusBody {
  message?: string;
}

function apiMessage(body: unknown): string | undefined {
  if (typeof body === "object" && body !== null && typeof (body as StatusBody).message === "string") {
    return (body as StatusBody).message;
  }
  if (typeof body === "string" && body.trim() !== "") return body.trim().slice(0, 200);
  return undefined;
}

export interface FailureContext {
  /** What we tried, e.g. "list BottlerocketShadows in namespace x". */
  what: string;
  server: string;
  /** True for the shadow collection: a 404 there means the CRD is not installed. */
  shadows?: boolean;
}

export function apiFailure(status: number, body: unknown, ctx: FailureContext): BrupopError {
  const msg = apiMessage(body);
  if (status === 401) {
    return new BrupopError(
      "BRUPOP_E_UNAUTHENTICATED",
      `unauthorized: the API server at ${ctx.server} rejected the credentials (${ctx.what})`,
      { status },
    );
  }
  if (status === 403) {
    return new BrupopError("BRUPOP_E_FORBIDDEN", `forbidden: ${msg ?? ctx.what}`, { status });
  }
  if (status === 404 && ctx.shadows === true) {
    return new BrupopError(
      "BRUPOP_E_NOT_FOUND",
      `the BottlerocketShadow CRD (${CRD_NAME}, version v2) is not installed in the cluster at ${ctx.server}; is brupop installed?`,
      { status },
    );
  }
  return new BrupopError(
    "BRUPOP_E_UPSTREAM",
    `${ctx.what}: HTTP ${status}${msg === undefined ? "" : `: ${msg}`}`,
    {
      status,
    },
  );
}

/** A request that never got an HTTP answer (connection refused, DNS, TLS, timeout). */
export function connectionFailure(err: unknown, server: string): BrupopError {
  if (err instanceof BrupopError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const detail = typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  return new BrupopError(
    "BRUPOP_E_UPSTREAM",
    `cannot reach the Kubernetes API server at ${server}: ${detail}`,
    {
      cause: code,
    },
  );
}

/** The one line the CLI prints for a failure. */
export function errorLine(err: unknown): string {
  if (err instanceof BrupopError) return `error: ${err.message}`;
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}
