#!/usr/bin/env bash
# Installs the Debian packages that real nodes and `npm run image` need, if any is missing:
# containerd + runc (container runtime), CNI plugins (bridge, host-local, portmap, loopback),
# iptables (kube-proxy, kubelet), buildah + mmdebstrap (the image, without Docker), gcc + libc
# (a static `pause`). Idempotent and quick when everything is present. Needs root and apt.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in buildah containerd runc containernetworking-plugins iptables mmdebstrap gcc libc6-dev \
  iproute2 util-linux; do
  have "$p" || need+=("$p")
done
if ((${#need[@]} == 0)); then
  echo "install-realnode-deps: all present" >&2
  exit 0
fi
echo "install-realnode-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >&2
