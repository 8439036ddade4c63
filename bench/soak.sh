#!/usr/bin/env bash
# bench/soak.sh [--max-fanout=PUBS_PER_S] [--max-many=PUBS_PER_S] [--help]
#
# The sustained soak (docs/benchmarks.md, "Soak"): a Belfry cluster (a private redis-server, one
# router, SOAK_GATEWAYS gateways, pinned to CPU 0 as bench/run.sh does) under a mixed load on
# CPU 1 for SOAK_MINUTES, at SOAK_PCT % of the measured maximum, sampled every SOAK_SAMPLE_S:
#
#   fan-out    1 channel x 1,000 subscribers (belfry-bench broadcast, fixed rate)
#   many       1,000 channels x 5 subscribers (belfry-bench broadcast, fixed rate)
#   presence   200 users leaving and re-joining one presence channel, 20 cycles/s
#   whispers   50 presence channels x 4 members, 100 whispers/s (belfry-soak-load)
#   reconnects 100 channels x 5 subscribers, 100 publishes/s, 10 subscribers/s drop and reconnect
#              to the other gateway with recovery (belfry-soak-load)
#
# The maximum: the flat-out publish rates of the fan-out and of the many-channel load, each alone
# for 10 s on fresh servers (or given with the flags). The soak then runs each of the two at
# SOAK_PCT/2 % of its own maximum on fresh servers, so that together they keep the server core
# SOAK_PCT % busy; the three small loads come on top.
#
# Verdict (exit 0 PASS, 1 FAIL, 2 could not run), over the samples after the first
# SOAK_WARMUP_MIN minutes: every server process' RSS slope (least squares) at most
# SOAK_MAX_SLOPE_KIB KiB/min; nothing lost, refused or dropped by any load; every minute's
# delivery p99 of the fan-out, many-channel and whisper loads at most SOAK_MAX_P99_SPREAD x the
# median of that load's minutes. bench/soak_report.py computes it.
#
# Environment (defaults): SOAK_MINUTES (30), SOAK_PCT (70), SOAK_WARMUP_MIN (5, or half the run
# when shorter), SOAK_SAMPLE_S (10), SOAK_INTERVAL_S (60: latency series resolution),
# SOAK_GATEWAYS (2), SOAK_MAX_SLOPE_KIB (128), SOAK_MAX_P99_SPREAD (3), SOAK_NOTE (free text
# copied into the result, e.g. what else ran on the machine), BELFRY_BUILD_DIR (build),
# BENCH_KEEP=1 keeps the temporary directory (logs).
#
# Results: every sample, INTERVAL line, RESULT line and the summary, each tagged with the run's
# start time, are appended to bench/results/<yyyymmdd>-soak.jsonl. Run it on an otherwise idle
# machine: other work on the two cores shows up as latency spikes (see docs/benchmarks.md, Soak).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BELFRY_BUILD_DIR:-$ROOT/build}
BIN=$BUILD_DIR/bin
BENCH=$BIN/belfry-bench
LOAD=$BIN/belfry-soak-load
SERVER_CPU=0
BENCH_CPU=1
API_KEY=soak-$RANDOM$RANDOM$RANDOM
SELF=soak.sh

usage() {
    sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

MAX_FAN=""
MAX_MANY=""
for a in "$@"; do
    case $a in
    --max-fanout=*) MAX_FAN=${a#--max-fanout=} ;;
    --max-many=*) MAX_MANY=${a#--max-many=} ;;
    --help | -h) usage 0 ;;
    *) usage ;;
    esac
done

MINUTES=${SOAK_MINUTES:-30}
PCT=${SOAK_PCT:-70}
SAMPLE_S=${SOAK_SAMPLE_S:-10}
INTERVAL_S=${SOAK_INTERVAL_S:-60}
GATEWAYS=${SOAK_GATEWAYS:-2}
WARMUP_MIN=${SOAK_WARMUP_MIN:-$(python3 -c "print(min(5, $MINUTES / 2))")}
for v in "$MINUTES" "$PCT" "$SAMPLE_S" "$INTERVAL_S" "$GATEWAYS" ${MAX_FAN:+"$MAX_FAN"} \
    ${MAX_MANY:+"$MAX_MANY"}; do
    if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -eq 0 ]; then
        echo "$SELF: not a positive integer: $v" >&2
        exit 2
    fi
