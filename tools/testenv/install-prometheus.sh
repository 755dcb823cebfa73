#!/usr/bin/env bash
# Installs Debian's Prometheus (the `prometheus` package: prometheus + promtool, 2.42 on bookworm)
# if it is missing. Used by test/e2e/prometheus.test.ts (a real Prometheus scraping the components
# and evaluating the shipped alert rules) and by the `promtool test rules` unit test. Idempotent and
# quick when present. Needs root and apt. The package's service is not started (no init here).
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "install-prometheus: present ($(prometheus --version 2>&1 | head -1))" >&2
  exit 0
fi
echo "install-prometheus: installing prometheus (Debian)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No recommends: the package recommends node-exporter and friends, which the tests do not need.
apt-get install -y -qq --no-install-recommends prometheus >&2
prometheus --version 2>&1 | head -1 >&2
