# shellcheck shell=bash
# The cache contract shared by the testenv build scripts (build.sh, build-realnode.sh,
# build-prometheus.sh, build-registry.sh) and their key scripts. Sourced, never run; callers use
# `set -euo pipefail`. The contract:
#
# - A build lives in <root>/<key>/ (root: cache_testenv_root). It counts as built when
#   <root>/<key>/COMPLETE exists and every file the caller named passes its test (-x or -s).
#   A warm run only checks that and prints <root>/<key>/bin.
# - One builder per key: flock on <root>/.lock-<key> (file descriptor 9). The holder writes when
#   it started into .lock-<key>.started; a waiter logs since when, and once a minute.
#   After the wait the caller checks again: the other builder has usually finished the job.
# - A cold build writes into <root>/.build-<key>.XXXXXX, then BUILDINFO and COMPLETE, then
#   renames it to <root>/<key>. The EXIT trap removes the temp dir, so an interrupted build leaves
#   nothing; the leftovers of a SIGKILLed one are removed by the next builder (under the lock).
# - Progress goes to stderr as "<prefix>: ..."; the LAST line of stdout is the bin dir.
#
# A build script is then:
#   cache_init my-build "$(cache_testenv_root)" "$key" -x bin/tool
#   cache_exit_if_complete
#   cache_require go "need go >= 1.26"
#   cache_lock                     # exits too if another builder completed it meanwhile
#   cache_begin                    # $CACHE_WORK/bin exists now; build into it
#   ...
#   cache_commit                   # BUILDINFO, COMPLETE, rename, prints the bin dir
#
# Globals set here: CACHE_PREFIX CACHE_ROOT CACHE_KEY CACHE_DIR CACHE_CHECKS CACHE_WORK
# CACHE_START CACHE_ABORT_HOOK.

# The root of the testenv caches: $BRUPOP_TESTENV_CACHE, else ~/.cache/brupop-testenv.
# kit/testenv/paths.ts (cacheRoot) has the same default.
cache_testenv_root() {
  echo "${BRUPOP_TESTENV_CACHE:-$HOME/.cache/brupop-testenv}"
}

# The short content hash every key ends with: the first 12 hex digits of stdin's sha256.
cache_hash() {
  sha256sum | cut -c1-12
}

# cache_hash_files <dir> <file...>: cache_hash of the files (paths relative to dir) concatenated
# in the given order. The TS twins of the key scripts (paths.ts ...) hash the same bytes.
cache_hash_files() {
  local dir="$1"
  shift
  (cd "$dir" && cat "$@") | cache_hash
}

