// Reads and writes the controller's UpdatePolicy (issue 18): an informer on the one policy object
// the controller honours, a direct GET while the informer has not synced, and the status writes.
// Without the CRD (upstream's CRD chart only) there is no policy and behaviour is exactly the
// environment's: that is said once, the informer is not started, and the GET looks for the CRD
// again with back-off (10 s doubling to 5 min), starting the informer when it appears. The status
// writes (PUT on /status, conditional on the resourceVersion read, so two leaders cannot both
// write a status decided on the same object).
import type { Logger } from "pino";
import type { Timers } from "../../clock.js";
import { isNotFound, KubeApiError } from "../../errors.js";
import type { KubeApi } from "../../k8s/api.js";
import { Informer } from "../../k8s/informer.js";
import {
  POLICY_COLLECTION_PATH,
  POLICY_CRD_NAME,
  type PolicyStatus,
  type RawPolicy,
} from "../../model/policy.js";
import type { UpdateSchedule } from "../decide/schedule.js";

const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && err.httpStatus === 403;

/** While the informer has not synced, GET the policy at most this often. */
export const POLICY_FALLBACK_GET_MS = 10_000;
/** Without the CRD, look again after this long, doubling each time up to CRD_RECHECK_MAX_MS. */
export const CRD_RECHECK_MIN_MS = 10_000;
export const CRD_RECHECK_MAX_MS = 5 * 60_000;

/**
 * A 404 for the resource type (the CRD is not installed: upstream's CRD chart only), not for the
 * object: the apiserver names the object it did not find in `details.name`.
 */
export function isCrdMissing(err: unknown, name: string): boolean {
  if (!isNotFound(err) || !(err instanceof KubeApiError)) return false;
  const details = (err.body as { details?: { name?: unknown } } | undefined)?.details;
  return details?.name !== name;
}

/** The wait before the next look for the CRD after `misses` looks that did not find it (1, 2, ...). */
export function crdRecheckDelay(misses: number): number {
  return Math.min(CRD_RECHECK_MAX_MS, CRD_RECHECK_MIN_MS * 2 ** Math.min(Math.max(misses, 1) - 1, 16));
}

export interface PolicySourceOptions {
  rest: KubeApi;
  /** The policy honoured (metadata.name). */
  name: string;
  logger: Logger;
  timers: Timers;
  /** A change of the policy (the controller ticks soon). */
  onChange?: () => void;
}

export class PolicySource {
  readonly name: string;
  readonly #o: PolicySourceOptions;
  readonly #informer: Informer<RawPolicy>;
  #fallback: { atMs: number; value: RawPolicy | undefined } | undefined;
  #forbiddenLogged = false;
  /** start() was called: the informer runs once the CRD is known to exist. */
  #wanted = false;
  #informerStarted = false;
  /** The CRD is missing: looks that did not find it, and when to look again (timers.nowMs). */
  #crdMissing: { misses: number; nextAtMs: number } | undefined;
  /** Our last status write: used while the cache still shows the object it was made on. */
  #written: { fromVersion: string | undefined; obj: RawPolicy } | undefined;
  readonly scheduleCache = new Map<string, UpdateSchedule | string>();

