# bench/servers.sh: sourced by bench/run.sh, bench/alternate.sh and bench/soak.sh, never run by
# itself.
#
# Process control and the servers of a benchmark: a private redis-server (or a Redis Cluster of N
# primaries; ephemeral ports, no persistence), routers and gateways on loopback, and the floor
# (bench/floor.c), all pinned to $SERVER_CPU. Every process started is added to PIDS, which
# stop_all ends (SIGTERM, then SIGKILL after 15 s); the sourcing script calls stop_all from its
# EXIT trap. Expects ROOT, RUN_DIR and SELF (the name in messages) to be set, and PIDS to be an
# array. Sets what the sourcing script has not: BUILD_DIR ($BELFRY_BUILD_DIR, else build), BIN,
# BENCH ($BELFRY_BENCH_BIN, else the build's belfry-bench), SERVER_CPU 0, BENCH_CPU 1 (where the
# load generator runs) and API_KEY (a random one).
# shellcheck shell=bash disable=SC2034  # the variables set here are read by the sourcing script

BUILD_DIR=${BUILD_DIR:-${BELFRY_BUILD_DIR:-$ROOT/build}}
BIN=${BIN:-$BUILD_DIR/bin}
BENCH=${BENCH:-${BELFRY_BENCH_BIN:-$BIN/belfry-bench}}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
API_KEY=${API_KEY:-bench-$RANDOM$RANDOM$RANDOM}

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$SELF: pid $pid did not stop within 15 s of SIGTERM, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

# Polls a command until it succeeds (at most 10 s).
wait_for() {
    local what=$1
    shift
    for _ in $(seq 200); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "$SELF: $what did not become ready" >&2
    return 1
}

port() { python3 "$ROOT/scripts/free-port.py" 0; }

# ------------------------------------------------------------------------------------------------
# Servers

start_redis() {
    REDIS_PORT=$(port)
    taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
        --appendonly no --dir "$RUN_DIR" --logfile "$RUN_DIR/redis-$REDIS_PORT.log" \
        --maxclients 10000 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_for "redis on $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
    REDIS_URL=redis://127.0.0.1:$REDIS_PORT
}

# Redis Cluster: $1 primaries (no replicas), each on an ephemeral port whose cluster bus port
# (port + 10000) is free too, pinned to $REDIS_CPU (default: $SERVER_CPU, with every other server,
# so that 1, 2 and 3 shards are compared on the same cores). Slots are split evenly, as
# `redis-cli --cluster create` does; that tool refuses fewer than three primaries, so one or two
# get their slot ranges with CLUSTER ADDSLOTSRANGE and meet with CLUSTER MEET. Sets REDIS_PORTS,
# REDIS_PIDS, REDIS_PID (the first node, for scripts that watch one), REDIS_URL (cluster://...).
REDIS_PORTS=()
REDIS_PIDS=()
cluster_port() {
    local p _
    for _ in $(seq 50); do
        p=$(port)
        [ "$p" -le 55535 ] || continue
        python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
            "$((p + 10000))" 2>/dev/null && { echo "$p"; return 0; }
    done
    echo "$SELF: no free port with a free cluster bus port" >&2
    return 1
}

cluster_ok() { # every node: cluster_state:ok and $1 known nodes
    local p info
    for p in "${REDIS_PORTS[@]}"; do
        info=$(redis-cli -p "$p" cluster info 2>/dev/null | tr -d '\r') || return 1
        grep -qx 'cluster_state:ok' <<<"$info" || return 1
        grep -qx "cluster_known_nodes:$1" <<<"$info" || return 1
    done
}

start_redis_cluster() {
    local n=$1 i p cpu=${REDIS_CPU:-$SERVER_CPU}
    REDIS_PORTS=()
    REDIS_PIDS=()
    for i in $(seq "$n"); do
        p=$(cluster_port)
        taskset -c "$cpu" redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no \
            --dir "$RUN_DIR" --logfile "$RUN_DIR/redis-$p.log" --maxclients 10000 \
            --cluster-enabled yes --cluster-config-file "nodes-$p.conf" \
            --cluster-node-timeout 5000 &
        REDIS_PIDS+=($!)
        PIDS+=($!)
        REDIS_PORTS+=("$p")
        wait_for "redis on $p" redis-cli -p "$p" ping
    done
    if [ "$n" -ge 3 ]; then
        redis-cli --cluster create "${REDIS_PORTS[@]/#/127.0.0.1:}" --cluster-yes \
            >"$RUN_DIR/cluster-create.log" 2>&1 ||
            { echo "$SELF: redis-cli --cluster create failed ($RUN_DIR/cluster-create.log)" >&2; return 1; }
    else
        for i in "${!REDIS_PORTS[@]}"; do
            redis-cli -p "${REDIS_PORTS[$i]}" cluster addslotsrange $((16384 * i / n)) \
                $((16384 * (i + 1) / n - 1)) >/dev/null
            [ "$i" -eq 0 ] || redis-cli -p "${REDIS_PORTS[$i]}" cluster meet 127.0.0.1 \
                "${REDIS_PORTS[0]}" >/dev/null
        done
    fi
    wait_for "redis cluster of $n" cluster_ok "$n"
    REDIS_PID=${REDIS_PIDS[0]}
    REDIS_URL=cluster://$(
        IFS=,
        echo "${REDIS_PORTS[*]/#/127.0.0.1:}"
    )
}

