// Faults a test can inject into one simulated host at runtime. Plain bookkeeping; the host
// consults it when a command finishes or a reboot happens.
import type { UpdateCommand } from "../../src/bottlerocket/types.js";

export interface FailureSpec {
  /** How many of the next commands of this type fail; undefined = every one until cleared. */
  times?: number;
  stderr?: string;
  /** Non-zero; default 1. */
  exitStatus?: number;
}

export interface Failure {
  stderr: string;
  exitStatus: number;
}

export class HostFaults {
  #failures = new Map<UpdateCommand, FailureSpec>();
  #hung = new Set<UpdateCommand>();
  #rollbacks = 0;

  /** Makes commands of this type fail (see FailureSpec.times). */
  failCommand(cmd: UpdateCommand, spec: FailureSpec = {}): void {
    if (spec.exitStatus === 0) throw new TypeError("a failed command needs a non-zero exit status");
    this.#failures.set(cmd, { ...spec });
  }

  clearFailure(cmd: UpdateCommand): void {
    this.#failures.delete(cmd);
  }

  /** Consumes one failure for cmd, if any is armed. */
  takeFailure(cmd: UpdateCommand): Failure | undefined {
    const spec = this.#failures.get(cmd);
    if (spec === undefined) return undefined;
    if (spec.times !== undefined) {
      if (spec.times <= 1) this.#failures.delete(cmd);
      else spec.times -= 1;
    }
    return { stderr: spec.stderr ?? `simulated ${cmd} failure`, exitStatus: spec.exitStatus ?? 1 };
  }

  setHung(cmd: UpdateCommand, hung: boolean): void {
    if (hung) this.#hung.add(cmd);
    else this.#hung.delete(cmd);
  }

  isHung(cmd: UpdateCommand): boolean {
    return this.#hung.has(cmd);
  }

  /** The next `times` reboots come back on the old version (the new partition fails to boot). */
  rollbackReboots(times = 1): void {
    this.#rollbacks = Math.max(0, times);
  }

  takeRollback(): boolean {
    if (this.#rollbacks <= 0) return false;
    this.#rollbacks -= 1;
    return true;
  }

  willRollback(): boolean {
    return this.#rollbacks > 0;
  }

  clear(): void {
    this.#failures.clear();
    this.#hung.clear();
    this.#rollbacks = 0;
  }
}
