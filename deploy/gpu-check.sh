#!/usr/bin/env bash
# Checks orch's GPU scheduling on a machine with real NVIDIA GPUs: jobs that ask for GPUs see only
# their own (`nvidia-smi -L` under their CUDA_VISIBLE_DEVICES lists exactly the GPUs they asked for)
# and no two jobs use one GPU at the same time (judged from each job's recorded start and end).
#
#   deploy/gpu-check.sh [JOBS_PER_GPU]      default 2; needs orch and nvidia-smi on PATH
#
# Everything happens in a temporary ORCH_HOME, removed at the end; prints `gpu-check: OK` or what
# went wrong and exits 1.
set -euo pipefail

per_gpu=${1:-2}
command -v nvidia-smi >/dev/null || { echo "gpu-check: nvidia-smi is not on PATH" >&2; exit 1; }
command -v orch >/dev/null || { echo "gpu-check: orch is not on PATH" >&2; exit 1; }
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | grep -c . || true)
[ "$gpus" -gt 0 ] || { echo "gpu-check: nvidia-smi lists no GPU" >&2; exit 1; }

work=$(mktemp -d)
export ORCH_HOME="$work/home"
unset ORCH_GPUS
cleanup() { orch daemon --stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# Each job: start time, the UUIDs nvidia-smi lists for it, a pause, end time.
record='s=$(date +%s.%N); uuids=$(nvidia-smi -L | sed -n "s/.*(UUID: \(GPU-[^)]*\)).*/\1/p" | sort | paste -sd, -); sleep 2; echo "$uuids $s $(date +%s.%N)" > $ORCH_RUN_DIR/seen.txt'
one=$((gpus * per_gpu))
cat >"$work/check.yaml" <<YAML
register:
  - key: "one/j{i}"
    bindings: {i: 0}
    axes: {i: range(0, $one)}
    resources: {gpus: 1}
    command: [bash, -c, '$record']
YAML
if [ "$gpus" -ge 2 ]; then
  cat >>"$work/check.yaml" <<YAML
  - key: "two/j{i}"
    bindings: {i: 0}
    axes: {i: range(0, 2)}
    resources: {gpus: 2}
    command: [bash, -c, '$record']
YAML
fi

orch daemon --gpus detect >/dev/null
orch daemon --status
orch submit "$work/check.yaml" --name gpu-check --output-root "$work/runs" --wait >/dev/null || {
  echo "gpu-check: some jobs did not complete:" >&2
  orch history >&2
  exit 1
}

python3 - "$work/runs" <<'PY'
import os, sys
root = sys.argv[1]
uses, bad = [], []
for dirpath, _, files in os.walk(root):
    if "seen.txt" not in files:
        continue
    uuids, start, end = open(os.path.join(dirpath, "seen.txt")).read().split()
    wanted = 2 if "/two/" in dirpath + "/" else 1
    seen = [u for u in uuids.split(",") if u]
    if len(seen) != wanted:
        bad.append(f"{dirpath}: asked for {wanted} GPU(s), nvidia-smi -L listed {len(seen)}: {seen}")
    uses.append((seen, float(start), float(end), dirpath))
by_gpu = {}
for seen, start, end, path in uses:
    for u in seen:
        by_gpu.setdefault(u, []).append((start, end, path))
for u, spans in by_gpu.items():
    spans.sort()
    for (s1, e1, p1), (s2, e2, p2) in zip(spans, spans[1:]):
        if s2 < e1:
            bad.append(f"{u}: {p1} and {p2} ran on it at the same time")
if not uses:
    bad.append("no job recorded what it saw")
for line in bad:
    print("gpu-check:", line, file=sys.stderr)
if bad:
    sys.exit(1)
print(f"gpu-check: OK ({len(uses)} jobs on {len(by_gpu)} GPUs, each saw only its own, none overlapped)")
PY
