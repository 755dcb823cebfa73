#!/usr/bin/env bash
# Installs the Debian packages that real nodes and `npm run image` need, if any is missing:
# containerd + runc (container runtime), CNI plugins (bridge, host-local, portmap, loopback),
# iptables (kube-proxy, kubelet), buildah (the image, without Docker), gcc + libc (a static
# `pause`), llvm (llvm-strip: strips the amd64 and arm64 Node binaries), libdeflate-tools
# (libdeflate-gzip -12 recompresses the image's layers: tools/image/recompress.ts), skopeo (pushes
# the OCI archive as built, digests preserved), qemu-user-static (runs the
# arm64 image's Node binary in the image test; nothing runs under emulation at build time). Also
# enables Debian's arm64 architecture so `apt-get download libc6:arm64 ...` finds the arm64
# image's libraries. Idempotent and quick when everything is present. Needs root and apt.
set -euo pipefail
need=()
update=0
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in buildah containerd runc containernetworking-plugins iptables gcc libc6-dev \
  iproute2 util-linux llvm qemu-user-static ca-certificates libdeflate-tools skopeo; do
  have "$p" || need+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "install-realnode-deps: dpkg --add-architecture arm64 (for the arm64 image's libraries)" >&2
  dpkg --add-architecture arm64
  update=1
fi
if ((${#need[@]} == 0 && update == 0)); then
  echo "install-realnode-deps: all present" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ((${#need[@]} > 0)); then
  echo "install-realnode-deps: installing ${need[*]}" >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
