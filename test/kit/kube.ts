// Helpers for tests that talk to the test cluster directly (shared with the testbed): a Kubernetes
// call that must succeed, the poller (test/kit/poll.ts), and the waits and writes several e2e files
// repeat.
import { kube, type KubeCallOptions } from "../../kit/testenv/kube-call.js";
import { eventually } from "./poll.js";
import type { RawKubeRest } from "../../kit/testenv/raw-rest.js";

export { kube, type KubeCallOptions };
export { eventually, sleep } from "./poll.js";

/** A Kubernetes call that must answer one of `opts.ok`, bound to one RawKubeRest. */
export type KubeFn = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts?: KubeCallOptions,
) => Promise<T>;

/** The shape of the poller (`eventually`, or one at a file's own pace). */
export type Poll = (what: string, timeoutMs: number, check: () => Promise<boolean>) => Promise<void>;

export const bindKube =
  (rest: RawKubeRest): KubeFn =>
  <T>(method: string, path: string, body?: unknown, opts?: KubeCallOptions) =>
    kube<T>(rest, method, path, body, opts);

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** Waits until the CRD `name` is Established ("CRD Established" in the timeout message). */
export function crdEstablished(
  call: KubeFn,
  name: string,
  timeoutMs: number,
  poll: Poll = eventually,
): Promise<void> {
  return poll("CRD Established", timeoutMs, async () => {
    const got = await call<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "GET",
      `${CRDS}/${name}`,
    );
    return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
  });
}

/** POSTs `obj` to `collection`, then (when given) merge-patches its status subresource. */
export async function createWithStatus(
  call: KubeFn,
  collection: string,
  obj: { metadata: { name: string } & Record<string, unknown> } & Record<string, unknown>,
  status: unknown,
): Promise<void> {
  await call("POST", collection, obj);
  if (status !== undefined) {
    await call(
      "PATCH",
      `${collection}/${obj.metadata.name}/status`,
      { status },
      { contentType: "application/merge-patch+json" },
    );
  }
}

type Tuple<N extends number, T, R extends T[] = []> = R["length"] extends N ? R : Tuple<N, T, [...R, T]>;

/** `items` as a tuple of exactly `n` (throws otherwise), to destructure node names. */
export function exactly<N extends number, T>(items: readonly T[], n: N): Tuple<N, T> {
  if (items.length !== n) throw new Error(`expected ${n} items, got ${items.length}`);
  return items as unknown as Tuple<N, T>;
}
