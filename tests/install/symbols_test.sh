#!/usr/bin/env bash
# libbelfry's exported surface is exactly its public API: the dynamic symbols of libbelfry.so
# (nm -D) must be the functions the public headers declare with BF_EXTERN, and every function
# those headers declare must carry it. A common/ internal that leaks (bf_key,
# bf_channel_validate, ...) or a public function that is not exported fails here.
#
# Usage: tests/install/symbols_test.sh [BUILD_DIR]   (default: build). Exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LIB=$BUILD/lib/libbelfry.so
HEADERS=("$ROOT/client/include/belfry/client.h" "$ROOT/client/include/belfry/publisher.h"
  "$ROOT/common/err.h")

fail() {
  echo "symbols_test: FAIL: $*" >&2
  exit 1
}
[ -e "$LIB" ] || fail "$LIB not built"

# every declaration of a function at the start of a line, and those marked BF_EXTERN
unmarked=$(grep -hE '^(const |unsigned )?[a-z_][a-z0-9_]*[ *]+bf_[a-z0-9_]+\(' "${HEADERS[@]}" |
  grep -v '^typedef' || true)
[ -z "$unmarked" ] || fail "public functions without BF_EXTERN:
$unmarked"
declared=$(grep -hE '^BF_EXTERN ' "${HEADERS[@]}" | grep -oE 'bf_[a-z0-9_]+\(' | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[TDBRVWi]$/ { print $3 }' |
  grep -vE '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u)

[ -n "$declared" ] || fail "no BF_EXTERN declarations found"
if [ "$declared" != "$exported" ]; then
  echo "exported but not declared public:" >&2
  comm -13 <(echo "$declared") <(echo "$exported") >&2
  echo "declared public but not exported:" >&2
  comm -23 <(echo "$declared") <(echo "$exported") >&2
  fail "libbelfry.so's exports differ from its public headers"
fi
echo "symbols_test: ok ($(echo "$exported" | wc -l) exported symbols, all declared public)"
