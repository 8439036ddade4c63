#!/usr/bin/env bash
# The docker-compose topology, run as local processes by scripts/cluster.sh (redis, 2 routers,
# 3 gateways, HAProxy on deploy/haproxy/haproxy.cfg), tested from the outside through HAProxy:
# delivery to clients on every gateway, presence across gateways, and a gateway drained with
# SIGTERM whose clients come back through the load balancer. The checks themselves are in
# cluster_check.py. Free ports and a private state directory; the cluster is always torn down
# (trap), and a watchdog bounds the whole run.
#
# Environment: BELFRY_BIN_DIR (default build/bin), BELFRY_DEPLOY_TEST_TIMEOUT (default 90 s).
# Prints "N passed, M failed" last; exits 1 on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
export BELFRY_BIN_DIR=${BELFRY_BIN_DIR:-$ROOT/build/bin}
LIMIT=${BELFRY_DEPLOY_TEST_TIMEOUT:-90}

passed=0
failed=0
pass() {
  passed=$((passed + 1))
  echo "PASS $*"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $*"
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}

# running PID: the process exists and is not a zombie waiting for its (new) parent to reap it.
running() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

for b in belfry-gateway belfry-router belfryctl; do
  if [ ! -x "$BELFRY_BIN_DIR/$b" ]; then
    fail "binary $BELFRY_BIN_DIR/$b missing: run 'make build' first"
    finish
  fi
done

# A private cluster: its own state directory, no fixed port, fresh secrets.
export BELFRY_CLUSTER_DIR
BELFRY_CLUSTER_DIR=$(mktemp -d /tmp/belfry-deploy-test-XXXXXX)
export BELFRY_CLUSTER_PORT=0
BELFRY_API_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
BELFRY_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
export BELFRY_API_KEY BELFRY_JWT_SECRET

watchdog_pid=
teardown() {
  trap - EXIT INT TERM
  [ -n "$watchdog_pid" ] && kill "$watchdog_pid" 2>/dev/null
  if [ -f "$BELFRY_CLUSTER_DIR/procs" ]; then
    if [ "$failed" -gt 0 ]; then
      echo "--- logs (last lines) ---"
      for f in "$BELFRY_CLUSTER_DIR"/logs/*.log; do
        echo "--- $(basename "$f")"
        tail -n 8 "$f"
      done
    fi
    BELFRY_CLUSTER_STOP_TIMEOUT=12 scripts/cluster.sh down >/dev/null 2>&1
  fi
  rm -rf "$BELFRY_CLUSTER_DIR"
}
trap teardown EXIT
trap 'fail "interrupted"; finish' INT TERM

# Watchdog: past LIMIT seconds, SIGTERM this script, whose trap tears the cluster down.
(
  sleep "$LIMIT"
  echo "cluster_test: watchdog: still running after ${LIMIT}s" >&2
  kill -TERM $$
) &
watchdog_pid=$!

t0=$SECONDS
if out=$(scripts/cluster.sh up 2>&1); then
  pass "scripts/cluster.sh up ($((SECONDS - t0))s; $(grep -o '([a-z]* records)' <<<"$out"))"
else
  fail "scripts/cluster.sh up"
  echo "$out"
  finish
fi
grep '^cluster: note' <<<"$out"

if scripts/cluster.sh status >"$BELFRY_CLUSTER_DIR/status.txt" 2>&1; then
  pass "scripts/cluster.sh status: everything running and ready"
else
  fail "scripts/cluster.sh status"
  cat "$BELFRY_CLUSTER_DIR/status.txt"
fi

# The image's HEALTHCHECK script against live processes (it reads BELFRY_LISTEN, as in compose).
read -r _ _ _ gw_addr < <(grep '^gateway-2 ' "$BELFRY_CLUSTER_DIR/procs")
read -r _ _ _ rt_addr < <(grep '^router-1 ' "$BELFRY_CLUSTER_DIR/procs")
if BELFRY_LISTEN=$gw_addr deploy/docker/healthcheck.sh && BELFRY_LISTEN=$rt_addr deploy/docker/healthcheck.sh &&
  BELFRY_LISTEN=$gw_addr deploy/docker/healthcheck.sh /readyz; then
  pass "deploy/docker/healthcheck.sh passes on a live gateway and router"
else
  fail "deploy/docker/healthcheck.sh on a live gateway ($gw_addr) or router ($rt_addr)"
fi
dead_port=$(python3 scripts/free-port.py 0)
if BELFRY_LISTEN=127.0.0.1:$dead_port deploy/docker/healthcheck.sh 2>/dev/null; then
  fail "deploy/docker/healthcheck.sh passes on a closed port"
else
  pass "deploy/docker/healthcheck.sh fails on a closed port"
fi

# The client-side checks, through HAProxy.
timeout 60 python3 tests/deploy/cluster_check.py >"$BELFRY_CLUSTER_DIR/check.txt" 2>&1
rc=$?
before=$failed
while IFS= read -r line; do
  case $line in
  PASS\ *) pass "${line#PASS }" ;;
  FAIL\ *) fail "${line#FAIL }" ;;
  checks:*) ;;
  *) echo "$line" ;;
  esac
done <"$BELFRY_CLUSTER_DIR/check.txt"
if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
  fail "cluster_check.py exited with status $rc (124: timed out after 60s)"
fi

# down: everything stops, nothing is left behind.
mapfile -t pids < <(awk '{print $2}' "$BELFRY_CLUSTER_DIR/procs")
t0=$SECONDS
if BELFRY_CLUSTER_STOP_TIMEOUT=12 scripts/cluster.sh down >/dev/null 2>&1; then
  left=()
  for p in "${pids[@]}"; do running "$p" && left+=("$p"); done
  if [ ${#left[@]} -eq 0 ] && [ ! -f "$BELFRY_CLUSTER_DIR/procs" ]; then
    pass "scripts/cluster.sh down stops every process ($((SECONDS - t0))s)"
  else
    fail "scripts/cluster.sh down left pids ${left[*]}"
  fi
else
  fail "scripts/cluster.sh down"
fi
finish
