#!/usr/bin/env bash
# Starts Bottlerocket's apiserver for test/realhost INSIDE a private mount namespace. Run it only as
#   setsid unshare -m --propagation private bash tools/realhost/start-ns.sh <state dir> <bin dir>
# (test/realhost/harness.ts does). Everything it mounts is visible in this namespace only, and
# everything it writes is under <state dir>:
#   - an overlay on /usr/bin (upper dir <state>/usr-bin) holding thar-be-updates (a wrapper giving
#     it <state>/thar-be-updates.toml), and our shims for updog, thar-be-settings and systemctl
#     (/sbin/shutdown is a link to systemctl here, so the reboot only writes <state>/reboots.log);
#   - <state>/os-release bound over /usr/lib/os-release (the running version);
#   - <state>/run bound over /run (thar-be-updates' lock and status.json live there).
# Safety: it refuses to run outside a private mount namespace, checks every shim is in place
# before the apiserver starts, and the harness always seeds status.json, so thar-be-updates never
# loads signpost (it does only to create a missing status). The real updog, signpost and reboot
# never run.
set -euo pipefail
state="$1"
bin="$2"
here="$(cd "$(dirname "$0")" && pwd)"
die() { echo "realhost start-ns: $*" >&2; exit 3; }

[[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ]] || die "refusing: not in a private mount namespace"
[[ -d "$state" && -x "$bin/apiserver" && -x "$bin/thar-be-updates" ]] || die "usage: start-ns.sh <state dir> <bin dir>"
[[ -f "$state/run/cache/thar-be-updates/status.json" ]] || die "refusing: status.json is not seeded (thar-be-updates would load signpost)"
mount --make-rprivate /

mkdir -p "$state/usr-bin" "$state/usr-bin.work" "$state/run/lock"
for s in updog thar-be-settings systemctl; do install -m 0755 "$here/shims/$s" "$state/usr-bin/$s"; done
install -m 0755 "$bin/thar-be-updates" "$state/usr-bin/thar-be-updates.real"
cat >"$state/usr-bin/thar-be-updates" <<WRAP
#!/bin/sh
# BRUPOP-REALHOST-SHIM: the real thar-be-updates with the harness's config
exec /usr/bin/thar-be-updates.real --config-path "$state/thar-be-updates.toml" "\$@"
WRAP
chmod 0755 "$state/usr-bin/thar-be-updates"

mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$state/usr-bin,workdir=$state/usr-bin.work" /usr/bin
mount --bind "$state/os-release" /usr/lib/os-release
mount --bind "$state/run" /run

export PATH=/usr/bin:/usr/sbin BRUPOP_REALHOST_STATE="$state"
for s in updog thar-be-settings systemctl thar-be-updates; do
  grep -q BRUPOP-REALHOST-SHIM "/usr/bin/$s" || die "/usr/bin/$s is not our shim"
done
[[ "$(command -v updog)" == /usr/bin/updog ]] || die "updog resolves to $(command -v updog)"
[[ "$(readlink -f /sbin/shutdown)" == /usr/bin/systemctl ]] || die "/sbin/shutdown is not the systemctl shim"
rm -f "$state/api.sock"
exec "$bin/apiserver" --datastore-path "$state/ds/current" --socket-path "$state/api.sock" --log-level info
