#!/usr/bin/env bash
# Prints the cache key of the Prometheus binary (build-prometheus.sh). Separate from key.sh: the
# control plane's key (a 20-minute cold build shared by every test) must not change because of it.
# kit/testenv/prometheus.ts computes the same key in TypeScript: keep KEY_FILES in sync.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=cache-lib.sh
source "$here/cache-lib.sh"
# shellcheck source=prometheus.env
source "$here/prometheus.env"
KEY_FILES=(prometheus.env go/prometheus/go.mod go/prometheus/go.sum)
hash="$(cache_hash_files "$here" "${KEY_FILES[@]}")"
echo "prometheus-${PROMETHEUS_MODULE_VERSION}_${hash}"
