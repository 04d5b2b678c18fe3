#!/usr/bin/env bash
# bench/engine: the engine's single-threaded MLP and CNN training throughput, the MLP step against raw
# sgemm at the same shapes, and a hand-written numpy MLP on the same shapes, in one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product engine-bench >/dev/null
export OPENBLAS_NUM_THREADS=1
.build/release/engine-bench "${1:-3}" | tee /tmp/orch-engine-bench.txt
numpy=$(python3 bench/engine/numpy_mlp.py "${1:-3}")
ours=$(sed -n 's/^MLP.*: \([0-9]*\) samples\/s.*/\1/p' /tmp/orch-engine-bench.txt)
python3 -c "print(f'numpy MLP, same shapes: $numpy samples/s; engine / numpy = {$ours/$numpy:.2f}x')"
