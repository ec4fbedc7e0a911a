#!/usr/bin/env bash
# Installs what the ONNX component and its tests need, on Debian 12:
#  - libonnx-dev (ONNX 1.12: its CMake package, protobuf classes and checker),
#    libprotobuf-dev and protobuf-compiler, for the hybrid::onnx component;
#  - Node.js and npm (Debian's nodejs 18 is enough; a newer node already on
#    PATH is used as is), and onnxruntime-node into NODE_DIR, for the tests that
#    run exported models with ONNX Runtime (tests/onnx/ort_run.js).
#
#   scripts/setup_onnx.sh [NODE_DIR]     (default: $HYBRID_NODE_DIR or .deps/node)
#
# onnxruntime-node lands in NODE_DIR/node_modules; pass that folder to
# ort_run.js with --modules (or put it on NODE_PATH). The package is installed
# with --ignore-scripts: its CPU library ships inside it, and the install
# script would only download GPU binaries. HYBRID_SKIP_NODE=1 skips Node and
# the npm install (offline machines; the ONNX Runtime tests then skip).
# Quiet and quick when everything is already there; safe to run repeatedly.
#
# The fixtures in tests/onnx/fixtures are committed, so nothing here installs
# PyTorch. Regenerating them needs `apt install python3-torch python3-onnx` and
# `/usr/bin/python3 tests/onnx/make_fixtures.py`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ORT_VERSION=1.30.0
NODE_DIR=${1:-${HYBRID_NODE_DIR:-.deps/node}}
SKIP_NODE=${HYBRID_SKIP_NODE:-0}

source scripts/apt.sh

packages=()
have_file '/usr/lib/*/cmake/ONNX/ONNXConfig.cmake' && have_file '/usr/include/onnx/checker.h' ||
  packages+=(libonnx-dev)
have_file '/usr/include/google/protobuf/message.h' || packages+=(libprotobuf-dev)
command -v protoc > /dev/null || packages+=(protobuf-compiler)
if [ "$SKIP_NODE" != 1 ]; then
  command -v node > /dev/null || packages+=(nodejs)
  # A node from elsewhere (e.g. NodeSource) brings its own npm; Debian's npm
  # would conflict with it, so it is only installed next to Debian's nodejs.
  command -v npm > /dev/null || packages+=(npm)
fi

if [ ${#packages[@]} -ne 0 ]; then
  apt_install setup_onnx "${packages[@]}"
fi

[ "$SKIP_NODE" = 1 ] && exit 0

# onnxruntime-node 1.30 loads through N-API 6; tested with Debian 12's node
# 18.20 and node 20.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "setup_onnx: node $(node --version) is too old; onnxruntime-node $ORT_VERSION needs node 18 or newer" >&2
  exit 1
fi

pkg_json="$NODE_DIR/node_modules/onnxruntime-node/package.json"
if [ -f "$pkg_json" ] && grep -q "\"version\": \"$ORT_VERSION\"" "$pkg_json"; then
  exit 0
fi

echo "setup_onnx: installing onnxruntime-node@$ORT_VERSION into $NODE_DIR"
mkdir -p "$NODE_DIR"
# A package.json of its own keeps npm from adopting a parent folder's.
[ -f "$NODE_DIR/package.json" ] || echo '{ "private": true }' > "$NODE_DIR/package.json"
(cd "$NODE_DIR" &&
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$ORT_VERSION")
# Loading it proves the CPU library for this platform is in the package.
node -e "require(process.argv[1]); " "$(cd "$NODE_DIR" && pwd)/node_modules/onnxruntime-node" || {
  echo "setup_onnx: onnxruntime-node@$ORT_VERSION was installed into $NODE_DIR but does not load" >&2
  exit 1
}
