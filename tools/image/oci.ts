// Reads an oci-archive (tools/image/build.sh's <name>-<version>.oci.tar): the index, each platform's
// manifest and config, and the compressed and uncompressed sizes. Used by build.sh (SIZES) and the
// image test. `tsx tools/image/oci.ts <archive>` prints one `<arch> <compressed> <uncompressed>`
// line per platform (bytes).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}
export interface OciImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string };
  rootfs: { diff_ids: string[] };
}
export interface OciPlatformImage {
  descriptor: OciDescriptor;
  config: OciImageConfig;
  layers: OciDescriptor[];
  /** Sum of the (compressed) layer blobs: what a node pulls. */
  compressedBytes: number;
}
export interface OciArchive {
  index: { manifests: OciDescriptor[] };
  images: OciPlatformImage[];
}

/** The blob path of a digest inside an OCI layout. */
export function blobPath(digest: string): string {
  const [alg, hex] = digest.split(":");
  if (alg === undefined || hex === undefined) throw new Error(`not a digest: ${digest}`);
  return `blobs/${alg}/${hex}`;
}

function readMember(archive: string, member: string): string {
  return execFileSync("tar", ["-xOf", archive, member], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

/** The index at the archive's top (following one nested index, as buildah writes it). */
export function readOciArchive(archive: string): OciArchive {
  let index = JSON.parse(readMember(archive, "index.json")) as { manifests: OciDescriptor[] };
  const nested = index.manifests.find((m) => m.mediaType === "application/vnd.oci.image.index.v1+json");
  if (nested !== undefined) index = JSON.parse(readMember(archive, blobPath(nested.digest))) as typeof index;
  const images = index.manifests.map((descriptor) => {
    const manifest = JSON.parse(readMember(archive, blobPath(descriptor.digest))) as {
      config: OciDescriptor;
      layers: OciDescriptor[];
    };
    const config = JSON.parse(readMember(archive, blobPath(manifest.config.digest))) as OciImageConfig;
    return {
      descriptor,
      config,
      layers: manifest.layers,
      compressedBytes: manifest.layers.reduce((s, l) => s + l.size, 0),
    };
  });
  return { index, images };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const archive = process.argv[2];
  if (archive === undefined) throw new Error("usage: tsx tools/image/oci.ts <oci-archive>");
  for (const image of readOciArchive(archive).images) {
    process.stdout.write(`${image.config.architecture} ${String(image.compressedBytes)}\n`);
  }
}
