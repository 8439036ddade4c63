#!/usr/bin/env bash
# The Pusher-compatibility suite, one idempotent entry point:
#   bash tests/pusher/run.sh [extra node --test args]
# Installs the npm packages from package-lock.json when it changed (pusher-js, laravel-echo, the
# pusher server SDK, ws), then runs every *.test.mjs here against real daemons from build/bin
# (BELFRY_BIN_DIR points elsewhere). Bounded: a watchdog ends the run.
set -euo pipefail
cd "$(dirname "$0")"
REPO=$(cd ../.. && pwd)
export BELFRY_BIN_DIR=${BELFRY_BIN_DIR:-$REPO/build/bin}
for b in belfry-gateway belfry-router belfryctl; do
  if [ ! -x "$BELFRY_BIN_DIR/$b" ]; then
    echo "run.sh: $BELFRY_BIN_DIR/$b is missing: build first (make build)" >&2
    exit 1
  fi
done
command -v redis-server >/dev/null || { echo "run.sh: redis-server is missing (make deps)" >&2; exit 1; }
if ! cmp -s package-lock.json node_modules/.belfry-lock-stamp 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.belfry-lock-stamp
fi
shopt -s nullglob
# BELFRY_PUSHER_FILES: a space-separated subset of the test files (default: every one)
if [ -n "${BELFRY_PUSHER_FILES:-}" ]; then
  read -r -a files <<< "$BELFRY_PUSHER_FILES"
else
  files=(./*.test.mjs)
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "run.sh: no tests" >&2
  exit 1
fi
exec timeout --kill-after=10 600 node --test --test-concurrency=1 --test-timeout=120000 "$@" "${files[@]}"
