// Releases a simulated fleet can update to, and the wave model that decides when each host
// sees one (after Bottlerocket's updog):
//
// - A release has a release time and an optional list of waves `{ seed, startAfterMs }`,
//   ordered by seed bound (strictly increasing, 1..2048) with non-decreasing start offsets.
// - A host with seed s (0..2047) belongs to the first wave whose bound is greater than s and
//   sees the release from `releasedAt + startAfterMs` of that wave. Seeds at or past the last
//   bound see it once the last wave has started (updog: after the final wave, everyone).
// - No waves: every host sees the release from its release time.
//
// `chooseUpdate` is the version-lock rule: `latest` picks the newest visible version newer
// than the running one; a pinned version is chosen when visible and not the running one
// (pinning may go down as well as up, as with updog's version-lock).
import { compareSemver, isSemver } from "../../src/model/semver.js";

export const SEED_COUNT = 2048;

export interface Wave {
  /** Exclusive upper bound of the seeds in this wave (1..2048). */
  seed: number;
  /** Offset from the release time at which this wave starts. */
  startAfterMs: number;
}

export interface Release {
  version: string;
  /** Epoch milliseconds. */
  releasedAt: number;
  waves: readonly Wave[];
}

export interface ReleaseInput {
  version: string;
  /** Default: when it is added. */
  releasedAt?: Date | number;
  waves?: readonly Wave[];
}

/** Throws TypeError naming the problem; the CLI and the fleet turn it into their own errors. */
export function validateRelease(r: ReleaseInput): void {
  if (!isSemver(r.version)) throw new TypeError(`release version ${JSON.stringify(r.version)} is not semver`);
  let prev: Wave | undefined;
  for (const w of r.waves ?? []) {
    if (!Number.isInteger(w.seed) || w.seed < 1 || w.seed > SEED_COUNT) {
      throw new TypeError(`wave seed bound ${w.seed} of ${r.version} must be an integer 1..${SEED_COUNT}`);
    }
    if (!Number.isFinite(w.startAfterMs) || w.startAfterMs < 0) {
      throw new TypeError(`wave start ${w.startAfterMs} of ${r.version} must be >= 0 ms`);
    }
    if (prev !== undefined && (w.seed <= prev.seed || w.startAfterMs < prev.startAfterMs)) {
      throw new TypeError(`waves of ${r.version} must have increasing seed bounds and non-decreasing starts`);
    }
    prev = w;
  }
}

/** Epoch ms from which a host with this seed sees the release. */
export function visibleFrom(release: Release, seed: number): number {
  const waves = release.waves;
  if (waves.length === 0) return release.releasedAt;
  const wave = waves.find((w) => seed < w.seed) ?? waves[waves.length - 1];
  return release.releasedAt + (wave?.startAfterMs ?? 0);
}

/** The version-lock rule (see the file comment). `visible` is newest first. */
export function chooseUpdate(
  visible: readonly string[],
  current: string,
  versionLock: string,
): string | null {
  if (versionLock === "latest") {
    const newest = visible[0];
    return newest !== undefined && compareSemver(newest, current) > 0 ? newest : null;
  }
  const lock = versionLock.replace(/^v/, ""); // "v1.20.0" and "1.20.0" are the same lock
  const pinned = visible.find((v) => compareSemver(v, lock) === 0);
  return pinned !== undefined && compareSemver(pinned, current) !== 0 ? pinned : null;
}

/** The release list one fleet shares. Mutable at runtime (a new release can be published mid-test). */
export class ReleaseCatalog {
  #releases: Release[] = [];
  readonly #now: () => number;

  constructor(releases: readonly ReleaseInput[] = [], now: () => number = Date.now) {
    this.#now = now;
    for (const r of releases) this.add(r);
  }

  add(input: ReleaseInput): Release {
    validateRelease(input);
    if (this.#releases.some((r) => compareSemver(r.version, input.version) === 0)) {
      throw new TypeError(`release ${input.version} already exists`);
    }
    const at = input.releasedAt;
    const release: Release = {
      version: input.version,
      releasedAt: at === undefined ? this.#now() : typeof at === "number" ? at : at.getTime(),
      waves: [...(input.waves ?? [])],
    };
    this.#releases.push(release);
    return release;
  }

  remove(version: string): boolean {
    const before = this.#releases.length;
    this.#releases = this.#releases.filter((r) => compareSemver(r.version, version) !== 0);
    return this.#releases.length !== before;
  }

  list(): readonly Release[] {
    return this.#releases;
  }

  /** Versions a host with this seed sees at nowMs, newest first. */
  visibleVersions(seed: number, nowMs: number): string[] {
    return this.#releases
      .filter((r) => visibleFrom(r, seed) <= nowMs)
      .map((r) => r.version)
      .sort((a, b) => compareSemver(b, a));
  }
}
