#!/usr/bin/env bash
# bench/slurm: N no-op elements (/bin/true) through the local daemon (2 CPUs) and through the
# single-node SLURM of deploy/slurm-local (`orch submit --backend slurm`, collected with `orch
# collect`), in the same run, with a bare `sbatch --array … --wrap /bin/true` as SLURM's own
# baseline. Each rate is N over the time from the submission to the last element's end (the store's
# end_time: SLURM's EndTime, whole seconds); the SLURM runs also give the wall time until `orch
# collect` had every final state in the store. Needs a running slurm-local (SLURM_CONF, or the
# default /tmp/orch-slurm-local) and a release build. Usage: bench/slurm/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
BIN=$PWD/.build/release
export SLURM_CONF=${SLURM_CONF:-${SLURM_LOCAL_DIR:-/tmp/orch-slurm-local}/slurm.conf}
# `make bench` runs everywhere: without a SLURM this benchmark says so and is skipped.
if ! command -v scontrol >/dev/null || ! scontrol ping 2>/dev/null | grep -q "is UP"; then
  echo "bench/slurm: skipped: no SLURM answers (deploy/slurm-local/install.sh and start.sh)" >&2
  exit 0
fi
OUT=$(mktemp -d /tmp/orch-bench-slurm.XXXX)
cleanup() {
  [ -d "$OUT/home-local" ] && ORCH_HOME=$OUT/home-local $BIN/orch daemon --stop >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
trap cleanup EXIT

now() { python3 -c 'import time; print(time.time())'; }
rate() { python3 -c "print(f'{$1/($3-$2):.1f}')"; }
sql() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }

mkdir -p "$OUT/sweeps"
cat > "$OUT/sweeps/noop.yaml" <<YAML
register:
  - key: "noop/{i}"
    command: [/bin/true]
    axes: {i: range(0, $N)}
YAML
load=$(cut -d' ' -f1-3 /proc/loadavg)

# The local daemon: from `orch submit` to the last COMPLETED row.
export ORCH_HOME=$OUT/home-local
$BIN/orch daemon --cpus 0-1 >/dev/null
t0=$(now)
$BIN/orch submit "$OUT/sweeps/noop.yaml" --output-root "$OUT/runs-local" --wait >/dev/null 2>&1
last=$(sql "$ORCH_HOME/orch.db" "select max(end_time) from jobs where state='COMPLETED'")
done_local=$(sql "$ORCH_HOME/orch.db" "select count(*) from jobs where state='COMPLETED'")
$BIN/orch daemon --stop >/dev/null 2>&1 || true
[ "$done_local" = "$N" ] || { echo "local: $done_local of $N completed" >&2; exit 1; }
local_rate=$(rate "$N" "$t0" "$last")

# Bare SLURM: one array of /bin/true, until its last element ended (scontrol's EndTime).
t0=$(now)
bare=$(sbatch --parsable --array=0-$((N - 1)) -o /dev/null --wrap /bin/true)
while squeue -h -j "$bare" 2>/dev/null | grep -q .; do sleep 0.5; done
bare_end=$(scontrol show job -o "$bare" | grep -o 'EndTime=[^ ]*' | cut -d= -f2 | sort | tail -1)
bare_last=$(python3 -c "import time,sys; print(time.mktime(time.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%S')))" "$bare_end")
bare_rate=$(rate "$N" "$t0" "$bare_last")

# orch on SLURM: submit, wait as for the bare array (squeue), then one `orch collect` brings every
# final state and event into the store (collecting while elements run would take CPU from them).
export ORCH_HOME=$OUT/home-slurm
t0=$(now)
ids=$($BIN/orch submit "$OUT/sweeps/noop.yaml" --backend slurm --output-root "$OUT/runs-slurm" --json |
  python3 -c 'import json,sys; print(",".join(str(a["slurmJobID"]) for a in json.load(sys.stdin)["arrays"]))')
t_submitted=$(now)
while squeue -h -j "$ids" 2>/dev/null | grep -q .; do sleep 0.5; done
t_waited=$(now)
$BIN/orch collect >/dev/null
t_collected=$(now)
last=$(sql "$ORCH_HOME/orch.db" "select max(end_time) from jobs where state='COMPLETED'")
done_slurm=$(sql "$ORCH_HOME/orch.db" "select count(*) from jobs where state='COMPLETED'")
[ "$done_slurm" = "$N" ] || { echo "slurm: $done_slurm of $N completed" >&2; exit 1; }
slurm_rate=$(rate "$N" "$t0" "$last")
slurm_wall=$(rate "$N" "$t0" "$t_collected")
submit_s=$(python3 -c "print(f'{$t_submitted-$t0:.2f}')")
collect_s=$(python3 -c "print(f'{$t_collected-$t_waited:.2f}')")
t0=$(now); $BIN/orch collect >/dev/null; t1=$(now)
recollect=$(python3 -c "print(f'{$t1-$t0:.2f}')")

echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f1 --complement | xargs); $(sinfo -V)"
echo "elements: $N; load before: $load"
printf '%-52s %10s jobs/s\n' \
  "orch, local daemon (2 CPUs)" "$local_rate" \
  "bare sbatch --array --wrap /bin/true (SLURM alone)" "$bare_rate" \
  "orch --backend slurm, to the last EndTime" "$slurm_rate" \
  "orch --backend slurm, until collected" "$slurm_wall"
echo "orch submit --backend slurm: ${submit_s} s (manifest, script, sbatch, store); orch collect of $N ended elements: ${collect_s} s; a second one: ${recollect} s"
python3 - "$local_rate" "$bare_rate" "$slurm_rate" <<'PY'
import sys
l, b, s = map(float, sys.argv[1:])
print(f"orch on SLURM / bare SLURM = {s/b:.2f}x   local daemon / orch on SLURM = {l/s:.1f}x")
PY
