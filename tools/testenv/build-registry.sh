#!/usr/bin/env bash
# Builds (or reuses) the tests' OCI registry: go-containerregistry's pkg/registry (in memory) with
# TLS (wrapper module go/registry: main.go, go.mod, go.sum committed). Small: about 30 s cold, a
# 7 MB binary. Used by kit/testenv/registry.ts; `npm run image -- --push` pushes to it.
#
# Cached under ${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}/registry-<hash>/bin, a key of
# its own (hash of the wrapper module and the Go version). Same contract as build.sh: flock per
# key, temp dir renamed into place, COMPLETE marker, last stdout line = bin dir.
# After a version bump: cd tools/testenv/go/registry && go get github.com/google/go-containerregistry@vX
#   && go mod tidy (then commit go.mod and go.sum).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mod="$here/go/registry"
command -v go >/dev/null || { echo "registry-build: ERROR: 'go' not found on PATH" >&2; exit 1; }
cache_root="${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}"
key="registry-$( (cd "$mod" && cat go.mod go.sum main.go; go env GOVERSION) | sha256sum | cut -c1-12)"
final="$cache_root/$key"

complete() { [[ -f "$final/COMPLETE" && -x "$final/bin/registry" ]]; }
log() { echo "registry-build: $*" >&2; }

if complete; then
  echo "$final/bin"
  exit 0
fi
mkdir -p "$cache_root"
exec 9>>"$cache_root/.lock-$key"
flock 9
if complete; then
  echo "$final/bin"
  exit 0
fi
rm -rf "$cache_root/.build-$key."*
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
work="$(mktemp -d "$cache_root/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
start=$SECONDS
log "cold build of $key with $(go env GOVERSION)"
(cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$work/bin/registry" .)
{
  echo "key=$key"
  echo "go=$(go env GOVERSION)"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "seconds=$((SECONDS - start))"
} >"$work/BUILDINFO"
chmod 755 "$work"
touch "$work/COMPLETE"
rm -rf "$final"
mv "$work" "$final"
trap - EXIT
log "done in $((SECONDS - start))s"
echo "$final/bin"
