#!/usr/bin/env bash
# Builds (or reuses) what real nodes need beside the control plane (build.sh): kubelet and
# kube-proxy (wrapper module go/kubenode, same Kubernetes version), CoreDNS (go/coredns), a static
# `pause`, and two image archives for containerd: pause.tar and coredns.tar (docker-archive).
#
# Cached under ${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}/<realnode-key.sh>/, a key of
# its own so the control plane's cache never rebuilds because of the node side. The cache contract
# (flock per key, temp dir renamed into place, COMPLETE marker, last stdout line = bin dir) is
# cache-lib.sh's.
# Needs the Debian packages of install-realnode-deps.sh (gcc for pause, buildah for the images).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=realnode.env
source "$here/realnode.env"
# shellcheck source=cache-lib.sh
source "$here/cache-lib.sh"

BINARIES=(kubelet kube-proxy coredns pause)
IMAGES=(pause.tar coredns.tar)
key="$(bash "$here/realnode-key.sh")"
checks=()
for b in "${BINARIES[@]}"; do checks+=(-x "bin/$b"); done
for b in "${IMAGES[@]}"; do checks+=(-s "images/$b"); done
cache_init realnode-build "$(cache_testenv_root)" "$key" "${checks[@]}"

cache_exit_if_complete
cache_require go "need go >= 1.26"
for t in gcc buildah; do cache_require "$t" "run bash tools/testenv/install-realnode-deps.sh"; done
cache_lock

unmount_buildah() {
  # buildah's storage may hold mounts; unmount before the temp dir is removed.
  local store="$CACHE_WORK/.buildah"
  if [[ -d "$store" ]]; then
    buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs rm --all >/dev/null 2>&1 || true
  fi
}
cache_begin unmount_buildah
work="$CACHE_WORK"
bstore="$work/.buildah"
mkdir -p "$work/images"
cache_go_env
log() { cache_log "$@"; }
log "cold build of $key with $(go env GOVERSION) into $work (about 10 min on 2 cores; less with a warm Go build cache)"

kube_minor="${K8S_VERSION#v1.}"
kube_minor="${kube_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean"
done

build() { # <module dir> <output file or dir/> <ldflags> <package...>
  local dir="$1" out="$2" ldflags="$3"
  shift 3
  log "building $* ($(cache_elapsed)s elapsed)"
  (cd "$here/go/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out" "$@")
}

build kubenode "$work/bin/" "$kube_ldflags" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
build coredns "$work/bin/coredns" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
  github.com/coredns/coredns

# pause: the upstream C source of the k8s.io/kubernetes version we build, linked statically.
kdir="$(cd "$here/go/kubenode" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
  sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')"
log "building pause from $kdir/build/pause/linux/pause.c"
gcc -Os -Wall -Werror -static -DVERSION="brupop-testenv-$K8S_VERSION" -o "$work/bin/pause" \
  "$kdir/build/pause/linux/pause.c"
strip "$work/bin/pause"

# Images: FROM scratch, one binary each, pushed as docker-archive for `ctr images import`.
# buildah's own storage lives in the temp dir (vfs: two tiny layers, no mounts left behind).
bah() { buildah --root "$bstore/root" --runroot "$bstore/run" --storage-driver vfs "$@"; }
image() { # <binary> <name:tag> <archive> [entrypoint args json]
  local c
  c="$(bah from scratch)"
  bah copy --chmod 0755 "$c" "$work/bin/$1" "/$1" >/dev/null
  bah config --entrypoint "[\"/$1\"${4:+,$4}]" --cmd '' --user 65535:65535 "$c"
  bah commit -q "$c" "$2" >/dev/null
  bah push -q "$2" "docker-archive:$work/images/$3:$2"
  bah rm "$c" >/dev/null
}
image pause "registry.k8s.io/pause:brupop-testenv" pause.tar
image coredns "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" coredns.tar
bah rmi --all >/dev/null 2>&1 || true
rm -rf "$bstore"

for b in "${BINARIES[@]}"; do
  [[ -x "$work/bin/$b" ]] || { log "ERROR: $b was not built"; exit 1; }
done
"$work/bin/kubelet" --version >&2
cache_commit
