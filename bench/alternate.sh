#!/usr/bin/env bash
# bench/alternate.sh latency RATE [SETS] | ackpace [SETS]
#
# Alternated runs for the ratios of issue 22, on fresh servers each run (bench/servers.sh: a
# private redis-server, one router, one gateway, all on CPU 0; the load generator on CPU 1):
#   latency RATE  scenario 3 (1 channel x 1,000 subscribers, 100-byte messages, RATE msgs/s, 20 s)
#                 in sets of four runs, Belfry, the floor, the floor, Belfry: each Belfry run is
#                 paired with the floor run next to it, so that drift in the machine cancels
#   ackpace       scenario 9 (8 publishers as fast as acknowledged, 400-byte messages, 15 s) in
#                 sets of three: many channels (2,000 x 5) at --backlog-limit-ms 5, the big
#                 channel (1 x 1,000) with --fanout-window 1 on the router, and the big channel
#                 at --backlog-limit-ms 5 alone
# SETS: how many sets (default 4 and 3). Every run's RESULT line, with "set", "variant" and the
# commit prepended, goes to bench/results/<yyyymmdd>[-<BENCH_ROUND>]-alternated.jsonl, and a
# one-line summary to stdout. docs/benchmarks.md (rounds 11 to 13) reads the pairs from there.
# Hold the benchmark lock (flock) and keep the machine otherwise idle. Environment: BELFRY_BUILD_DIR
# and BELFRY_BENCH_BIN, as for bench/run.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=alternate.sh
PIDS=()
RUN_DIR=$(mktemp -d)
# shellcheck source=bench/servers.sh
source "$ROOT/bench/servers.sh"
trap 'stop_all; rm -rf "$RUN_DIR"' EXIT

usage() {
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

MODE=${1:-}
case $MODE in
latency)
    RATE=${2:-}
    [[ $RATE =~ ^[0-9]+$ ]] || usage
    SETS=${3:-4}
    ;;
ackpace) SETS=${2:-3} ;;
*) usage ;;
esac
[[ $SETS =~ ^[0-9]+$ ]] || usage

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
git -C "$ROOT" diff --quiet HEAD -- gateway router common bench 2>/dev/null || COMMIT="$COMMIT+"
OUT=$ROOT/bench/results/$(date -u +%Y%m%d)${BENCH_ROUND:+-$BENCH_ROUND}-alternated.jsonl
mkdir -p "$(dirname "$OUT")"

# run SET VARIANT TARGET FLAGS... : one load generator run on the servers started, one RESULT line
run() {
    local set=$1 variant=$2 target=$3
    shift 3
    sleep 2 # the servers settle
    local line
    line=$(taskset -c "$BENCH_CPU" "$BENCH" --target "$target" --label "alt-$variant" "$@" \
        2>"$RUN_DIR/bench.err" | grep '^RESULT ' | sed 's/^RESULT //') || true
    stop_all
    if [ -z "$line" ]; then
        echo "$SELF: set $set $variant: no result ($RUN_DIR/bench.err):" >&2
        tail -5 "$RUN_DIR/bench.err" >&2
        return 1
    fi
    echo "{\"set\":$set,\"variant\":\"$variant\",\"commit\":\"$COMMIT\",${line#\{}" >>"$OUT"
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])
cpu = " ".join("%s %.2f" % (s["name"], s["cpu_s"]) for s in d["servers"])
print("set %d %-10s %-13s %7.0f pub/s  refused %6d  p50 %6.2f  p99 %6.2f ms  lost %d  cpu s: %s" % (
    d["set"], d["variant"], d["target"], d["pub_per_s"], d.get("pub_refused", 0),
    d["latency_us"]["p50"] / 1000, d["latency_us"]["p99"] / 1000, d["lost"], cpu))' \
        "{\"set\":$set,\"variant\":\"$variant\",${line#\{}"
}

echo "$SELF: $MODE, $SETS sets, results to $OUT"
for set in $(seq "$SETS"); do
    if [ "$MODE" = latency ]; then
        flags=(--channels 1 --subs-per-channel 1000 --rate "$RATE" --duration 20 --msg-bytes 100
            --pub-conns 4 --arrival-latency 1)
        for target in belfry floor floor belfry; do
            if [ "$target" = belfry ]; then
                start_belfry 1
                run "$set" "latency-$RATE" belfry "${flags[@]}" --sub-url "$SUB_URLS" \
                    --pub-url "$PUB_URL" --api-key "$API_KEY" --pids "$BELFRY_PIDS"
            else
                start_floor
                run "$set" "latency-$RATE" floor "${flags[@]}" --sub-url "$SUB_URLS" \
                    --pub-url "$PUB_URL" --pub-body '{payload}' --pids "floor=$FLOOR_PID"
            fi
        done
    else
        for variant in many-5ms big-window big-5ms; do
            case $variant in
            many-*) shape=(--channels 2000 --subs-per-channel 5) ;;
            *) shape=(--channels 1 --subs-per-channel 1000) ;;
            esac
            GATEWAY_ARGS=(--backlog-limit-ms 5)
            ROUTER_ARGS=()
            [ "$variant" != big-window ] || ROUTER_ARGS=(--fanout-window 1)
            start_belfry 1
            GATEWAY_ARGS=()
            ROUTER_ARGS=()
            run "$set" "$variant" belfry "${shape[@]}" --procs 1 --msg-bytes 400 --pub-conns 8 \
                --pub-pipeline 1 --window 1000000 --connect-rate 5000 --duration 15 --count 0 \
                --sub-url "$SUB_URLS" --pub-url "$PUB_URL" --api-key "$API_KEY" \
                --pids "$BELFRY_PIDS"
        done
    fi
done
