#!/usr/bin/env bash
# bench/expand/floor.sh: what SQLite alone costs for bench/expand's million rows (floor.c, the C API,
# no Swift, no expansion): orch's jobs row with every index kept row by row, the same with the three
# indexes a bulk submission rebuilds, and the Python peer's 5-column table — each ROUNDS times
# (default 3), in turn. The schema is the one a fresh store gets (`orch queue` creates it).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${ORCH_BIN:-.build/release}
ROUNDS=${1:-3}
OUT=$(mktemp -d /tmp/orch-bench-floor.XXXX)
trap 'rm -rf "$OUT"' EXIT
cc -O2 -o "$OUT/floor" bench/expand/floor.c -lsqlite3
ORCH_HOME=$OUT/home "$BIN/orch" queue >/dev/null
python3 - "$OUT/home/orch.db" > "$OUT/schema.sql" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'grdb_%' ORDER BY rowid"):
    print(sql + ";")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"
for r in $(seq "$ROUNDS"); do
  echo "round $r, $(uptime | sed 's/.*load/load/')"
  for mode in indexed bulk python; do
    rm -f "$OUT"/t.db*
    "$OUT/floor" "$OUT/t.db" "$OUT/schema.sql" "$mode" 1000000
  done
done