start_router() {
    ROUTER_PORT=$(port)
    taskset -c "$SERVER_CPU" "$BIN/belfry-router" --listen "127.0.0.1:$ROUTER_PORT" \
        --redis "$REDIS_URL" --api-key "$API_KEY" --log-level warn "${APP_ARGS[@]}" \
        "${ROUTER_ARGS[@]}" >"$RUN_DIR/router-$ROUTER_PORT.log" 2>&1 &
    ROUTER_PID=$!
    PIDS+=("$ROUTER_PID")
    wait_for "router on $ROUTER_PORT" curl -sf "http://127.0.0.1:$ROUTER_PORT/readyz"
}

# Extra flags for routers and gateways (scenario 8 sets an app: --app ID:KEY:SECRET), and for
# routers or gateways only (scenario 9 sets the back-pressure).
APP_ARGS=()
ROUTER_ARGS=()
GATEWAY_ARGS=()
GW_PORTS=()
GW_PIDS=()
start_gateway() {
    local p
    p=$(port)
    taskset -c "$SERVER_CPU" "$BIN/belfry-gateway" --listen "127.0.0.1:$p" --redis "$REDIS_URL" \
        --insecure-any-token --drain-timeout 1 --log-level warn "${APP_ARGS[@]}" \
        "${GATEWAY_ARGS[@]}" >"$RUN_DIR/gateway-$p.log" 2>&1 &
    GW_PIDS+=($!)
    PIDS+=($!)
    GW_PORTS+=("$p")
    wait_for "gateway on $p" curl -sf "http://127.0.0.1:$p/readyz"
}

# A fresh Belfry cluster: redis (one redis:// server, or a Redis Cluster of $REDIS_SHARDS
# primaries when that is set above 0), one router, $1 gateways.
REDIS_SHARDS=0
start_belfry() {
    GW_PORTS=()
    GW_PIDS=()
    local g redis_pids
    if [ "$REDIS_SHARDS" -gt 0 ]; then
        start_redis_cluster "$REDIS_SHARDS"
        redis_pids=""
        for g in "${!REDIS_PIDS[@]}"; do redis_pids+="${redis_pids:+,}redis$((g + 1))=${REDIS_PIDS[$g]}"; done
    else
        start_redis
        redis_pids="redis=$REDIS_PID"
    fi
    start_router
    for g in $(seq "$1"); do start_gateway; done
    SUB_URLS=""
    BELFRY_PIDS="router=$ROUTER_PID,$redis_pids"
    for g in "${!GW_PORTS[@]}"; do
        SUB_URLS+="${SUB_URLS:+,}ws://127.0.0.1:${GW_PORTS[$g]}/ws/{channel}"
        BELFRY_PIDS="gateway$((g + 1))=${GW_PIDS[$g]},$BELFRY_PIDS"
    done
    [ "$1" -gt 1 ] || BELFRY_PIDS=${BELFRY_PIDS/gateway1=/gateway=}
    PUB_URL="http://127.0.0.1:$ROUTER_PORT/broadcast/{channel}"
}

# The floor (bench/floor.c): a minimal one-process WebSocket fan-out server, the least work any
# server can do here; the latency scenario measures it next to the real peers as a yardstick.
start_floor() {
    local p
    p=$(port)
    taskset -c "$SERVER_CPU" "$BIN/belfry-bench-floor" "$p" >"$RUN_DIR/floor-$p.log" 2>&1 &
    FLOOR_PID=$!
    PIDS+=("$FLOOR_PID")
    wait_for "floor on $p" bash -c "exec 3<>/dev/tcp/127.0.0.1/$p"
    SUB_URLS="ws://127.0.0.1:$p/sub?id={channel}"
    PUB_URL="http://127.0.0.1:$p/pub?id={channel}"
}

# Percentage of the machine's CPU time that was busy over one second, measured right before a
# run while our own servers are idle: anything well above 0 is somebody else's load.
cpu_busy_pct() {
    local l1 l2
    l1=$(head -1 /proc/stat)
    sleep 1
    l2=$(head -1 /proc/stat)
    python3 -c '
import sys
a = [int(x) for x in sys.argv[1].split()[1:9]]
b = [int(x) for x in sys.argv[2].split()[1:9]]
d = [y - x for x, y in zip(a, b)]
print(round(100 * (sum(d) - d[3] - d[4]) / sum(d)) if sum(d) else 0)' "$l1" "$l2"
}
