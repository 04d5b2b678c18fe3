#!/usr/bin/env bash
# bench/dispatch: N no-op jobs (/bin/true) with 2 slots, from `orch submit` to the last COMPLETED
# row, against a posix_spawn loop with 2 in flight, `xargs -P2` and GNU `parallel -j2`, all in this
# run. Prints jobs/s of each and orch's ratio to each. Usage: bench/dispatch/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-5000}
BIN=.build/release
OUT=$(mktemp -d /tmp/orch-bench-dispatch.XXXX)
trap 'ORCH_HOME=$OUT/home $BIN/orch daemon --stop >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT

rate() { python3 -c "import sys; print(f'{$1/($3-$2):.1f}')"; }
now() { python3 -c 'import time; print(time.time())'; }

cc -O2 -o "$OUT/spawnloop" bench/dispatch/spawnloop.c
spawn=$("$OUT/spawnloop" "$N" 2)

t0=$(now); seq "$N" | xargs -P2 -n1 /bin/true; t1=$(now)
xargs_rate=$(rate "$N" "$t0" "$t1")

if command -v parallel >/dev/null; then
  PN=$(( N < 1000 ? N : 1000 ))  # GNU parallel runs ~190 jobs/s here; 1,000 keeps the run short
  t0=$(now); seq "$PN" | parallel -j2 /bin/true; t1=$(now)
  parallel_rate=$(rate "$PN" "$t0" "$t1")
else
  parallel_rate=""
fi

mkdir -p "$OUT/sweeps"
cat > "$OUT/sweeps/noop.yaml" <<YAML
register:
  - key: "noop/{i}"
    command: [/bin/true]
    axes: {i: range(0, $N)}
YAML
export ORCH_HOME=$OUT/home
$BIN/orch daemon --cpus 0-1 >/dev/null
t0=$(now)
$BIN/orch submit "$OUT/sweeps/noop.yaml" --output-root "$OUT/runs" --wait >/dev/null 2>&1
last=$(python3 -c "import sqlite3; print(sqlite3.connect('$OUT/home/orch.db').execute(\"select max(end_time) from jobs where state='COMPLETED'\").fetchone()[0])")
done_n=$(python3 -c "import sqlite3; print(sqlite3.connect('$OUT/home/orch.db').execute(\"select count(*) from jobs where state='COMPLETED'\").fetchone()[0])")
orch_rate=$(rate "$done_n" "$t0" "$last")

echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "jobs: $N (GNU parallel: ${PN:-0})"
printf '%-28s %10s jobs/s\n' "posix_spawn loop, 2 in flight" "$spawn" "xargs -P2" "$xargs_rate" "GNU parallel -j2" "${parallel_rate:-n/a}" "orch (2 slots, $done_n done)" "$orch_rate"
python3 - "$orch_rate" "$spawn" "$xargs_rate" "${parallel_rate:-0}" <<'PY'
import sys
o, s, x, p = map(float, sys.argv[1:])
print(f"orch / posix_spawn loop = {o/s:.2f}x   orch / xargs = {o/x:.2f}x" + (f"   orch / GNU parallel = {o/p:.1f}x" if p else ""))
PY
