// The apiserver's HTTP routes (SPEC §5). Agent routes sit in one encapsulated scope whose onRequest
// hook authenticates the caller before the body is even read; /ping, /crdconvert and /metrics are
// outside it. Every agent route acts on the caller's own node only: the node comes from the
// authenticated identity, never from the body.
import type { FastifyInstance } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Logger } from "pino";
import { BrupopError } from "../errors.js";
import { API_VERSION_V2, CONVERSION_PATH, KIND, shadowNameForNode } from "../model/constants.js";
import { reviewConversion } from "../model/conversion-review.js";
import { DEFAULT_SPEC, parseStatus } from "../model/shadow.js";
import type { Authenticator } from "./authenticator.js";
import type { Caller } from "./authz.js";
import type { ApiserverBackend } from "./backend.js";
import type { ApiserverMetrics } from "./metrics.js";

export const NODE_RESOURCE_PATH = "/bottlerocket-node-resource";
export const CORDON_AND_DRAIN_PATH = `${NODE_RESOURCE_PATH}/cordon-and-drain`;
/** Beyond upstream: cordon only, no drain (quarantine of a node that failed on the new version). */
export const CORDON_PATH = `${NODE_RESOURCE_PATH}/cordon`;
export const UNCORDON_PATH = `${NODE_RESOURCE_PATH}/uncordon`;
export const EXCLUDE_FROM_LB_PATH = `${NODE_RESOURCE_PATH}/exclude-from-lb`;
export const REMOVE_EXCLUSION_FROM_LB_PATH = `${NODE_RESOURCE_PATH}/remove-exclusion-from-lb`;
export const PING_PATH = "/ping";
export const METRICS_PATH = "/metrics";

export const AGENT_BODY_LIMIT = 64 * 1024;
/**
 * /crdconvert is unauthenticated (kube-apiserver calls it without credentials), so what one call can
 * cost is bounded: 3 MiB of body (kube-apiserver's own request-body limit; upstream's actix JSON
 * limit was 2 MiB) and 5,000 objects per review (a shadow as kube-apiserver sends it is ~1-1.5 KiB,
 * so a 3 MiB review of real shadows holds ~2,000-3,000; a list through v1 of a larger fleet fails).
 */
export const CONVERSION_BODY_LIMIT = 3 * 1024 * 1024;
export const CONVERSION_MAX_OBJECTS = 5_000;

/** A Failure review for more objects than CONVERSION_MAX_OBJECTS (undefined: within bounds). */
function tooManyObjects(body: unknown): object | undefined {
  const request = (body as { request?: { uid?: unknown; objects?: unknown } } | null)?.request;
  const objects = request?.objects;
  if (!Array.isArray(objects) || objects.length <= CONVERSION_MAX_OBJECTS) return undefined;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    response: {
      uid: typeof request?.uid === "string" ? request.uid : "",
      convertedObjects: [],
      result: {
        status: "Failure",
        message: `request.objects: ${objects.length} objects, more than ${CONVERSION_MAX_OBJECTS} in one review`,
      },
    },
  };
}

export type ApiserverApp = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, Logger>;

export interface RouteDeps {
  backend: ApiserverBackend;
  authenticator: Authenticator;
  metrics: ApiserverMetrics;
  /** Aborted when the server gives up on in-flight work at shutdown. */
  closing: AbortSignal;
  /** Deadline of ordinary routes. */
  requestTimeoutMs: number;
  /** Deadline of cordon-and-drain (cordon + the drain's own deadline + margin). */
  drainRouteTimeoutMs: number;
}

/**
 * Runs `work` with a signal that aborts on the route deadline, on shutdown, or when the client goes
 * away, and answers BRUPOP_E_TIMEOUT at the deadline even if `work` ignores its signal.
 * (One controller, one timer and two listeners, all released when the work ends: no
 * AbortSignal.any on the long-lived shutdown signal, no timers left pending for the full deadline.)
 */
