#!/usr/bin/env bash
# Builds (or reuses) the tests' OCI registry: go-containerregistry's pkg/registry (in memory) with
# TLS (wrapper module go/registry: main.go, go.mod, go.sum committed). Small: about 30 s cold, a
# 7 MB binary. Used by kit/testenv/registry.ts; `npm run image -- --push` pushes to it.
#
# Cached under ${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}/registry-<hash>/bin, a key of
# its own (hash of the wrapper module and the Go version). The cache contract (flock per key, temp
# dir renamed into place, COMPLETE marker, last stdout line = bin dir) is cache-lib.sh's.
# After a version bump: cd tools/testenv/go/registry && go get github.com/google/go-containerregistry@vX
#   && go mod tidy (then commit go.mod and go.sum).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=cache-lib.sh
source "$here/cache-lib.sh"
mod="$here/go/registry"
CACHE_PREFIX=registry-build
cache_require go "need go >= 1.26" # the key holds the Go version
key="registry-$( (cd "$mod" && cat go.mod go.sum main.go; go env GOVERSION) | cache_hash)"
cache_init registry-build "$(cache_testenv_root)" "$key" -x bin/registry

cache_exit_if_complete
cache_lock
cache_begin
cache_go_env
cache_log "cold build of $key with $(go env GOVERSION)"
(cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$CACHE_WORK/bin/registry" .)
cache_commit
