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

if complete; then
  echo "$final/bin"
  exit 0
fi

command -v go >/dev/null || { log "ERROR: 'go' not found on PATH (need go >= 1.26)"; exit 1; }
mkdir -p "$cache_root"
# One builder at a time per key (parallel `npm test` runs would otherwise both spend 15 min).
exec 9>"$cache_root/.lock-$key"
flock 9
if complete; then
  echo "$final/bin"
  exit 0
fi

# Leftovers of a build that was SIGKILLed (no trap ran); we hold the lock, so none is in use.
rm -rf "$cache_root/.build-$key."*

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
work="$(mktemp -d "$cache_root/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
start=$SECONDS
log "cold build of $key with $(go env GOVERSION) into $work (takes 10-25 min on 2 cores)"

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
  log "building $* ($((SECONDS - start))s elapsed)"
  (cd "$here/go/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out" "$@")
}

build etcd "$work/bin/etcd" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" go.etcd.io/etcd/server/v3
build kwok "$work/bin/" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}" \
  sigs.k8s.io/kwok/cmd/kwok
build helm "$work/bin/" "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  helm.sh/helm/v3/cmd/helm
build kube "$work/bin/" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
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
