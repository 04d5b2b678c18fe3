#!/usr/bin/env bash
# bench/dispatch: N no-op jobs (/bin/true) with 2 slots, from `orch submit` to the last COMPLETED
# row, against a posix_spawn loop with 2 in flight, `xargs -P2` and GNU `parallel -j2`, all in this
# run. orch runs twice: with the run directories on the disk holding /tmp, and on tmpfs (/dev/shm),
# and the cost of creating each job's run directory, config.json and log.txt on each is measured
# alone (filefloor.c), so the filesystem's share is visible. Usage: bench/dispatch/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-5000}
BIN=$PWD/.build/release
OUT=$(mktemp -d /tmp/orch-bench-dispatch.XXXX)
SHM=$(mktemp -d /dev/shm/orch-bench-dispatch.XXXX)
cleanup() {
  for h in "$OUT"/home-*; do [ -d "$h" ] && ORCH_HOME=$h $BIN/orch daemon --stop >/dev/null 2>&1 || true; done
  rm -rf "$OUT" "$SHM"
}
trap cleanup EXIT

rate() { python3 -c "import sys; print(f'{$1/($3-$2):.1f}')"; }
now() { python3 -c 'import time; print(time.time())'; }

cc -O2 -o "$OUT/spawnloop" bench/dispatch/spawnloop.c
cc -O2 -o "$OUT/filefloor" bench/dispatch/filefloor.c
spawn=$("$OUT/spawnloop" "$N" 2)

t0=$(now); seq "$N" | xargs -P2 -n1 /bin/true; t1=$(now)
xargs_rate=$(rate "$N" "$t0" "$t1")

if command -v parallel >/dev/null; then
  PN=$(( N < 1000 ? N : 1000 ))  # GNU parallel runs ~190-400 jobs/s; 1,000 keeps the run short
  t0=$(now); seq "$PN" | parallel -j2 /bin/true; t1=$(now)
  parallel_rate=$(rate "$PN" "$t0" "$t1")
else
  parallel_rate=""
fi

mkdir -p "$OUT/sweeps" "$OUT/floor-disk" "$SHM/floor"
cat > "$OUT/sweeps/noop.yaml" <<YAML
register:
  - key: "noop/{i}"
    command: [/bin/true]
    axes: {i: range(0, $N)}
YAML
floor_disk=$("$OUT/filefloor" "$OUT/floor-disk" "$N")
floor_shm=$("$OUT/filefloor" "$SHM/floor" "$N")

# orch_run NAME OUTPUT_ROOT: a fresh daemon and store, N jobs, prints jobs/s.
orch_run() {
  export ORCH_HOME=$OUT/home-$1
  $BIN/orch daemon --cpus 0-1 >/dev/null
  local t0 last done_n db=$ORCH_HOME/orch.db
  t0=$(now)
  $BIN/orch submit "$OUT/sweeps/noop.yaml" --output-root "$2" --wait >/dev/null 2>&1
  last=$(python3 -c "import sqlite3; print(sqlite3.connect('$db').execute(\"select max(end_time) from jobs where state='COMPLETED'\").fetchone()[0])")
  done_n=$(python3 -c "import sqlite3; print(sqlite3.connect('$db').execute(\"select count(*) from jobs where state='COMPLETED'\").fetchone()[0])")
  $BIN/orch daemon --stop >/dev/null 2>&1 || true
  [ "$done_n" = "$N" ] || { echo "orch completed $done_n of $N jobs" >&2; exit 1; }
  rate "$done_n" "$t0" "$last"
}
orch_disk=$(orch_run disk "$OUT/runs")
orch_shm=$(orch_run shm "$SHM/runs")

echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f1 --complement | xargs); $(df --output=fstype /tmp | tail -1 | xargs) /tmp"
echo "jobs: $N (GNU parallel: ${PN:-0}); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %10s jobs/s\n' \
  "posix_spawn loop, 2 in flight" "$spawn" \
  "xargs -P2" "$xargs_rate" \
  "GNU parallel -j2" "${parallel_rate:-n/a}" \
  "run dir + config.json + log.txt alone, disk" "$floor_disk" \
  "run dir + config.json + log.txt alone, tmpfs" "$floor_shm" \
  "orch, run dirs on disk (/tmp)" "$orch_disk" \
  "orch, run dirs on tmpfs (/dev/shm)" "$orch_shm"
python3 - "$spawn" "$xargs_rate" "${parallel_rate:-0}" "$orch_disk" "$orch_shm" <<'PY'
import sys
s, x, p, d, m = map(float, sys.argv[1:])
for name, o in (("disk ", d), ("tmpfs", m)):
    print(f"orch ({name}) / posix_spawn loop = {o/s:.2f}x   / xargs = {o/x:.2f}x" + (f"   / GNU parallel = {o/p:.1f}x" if p else ""))
PY
