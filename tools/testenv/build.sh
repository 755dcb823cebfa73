#!/usr/bin/env bash
# Builds (or reuses) the real control plane used by the e2e tests and `brupop demo`:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm.
#
# Binaries are cached OUTSIDE the repo in ${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}/<key>/bin
# (key from key.sh). A warm run only checks that directory. A cold build compiles into a temp dir
# next to it and renames it into place, so an interrupted build never leaves a half cache.
# Progress goes to stderr; the LAST line of stdout is the bin dir. That cache contract (flock per
# key, COMPLETE marker, BUILDINFO) is cache-lib.sh's, shared with the other build scripts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=cache-lib.sh
source "$here/cache-lib.sh"

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)
key="$(bash "$here/key.sh")"
checks=()
for b in "${BINARIES[@]}"; do checks+=(-x "bin/$b"); done
cache_init testenv-build "$(cache_testenv_root)" "$key" "${checks[@]}"
log() { cache_log "$@"; }
dur() { cache_dur "$@"; }

cache_exit_if_complete
cache_require go "need go >= 1.26"
# One builder at a time per key (parallel `npm test` runs would otherwise both spend 15 min).
cache_lock
cache_begin
cache_go_env
work="$CACHE_WORK"
# Estimate: the last cold build's time on this machine (BUILDINFO of any cached key), else 20 min.
estimate=1200
last="$(cat "$CACHE_ROOT"/*/BUILDINFO 2>/dev/null | sed -n 's/^seconds=//p' | tail -1 || true)"
[[ "$last" =~ ^[0-9]+$ ]] && estimate=$last
log "cold build of $key with $(go env GOVERSION) into $work"
log "4 steps (etcd, kwok, helm, then the 4 Kubernetes binaries, the longest); about $(dur "$estimate") in all ($(nproc) cores)"

kube_minor="${K8S_VERSION#v1.}"
kube_minor="${kube_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean"
done

step=0
build() { # <binaries, for the progress lines> <module dir> <output file or dir/> <ldflags> <package...>
  local names="$1" dir="$2" out="$3" ldflags="$4" heartbeat
  shift 4
  step=$((step + 1))
  log "[$step/4] building $names (elapsed $(dur "$(cache_elapsed)"), about $(dur "$estimate") in all)"
  # A line a minute while go works, so a long step does not look hung.
  (
    while sleep 60; do
      log "[$step/4] still building $names (elapsed $(dur "$(cache_elapsed)") of about $(dur "$estimate"))"
    done
  ) &
  heartbeat=$!
  local rc=0
  (cd "$here/go/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out" "$@") || rc=$?
  kill "$heartbeat" 2>/dev/null || true
  wait "$heartbeat" 2>/dev/null || true
  return "$rc"
}

build etcd etcd "$work/bin/etcd" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" go.etcd.io/etcd/server/v3
build kwok kwok "$work/bin/" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}" \
  sigs.k8s.io/kwok/cmd/kwok
build helm helm "$work/bin/" "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  helm.sh/helm/v3/cmd/helm
build "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl" kube "$work/bin/" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl

for b in "${BINARIES[@]}"; do
  [[ -x "$work/bin/$b" ]] || { log "ERROR: $b was not built"; exit 1; }
done
"$work/bin/kube-apiserver" --version >&2
"$work/bin/etcd" --version | head -1 >&2
cache_commit
