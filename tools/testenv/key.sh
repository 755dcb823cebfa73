#!/usr/bin/env bash
# Prints the cache key of the testenv binaries: pinned versions plus a short hash of the inputs
# that decide what gets built. build.sh itself is left out so that editing a comment does not cost
# a 20-minute rebuild: bump BUILD_REVISION in versions.env when you change what build.sh produces.
# kit/testenv/paths.ts computes the same key in TypeScript (kit/testenv/paths.test.ts checks that
# both agree): keep KEY_FILES in sync with it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
KEY_FILES=(versions.env
  go/kube/go.mod go/kube/go.sum go/etcd/go.mod go/etcd/go.sum
  go/kwok/go.mod go/kwok/go.sum go/helm/go.mod go/helm/go.sum)
hash="$(cd "$here" && cat "${KEY_FILES[@]}" | sha256sum | cut -c1-12)"
echo "k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_${hash}"
