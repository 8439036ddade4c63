#!/usr/bin/env bash
# Installs, idempotently, every Debian package Belfry needs to build, test and run locally.
# Only packages that are missing are installed; a machine that has them all is left untouched.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang-format
  libwebsockets-dev libuv1-dev libevent-dev libhiredis-dev libmsgpack-dev
  libjansson-dev libjwt-dev libssl-dev libcriterion-dev redis-server redis-tools
  curl python3
)
# Tools only the test suites use: the fuzzers (clang), the deployment tests (HAProxy, compose,
# YAML), `make test-valgrind`, pusher-http-php's request signing (php-cli, php-curl). Kept apart
# so that the container image's build stage can mirror PKGS alone.
TEST_PKGS=(
  clang libclang-rt-14-dev python3-yaml haproxy docker-compose nginx libnginx-mod-nchan
  valgrind php-cli php-curl
)

missing=()
for p in "${PKGS[@]}" "${TEST_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
