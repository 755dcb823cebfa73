// RFC 3339 timestamps at full precision. Upstream (chrono) writes `2022-07-09T19:32:38.609610964+00:00`
// (nanoseconds, numeric offset); we write `2022-07-09T19:32:38.609Z`. Both are RFC 3339, and both
// must compare exactly: Date.parse drops everything below the millisecond.

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch, or undefined when `ts` is not an RFC 3339 timestamp. */
export function epochNanos(ts: string): bigint | undefined {
  const m = RFC3339.exec(ts);
  if (m === null) return undefined;
  const [, date, time, frac = "", zone = "Z"] = m;
  const wholeMs = Date.parse(`${date}T${time}${zone.toUpperCase()}`);
  if (Number.isNaN(wholeMs)) return undefined;
  return BigInt(wholeMs) * 1_000_000n + BigInt(frac.slice(0, 9).padEnd(9, "0"));
}

/** The Date at or just after `nanos` (rounded up to the millisecond). */
export function dateCeil(nanos: bigint): Date {
  const ms = nanos / 1_000_000n + (nanos % 1_000_000n > 0n ? 1n : 0n);
  return new Date(Number(ms));
}
