#!/usr/bin/env bash
# Runs bench/gemm_bench one variant per process (each threading runtime's
# idle workers spin for a while after a call, and on two cores they starve
# the next variant's threads), each process with eigen/1 as its baseline,
# and prints one table: GFLOP/s and the ratio to eigen/1 of the same process.
#   BUILD=build-bench REPS=3 ./scripts/gemm_bench.sh [variant ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build-bench}
BIN="$BUILD/bench/gemm_bench"
OUT=$(mktemp -d)
if [ $# -eq 0 ]; then
  set -- eigen/2 eigen_omp/1 eigen_omp/2 openblas/1 openblas/2 openblas_pool/2 blis/1 blis/2 blis_pool/2 \
    dnnl/1 dnnl/2 dnnl_sgemm/1 dnnl_sgemm/2 dnnl_sgemm_pool/2
fi
for v in "$@"; do
  name=${v//\//_}
  "$BIN" --benchmark_filter="^gemm/.*/(eigen/1|$v)/" --benchmark_repetitions="${REPS:-3}" \
    --benchmark_report_aggregates_only=true --benchmark_min_time="${MIN_TIME:-0.1}" \
    --benchmark_out="$OUT/$name.json" --benchmark_out_format=json >/dev/null 2>&1 || echo "$v failed" >&2
done
python3 - "$OUT" "$@" <<'PY'
import json, os, statistics, sys
out, variants = sys.argv[1], sys.argv[2:]
shapes, bases, cells = [], {}, {}
for v in variants:
    path = os.path.join(out, v.replace('/', '_') + '.json')
    if not os.path.exists(path):
        continue
    base, mine = {}, {}
    for b in json.load(open(path))['benchmarks']:
        if b.get('aggregate_name') != 'median':
            continue
        _, shape, var, threads = b['run_name'].split('/')[:4]
        if shape not in shapes:
            shapes.append(shape)
        if f'{var}/{threads}' == 'eigen/1':
            base[shape] = (b['real_time'], b['GFLOP/s'])
        else:
            mine[shape] = (b['real_time'], b['GFLOP/s'])
    for shape, (t, g) in mine.items():
        if shape in base:
            cells[(shape, v)] = f'{g:.1f} ({base[shape][0] / t:.2f}×)'
            bases.setdefault(shape, []).append(base[shape][1])
print('GFLOP/s (ratio to eigen/1 in the same process); eigen/1: median over the processes')
print('| shape | eigen/1 | ' + ' | '.join(variants) + ' |')
print('|---|---|' + '---|' * len(variants))
for shape in shapes:
    b = f'{statistics.median(bases[shape]):.1f}' if shape in bases else '–'
    print(f'| {shape} | {b} | ' + ' | '.join(cells.get((shape, v), '–') for v in variants) + ' |')
PY
rm -rf "$OUT"
