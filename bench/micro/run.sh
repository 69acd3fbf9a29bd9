#!/usr/bin/env bash
# Builds the release tree build-bench (if missing) and runs every micro-benchmark, writing one JSON
# file per program into OUTPUT_DIR (default bench/results/); the console gets the same tables.
#
#   sudo bench/micro/run.sh [OUTPUT_DIR] [Google Benchmark flags...]
#
# Defaults: 5 repetitions of each benchmark, aggregates only (mean, median, stddev, cv, min; on a
# shared machine read min and median, see README.md). Flags after OUTPUT_DIR go to both programs,
# e.g. --benchmark_filter=segment_path or --benchmark_repetitions=1 --benchmark_min_time=0.1.
# SLUICE_FLOW_SIZES chooses flow_lookup_bench's table sizes (default 1000,1000000; 10000000 needs
# about 1.2 GiB and minutes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build-bench"
OUT=${1:-$ROOT/bench/results}
[ $# -gt 0 ] && shift

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: the benchmarks start DPDK's EAL; run as root" >&2
  exit 1
fi

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "$ROOT" -Dtests=false -Dbenchmarks=true -Dbuildtype=release
fi
ninja -C "$BUILD" bench/micro/micro_bench bench/flow_lookup_bench

mkdir -p "$OUT"
common=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true
        --benchmark_out_format=json)

echo "== micro_bench -> $OUT/micro_bench.json"
"$BUILD/bench/micro/micro_bench" "${common[@]}" --benchmark_out="$OUT/micro_bench.json" "$@"

echo "== flow_lookup_bench -> $OUT/flow_lookup.json"
"$BUILD/bench/flow_lookup_bench" "${common[@]}" --benchmark_out="$OUT/flow_lookup.json" \
  --flows="${SLUICE_FLOW_SIZES:-1000,1000000}" "$@" &
flow_pid=$!
status=0
wait "$flow_pid" || status=$?
# Its EAL runtime directory (file prefix bench-<pid>) stays behind otherwise.
rm -rf "/var/run/dpdk/bench-$flow_pid"
exit "$status"
