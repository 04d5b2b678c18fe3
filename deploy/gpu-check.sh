#!/usr/bin/env bash
# Checks orch's GPU scheduling on a machine with real NVIDIA GPUs: each job's CUDA_VISIBLE_DEVICES
# names as many distinct GPUs (by UUID, from `nvidia-smi -L`) as it asked for, CUDA shows it that
# many (checked when PyTorch is installed), and no two jobs use one GPU at the same time (judged
# from each job's recorded start and end).
#
#   deploy/gpu-check.sh [JOBS_PER_GPU]      default 2; needs orch, nvidia-smi and python3 on PATH
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

# Each job: the UUIDs of the GPUs its CUDA_VISIBLE_DEVICES names (nvidia-smi itself ignores that
# variable, so its `-L` lines are picked by index), how many devices CUDA shows it when PyTorch is
# installed (`-` otherwise), its start, a pause, its end. No braces: the sweep would read them as
# template holes.
record='s=$(date +%s.%N); uuids=""; for i in $(echo "$CUDA_VISIBLE_DEVICES" | tr , " "); do uuids="$uuids,$(nvidia-smi -L | sed -n "s/^GPU $i: .*(UUID: \(GPU-[^)]*\)).*/\1/p")"; done; cuda=$(python3 -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo -); sleep 2; echo "$(echo "$uuids" | sed "s/^,//") $cuda $s $(date +%s.%N)" > $ORCH_RUN_DIR/seen.txt'
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
    fields = open(os.path.join(dirpath, "seen.txt")).read().split()
    if len(fields) != 4:
        bad.append(f"{dirpath}: unexpected record {fields} (no GPU in CUDA_VISIBLE_DEVICES?)")
        continue
    uuids, cuda, start, end = fields
    wanted = 2 if "/two/" in dirpath + "/" else 1
    seen = [u for u in uuids.split(",") if u]
    if len(seen) != wanted or len(set(seen)) != wanted:
        bad.append(f"{dirpath}: asked for {wanted} GPU(s), its CUDA_VISIBLE_DEVICES names {seen}")
    if cuda != "-" and int(cuda) != wanted:
        bad.append(f"{dirpath}: asked for {wanted} GPU(s), CUDA (PyTorch) shows it {cuda}")
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
