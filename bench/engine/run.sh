#!/usr/bin/env bash
# bench/engine: the engine's single-threaded MLP and CNN training throughput, the MLP step against raw
# sgemm at the same shapes, a hand-written numpy MLP and PyTorch on the same shapes, all in one run,
# then the ratios against the issue's targets.
#
# Usage: bench/engine/run.sh [--install-torch] [seconds per measurement, default 3]
#   --install-torch (or BENCH_INSTALL_TORCH=1) installs CPU PyTorch with pip first if it is not importable
#   (the CPU wheel index first, then PyPI's torch). Otherwise PyTorch is used when importable, and the run
#   says so when it is not.
#
# Every rate is printed by the wall clock and per CPU-second of the measuring process; the second moves
# less when other processes share the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=3
install=${BENCH_INSTALL_TORCH:-0}
for arg in "$@"; do
  case $arg in
    --install-torch) install=1 ;;
    *) seconds=$arg ;;
  esac
done
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

if [ "$install" = 1 ]; then
  if python3 -c 'import torch' 2>/dev/null; then
    echo "PyTorch already installed: $(python3 -c 'import torch; print(torch.__version__)')"
  else
    echo "installing PyTorch (CPU wheels) with pip ..."
    python3 -m pip install --quiet --retries 1 --timeout 30 torch --index-url https://download.pytorch.org/whl/cpu \
      || { echo "CPU wheel index unreachable; installing PyPI's torch"; python3 -m pip install --quiet torch; } \
      || echo "pip could not install PyTorch; going on without it"
  fi
fi

swift build -c release --product engine-bench >/dev/null
echo "load before the run: $(uptime)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
.build/release/engine-bench "$seconds" | tee "$out/engine.txt"
python3 bench/engine/numpy_mlp.py "$seconds" >"$out/numpy.txt"
if python3 -c 'import torch' 2>/dev/null; then
  python3 bench/engine/torch_bench.py "$seconds" >"$out/torch.txt"
else
  echo "PyTorch is not installed: no PyTorch baseline in this run (bench/engine/run.sh --install-torch installs it)"
fi
echo "load after the run: $(uptime)"

python3 - "$out" <<'EOF'
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
engine = (out / "engine.txt").read_text()


def engine_rates(prefix):
    m = re.search(rf"^{prefix}.*?: (\d+) samples/s.*\((\d+) samples per CPU-second\)", engine, re.M)
    return float(m[1]), float(m[2])


mlp, cnn = engine_rates("MLP"), engine_rates("CNN")
step = re.search(r"MLP step / raw sgemm = ([\d.]+) \(by CPU time ([\d.]+)\)", engine)
numpy = [float(v) for v in (out / "numpy.txt").read_text().split()]
torch = {}
if (out / "torch.txt").exists():
    for line in (out / "torch.txt").read_text().splitlines():
        key, *values = line.split()
        torch[key] = values
    t = torch
    print(f"PyTorch {t['version'][0]}, same shapes: MLP {t['mlp'][0]} samples/s ({t['mlp'][1]} per CPU-second); "
          f"CNN NCHW {t['cnn_nchw'][0]} ({t['cnn_nchw'][1]}), channels_last {t['cnn_channels_last'][0]} "
          f"({t['cnn_channels_last'][1]}); the faster layout is the baseline")
print(f"numpy MLP, same shapes: {numpy[0]:.0f} samples/s ({numpy[1]:.0f} per CPU-second)")


def ratio(name, ours, theirs, target, unit="x"):
    wall, cpu = ours[0] / theirs[0], ours[1] / theirs[1]
    verdict = "met" if min(wall, cpu) >= target else ("not met" if max(wall, cpu) < target else "met by one measure")
    print(f"{name} = {wall:.2f}{unit} (by CPU time {cpu:.2f}{unit}); target >= {target}{unit}: {verdict}")


ratio("engine MLP / numpy MLP", mlp, numpy, 1.0)
if torch:
    ratio("engine MLP / PyTorch MLP", mlp, [float(v) for v in torch["mlp"]], 1.25)
    nchw, last = [float(v) for v in torch["cnn_nchw"]], [float(v) for v in torch["cnn_channels_last"]]
    ratio("engine CNN / PyTorch CNN", cnn, [max(nchw[0], last[0]), max(nchw[1], last[1])], 1.0)
else:
    print("engine / PyTorch: not measured (PyTorch not installed)")
ratio("MLP step GFLOP/s / raw sgemm GFLOP/s", [float(step[1]), float(step[2])], [1, 1], 0.75, unit="")
EOF
