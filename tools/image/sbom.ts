// The image's SBOM (tools/image/build.sh, once per architecture): cyclonedx-npm's CycloneDX JSON of
// the production dependencies (from package-lock.json, bundled into /app/dist/cli) plus what the
// image carries besides: the Node binary (its npm platform package), the Debian packages its
// libraries and CA certificates come from, and every other file outside /app with its SHA-256.
// Writes <rootfs>/sbom/<name>.cdx.json and copies each production dependency's licence files to
// <rootfs>/licenses/npm/<package>/.
//   tsx tools/image/sbom.ts --root R --npm-sbom F --rootfs D --arch A --node-package P
//       --name N --version V <the .deb files>...
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";

import { productionPackages, type LockFile } from "./lockfile.js";

/** Licences of the Debian packages the image takes files from (their debian/copyright, summed up). */
export const DEBIAN_LICENSES: Readonly<Record<string, string>> = {
  libc6: "LGPL-2.1-or-later",
  "libstdc++6": "GPL-3.0-or-later WITH GCC-exception-3.1",
  "libgcc-s1": "GPL-3.0-or-later WITH GCC-exception-3.1",
  "gcc-12-base": "GPL-3.0-or-later WITH GCC-exception-3.1",
  "ca-certificates": "MPL-2.0 AND GPL-2.0-or-later",
};

/** A CycloneDX licence choice: an SPDX expression when compound, else an id. */
export function licenseChoice(spdx: string): object[] {
  return /\s(AND|OR|WITH)\s/.test(spdx) ? [{ expression: spdx }] : [{ license: { id: spdx } }];
}

interface Component {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  "bom-ref"?: string;
  licenses?: object[];
  hashes?: { alg: string; content: string }[];
}
interface Bom {
  metadata?: { component?: Component; properties?: { name: string; value: string }[] };
  components?: Component[];
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** Regular files under `dir`, relative to `rootfs`, sorted. */
function filesUnder(rootfs: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(rootfs, p));
    else if (e.isFile()) out.push(relative(rootfs, p));
  }
  return out.sort();
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      root: { type: "string" },
      "npm-sbom": { type: "string" },
      rootfs: { type: "string" },
      arch: { type: "string" },
      "node-package": { type: "string" },
      name: { type: "string" },
      version: { type: "string" },
    },
  });
  const need = (k: keyof typeof values): string => {
    const v = values[k];
    if (v === undefined) throw new Error(`sbom.ts: --${k} is required`);
    return v;
  };
  const root = need("root");
  const rootfs = need("rootfs");
  const arch = need("arch");
  const name = need("name");
  const bom = JSON.parse(readFileSync(need("npm-sbom"), "utf8")) as Bom;
  const components = bom.components ?? [];

  // Node: the npm platform package the binary comes from.
  const [nodePkg, nodeVersion] = need("node-package").split("@") as [string, string];
  components.push({
    type: "application",
    name: "node",
    version: nodeVersion,
    "bom-ref": `node@${nodeVersion}`,
    purl: `pkg:npm/${nodePkg}@${nodeVersion}`,
    licenses: licenseChoice("MIT"),
    hashes: [{ alg: "SHA-256", content: sha256(join(rootfs, "usr/local/bin/node")) }],
  });
  // The Debian packages.
  for (const deb of positionals) {
    const field = (f: string): string =>
      execFileSync("dpkg-deb", ["-f", deb, f], { encoding: "utf8" }).trim();
    const pkg = field("Package");
    const version = field("Version");
    const debArch = field("Architecture");
    components.push({
      type: "library",
      name: pkg,
      version,
      "bom-ref": `deb:${pkg}@${version}:${debArch}`,
      purl: `pkg:deb/debian/${pkg}@${encodeURIComponent(version)}?arch=${debArch}&distro=debian-bookworm`,
      licenses: licenseChoice(DEBIAN_LICENSES[pkg] ?? "NOASSERTION"),
    });
  }
  // Every other file outside the program, the licences and the SBOM.
  for (const f of filesUnder(rootfs, rootfs)) {
    if (/^(app|licenses|sbom)\//.test(f) || f === "usr/local/bin/node") continue;
    components.push({
      type: "file",
      name: `/${f}`,
      hashes: [{ alg: "SHA-256", content: sha256(join(rootfs, f)) }],
    });
  }
  bom.components = components;
  bom.metadata = {
    ...bom.metadata,
    properties: [
      ...(bom.metadata?.properties ?? []),
      { name: "brupop:image:architecture", value: arch },
      { name: "brupop:image:os", value: "linux" },
      { name: "brupop:node:version", value: nodeVersion },
    ],
  };
  mkdirSync(join(rootfs, "sbom"), { recursive: true });
  writeFileSync(join(rootfs, "sbom", `${name}.cdx.json`), `${JSON.stringify(bom, null, 2)}\n`);

  // Licence texts of the bundled npm packages.
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as LockFile;
  let copied = 0;
  for (const p of productionPackages(lock)) {
    // An optional package npm did not install (e.g. encoding, node-fetch's optional peer) is not
    // bundled; its lockfile licence is recorded all the same.
    const dir = join(root, p.path);
    const texts = existsSync(dir)
      ? readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f))
      : [];
    const dest = join(rootfs, "licenses", "npm", `${p.name}@${p.version}`);
    mkdirSync(dest, { recursive: true });
    for (const t of texts) copyFileSync(join(dir, t), join(dest, t));
    if (texts.length === 0) writeFileSync(join(dest, "LICENSE.spdx"), `${p.license ?? "NOASSERTION"}\n`);
    copied++;
  }
  process.stderr.write(
    `sbom: ${String(components.length)} components, licences of ${String(copied)} npm packages\n`,
  );
}

main();
