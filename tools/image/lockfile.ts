// The production packages of a package-lock.json (lockfileVersion 3): what the bundles carry and
// the image's SBOM must list. Shared by tools/image/sbom.ts and the image test.

export interface LockPackage {
  version?: string;
  license?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  peer?: boolean;
  link?: boolean;
}
export interface LockFile {
  packages: Record<string, LockPackage>;
}
export interface ProductionPackage {
  /** The lockfile key, e.g. node_modules/@kubernetes/client-node. */
  path: string;
  name: string;
  version: string;
  license: string | undefined;
}

/** The package name of a lockfile key (the part after the last node_modules/). */
export function packageName(path: string): string {
  const i = path.lastIndexOf("node_modules/");
  return i < 0 ? path : path.slice(i + "node_modules/".length);
}

/** Every installed, non-dev package of the lockfile (the root project excluded), sorted by path. */
export function productionPackages(lock: LockFile): ProductionPackage[] {
  return Object.entries(lock.packages)
    .filter(([path, p]) => path !== "" && p.dev !== true && p.devOptional !== true && p.link !== true)
    .filter(([, p]) => p.version !== undefined)
    .map(([path, p]) => ({ path, name: packageName(path), version: p.version ?? "", license: p.license }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
