import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jwtExpiryMs, tokenKey, TtlCache } from "./token-cache.js";

function jwt(claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${enc({ alg: "RS256" })}.${enc(claims)}.c2ln`;
}

describe("tokenKey", () => {
  it("is a stable SHA-256 that does not contain the token", () => {
    const key = tokenKey("secret-token");
    assert.equal(key, tokenKey("secret-token"));
    assert.notEqual(key, tokenKey("secret-token2"));
    assert.equal(key.includes("secret"), false);
    assert.equal(Buffer.from(key, "base64url").length, 32);
  });
});

describe("jwtExpiryMs", () => {
  it("reads exp (seconds) as milliseconds", () => {
    assert.equal(jwtExpiryMs(jwt({ exp: 1_700_000_000 })), 1_700_000_000_000);
  });
  it("is undefined for non-JWTs, missing or non-numeric exp", () => {
    assert.equal(jwtExpiryMs("opaque"), undefined);
    assert.equal(jwtExpiryMs("a.!!!.c"), undefined);
    assert.equal(jwtExpiryMs(jwt({ sub: "x" })), undefined);
    assert.equal(jwtExpiryMs(jwt({ exp: "soon" })), undefined);
  });
});

describe("TtlCache", () => {
  it("forgets an entry after its TTL", () => {
    let now = 1_000;
    const cache = new TtlCache<string>({ ttlMs: 60_000, now: () => now });
    cache.set("k", "v");
    now += 59_999;
    assert.equal(cache.get("k"), "v");
    now += 1;
    assert.equal(cache.get("k"), undefined);
    assert.equal(cache.size, 0);
  });

  it("never keeps an entry past notAfter (the token's expiry)", () => {
    let now = 1_000;
    const cache = new TtlCache<string>({ ttlMs: 60_000, now: () => now });
    cache.set("k", "v", now + 5_000);
    now += 4_999;
    assert.equal(cache.get("k"), "v");
    now += 1;
    assert.equal(cache.get("k"), undefined);
  });

  it("does not store something already expired", () => {
    const now = 1_000;
    const cache = new TtlCache<string>({ now: () => now });
    cache.set("k", "v", now);
    assert.equal(cache.get("k"), undefined);
    assert.equal(cache.size, 0);
  });

  it("a per-entry TTL overrides the default (negative results live shorter)", () => {
    let now = 0;
    const cache = new TtlCache<string>({ ttlMs: 60_000, now: () => now });
    cache.set("k", "v", undefined, 10_000);
    now = 10_000;
    assert.equal(cache.get("k"), undefined);
  });

  it("is bounded: the least recently used entry goes first", () => {
    const cache = new TtlCache<number>({ maxEntries: 3 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3);
    assert.equal(cache.get("a"), 1); // a is now the most recently used
    cache.set("d", 4);
    assert.equal(cache.size, 3);
    assert.equal(cache.get("b"), undefined);
    assert.equal(cache.get("a"), 1);
    assert.equal(cache.get("c"), 3);
    assert.equal(cache.get("d"), 4);
  });

  it("re-setting a key refreshes it without growing", () => {
    let now = 0;
    const cache = new TtlCache<number>({ ttlMs: 100, maxEntries: 2, now: () => now });
    cache.set("a", 1);
    now = 90;
    cache.set("a", 2);
    now = 150;
    assert.equal(cache.get("a"), 2);
    assert.equal(cache.size, 1);
    cache.delete("a");
    assert.equal(cache.get("a"), undefined);
  });
});