done
[ "$PCT" -le 100 ] || { echo "$SELF: SOAK_PCT must be at most 100" >&2; exit 2; }
SECS=$((MINUTES * 60))

for tool in redis-server redis-cli curl taskset python3; do
    command -v "$tool" >/dev/null || { echo "$SELF: $tool is required" >&2; exit 2; }
done
for b in "$BENCH" "$LOAD" "$BIN/belfry-gateway" "$BIN/belfry-router"; do
    [ -x "$b" ] || { echo "$SELF: $b is missing: make build" >&2; exit 2; }
done
if [ "$(nproc)" -lt 2 ]; then BENCH_CPU=0; fi

RUN_DIR=$(mktemp -d /tmp/belfry-soak-XXXXXX)
PIDS=()
LOAD_PIDS=()
# shellcheck source=bench/servers.sh
source "$ROOT/bench/servers.sh"

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    trap - EXIT INT TERM
    local pid
    for pid in "${LOAD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${LOAD_PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    stop_all
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$SELF: kept $RUN_DIR" >&2; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT
trap 'echo "$SELF: interrupted" >&2; exit 130' INT TERM

DATE=$(date +%Y%m%d)
STAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- . ':!bench/results' ':!docs' 2>/dev/null || COMMIT+="+"
OUT=$RUN_DIR/soak.jsonl
TAG="\"scenario\":\"soak\",\"date\":\"$STAMP\",\"commit\":\"$COMMIT\","

FAN_FLAGS=(--channels 1 --subs-per-channel 1000 --channel-name 'soak-fan-{i}' --msg-bytes 100
    --pub-conns 4 --connect-rate 5000)
MANY_FLAGS=(--channels 1000 --subs-per-channel 5 --channel-name 'soak-many-{i}' --msg-bytes 100
    --pub-conns 8 --connect-rate 5000)

# Field $2 of the RESULT line in file $1 (0 if none).
result_field() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        print(json.loads(line[7:]).get(sys.argv[2], 0)); break
else:
    print(0)' "$1" "$2"
}

# measure_max NAME FLAGS...: the flat-out publish rate of one load alone on fresh servers.
measure_max() {
    local name=$1 out=$RUN_DIR/max-$1.out
    shift
    start_belfry "$GATEWAYS"
    echo "--- maximum: $name, flat out for 10 s" >&2
    taskset -c "$BENCH_CPU" "$BENCH" --label "soak-max-$name" "$@" --duration 10 \
        --sub-url "$SUB_URLS" --pub-url "$PUB_URL" --api-key "$API_KEY" --pids "$BELFRY_PIDS" \
        --watchdog 300 >"$out" 2>"$RUN_DIR/max-$name.err" || true
    stop_all
    grep '^RESULT ' "$out" | sed "s/^RESULT {/{$TAG\"kind\":\"max\",/" >>"$OUT" || true
    result_field "$out" pub_per_s
}

BUSY=$(cpu_busy_pct)
echo "$SELF: $MINUTES min at $PCT % of the maximum, $GATEWAYS gateway(s); machine busy before:" \
    "$BUSY %, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$MAX_FAN" ] || MAX_FAN=$(measure_max fanout "${FAN_FLAGS[@]}" --window 8)
[ -n "$MAX_MANY" ] || MAX_MANY=$(measure_max many "${MANY_FLAGS[@]}" --window 64)
RATE_FAN=$(python3 -c "print(int(float('$MAX_FAN') * $PCT / 200))")
RATE_MANY=$(python3 -c "print(int(float('$MAX_MANY') * $PCT / 200))")
if [ "$RATE_FAN" -lt 1 ] || [ "$RATE_MANY" -lt 1 ]; then
    echo "$SELF: no maximum measured (fan-out $MAX_FAN/s, many $MAX_MANY/s)" >&2
    exit 2
