#!/usr/bin/env bash
# Builds (or reuses) the real control plane used by the e2e tests and `brupop demo`:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm.
#
# Binaries are cached OUTSIDE the repo in ${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}/<key>/bin
# (key from key.sh). A warm run only checks that directory. A cold build compiles into a temp dir
# next to it and renames it into place, so an interrupted build never leaves a half cache.
# Progress goes to stderr; the LAST line of stdout is the bin dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)
cache_root="${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}"
key="$(bash "$here/key.sh")"
final="$cache_root/$key"

complete() {
  [[ -f "$final/COMPLETE" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$final/bin/$b" ]] || return 1; done
}

log() { echo "testenv-build: $*" >&2; }
# 125 -> "2m05s"
dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

if complete; then
  echo "$final/bin"
  exit 0
fi

command -v go >/dev/null || { log "ERROR: 'go' not found on PATH (need go >= 1.26)"; exit 1; }
mkdir -p "$cache_root"
# One builder at a time per key (parallel `npm test` runs would otherwise both spend 15 min).
# The holder writes when it started into .lock-$key.started, so a waiter can say since when.
lock="$cache_root/.lock-$key"
exec 9>>"$lock"
if ! flock -n 9; then
  wait_start=$SECONDS
  holder="$(cat "$lock.started" 2>/dev/null || true)"
  # A holder that predates .started: its temp build dir was made when it started.
  [[ -n "$holder" ]] || holder="$(TZ=UTC find "$cache_root" -maxdepth 1 -name ".build-$key.*" -printf '%TY-%Tm-%TdT%TH:%TM:%.2TSZ\n' 2>/dev/null | sort | head -1)"
  log "waiting for another build (started ${holder:-at an unknown time}) of $key; it holds $lock"
  until flock -w 60 9; do
    log "still waiting for another build (started ${holder:-at an unknown time}); waited $(dur $((SECONDS - wait_start)))"
  done
  log "the other build finished after $(dur $((SECONDS - wait_start))) of waiting"
fi
date -u +%Y-%m-%dT%H:%M:%SZ >"$lock.started"
if complete; then
  echo "$final/bin"
  exit 0
fi

# Leftovers of a build that was SIGKILLed (no trap ran); we hold the lock, so none is in use.
rm -rf "$cache_root/.build-$key."*

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
work="$(mktemp -d "$cache_root/.build-$key.XXXXXX")"
trap 'rm -rf "$work"; jobs -p | xargs -r kill 2>/dev/null' EXIT
mkdir -p "$work/bin"
start=$SECONDS
# Estimate: the last cold build's time on this machine (BUILDINFO of any cached key), else 20 min.
estimate=1200
last="$(cat "$cache_root"/*/BUILDINFO 2>/dev/null | sed -n 's/^seconds=//p' | tail -1 || true)"
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
  log "[$step/4] building $names (elapsed $(dur $((SECONDS - start))), about $(dur "$estimate") in all)"
  # A line a minute while go works, so a long step does not look hung.
  (
    while sleep 60; do
      log "[$step/4] still building $names (elapsed $(dur $((SECONDS - start))) of about $(dur "$estimate"))"
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
{
  echo "key=$key"
  echo "go=$(go env GOVERSION)"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "seconds=$((SECONDS - start))"
} >"$work/BUILDINFO"
chmod 755 "$work" # mktemp made it 0700
touch "$work/COMPLETE"
rm -rf "$final" # only ever a leftover without COMPLETE (see complete())
mv "$work" "$final"
trap - EXIT
log "done in $((SECONDS - start))s"
echo "$final/bin"
