import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fenced, Term, whileActive } from "./term.js";

function lease(): { abort: AbortController; term: Term } {
  const abort = new AbortController();
  const term = new Term({ signal: abort.signal, isActive: () => !abort.signal.aborted }, new Date(0));
  return { abort, term };
}

describe("Term", () => {
  it("runs the fence once per term; a failed fence is tried again; a new term fences again", async () => {
    const { term } = lease();
    let reads = 0;
    let ok = false;
    const fence = (): Promise<boolean> => {
      reads++;
      return Promise.resolve(ok);
    };
    assert.equal(await fenced(term, fence), undefined, "fence failed: no FencedTerm");
    ok = true;
    assert.equal(await fenced(term, fence), term);
    assert.equal(await fenced(term, fence), term);
    assert.equal(reads, 2, "fenced once it succeeded");
    const next = lease().term;
    assert.equal(await fenced(next, fence), next);
    assert.equal(reads, 3, "a new term starts unfenced");
  });

  it("starts from scratch: no round state, settings unpublished, nothing to explain", () => {
    const { term } = lease();
    assert.equal(term.round, undefined);
    assert.deepEqual(term.settings, { published: false, retryAtMs: 0 });
    assert.equal(term.last, undefined);
  });

  it("whileActive runs a write only while the term is active (lease held, term not ended)", async () => {
    const a = lease();
    const f = await fenced(a.term, () => Promise.resolve(true));
    assert.ok(f);
    let writes = 0;
    const write = (): Promise<string> => {
      writes++;
      return Promise.resolve("written");
    };
    assert.equal(await whileActive(f, "skipped", write), "written");
    a.abort.abort();
    assert.equal(await whileActive(f, "skipped", write), "skipped");
    const b = lease();
    const g = await fenced(b.term, () => Promise.resolve(true));
    assert.ok(g);
    b.term.end();
    assert.equal(b.term.ended, true);
    assert.equal(b.term.isActive(), false);
    assert.equal(await whileActive(g, "skipped", write), "skipped");
    assert.equal(writes, 1);
  });
});
