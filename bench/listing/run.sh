#!/usr/bin/env bash
# bench/listing: 1,000,000 pending jobs (a 100×100×100 grid submitted with --no-daemon), then
# (1) `orch queue` against `sqlite3 orch.db "select array_id, state, count(*) from jobs group by 1, 2"`
# timed in the same run (best of 3 each), and (2) the peak RSS of `orch history --sweep grid`
# (its output to /dev/null) and of `orch queue -r`, from /usr/bin/time -v.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release}
OUT=$(mktemp -d /tmp/orch-bench-listing.XXXX)
trap 'rm -rf "$OUT"' EXIT
export ORCH_HOME=$OUT/home
mkdir -p "$OUT/sweeps"
cat > "$OUT/sweeps/grid.yaml" <<'YAML'
register:
  - key: "grid/a{a}/b{b}/c{c}"
    command: [/bin/true, "{a}", "{b}", "{c}"]
    axes:
      - grid: {a: range(0, 100), b: range(0, 100), c: range(0, 100)}
YAML
now() { python3 -c 'import time; print(time.time())'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(now); $BIN/orch submit "$OUT/sweeps/grid.yaml" --no-daemon --output-root "$OUT/runs" >/dev/null; t1=$(now)
echo "submit: $(python3 -c "print(f'{$t1 - $t0:.1f}')") s for $(sqlite3 "$ORCH_HOME/orch.db" 'select count(*) from jobs') jobs"
# The first open after the submit applies nothing new; a warm-up read puts the file in the page cache.
$BIN/orch queue >/dev/null
best() {  # best-of-3 wall seconds of "$@" with output to /dev/null
  local b=999
  for _ in 1 2 3; do
    local s e; s=$(now); "$@" >/dev/null; e=$(now)
    b=$(python3 -c "print(min($b, $e - $s))")
  done
  printf '%.3f' "$b"
}
q=$(best $BIN/orch queue)
s=$(best sqlite3 "$ORCH_HOME/orch.db" "select array_id, state, count(*) from jobs group by 1, 2")
echo "orch queue: $q s   sqlite3 group by: $s s   ratio $(python3 -c "print(f'{$q / $s:.2f}')")"
$BIN/orch queue
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {printf "%.1f", $6 / 1024}'; }
h0=$(now); hr=$(rss $BIN/orch history --sweep grid); h1=$(now)
echo "orch history --sweep grid: peak RSS $hr MiB, $(python3 -c "print(f'{$h1 - $h0:.1f}')") s, $($BIN/orch history --sweep grid | wc -l) lines"
jr=$(rss $BIN/orch history --sweep grid --json)
echo "orch history --sweep grid --json: peak RSS $jr MiB"
rr=$(rss $BIN/orch queue -r)
echo "orch queue -r: peak RSS $rr MiB"
