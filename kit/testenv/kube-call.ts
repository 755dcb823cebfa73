// Two small helpers for code that drives a test cluster directly (the testbed, e2e tests, the demo's
// set-up): a Kubernetes call that must succeed, and polling for a condition.
import { setTimeout as sleepTimer } from "node:timers/promises";
import { BrupopError } from "../../src/errors.js";
import type { RawKubeRest } from "./raw-rest.js";

export interface KubeCallOptions {
  /** Accepted HTTP statuses (default 200, 201). */
  ok?: readonly number[];
  contentType?: string;
  query?: Record<string, string>;
}

/** A Kubernetes API call that must answer one of `opts.ok`; throws BRUPOP_E_TESTENV with the answer otherwise. */
export async function kube<T = unknown>(
  rest: RawKubeRest,
  method: string,
  path: string,
  body?: unknown,
  opts: KubeCallOptions = {},
): Promise<T> {
  const res = await rest.request<T>(method, path, { body, contentType: opts.contentType, query: opts.query });
  if (!(opts.ok ?? [200, 201]).includes(res.status)) {
    throw new BrupopError(
      "BRUPOP_E_TESTENV",
      `${method} ${path}: HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`,
    );
  }
  return res.body;
}

/** Polls `check` until it returns true (errors count as "not yet"); throws with the last error on timeout. */
export async function eventually(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) break;
    await sleepTimer(intervalMs);
  }
  const why = last instanceof Error ? `: ${last.message}` : "";
  throw new BrupopError("BRUPOP_E_TESTENV", `timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}
