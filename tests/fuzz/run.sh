#!/usr/bin/env bash
# libFuzzer harnesses for Belfry's parsers (see tests/fuzz/CMakeLists.txt).
#
#   run.sh regress              build (clang, ASan+UBSan) and run every harness over its committed
#                               corpus only; prints "N passed, M failed", exits 1 on any failure.
#                               Part of `make test`; takes seconds.
#   run.sh fuzz [SECONDS] [H..] fuzz each harness (default: all) for SECONDS (default 60), one
#                               after another; prints executions and findings per harness.
#                               New inputs go to $BUILD/fuzz/work/H, crashes to $BUILD/fuzz/findings/H.
#   run.sh min H FILE           minimize a crashing input of harness H (writes FILE.min).
#   run.sh seeds                regenerate tests/fuzz/corpus/ with the real encoders.
#
# Environment: FUZZ_BUILD (default <repo>/build-fuzz), CC (default clang), FUZZ_JOBS (build -j).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
BIN=$BUILD/fuzz/bin
CORPUS=$HERE/corpus
HARNESSES=(wire_fanout wire_inbox message channel config auth_token auth_claims client_msg pusher_msg)

dict_of() {
    case $1 in
    wire_*) echo "$HERE/dict/msgpack.dict" ;;
    message | client_msg | auth_claims | pusher_msg) echo "$HERE/dict/json.dict" ;;
    config) echo "$HERE/dict/config.dict" ;;
    channel) echo "$HERE/dict/channel.dict" ;;
    auth_token) echo "$HERE/dict/jwt.dict" ;;
    esac
}

build() {
    local cc=${CC:-clang}
    if ! command -v "$cc" >/dev/null; then
        echo "run.sh: $cc not found; install it: apt-get install -y clang libclang-rt-14-dev" >&2
        exit 2
    fi
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$HERE" -B "$BUILD" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug >/dev/null
    fi
    cmake --build "$BUILD" -j "${FUZZ_JOBS:-$(nproc)}" >"$BUILD/build.log" 2>&1 || {
        cat "$BUILD/build.log" >&2
        echo "run.sh: build failed" >&2
        exit 2
    }
}

# Deterministic: no leak-check noise from libraries, abort on the first error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

regress() {
    build
    local pass=0 fail=0 h n log
    mkdir -p "$BUILD/fuzz/logs"
    for h in "${HARNESSES[@]}"; do
        log=$BUILD/fuzz/logs/regress-$h.log
        n=$(find "$CORPUS/$h" -type f | wc -l)
        if "$BIN/fuzz_$h" -runs=0 -timeout=10 "$CORPUS/$h" >"$log" 2>&1; then
            echo "ok   $h ($n inputs)"
            pass=$((pass + 1))
        else
            echo "FAIL $h ($n inputs): see $log"
            grep -E "ERROR: |property violated|runtime error|Test unit written" "$log" | head -5
            fail=$((fail + 1))
        fi
    done
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

fuzz() {
    local secs=${1:-60}
    shift || true
    local list=("$@")
    [ ${#list[@]} -eq 0 ] && list=("${HARNESSES[@]}")
    build
    local h work found log execs cov corp rss status total=0
    for h in "${list[@]}"; do
        work=$BUILD/fuzz/work/$h
        found=$BUILD/fuzz/findings/$h
        log=$BUILD/fuzz/logs/fuzz-$h.log
        mkdir -p "$work" "$found" "$BUILD/fuzz/logs"
        status=0
        # the work dir comes first: libFuzzer adds new inputs there, never to the committed seeds
        "$BIN/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
            -print_final_stats=1 -dict="$(dict_of "$h")" -artifact_prefix="$found/" \
            "$work" "$CORPUS/$h" >"$log" 2>&1 || status=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
        cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
        local n
        n=$(find "$found" -type f | wc -l)
        total=$((total + n))
        printf '%-12s %12s execs in %ss  %s  peak rss %s MB  findings: %s\n' "$h" "${execs:-?}" \
            "$secs" "${cov:-?}" "${rss:-?}" "$([ "$n" -eq 0 ] && echo none || echo "$n in $found")"
        if [ "$status" -ne 0 ]; then
            grep -E "ERROR: |property violated|runtime error|SUMMARY" "$log" | head -5 | sed 's/^/    /'
        fi
    done
    echo "findings: $total"
    [ "$total" -eq 0 ]
}

minimize() {
    local h=$1 file=$2
    build
    "$BIN/fuzz_$h" -minimize_crash=1 -max_total_time=60 -exact_artifact_path="$file.min" "$file"
    echo "minimized: $file.min ($(wc -c <"$file.min") bytes)"
}

case ${1:-} in
regress) regress ;;
fuzz)
    shift
    fuzz "$@"
    ;;
min) minimize "$2" "$3" ;;
seeds)
    build
    "$BIN/fuzz_seeds" "$CORPUS"
    echo "seeds written to $CORPUS"
    ;;
*)
    sed -n '2,14p' "$0"
    exit 2
    ;;
esac