# 125 -> "2m05s"
cache_dur() {
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

cache_log() {
  echo "$CACHE_PREFIX: $*" >&2
}

cache_die() {
  cache_log "ERROR: $*"
  exit 1
}

# cache_require <command> <hint>: stops with an error naming the command and the hint if the
# command is not on PATH.
cache_require() {
  command -v "$1" >/dev/null || cache_die "'$1' not found on PATH ($2)"
}

# cache_init <log prefix> <cache root> <key> [-x|-s <path under the key's dir>]...
# Sets the globals; the tests are what cache_complete checks besides COMPLETE
# (-x: an executable file, -s: a non-empty file).
cache_init() {
  CACHE_PREFIX="$1"
  CACHE_ROOT="$2"
  CACHE_KEY="$3"
  shift 3
  [[ -n "$CACHE_KEY" && "$CACHE_KEY" != */* ]] || cache_die "bad cache key '$CACHE_KEY'"
  CACHE_DIR="$CACHE_ROOT/$CACHE_KEY"
  CACHE_CHECKS=("$@")
  CACHE_WORK=""
  CACHE_ABORT_HOOK=""
}

# True when the key's dir holds COMPLETE and every file of cache_init's tests.
cache_complete() {
  [[ -f "$CACHE_DIR/COMPLETE" ]] || return 1
  local i op path
  for ((i = 0; i < ${#CACHE_CHECKS[@]}; i += 2)); do
    op="${CACHE_CHECKS[i]}"
    path="$CACHE_DIR/${CACHE_CHECKS[i + 1]}"
    case "$op" in
      -x) [[ -x "$path" ]] || return 1 ;;
      -s) [[ -s "$path" ]] || return 1 ;;
      *) cache_die "cache_init: unknown test '$op' (use -x or -s)" ;;
    esac
  done
}

# Prints the bin dir and exits 0 when the cache is complete; returns otherwise.
cache_exit_if_complete() {
  if cache_complete; then
    echo "$CACHE_DIR/bin"
    exit 0
  fi
}

# Takes the key's lock (fd 9), waiting for another builder if one holds it; exits like
# cache_exit_if_complete when that builder completed the cache meanwhile; else records when this
# builder started.
cache_lock() {
  local lock="$CACHE_ROOT/.lock-$CACHE_KEY" wait_start holder
  mkdir -p "$CACHE_ROOT"
  exec 9>>"$lock"
  if ! flock -n 9; then
    wait_start=$SECONDS
    holder="$(cat "$lock.started" 2>/dev/null || true)"
    # A holder that predates .started: its temp build dir was made when it started.
    [[ -n "$holder" ]] || holder="$(TZ=UTC find "$CACHE_ROOT" -maxdepth 1 -name ".build-$CACHE_KEY.*" \
      -printf '%TY-%Tm-%TdT%TH:%TM:%.2TSZ\n' 2>/dev/null | sort | head -1)"
    cache_log "waiting for another build (started ${holder:-at an unknown time}) of $CACHE_KEY; it holds $lock"
    until flock -w 60 9; do
      cache_log "still waiting for another build (started ${holder:-at an unknown time}); waited $(cache_dur $((SECONDS - wait_start)))"
    done
    cache_log "the other build finished after $(cache_dur $((SECONDS - wait_start))) of waiting"
  fi
  cache_exit_if_complete
  date -u +%Y-%m-%dT%H:%M:%SZ >"$lock.started"
}

# The EXIT trap of a cold build: the caller's hook (CACHE_ABORT_HOOK, e.g. unmounting), the temp
# dir, and any background job the build left running.
cache_cleanup() {
  if [[ -n "$CACHE_ABORT_HOOK" ]]; then "$CACHE_ABORT_HOOK" || true; fi
  rm -rf "$CACHE_WORK"
  jobs -p | xargs -r kill 2>/dev/null || true
}

# cache_begin [abort hook]: under the lock, removes the leftovers of a SIGKILLed build (no trap
# ran; we hold the lock, so none is in use), makes the temp dir CACHE_WORK with CACHE_WORK/bin,
# arms the EXIT trap and starts the clock (CACHE_START). The hook, a function name, runs first
# when the build exits before cache_commit.
# shellcheck disable=SC2120 # the hook is optional
cache_begin() {
  CACHE_ABORT_HOOK="${1:-}"
  rm -rf "$CACHE_ROOT/.build-$CACHE_KEY."*
  CACHE_WORK="$(mktemp -d "$CACHE_ROOT/.build-$CACHE_KEY.XXXXXX")"
  trap cache_cleanup EXIT
  mkdir -p "$CACHE_WORK/bin"
  CACHE_START=$SECONDS
}

# Seconds since cache_begin.
cache_elapsed() {
  echo $((SECONDS - CACHE_START))
}

# Writes BUILDINFO (key, go version, time, seconds) and COMPLETE into the temp dir, renames it to
# the key's dir, disarms the trap and prints the bin dir (the last stdout line).
cache_commit() {
  {
    echo "key=$CACHE_KEY"
    if command -v go >/dev/null; then echo "go=$(go env GOVERSION)"; fi
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds=$(cache_elapsed)"
  } >"$CACHE_WORK/BUILDINFO"
  chmod 755 "$CACHE_WORK" # mktemp made it 0700
  touch "$CACHE_WORK/COMPLETE"
  rm -rf "$CACHE_DIR" # only ever a leftover without COMPLETE (see cache_complete)
  mv "$CACHE_WORK" "$CACHE_DIR"
  trap - EXIT
  cache_log "done in $(cache_elapsed)s"
  echo "$CACHE_DIR/bin"
}

# The Go build environment of every testenv build: the local toolchain only, no workspace, the
# committed go.sum (-mod=readonly), static binaries.
cache_go_env() {
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
}
