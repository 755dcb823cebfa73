// Semantic versions as Bottlerocket uses them (semver.org 2.0.0): validation and precedence.
// Kept here, dependency-free, because both the client (validation) and the simulator
// (newest-first lists, version-lock) need it.

/** The regular expression published on semver.org. */
export const SEMVER_PATTERN =
  "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)" +
  "(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?" +
  "(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$";

const SEMVER_RE = new RegExp(SEMVER_PATTERN);

export function isSemver(value: string): boolean {
  return SEMVER_RE.test(value);
}

interface Parsed {
  core: [bigint, bigint, bigint];
  pre: string[];
}

function parse(version: string): Parsed {
  const m = SEMVER_RE.exec(version);
  if (m === null) throw new TypeError(`not a semantic version: ${JSON.stringify(version)}`);
  const [, major = "0", minor = "0", patch = "0", pre] = m;
  return { core: [BigInt(major), BigInt(minor), BigInt(patch)], pre: pre === undefined ? [] : pre.split(".") };
}

const NUMERIC = /^\d+$/;

function compareIdentifier(a: string, b: string): number {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  if (an && bn) return Math.sign(Number(BigInt(a) - BigInt(b)));
  // Numeric identifiers have lower precedence than alphanumeric ones.
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePre(a: string[], b: string[]): number {
  // A version without a pre-release has higher precedence than one with.
  if (a.length === 0 && b.length === 0) return 0;
  if (a.length === 0) return 1;
  if (b.length === 0) return -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareIdentifier(a[i] ?? "", b[i] ?? "");
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

/** Semver precedence: negative if a < b, 0 if equal (build metadata ignored), positive if a > b. Throws on non-semver input. */
export function compareSemver(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) {
    const x = pa.core[i] ?? 0n;
    const y = pb.core[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return comparePre(pa.pre, pb.pre);
}

/** A copy sorted newest first. */
export function newestFirst(versions: Iterable<string>): string[] {
  return [...versions].sort((a, b) => compareSemver(b, a));
}
