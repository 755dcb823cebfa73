#!/usr/bin/env bash
# Prints the cache key of the testenv binaries: pinned versions plus a short hash of the inputs
# that decide what gets built. build.sh itself is left out so that editing a comment does not cost
# a 20-minute rebuild: bump BUILD_REVISION in versions.env when you change what build.sh produces.
# kit/testenv/paths.ts computes the same key in TypeScript (kit/testenv/paths.test.ts checks that
# both agree): keep KEY_FILES in sync with it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=cache-lib.sh
source "$here/cache-lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
KEY_FILES=(versions.env
  go/kube/go.mod go/kube/go.sum go/etcd/go.mod go/etcd/go.sum
  go/kwok/go.mod go/kwok/go.sum go/helm/go.mod go/helm/go.sum)
hash="$(cache_hash_files "$here" "${KEY_FILES[@]}")"
echo "k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_${hash}"
