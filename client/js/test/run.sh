#!/usr/bin/env bash
# The JS client's test suite, one idempotent entry point:
#   bash client/js/test/run.sh [extra node --test args]
# Installs what is missing (Debian's chromium, the npm devDependencies from package-lock.json),
# then runs every *.test.mjs here against real daemons. The daemons must already be built
# (make build → build/bin); BELFRY_BIN_DIR points elsewhere. Bounded: a watchdog ends the run.
set -euo pipefail
cd "$(dirname "$0")"
REPO=$(cd ../../.. && pwd)
BIN_DIR=${BELFRY_BIN_DIR:-$REPO/build/bin}
export BELFRY_BIN_DIR=$BIN_DIR

for b in belfry-gateway belfry-router; do
  if [ ! -x "$BIN_DIR/$b" ]; then
    echo "run.sh: $BIN_DIR/$b is missing: build the daemons first (make build)" >&2
    exit 1
  fi
done
command -v redis-server >/dev/null || { echo "run.sh: redis-server is missing (make deps)" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "run.sh: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Chromium from Debian (never a browser download). If it cannot be installed the browser test
# skips and says so; everything else still runs.
CHROMIUM=${BELFRY_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "run.sh: installing chromium (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; } ||
    echo "run.sh: chromium could not be installed; the browser test will be skipped" >&2
fi

# npm ci only when package-lock.json changed since the last install (a stamp records it).
if ! cmp -s package-lock.json node_modules/.belfry-lock-stamp 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.belfry-lock-stamp
fi

# Files run one after another: the reconnection tests measure timer delays, which a second
# suite's Chromium competing for the 2 cores would only blur.
exec timeout --kill-after=10 180 node --test --test-concurrency=1 --test-timeout=120000 "$@" ./*.test.mjs
