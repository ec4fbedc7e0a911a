#!/usr/bin/env bash
# Installs the build, test and fuzzing toolchain from Debian packages.
# Quiet and quick when everything is already there; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(g++ cmake make libeigen3-dev nlohmann-json3-dev catch2 libbenchmark-dev
          clang libclang-rt-14-dev libtsan2 zlib1g-dev dataset-fashion-mnist
          libopenmpi-dev openmpi-bin)

source scripts/apt.sh

missing=()
for tool in g++ cmake make clang++ mpirun; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
have_file '/usr/include/eigen3/Eigen/Core' || missing+=(eigen3)
have_file '/usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake' ||
  have_file '/usr/lib/cmake/nlohmann_json/nlohmann_jsonConfig.cmake' || missing+=(nlohmann_json)
have_file '/usr/include/catch2/catch.hpp' || missing+=(catch2)
have_file '/usr/lib/*/cmake/benchmark/benchmarkConfig.cmake' || missing+=(benchmark)
# ThreadSanitizer's runtime, for the concurrency tests.
have_file '/usr/lib/*/libtsan.so.*' || missing+=(libtsan)
# zlib for the data component; Fashion-MNIST for its dataset tests and example.
have_file '/usr/include/zlib.h' || missing+=(zlib)
have_file '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz' || missing+=(fashion-mnist)
# Open MPI for the dist component, its tests (run by mpirun) and example.
have_file '/usr/lib/*/openmpi/include/mpi.h' || missing+=(openmpi)
# libFuzzer's runtime, for the fuzz targets built with clang++.
have_file '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' || missing+=(libfuzzer)

if [ ${#missing[@]} -ne 0 ]; then
  echo "setup: missing ${missing[*]}"
  apt_install setup "${PACKAGES[@]}"
fi

# The ONNX component (libonnx-dev, protobuf) and Node with onnxruntime-node
# for its ONNX Runtime cross-check; quick when present.
./scripts/setup_onnx.sh