  constructor(opts: PolicySourceOptions) {
    this.#o = opts;
    this.name = opts.name;
    this.#informer = new Informer<RawPolicy>({
      rest: opts.rest,
      path: POLICY_COLLECTION_PATH,
      fieldSelector: `metadata.name=${opts.name}`,
      logger: opts.logger,
      timers: opts.timers,
      // A missing CRD must not fill the log: retry slowly (the fallback GET answers meanwhile).
      backoffMaxMs: 60_000,
    });
    this.#informer.on(() => opts.onChange?.());
  }

  /**
   * Watches the policy. The informer starts once a GET showed the CRD is installed (the first
   * current()), so a cluster without it (upstream's CRD chart) gets one warning and a look with
   * back-off, instead of a list/watch failing every few seconds.
   */
  start(): void {
    this.#wanted = true;
  }

  #startInformer(): void {
    if (!this.#wanted || this.#informerStarted) return;
    this.#informerStarted = true;
    this.#informer.start();
  }

  stop(): Promise<void> {
    this.#wanted = false; // a current() still in flight must not start the informer after this
    return this.#informer.stop();
  }

  /**
   * The last look did not find the CRD. A 404 for the CRD can also be a blip (custom resources
   * answer 404 for a moment after a kube-apiserver restart), so the policy stage leaves the version
   * locks as they are meanwhile: a pin is never lifted by a missing CRD.
   */
  get crdMissing(): boolean {
    return this.#crdMissing !== undefined;
  }

  get synced(): boolean {
    return this.#informer.synced;
  }

  /** The policy object (undefined: none); "unavailable" when it could not be read. */
  async current(signal: AbortSignal): Promise<RawPolicy | undefined | "unavailable"> {
    if (this.#informer.synced) return this.#fresher(this.#informer.get(this.name));
    const now = this.#o.timers.nowMs();
    if (this.#crdMissing !== undefined && now < this.#crdMissing.nextAtMs) return undefined;
    if (this.#fallback !== undefined && now - this.#fallback.atMs < POLICY_FALLBACK_GET_MS)
      return this.#fresher(this.#fallback.value);
    try {
      const value = await this.#o.rest.get<RawPolicy>(`${POLICY_COLLECTION_PATH}/${this.name}`, {
        signal,
        what: `GET UpdatePolicy ${this.name}`,
      });
      this.#fallback = { atMs: now, value };
      this.#crdFound();
    } catch (err) {
      if (isCrdMissing(err, this.name)) {
        this.#crdNotFound(now);
        return undefined;
      }
      if (isForbidden(err)) {
        // An upgrade that kept the old RBAC: behave as without a policy (today's), and say so once.
        if (!this.#forbiddenLogged)
          this.#o.logger.warn(
            { err },
            "may not read UpdatePolicies (RBAC); running without a policy: grant get/list/watch on updatepolicies",
          );
        this.#forbiddenLogged = true;
        this.#fallback = { atMs: now, value: undefined };
        return undefined;
      }
      if (!isNotFound(err)) {
        this.#o.logger.warn({ err }, "could not read the UpdatePolicy; holding new updates this tick");
        return "unavailable";
      }
      this.#fallback = { atMs: now, value: undefined };
      this.#crdFound();
    }
    return this.#fresher(this.#fallback.value);
  }

  /** The CRD answered (the object or its 404): watch it; say so if it was missing before. */
  #crdFound(): void {
    if (this.#crdMissing !== undefined)
      this.#o.logger.info("the UpdatePolicy CRD is installed now; watching the UpdatePolicy");
    this.#crdMissing = undefined;
    this.#startInformer();
  }

  /** Said once; looked for again with back-off (nothing logged while it stays missing). */
  #crdNotFound(now: number): void {
    const misses = (this.#crdMissing?.misses ?? 0) + 1;
    if (misses === 1)
      this.#o.logger.warn(
        { crd: POLICY_CRD_NAME },
        `the UpdatePolicy CRD (${POLICY_CRD_NAME}) is not installed: running without an UpdatePolicy ` +
          "(the environment's settings and the Node pause annotation apply). To use one, install " +
          "brupop-ts's CRD chart (deploy/charts/bottlerocket-shadow) or its manifest; " +
          `looking for the CRD again with back-off (up to every ${CRD_RECHECK_MAX_MS / 60_000} min)`,
      );
    this.#crdMissing = { misses, nextAtMs: now + crdRecheckDelay(misses) };
  }

  #fresher(cached: RawPolicy | undefined): RawPolicy | undefined {
    const w = this.#written;
    if (cached === undefined || w === undefined) return cached;
    if (cached.metadata?.uid !== w.obj.metadata?.uid) return cached;
    // The cache has not caught up with our own status write yet.
    if (cached.metadata?.resourceVersion === w.fromVersion) return w.obj;
    this.#written = undefined;
    return cached;
  }

  /** Sets (or with null removes) one annotation of a shadow; the written object, or undefined. */
  async annotateShadow(
    shadowPath: string,
    key: string,
    value: string | null,
    signal: AbortSignal,
  ): Promise<unknown> {
    try {
      return await this.#o.rest.patch<unknown>(
        shadowPath,
        "merge",
        { metadata: { annotations: { [key]: value } } },
        { signal, what: `PATCH ${shadowPath} annotation ${key}` },
      );
    } catch (err) {
      if (!signal.aborted)
        this.#o.logger.warn({ err, shadow: shadowPath }, "could not write the version lock");
      return undefined;
    }
  }

  /** Writes the status; false on a conflict or failure (the next tick decides again). */
  async writeStatus(policy: RawPolicy, status: PolicyStatus, signal: AbortSignal): Promise<boolean> {
    const { managedFields: _ignored, ...metadata } = policy.metadata ?? {};
    const body = { ...policy, metadata, status };
    try {
      const written = await this.#o.rest.replace<RawPolicy>(
        `${POLICY_COLLECTION_PATH}/${this.name}/status`,
        body,
        { signal, what: `PUT UpdatePolicy ${this.name} status` },
      );
      this.#written = { fromVersion: policy.metadata?.resourceVersion, obj: written };
      if (this.#fallback !== undefined) this.#fallback.value = written;
      return true;
    } catch (err) {
      if (!signal.aborted)
        this.#o.logger.debug({ err }, "UpdatePolicy status write failed; retrying next tick");
      return false;
    }
  }
}
