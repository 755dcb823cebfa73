// Versions on the wire are validated with the semver.org regular expression (SPEC §2), the same
// pattern goes into the CRD schema so the Kubernetes API server enforces it too.
import semverCompare from "semver/functions/compare.js";

/** https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string */
export const SEMVER_PATTERN =
  "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)" +
  "(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?" +
  "(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$";

const SEMVER_RE = new RegExp(SEMVER_PATTERN);

export function isSemver(value: string): boolean {
  return SEMVER_RE.test(value);
}

/** Semver precedence order (build metadata ignored), for sorting newest first. */
export function compareSemver(a: string, b: string): number {
  return semverCompare(a, b);
}
