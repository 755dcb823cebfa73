#!/usr/bin/env bash
# `npm run image`: builds the project's container image from the Dockerfile as shipped, without
# Docker and without pulling anything from a container registry:
#   1. a base image standing in for node:24-bookworm-slim (base.Dockerfile): Debian minbase made by
#      mmdebstrap from Debian's packages, the Node 24 binary that `npm ci` put in node_modules/node,
#      npm packed from the npm registry, user `node` (1000). Cached in buildah's storage by key.
#   2. `buildah bud` of ./Dockerfile with --build-arg NODE_IMAGE=<that base> (overlay storage,
#      chroot isolation, --pull-never, --layers). The host's CA bundle and an .npmrc pointing at it
#      are bind-mounted (as root's HOME) for the RUN steps only: npm ci needs them where outbound
#      TLS is intercepted; bind mounts are never committed, and the test checks the image has neither.
#   3. exports a docker-archive (for `ctr images import`) and prints the image size.
# Cache: ${BRUPOP_IMAGE_CACHE:-$HOME/.cache/brupop-image}/<key>/ with key = hash of the Dockerfile,
# .dockerignore and every source file that may enter the build context (not docs/test/deploy).
# A warm run only checks that directory. The LAST stdout line is the archive path.
# Needs root, buildah and mmdebstrap (bash tools/testenv/install-realnode-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tools/image"
# shellcheck source=image.env
source "$here/image.env"
cache="${BRUPOP_IMAGE_CACHE:-$HOME/.cache/brupop-image}"
log() { echo "image-build: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

node_bin="$root/node_modules/node/bin/node"
[[ -x "$node_bin" ]] || die "$node_bin missing: run npm ci first"
node_version="$("$node_bin" --version)"
[[ "$node_version" == v24.* ]] || die "node_modules/node is $node_version, want v24"
name="$("$node_bin" -p 'require(process.argv[1]).name' "$root/package.json")"
version="$("$node_bin" -p 'require(process.argv[1]).version' "$root/package.json")"

# Everything that can enter the build context or decide the build. Generous on purpose (a change
# outside the context costs one buildah run whose layers are all cached, not a wrong image).
context_files() {
  (cd "$root" && git ls-files -co --exclude-standard -z |
    grep -zvE '^(docs|test|deploy|bench|\.ci)/|\.md$|(^|/)node_modules(/|$)' | LC_ALL=C sort -z)
}
key_hash="$( (cd "$root" && context_files | xargs -0 sha256sum; echo "$node_version"; cat "$here/image.env") |
  sha256sum | cut -c1-12)"
key="$name-$version-node${node_version#v}-$key_hash"
final="$cache/$key"
archive="$final/$name-$version.tar"
ref="$name:$version"

done_already() { [[ -f "$final/COMPLETE" && -s "$archive" ]]; }
report() {
  log "image $ref ($(cat "$final/SIZE")); archive $(du -h "$archive" | cut -f1) at $archive"
  echo "$archive"
}
if done_already; then
  report
  exit 0
fi

for t in buildah mmdebstrap; do
  command -v "$t" >/dev/null || die "'$t' not found: run bash tools/testenv/install-realnode-deps.sh"
done
[[ $(id -u) == 0 ]] || die "buildah with chroot isolation and mmdebstrap --mode=root need root"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if done_already; then
  report
  exit 0
fi
start=$SECONDS
bah() { buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver overlay "$@"; }

# 1. The base image.
base_hash="$(cat "$here/base.Dockerfile" "$here/image.env" <(echo "$node_version") | sha256sum | cut -c1-12)"
base_ref="localhost/brupop-node:${node_version#v}-$DEBIAN_SUITE-$base_hash"
if ! bah inspect --type image "$base_ref" >/dev/null 2>&1; then
  # The Debian root alone is cached too (it only depends on the suite): about 1-3 min to make.
  rootfs="$cache/rootfs-$DEBIAN_SUITE-minbase.tar"
  if [[ ! -s "$rootfs" ]]; then
    log "mmdebstrap $DEBIAN_SUITE minbase (about 1-3 min)"
    mmdebstrap --quiet --mode=root --format=tar --variant=minbase --include=passwd "$DEBIAN_SUITE" "$rootfs.tmp" >&2
    mv "$rootfs.tmp" "$rootfs"
  fi
  ctx="$(mktemp -d "$cache/.base.XXXXXX")"
  trap 'rm -rf "$ctx"' EXIT
  log "making the base $base_ref"
  cp "$rootfs" "$ctx/rootfs.tar"
  cp "$node_bin" "$ctx/node"
  (cd "$ctx" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir "$ctx/npm"
  tar -xzf "$ctx/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
  rm "$ctx/npm-$NPM_VERSION.tgz"
  bah bud --quiet --isolation chroot --pull-never --layers=false -f "$here/base.Dockerfile" -t "$base_ref" "$ctx" >&2
  rm -rf "$ctx"
  trap - EXIT
fi

# 2. The project's image, from the Dockerfile as shipped.
work="$(mktemp -d "$cache/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
mounts=()
if [[ -s "$ca" ]]; then
  # For the RUN steps only: a throw-away HOME for root (the build stages run npm as root) with an
  # .npmrc that trusts the host's CA bundle. Mounted over /root, which exists in the base, so
  # buildah creates no mount-point files that would end up in a layer.
  mkdir -p "$work/root"
  cp "$ca" "$work/root/.build-ca.crt"
  printf 'cafile=/root/.build-ca.crt\n' >"$work/root/.npmrc"
  mounts+=(-v "$work/root:/root")
fi
log "buildah bud $ref from $root/Dockerfile on $base_ref"
bah bud --isolation chroot --pull-never --layers --build-arg "NODE_IMAGE=$base_ref" "${mounts[@]}" \
  -f "$root/Dockerfile" -t "localhost/$ref" "$root" >&2
bah push --quiet "localhost/$ref" "docker-archive:$work/$name-$version.tar:$ref" >&2
size="$(bah images --format '{{.Size}}' "localhost/$ref" | head -1)"
echo "$size" >"$work/SIZE"
{
  echo "ref=$ref"
  echo "base=$base_ref"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "seconds=$((SECONDS - start))"
} >"$work/BUILDINFO"
rm -rf "$work/root"
chmod 755 "$work"
touch "$work/COMPLETE"
rm -rf "$final"
mv "$work" "$final"
trap - EXIT
log "built in $((SECONDS - start))s"
report
