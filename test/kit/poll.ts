// Polling for tests: one poller (the testbed's), whose timeout names what was awaited and the last
// error seen ("timed out after N ms waiting for X: ..."), and a sleep.
import { eventually } from "../../kit/testenv/kube-call.js";

export { eventually };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `eventually` at a fixed polling interval (a file's own pace). */
export function poller(
  intervalMs: number,
): (what: string, timeoutMs: number, check: () => Promise<boolean> | boolean) => Promise<void> {
  return (what, timeoutMs, check) => eventually(what, timeoutMs, check, intervalMs);
}

/** The 200 ms poller of the e2e files whose waits are short (apiserver, drain policy, testenv). */
export const eventuallyFast = poller(200);
