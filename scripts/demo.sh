#!/usr/bin/env bash
# Builds and runs the demo example in a scratch directory (it writes files).
# DEMO=<example> runs another example, e.g.
#   DEMO=train_fashion_mnist ./scripts/demo.sh --epochs 5
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEMO=${DEMO:-demo}
FALLBACK=tensors

./scripts/setup.sh

BUILD=build
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DHYBRID_BUILD_EXAMPLES=ON -DHYBRID_BUILD_TESTS=OFF -DHYBRID_BUILD_BENCHMARKS=OFF

if [ ! -f "examples/$DEMO.cpp" ] && [ -f "examples/$FALLBACK.cpp" ]; then
  DEMO=$FALLBACK
fi
if [ ! -f "examples/$DEMO.cpp" ]; then
  echo "demo: examples/$DEMO.cpp does not exist" >&2
  exit 1
fi
cmake --build "$BUILD" -j2 --target "$DEMO"

RUN="$BUILD/demo-run"
mkdir -p "$RUN"
cd "$RUN"
exec "../examples/$DEMO" "$@"
