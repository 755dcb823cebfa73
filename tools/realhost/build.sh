#!/usr/bin/env bash
# Builds Bottlerocket's own host-side API (apiserver, thar-be-updates, apiclient, storewolf) from a
# Bottlerocket v1.20.5 source tree that YOU point at, for `npm run test:realhost`.
#
#   tools/realhost/build.sh <bottlerocket-tree> <bottlerocket-settings-sdk-tree>
#     or BRUPOP_REALHOST_BOTTLEROCKET=… BRUPOP_REALHOST_SETTINGS_SDK=… tools/realhost/build.sh
#
# <bottlerocket-tree> holds `sources/` of bottlerocket-os/bottlerocket at tag v1.20.5;
# <bottlerocket-settings-sdk-tree> is bottlerocket-os/bottlerocket-settings-sdk at tag
# bottlerocket-settings-sdk-v0.1.0-alpha.2 (the commit v1.20.5's Cargo.lock pins).
# This script fetches no source itself (cargo downloads crates from the Rust registry) and never
# copies Bottlerocket's source into this repository: everything goes to a cache OUTSIDE the repo,
# ${BRUPOP_REALHOST_CACHE:-$HOME/.cache/brupop-realhost}:
#   src/      a copy of the two trees, with the build fixes below applied to the copy
#   target/   cargo's target dir (~1.9 GB)
#   cargo/    CARGO_HOME (the crate downloads)
#   bin/      the four stripped binaries + COMPLETE (what test/realhost uses)
# Build fixes (to the copy): the settings-extensions' git dependency on the settings SDK becomes a
# path dependency; `time` is pinned to 0.3.36 (0.3.34 breaks on rustc >= 1.80); two calls to fs2's
# try_lock_* are made explicit (rustc >= 1.89's std File::try_lock_* shadows them; still flock).
# Progress goes to stderr; the LAST line of stdout is the bin dir. Runs under `nice -n 19`.
set -euo pipefail
log() { echo "realhost-build: $*" >&2; }

cache="${BRUPOP_REALHOST_CACHE:-$HOME/.cache/brupop-realhost}"
BINARIES=(apiserver thar-be-updates apiclient storewolf)
complete() {
  [[ -f "$cache/bin/COMPLETE" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$cache/bin/$b" ]] || return 1; done
}
if complete && [[ $# -eq 0 && -z "${BRUPOP_REALHOST_BOTTLEROCKET:-}" ]]; then
  echo "$cache/bin"
  exit 0
fi

br="${1:-${BRUPOP_REALHOST_BOTTLEROCKET:-}}"
sdk="${2:-${BRUPOP_REALHOST_SETTINGS_SDK:-}}"
if [[ -z "$br" || -z "$sdk" ]]; then
  log "usage: tools/realhost/build.sh <bottlerocket v1.20.5 tree> <bottlerocket-settings-sdk v0.1.0-alpha.2 tree>"
  exit 2
fi
[[ -f "$br/sources/api/apiserver/Cargo.toml" ]] || { log "ERROR: $br has no sources/api/apiserver (not a bottlerocket tree)"; exit 2; }
[[ -f "$br/sources/api/thar-be-updates/Cargo.toml" ]] || { log "ERROR: $br has no sources/api/thar-be-updates"; exit 2; }
[[ -d "$sdk/bottlerocket-settings-sdk" ]] || { log "ERROR: $sdk has no bottlerocket-settings-sdk/ (not a settings-sdk tree)"; exit 2; }
grep -q '^version = "1.20.5"' "$br/Release.toml" 2>/dev/null ||
  log "warning: could not confirm the tree is v1.20.5 (the recipe and transcripts were made with v1.20.5)"
command -v cargo >/dev/null || { log "ERROR: cargo not found"; exit 1; }
command -v cc >/dev/null || { log "ERROR: no C compiler (cc) found"; exit 1; }

mkdir -p "$cache"
exec 9>>"$cache/.lock"
flock -n 9 || { log "waiting for another build holding $cache/.lock"; flock 9; }

log "copying sources into $cache/src"
rm -rf "$cache/src" "$cache/bin"
mkdir -p "$cache/src/settings-sdk"
cp -a "$br/sources" "$cache/src/sources"
cp -a "$sdk/." "$cache/src/settings-sdk/"
cd "$cache/src/sources"

# 1. settings-sdk: git -> path (the SDK sits at <cache>/src/settings-sdk).
for f in settings-extensions/*/Cargo.toml; do
  sed -i -E '/^\[dependencies\.bottlerocket-settings-sdk\]/,/^\[/{s|^git = .*|path = "../../../settings-sdk/bottlerocket-settings-sdk"|;/^tag = /d}' "$f"
done
grep -q 'settings-sdk/bottlerocket-settings-sdk' settings-extensions/updates/Cargo.toml || { log "ERROR: could not rewrite the settings SDK dependency"; exit 1; }
# 2. fs2 vs std try_lock_* (E0271 on rustc >= 1.89).
perl -0pi -e 's/lockfile\s*\n\s*\.try_lock_shared\(\)/FileExt::try_lock_shared(&lockfile)/' api/apiserver/src/server/mod.rs
perl -0pi -e 's/lockfile\s*\n\s*\.try_lock_exclusive\(\)/FileExt::try_lock_exclusive(lockfile)/' api/thar-be-updates/src/main.rs
grep -q 'FileExt::try_lock_shared(&lockfile)' api/apiserver/src/server/mod.rs || { log "ERROR: apiserver lock patch did not apply"; exit 1; }
grep -q 'FileExt::try_lock_exclusive(lockfile)' api/thar-be-updates/src/main.rs || { log "ERROR: thar-be-updates lock patch did not apply"; exit 1; }

export CARGO_HOME="$cache/cargo" CARGO_TARGET_DIR="$cache/target" VARIANT=aws-k8s-1.30
# rustup's proxies need to find the toolchain even with CARGO_HOME moved.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
# 3. time 0.3.34 -> 0.3.36. The path dependency changes the lock's source lines, so let cargo
# rewrite those (offline where it can) before pinning time.
log "resolving (cargo update -p time --precise 0.3.36)"
nice -n 19 cargo update -p time --precise 0.3.36 >&2
start=$SECONDS
log "building (nice -n 19; ~7 min on 2 cores)"
nice -n 19 cargo build --release -p apiserver -p thar-be-updates -p apiclient -p storewolf >&2
mkdir -p "$cache/bin.tmp"
for b in "${BINARIES[@]}"; do
  cp "$CARGO_TARGET_DIR/release/$b" "$cache/bin.tmp/$b"
  strip "$cache/bin.tmp/$b" 2>/dev/null || true
done
{
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s"
  echo "from $br and $sdk"
  rustc --version
} >"$cache/bin.tmp/BUILDINFO"
touch "$cache/bin.tmp/COMPLETE"
rm -rf "$cache/bin"
mv "$cache/bin.tmp" "$cache/bin"
log "done in $((SECONDS - start)) s"
echo "$cache/bin"
