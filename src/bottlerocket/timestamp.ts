// Ordering of RFC 3339 timestamps at full precision. The host writes nanosecond timestamps
// (chrono), so two commands can fall in the same millisecond: Date.parse alone is not enough.

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** [epoch milliseconds of the whole second, nanoseconds within it], or undefined when not RFC 3339. */
function key(ts: string): [number, number] | undefined {
  const m = RFC3339.exec(ts);
  if (m === null) return undefined;
  const [, date, time, frac = "", zone = "Z"] = m;
  const seconds = Date.parse(`${date}T${time}${zone.toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  return [seconds, Number(frac.slice(0, 9).padEnd(9, "0"))];
}

/** Compares two RFC 3339 timestamps; throws TypeError on malformed input. */
export function compareTimestamps(a: string, b: string): number {
  const ka = key(a);
  const kb = key(b);
  if (ka === undefined || kb === undefined) {
    throw new TypeError(`not an RFC 3339 timestamp: ${JSON.stringify(ka === undefined ? a : b)}`);
  }
  return Math.sign(ka[0] - kb[0]) || Math.sign(ka[1] - kb[1]);
}

export function isRfc3339(ts: string): boolean {
  return key(ts) !== undefined;
}
