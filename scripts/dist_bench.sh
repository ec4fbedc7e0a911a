#!/usr/bin/env bash
# The figures of docs/distributed.md: examples/train_distributed --bench for
# MLP batch 256 and LeNet batch 64 (the global batch) on 1 process × 1
# thread, 1 process × 2 threads and 2 processes × 1 thread (half the batch
# each), ROUNDS rounds interleaved, then --bench-allreduce on 2 processes.
# Prints every line with the load average at its start: the machine may be
# shared, so read the figures with it. OVERLAP=1 instead compares, on
# 2 processes × 1 thread, the exchange at Trainer::step with the exchange
# started during backward (--overlap), in 4 MiB and 64 KiB buckets, eager
# and hybridized.
#   BUILD=build-rel STEPS=200 ROUNDS=3 ./scripts/dist_bench.sh
#   BUILD=build-rel STEPS=200 ROUNDS=3 OVERLAP=1 ./scripts/dist_bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BUILD:-build-rel}/examples/train_distributed
STEPS=${STEPS:-200}
MPIRUN=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
load() { cut -d' ' -f1-3 /proc/loadavg; }
run() {  # label, then the command
  local label=$1; shift
  local before; before=$(load)
  local line; line=$("$@" 2>&1 | grep '^bench:' || echo "bench: FAILED")
  echo "$label | load $before -> $(load) | $line"
}
date -u +"%Y-%m-%d %H:%M UTC"; nproc
if [ "${OVERLAP:-0}" = 1 ]; then
  for round in $(seq "${ROUNDS:-3}"); do
    for model in "mlp 256" "lenet 64"; do
      set -- $model
      for mode in eager hybrid; do
        for bytes in 4194304 65536; do
          for when in "" --overlap; do
            run "round $round $1 $mode ${bytes}B ${when:-at-step}" env HYBRID_NUM_THREADS=1 "${MPIRUN[@]}" -np 2 \
              "$BIN" --model "$1" --mode "$mode" --batch $(($2 / 2)) --bench "$STEPS" --bucket-bytes "$bytes" $when
          done
        done
      done
    done
  done
  echo "load at the end: $(load)"
  exit 0
fi
for round in $(seq "${ROUNDS:-3}"); do
  for model in "mlp 256" "lenet 64"; do
    set -- $model
    name=$1 batch=$2
    run "round $round $name 1p x 1t" env HYBRID_NUM_THREADS=1 "${MPIRUN[@]}" -np 1 "$BIN" --model "$name" --batch "$batch" --bench "$STEPS"
    run "round $round $name 1p x 2t" env HYBRID_NUM_THREADS=2 "${MPIRUN[@]}" -np 1 --bind-to none "$BIN" --model "$name" --batch "$batch" --bench "$STEPS"
    run "round $round $name 2p x 1t" env HYBRID_NUM_THREADS=1 "${MPIRUN[@]}" -np 2 "$BIN" --model "$name" --batch $((batch / 2)) --bench "$STEPS"
  done
done
echo "allreduce, load $(load):"
"${MPIRUN[@]}" -np 2 "$BIN" --bench-allreduce
echo "load at the end: $(load)"