fi
echo "$SELF: maximum fan-out $MAX_FAN publishes/s, many channels $MAX_MANY publishes/s;" \
    "soak rates $RATE_FAN/s and $RATE_MANY/s"

# ------------------------------------------------------------------------------------------------
# The soak

start_belfry "$GATEWAYS"
GW_WS=""
for p in "${GW_PORTS[@]}"; do GW_WS+="${GW_WS:+,}ws://127.0.0.1:$p"; done
PRES_URLS=""
for p in "${GW_PORTS[@]}"; do
    PRES_URLS+="${PRES_URLS:+,}ws://127.0.0.1:$p/ws/presence-soak?token=t&userId={user}"
done
WATCHDOG=$((SECS + 600))

# launch NAME COMMAND...: one load on CPU 1, its output in $RUN_DIR/NAME.out
launch() {
    local name=$1
    shift
    taskset -c "$BENCH_CPU" "$@" >"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" &
    LOAD_PIDS+=($!)
    LOAD_NAMES+=("$name")
}
LOAD_NAMES=()
T0=$(date +%s)
launch fanout "$BENCH" --label soak-fanout "${FAN_FLAGS[@]}" --rate "$RATE_FAN" \
    --duration "$SECS" --interval "$INTERVAL_S" --sub-url "$SUB_URLS" --pub-url "$PUB_URL" \
    --api-key "$API_KEY" --watchdog "$WATCHDOG" --drain-timeout-ms 10000
launch many "$BENCH" --label soak-many "${MANY_FLAGS[@]}" --rate "$RATE_MANY" \
    --duration "$SECS" --interval "$INTERVAL_S" --sub-url "$SUB_URLS" --pub-url "$PUB_URL" \
    --api-key "$API_KEY" --watchdog "$WATCHDOG" --drain-timeout-ms 10000
launch presence "$BENCH" --label soak-presence --mode presence --users 200 --churn-rate 20 \
    --duration "$SECS" --sub-url "$PRES_URLS" --watchdog "$WATCHDOG"
launch load "$LOAD" --label soak-load --gateways "$GW_WS" \
    --router "http://127.0.0.1:$ROUTER_PORT" --api-key "$API_KEY" --duration "$SECS" \
    --interval "$INTERVAL_S" --watchdog "$WATCHDOG"

# Server processes to sample: name=pid
SERVERS=("router=$ROUTER_PID" "redis=$REDIS_PID")
for g in "${!GW_PIDS[@]}"; do SERVERS+=("gateway$((g + 1))=${GW_PIDS[$g]}"); done
TICK=$(getconf CLK_TCK)

# One SAMPLE line: t_s, and per server process RSS (KiB) and CPU seconds so far.
sample() {
    local now=$1 s name pid rss cpu procs=""
    for s in "${SERVERS[@]}"; do
        name=${s%%=*} pid=${s#*=}
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo -1)
        cpu=$(awk -v t="$TICK" '{sub(/.*\) /, ""); print ($12 + $13) / t}' "/proc/$pid/stat" \
            2>/dev/null || echo -1)
        procs+="${procs:+,}{\"name\":\"$name\",\"pid\":$pid,\"rss_kib\":${rss:--1},\"cpu_s\":${cpu:--1}}"
    done
    # Redis' own view: allocated bytes (not RSS) and keys, to tell data that grows from memory
    # the allocator holds
    local used keys
    used=$(timeout 5 redis-cli -p "$REDIS_PORT" info memory 2>/dev/null |
        awk -F: '/^used_memory:/ {printf "%d", $2 / 1024}')
    keys=$(timeout 5 redis-cli -p "$REDIS_PORT" dbsize 2>/dev/null | tr -dc 0-9)
    # The load generators' CPU, and the whole machine's busy and total CPU seconds (/proc/stat):
    # what neither the servers nor the loads used is other processes' (builds, tests)
    local loads_cpu=0 c machine
    for pid in "${LOAD_PIDS[@]}"; do
        c=$(awk -v t="$TICK" '{sub(/.*\) /, ""); print ($12 + $13) / t}' "/proc/$pid/stat" \
            2>/dev/null || echo 0)
        loads_cpu=$(awk -v a="$loads_cpu" -v b="${c:-0}" 'BEGIN {print a + b}')
    done
    machine=$(awk -v t="$TICK" '/^cpu / {b = $2 + $3 + $4 + $7 + $8 + $9; tot = b + $5 + $6;
        printf "\"machine_busy_s\":%.2f,\"machine_total_s\":%.2f", b / t, tot / t}' /proc/stat)
    echo "{$TAG\"kind\":\"sample\",\"t_s\":$((now - T0)),\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"redis_used_kib\":${used:--1},\"redis_keys\":${keys:--1},\"loads_cpu_s\":$loads_cpu,$machine,\"servers\":[$procs]}" >>"$OUT"
}

