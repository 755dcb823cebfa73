// State scoped to one leadership term. Everything the controller learns or decides while leading
// (the fence, the trigger-round state, whether its settings were published, the last tick's view for
// `explain`) lives on a Term and is dropped with it: a new term starts from scratch by construction,
// not by a list of fields someone must remember to reset.
//
// The orderings the tick depends on are carried by types:
// - a FencedTerm can only be obtained through fenced(), which runs the fence read once per term, so
//   a decision stage that takes a FencedTerm cannot run before the fence;
// - every write goes through FencedTerm.write(), which does not start it once the term is over.
import type { LeadershipTerm } from "../../k8s/leader-election.js";
import type { BottlerocketShadow } from "../../model/shadow.js";
import type { FleetDecision } from "../decide/fleet.js";
import type { RoundState } from "../decide/gate.js";

declare const fencedBrand: unique symbol;

/** Terms whose fence read has run; module-private, so only fenced() can add one. */
const fencedTerms = new WeakSet<Term>();

export class Term {
  /** The Lease term (its signal aborts when leadership is lost). */
  readonly lease: LeadershipTerm;
  /** When this term started (published as leader-since). */
  readonly since: Date;
  /** Trigger-round state: undefined = not loaded in this term; null = nothing persisted yet. */
  round: RoundState | null | undefined = undefined;
  /** Settings publication (for `brupop status`): done in this term, or when the next attempt may run. */
  readonly settings = { published: false, retryAtMs: 0 };
  /** The last tick's live shadows and fleet decision (what `explain` answers from). */
  last: { shadows: BottlerocketShadow[]; fleet: FleetDecision } | undefined;
  #ended = false;

  constructor(lease: LeadershipTerm, since: Date) {
    this.lease = lease;
    this.since = since;
  }

  get signal(): AbortSignal {
    return this.lease.signal;
  }

  /** Holds the lease within its renew deadline and has not ended. Check before writes. */
  isActive(): boolean {
    return !this.#ended && this.lease.isActive();
  }

  /** Leadership moved on (lost, or a newer term began): a tick of this term must touch nothing. */
  get ended(): boolean {
    return this.#ended;
  }

  end(): void {
    this.#ended = true;
  }
}

/** A term whose fence read has run: the only kind of term decision and write stages accept. */
export type FencedTerm = Term & { readonly [fencedBrand]: true };

/**
 * The term, fenced: the first call of a term runs `fence` (a quorum read, so the first decisions
 * cannot rest on a cache that has not seen the previous leader's last writes); later calls return at
 * once. undefined when the fence read failed (the next tick tries again).
 */
export async function fenced(
  term: Term,
  fence: (term: Term) => Promise<boolean>,
): Promise<FencedTerm | undefined> {
  if (!fencedTerms.has(term)) {
    if (!(await fence(term))) return undefined;
    fencedTerms.add(term);
  }
  return term as FencedTerm;
}

/**
 * Runs a write on behalf of a fenced term, unless the term is no longer active: a change decided by
 * a leader that is no longer one is dropped (the new leader re-decides).
 */
export async function whileActive<R>(
  term: FencedTerm,
  inactive: R,
  write: (signal: AbortSignal) => Promise<R>,
): Promise<R> {
  if (!term.isActive()) return inactive;
  return write(term.signal);
}