async function withDeadline<T>(
  res: ServerResponse,
  deps: RouteDeps,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  let reject: ((err: BrupopError) => void) | undefined;
  const aborted = new Promise<never>((_, r) => (reject = r));
  aborted.catch(() => undefined);
  const abort = (err: BrupopError): void => {
    if (ac.signal.aborted) return;
    ac.abort(err);
    reject?.(err);
  };
  const timer = setTimeout(
    () => abort(new BrupopError("BRUPOP_E_TIMEOUT", `request did not finish within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onClosing = (): void => abort(new BrupopError("BRUPOP_E_TIMEOUT", "server shutting down"));
  const onClose = (): void => {
    if (!res.writableFinished) abort(new BrupopError("BRUPOP_E_BAD_REQUEST", "client went away"));
  };
  if (deps.closing.aborted) onClosing();
  deps.closing.addEventListener("abort", onClosing, { once: true });
  res.once("close", onClose);
  try {
    return await Promise.race([work(ac.signal), aborted]);
  } catch (err) {
    throw ac.signal.aborted ? (ac.signal.reason as BrupopError) : err;
  } finally {
    clearTimeout(timer);
    deps.closing.removeEventListener("abort", onClosing);
    res.removeListener("close", onClose);
  }
}

function callerOf(callers: WeakMap<object, Caller>, request: object): Caller {
  const caller = callers.get(request);
  // Unreachable: the scope's onRequest hook refuses the request first.
  if (caller === undefined) throw new BrupopError("BRUPOP_E_UNAUTHENTICATED", "not authenticated");
  return caller;
}

/** The object upstream's apiserver answers on create when the backend has none to give. */
function upstreamCreatedShadow(caller: Caller): Record<string, unknown> {
  return {
    apiVersion: API_VERSION_V2,
    kind: KIND,
    metadata: {
      name: shadowNameForNode(caller.nodeName),
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: caller.nodeName, uid: caller.nodeUid }],
    },
    spec: { ...DEFAULT_SPEC },
  };
}

function parseStatusBody(body: unknown): ReturnType<typeof parseStatus> {
  if (body === undefined || body === null) {
    throw new BrupopError("BRUPOP_E_BAD_REQUEST", "status: request body is required", { field: "status" });
  }
  return parseStatus(body);
}

export function registerRoutes(app: ApiserverApp, deps: RouteDeps): void {
  const { backend, metrics } = deps;

  app.get(PING_PATH, (_request, reply) => reply.send({ status: "ok" }));

  app.get(METRICS_PATH, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header("content-type", metrics.registry.contentType).send(text);
  });

  // Always 200: the outcome of a conversion travels in response.result (reviewConversion never throws).
  app.post(CONVERSION_PATH, { bodyLimit: CONVERSION_BODY_LIMIT }, (request, reply) =>
    reply.send(tooManyObjects(request.body) ?? reviewConversion(request.body)),
  );

  // Per-request authenticated caller, set by the scope's onRequest hook.
  const callers = new WeakMap<object, Caller>();
  void app.register((agent, _opts, done) => {
    agent.addHook("onRequest", async (request, reply) => {
      const caller = await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        // The TCP peer, never a header (no proxy sits in front; agents send no X-Forwarded-For).
        deps.authenticator.authenticate(request.headers, signal, request.socket.remoteAddress),
      );
      callers.set(request, caller);
    });

    // Upstream's answers, which upstream's agent parses (a mixed fleet runs both during a
    // migration): 200 with the BottlerocketShadow, created or already there.
    agent.post(NODE_RESOURCE_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      const result = await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        backend.shadows.create(caller.nodeName, caller.nodeUid, signal),
      );
      return reply.code(200).send(result.shadow ?? upstreamCreatedShadow(caller));
    });

    // 200 echoing the status written (a v2 BottlerocketShadowStatus, every field present).
    agent.put(NODE_RESOURCE_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      const status = parseStatusBody(request.body);
      await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        backend.shadows.updateStatus(caller.nodeName, status, signal),
      );
      return reply.code(200).send(status);
    });

    agent.post(CORDON_AND_DRAIN_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      return withDeadline(reply.raw, deps, deps.drainRouteTimeoutMs, async (signal) => {
        const cordoned = await backend.nodes.cordon(caller.nodeName, caller.nodeUid, signal);
        const result = await backend.nodes.drain(caller.nodeName, signal);
        return {
          cordoned,
          evicted: result.evicted.map((p) => `${p.namespace}/${p.name}`),
          skipped: result.skipped.map((s) => ({ pod: `${s.pod.namespace}/${s.pod.name}`, reason: s.reason })),
          // Only with DRAIN_TIMEOUT_ACTION=delete: the pods deleted at the deadline.
          ...(result.deleted !== undefined &&
            result.deleted.length > 0 && { deleted: result.deleted.map((p) => `${p.namespace}/${p.name}`) }),
        };
      });
    });

    // With brupop's marker, like cordon-and-drain's cordon, so the later uncordon lifts it.
    agent.post(CORDON_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      const cordoned = await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        backend.nodes.cordon(caller.nodeName, caller.nodeUid, signal),
      );
      return { cordoned };
    });

    agent.post(UNCORDON_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      const uncordoned = await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        backend.nodes.uncordon(caller.nodeName, caller.nodeUid, signal),
      );
      return { uncordoned };
    });

    agent.post(EXCLUDE_FROM_LB_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      const changed = await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        backend.nodes.excludeFromLb(caller.nodeName, caller.nodeUid, signal),
      );
      return { changed };
    });

    agent.post(REMOVE_EXCLUSION_FROM_LB_PATH, async (request, reply) => {
      const caller = callerOf(callers, request);
      const changed = await withDeadline(reply.raw, deps, deps.requestTimeoutMs, (signal) =>
        backend.nodes.removeExclusionFromLb(caller.nodeName, caller.nodeUid, signal),
      );
      return { changed };
    });
    done();
  });
}
