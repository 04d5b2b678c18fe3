#!/usr/bin/env bash
# bench/sbatch: a 1,000-element `--array` of `true` through the shims (`sbatch` on PATH is a link to
# orch), from sbatch to the last COMPLETED row, against the core dispatch path in the same run:
# 1,000 `/bin/true` jobs through `orch submit` (as bench/dispatch submits them). Each run gets a
# fresh ORCH_HOME and a daemon with 2 slots. Prints jobs/s of both and their ratio (target: sbatch
# within 20% of orch submit). Usage: bench/sbatch/run.sh [N]   (N ≤ 1,001, SLURM's MaxArraySize)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
BIN=$PWD/.build/release
OUT=$(mktemp -d "${BENCH_TMP:-/tmp}/orch-bench-sbatch.XXXX")
stop() { for h in "$OUT"/home-*; do ORCH_HOME=$h "$BIN/orch" daemon --stop >/dev/null 2>&1 || true; done; }
trap 'stop; rm -rf "$OUT"' EXIT

now() { python3 -c 'import time; print(time.time())'; }
# jobs/s from t0 to the last COMPLETED end time in the store, and how many completed.
measure() {
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/orch.db")
n, last = db.execute("select count(*), max(end_time) from jobs where state = 'COMPLETED'").fetchone()
print(f"{n / (last - float(sys.argv[2])):.1f} {n}")
PY
}

# Core dispatch: orch submit of N /bin/true jobs.
mkdir -p "$OUT/sweeps"
cat > "$OUT/sweeps/noop.yaml" <<YAML
register:
  - key: "noop/{i}"
    command: [/bin/true]
    axes: {i: range(0, $N)}
YAML
export ORCH_HOME=$OUT/home-submit
"$BIN/orch" daemon --cpus 0-1 >/dev/null
t0=$(now)
"$BIN/orch" submit "$OUT/sweeps/noop.yaml" --output-root "$OUT/runs" --wait >/dev/null 2>&1
read -r submit_rate submit_done < <(measure "$ORCH_HOME" "$t0")

# sbatch: the same number of `true` tasks as one array, through the shims, default output files.
export ORCH_HOME=$OUT/home-sbatch
"$BIN/orch" shims "$OUT/bin" >/dev/null
mkdir -p "$OUT/work"
printf '#!/bin/sh\n#SBATCH --array=0-%d\ntrue\n' "$((N - 1))" > "$OUT/work/true.sbatch"
"$BIN/orch" daemon --cpus 0-1 >/dev/null
t0=$(now)
(cd "$OUT/work" && PATH="$OUT/bin:$PATH" sbatch --wait true.sbatch >/dev/null)
read -r sbatch_rate sbatch_done < <(measure "$ORCH_HOME" "$t0")
outputs=$(find "$OUT/work" -name 'slurm-*_*.out' | wc -l)

echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %8s jobs/s (%s completed)\n' \
  "orch submit, $N x /bin/true, 2 slots" "$submit_rate" "$submit_done" \
  "sbatch --array=0-$((N - 1)) of true, 2 slots" "$sbatch_rate" "$sbatch_done, $outputs output files"
python3 -c "print(f'sbatch / orch submit = {$sbatch_rate / $submit_rate:.2f}x')"
