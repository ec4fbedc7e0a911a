#!/usr/bin/env bash
# Builds a benchmark binary in Release and runs it with repetitions; it ends
# with a table of medians as ratios against its baseline.
#   REPS=10 ./scripts/bench.sh --benchmark_filter=mlp
#   BENCH=cnn_bench ./scripts/bench.sh                           # the convolutional models
#   BENCH=thread_ceiling_bench ./scripts/bench.sh                # what a 2nd thread can give here
#   BENCH_CMAKE_ARGS=-DHYBRID_WITH_TORCH=ON ./scripts/bench.sh   # adds libtorch
# Extra arguments go to the benchmark binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh

BUILD=build-bench
# BENCH_CMAKE_ARGS is split on spaces on purpose: it may hold several -D flags.
# shellcheck disable=SC2086
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DHYBRID_BUILD_TESTS=OFF -DHYBRID_BUILD_EXAMPLES=OFF -DHYBRID_BUILD_BENCHMARKS=ON \
  ${BENCH_CMAKE_ARGS:-}
BENCH=${BENCH:-hybrid_bench}
cmake --build "$BUILD" -j2 --target "bench_$BENCH"

exec "$BUILD/bench/$BENCH" --benchmark_repetitions="${REPS:-5}" \
  --benchmark_report_aggregates_only=true "$@"
