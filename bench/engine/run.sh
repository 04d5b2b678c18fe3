#!/usr/bin/env bash
# bench/engine: the engine's single-threaded MLP and CNN training throughput, the MLP step against raw
# sgemm at the same shapes, the CNN step against raw sgemm at the CNN's own GEMM shapes (traced from
# one step), a hand-written numpy MLP and PyTorch on the same shapes, all in one run,
# then the ratios against the issue's targets.
#
# Usage: bench/engine/run.sh [--install-torch] [seconds per measurement, default 3]
#   --install-torch (or BENCH_INSTALL_TORCH=1) installs CPU PyTorch with pip first if it is not importable
#   (the CPU wheel index first, then PyPI's torch). Otherwise PyTorch is used when importable, and the run
#   says so when it is not.
#   BENCH_ROUNDS (default 3): the engine, numpy and PyTorch are measured in turn this many times, and each
#   figure is the best of its rounds: on a shared machine, the least disturbed measurement.
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
rounds=${BENCH_ROUNDS:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if python3 -c 'import torch' 2>/dev/null; then torch=1; else torch=0; fi
for round in $(seq "$rounds"); do
  echo "round $round of $rounds, load before: $(uptime)"
  .build/release/engine-bench "$seconds" | tee "$out/engine.$round"
  python3 bench/engine/numpy_mlp.py "$seconds" >"$out/numpy.$round"
  echo "numpy MLP: $(cat "$out/numpy.$round") (samples/s, per CPU-second)"
  if [ "$torch" = 1 ]; then
    python3 bench/engine/torch_bench.py "$seconds" >"$out/torch.$round"
    echo "PyTorch (samples/s, per CPU-second):" $(cat "$out/torch.$round")
  fi
done
if [ "$torch" = 0 ]; then
  echo "PyTorch is not installed: no PyTorch baseline in this run (bench/engine/run.sh --install-torch installs it)"
fi
echo "load after the run: $(uptime)"

python3 - "$out" "$rounds" <<'EOF'
import re
import sys
from pathlib import Path

out, rounds = Path(sys.argv[1]), range(1, int(sys.argv[2]) + 1)


def best(values):
    """Best of the rounds, separately by the wall clock and by CPU time."""
    return [max(v[0] for v in values), max(v[1] for v in values)]


def numbers(pattern, text):
    return [float(v) for v in re.search(pattern, text, re.M).groups()]


engine = [(out / f"engine.{r}").read_text() for r in rounds]
mlp = best([numbers(r"^MLP.*?: (\d+) samples/s.*\((\d+) samples per CPU-second\)", t) for t in engine])
cnn = best([numbers(r"^CNN.*?: (\d+) samples/s.*\((\d+) samples per CPU-second\)", t) for t in engine])
step = best([numbers(r"^MLP.*?, ([\d.]+) GFLOP/s", t) + numbers(r"step at ([\d.]+) GFLOP per CPU", t) for t in engine])
raw = best([numbers(r"raw sgemm at the same shapes: ([\d.]+) GFLOP/s \(([\d.]+) per CPU-second\)", t) for t in engine])
cnnStep = best([numbers(r"^CNN.*?, ([\d.]+) GFLOP/s", t) + numbers(r"CNN step / raw sgemm.*step at ([\d.]+) GFLOP per CPU", t)
                for t in engine])
cnnRaw = best([numbers(r"raw sgemm at the CNN's shapes.*?: ([\d.]+) GFLOP/s \(([\d.]+) per CPU-second\)", t) for t in engine])
numpy = best([[float(v) for v in (out / f"numpy.{r}").read_text().split()] for r in rounds])
torch = None
if (out / "torch.1").exists():
    runs = [{k: v for k, *v in (line.split() for line in (out / f"torch.{r}").read_text().splitlines())}
            for r in rounds]
    torch = {k: best([[float(x) for x in run[k]] for run in runs]) for k in ["mlp", "cnn_nchw", "cnn_channels_last"]}
    version = runs[0]["version"][0]

print(f"\nbest of {len(rounds)} rounds, by the wall clock (per CPU-second):")
print(f"  engine: MLP {mlp[0]:.0f} samples/s ({mlp[1]:.0f}), step {step[0]:.1f} GFLOP/s ({step[1]:.1f}); "
      f"raw sgemm {raw[0]:.1f} GFLOP/s ({raw[1]:.1f}); CNN {cnn[0]:.0f} samples/s ({cnn[1]:.0f}), "
      f"step {cnnStep[0]:.1f} GFLOP/s ({cnnStep[1]:.1f}); raw sgemm at its shapes {cnnRaw[0]:.1f} GFLOP/s ({cnnRaw[1]:.1f})")
print(f"  numpy: MLP {numpy[0]:.0f} samples/s ({numpy[1]:.0f})")
if torch:
    t = torch
    print(f"  PyTorch {version}: MLP {t['mlp'][0]:.0f} samples/s ({t['mlp'][1]:.0f}); CNN NCHW "
          f"{t['cnn_nchw'][0]:.0f} ({t['cnn_nchw'][1]:.0f}), channels_last {t['cnn_channels_last'][0]:.0f} "
          f"({t['cnn_channels_last'][1]:.0f}); the faster layout is the baseline")


def ratio(name, ours, theirs, target, unit="x"):
    wall, cpu = ours[0] / theirs[0], ours[1] / theirs[1]
    verdict = "met" if min(wall, cpu) >= target else ("not met" if max(wall, cpu) < target else "met by one measure")
    print(f"{name} = {wall:.2f}{unit} (by CPU time {cpu:.2f}{unit}); target >= {target}{unit}: {verdict}")


ratio("engine MLP / numpy MLP", mlp, numpy, 1.0)
if torch:
    ratio("engine MLP / PyTorch MLP", mlp, torch["mlp"], 1.25)
    ratio("engine CNN / PyTorch CNN", cnn, best([torch["cnn_nchw"], torch["cnn_channels_last"]]), 1.0)
else:
    print("engine / PyTorch: not measured (PyTorch not installed)")
ratio("MLP step GFLOP/s / raw sgemm GFLOP/s", step, raw, 0.89, unit="")
ratio("CNN step GFLOP/s / raw sgemm GFLOP/s at the CNN's shapes", cnnStep, cnnRaw, 0.9, unit="")
EOF
