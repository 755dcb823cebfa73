// Small helpers for e2e tests that talk to the test cluster directly.
import type { KubeRest } from "../../../src/k8s/rest.js";

export interface KubeCallOptions {
  /** Accepted HTTP statuses (default 200, 201). */
  ok?: readonly number[];
  contentType?: string;
  query?: Record<string, string>;
}

/** A Kubernetes API call that must answer one of `opts.ok`; throws with the answer otherwise. */
export async function kube<T = unknown>(
  rest: KubeRest,
  method: string,
  path: string,
  body?: unknown,
  opts: KubeCallOptions = {},
): Promise<T> {
  const res = await rest.request<T>(method, path, { body, contentType: opts.contentType, query: opts.query });
  const ok = opts.ok ?? [200, 201];
  if (!ok.includes(res.status)) {
    throw new Error(`${method} ${path}: HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
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
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
