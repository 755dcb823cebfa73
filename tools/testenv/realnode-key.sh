#!/usr/bin/env bash
# Prints the cache key of the real-node binaries (build-realnode.sh): kubelet, kube-proxy,
# CoreDNS, pause and their images. Separate from key.sh on purpose: the control plane's key
# (a 20-minute cold build shared by every test) must not change when the node side changes.
# kit/testenv/realnode/paths.ts computes the same key in TypeScript: keep KEY_FILES in sync.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=cache-lib.sh
source "$here/cache-lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=realnode.env
source "$here/realnode.env"
KEY_FILES=(versions.env realnode.env
  go/kubenode/go.mod go/kubenode/go.sum go/coredns/go.mod go/coredns/go.sum)
hash="$(cache_hash_files "$here" "${KEY_FILES[@]}")"
echo "realnode-k8s-${K8S_VERSION}_coredns-${COREDNS_VERSION}_${hash}"