alive() {
    local pid
    for pid in "${LOAD_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

# Sample until every load has ended, bounded by its watchdog plus a minute.
NEXT=$T0
LAST_MIN=-1
while alive; do
    NOW=$(date +%s)
    if [ "$NOW" -ge "$NEXT" ]; then
        sample "$NOW"
        NEXT=$((NEXT + SAMPLE_S))
        MIN=$(((NOW - T0) / 60))
        if [ "$MIN" != "$LAST_MIN" ]; then
            LAST_MIN=$MIN
            echo "  $(date -u +%H:%M:%S) minute $MIN: load average $(cut -d' ' -f1-3 /proc/loadavg)"
        fi
    fi
    if [ $((NOW - T0)) -gt $((WATCHDOG + 60)) ]; then
        echo "$SELF: loads still running after $((WATCHDOG + 60)) s: stopping them" >&2
        break
    fi
    sleep 1
done
sample "$(date +%s)"

RC=0
for i in "${!LOAD_PIDS[@]}"; do
    rc=0
    wait "${LOAD_PIDS[$i]}" 2>/dev/null || rc=$?
    name=${LOAD_NAMES[$i]}
    grep -E '^(INTERVAL|RESULT) ' "$RUN_DIR/$name.out" |
        sed -E "s/^(INTERVAL|RESULT) \{/{$TAG\"kind\":\"\\L\\1\",\"load\":\"$name\",\"exit\":$rc,/" \
            >>"$OUT" || true
    if [ "$rc" -ne 0 ]; then
        echo "$SELF: load $name exited with status $rc; its last messages:"
        tail -5 "$RUN_DIR/$name.err" | sed 's/^/    /'
    fi
done
LOAD_PIDS=()

echo "{$TAG\"kind\":\"config\",\"minutes\":$MINUTES,\"pct\":$PCT,\"warmup_min\":$WARMUP_MIN,\"sample_s\":$SAMPLE_S,\"gateways\":$GATEWAYS,\"max_fanout_pub_per_s\":$MAX_FAN,\"max_many_pub_per_s\":$MAX_MANY,\"rate_fanout\":$RATE_FAN,\"rate_many\":$RATE_MANY,\"busy_before_pct\":$BUSY,\"note\":$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "${SOAK_NOTE:-}")}" >>"$OUT"

python3 "$ROOT/bench/soak_report.py" "$OUT" --warmup-min "$WARMUP_MIN" \
    --max-slope-kib "${SOAK_MAX_SLOPE_KIB:-128}" --max-p99-spread "${SOAK_MAX_P99_SPREAD:-3}" \
    --summary-tag "$TAG" || RC=$?
mkdir -p "$ROOT/bench/results"
cat "$OUT" >>"$ROOT/bench/results/$DATE-soak.jsonl"
echo "results appended to bench/results/$DATE-soak.jsonl (date $STAMP)"
exit "$RC"
