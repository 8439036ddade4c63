#!/usr/bin/env bash
# `cmake --install` as a user would run it: install a build into a temporary prefix, check that
# the three binaries, libbelfry, its public headers and belfry.pc are there, then compile and run
# a small program against the installed copy using nothing but `pkg-config --cflags --libs belfry`
# (the source tree is not on its include path, so a public header that needs a private one, or a
# library that does not export what the headers declare, fails here).
#
# Usage: tests/install/install_test.sh [BUILD_DIR]   (default: build). Exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix

fail() {
  echo "install_test: FAIL: $*" >&2
  exit 1
}

cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" || {
  cat "$TMP/install.log" >&2
  fail "cmake --install"
}

for b in belfry-gateway belfry-router belfryctl; do
  [ -x "$PREFIX/bin/$b" ] || fail "bin/$b not installed"
  "$PREFIX/bin/$b" --version >/dev/null 2>&1 || "$PREFIX/bin/$b" --help >/dev/null 2>&1 ||
    fail "installed bin/$b does not run"
done
for h in client.h publisher.h err.h; do
  [ -f "$PREFIX/include/belfry/$h" ] || fail "include/belfry/$h not installed"
done
PC=$(find "$PREFIX" -name belfry.pc -print -quit)
[ -n "$PC" ] || fail "belfry.pc not installed"
ls "$(dirname "$(dirname "$PC")")"/libbelfry.so* >/dev/null 2>&1 || fail "libbelfry.so not installed"

export PKG_CONFIG_PATH=$(dirname "$PC")
FLAGS=$(pkg-config --cflags --libs belfry) || fail "pkg-config --cflags --libs belfry"
LIBDIR=$(pkg-config --variable=libdir belfry)
case $FLAGS in *"$PREFIX"*) ;; *) fail "pkg-config flags do not point into the prefix: $FLAGS" ;; esac

# Both public headers and a publish through the fake publisher (no server needed).
cat >"$TMP/hello.c" <<'EOF'
#include <belfry/client.h>
#include <belfry/publisher.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(bf_strerror(BF_ENOMEM), "") == 0) return 1;
    if (bf_publisher_fake() != 0) return 2;
    bf_publisher *p = bf_publisher_get(NULL);
    if (!p) return 3;
    if (bf_publisher_publish(p, "news", "Hello", "{\"text\":\"hi\"}", NULL) != 0) return 4;
    if (bf_publisher_assert_broadcast_on("news", NULL, 0) != 0) return 5;
    bf_publisher_restore();
    json_t *j = json_object(); /* jansson comes through belfry.pc's Requires */
    json_decref(j);
    puts("ok");
    return 0;
}
EOF
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$TMP/hello" "$TMP/hello.c" $FLAGS -Wl,-rpath,"$LIBDIR" ||
  fail "compiling against the installed headers and library"
[ "$("$TMP/hello")" = ok ] || fail "the program built against the install did not run"
echo "install_test: ok ($PREFIX: bin, lib, include/belfry, $(basename "$PC"))"
