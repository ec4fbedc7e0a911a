#!/usr/bin/env bash
# Builds the unit tests with sanitizers and runs every test through CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh

BUILD=build-test
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHYBRID_BUILD_TESTS=ON -DHYBRID_SANITIZE=ON
cmake --build "$BUILD" -j2
# ctest prints "100% tests passed, 0 tests failed out of N" and exits non-zero
# on any failure; set -e passes that status on.
ctest --test-dir "$BUILD" --output-on-failure -j2
