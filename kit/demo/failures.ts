// The host failures the demo saw. The simulated hosts run in the demo's process, so it reads each
// host's most recent command directly. A failed command shows there only until the host runs its
// next one (the agent's update check refreshes every 2 s), so the tracker looks on its own fast
// timer, not once per frame: a frame (a fleet snapshot through the API server) can take longer than
// that on a busy machine, and the failure was then never seen (issue 32: an empty NOTE column).
import type { CommandResult } from "../../src/bottlerocket/types.js";
import type { SeenFailure } from "./view.js";

/** How often the tracker looks at the hosts (in-process reads: cheap). */
export const FAILURE_POLL_MS = 100;

export type LastCommand = (node: string) => CommandResult | null;

/** Failed host commands seen so far, per node, oldest first. */
export class FailureLog {
  readonly #seen = new Set<string>();
  readonly #fresh: { node: string; failure: SeenFailure }[] = [];
  readonly byNode = new Map<string, SeenFailure[]>();

  /** Looks at every host once; records a failed command not seen before. */
  look(lastCommand: LastCommand, names: readonly string[]): void {
    for (const node of names) {
      const last = lastCommand(node);
      if (last === null || last.cmd_status !== "Failed") continue;
      const key = `${node} ${last.timestamp} ${last.cmd_type}`;
      if (this.#seen.has(key)) continue;
      this.#seen.add(key);
      const failure = {
        command: last.cmd_type,
        text: last.stderr.trim() || `exit status ${last.exit_status}`,
      };
      const list = this.byNode.get(node) ?? [];
      list.push(failure);
      this.byNode.set(node, list);
      this.#fresh.push({ node, failure });
    }
  }

  /** Failures recorded since the last call (for the events). */
  takeFresh(): { node: string; failure: SeenFailure }[] {
    return this.#fresh.splice(0);
  }

  /** Looks every `intervalMs` until the returned function is called. */
  watch(lastCommand: LastCommand, names: readonly string[], intervalMs = FAILURE_POLL_MS): () => void {
    this.look(lastCommand, names);
    const timer = setInterval(() => this.look(lastCommand, names), intervalMs);
    return () => clearInterval(timer);
  }

  latest(): Map<string, SeenFailure> {
    const out = new Map<string, SeenFailure>();
    for (const [node, list] of this.byNode) {
      const last = list.at(-1);
      if (last !== undefined) out.set(node, last);
    }
    return out;
  }
}
