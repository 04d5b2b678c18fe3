#!/usr/bin/env bash
# bench/expand: (1) a 1,000,000-config grid expanded, hashed and stored by `orch submit --no-daemon`;
# (2) `orch configs REGEX` over 100,000 keys. Each against the Python registry pattern doing the same
# work in the same run (itertools.product + json + sha256 + sqlite executemany; re.search + print).
# Each side's user + system CPU time is printed too: on a loaded machine the wall clock mostly measures
# the wait for a CPU. ORCH_BIN (default .build/release) picks the orch build to measure.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${ORCH_BIN:-.build/release}
OUT=$(mktemp -d /tmp/orch-bench-expand.XXXX)
trap 'rm -rf "$OUT"' EXIT
export ORCH_HOME=$OUT/home
# bash's own clock: a python3 start-up per timestamp (0.03 s idle, 0.6 s at load 10) would land
# inside every interval, more than orch's whole listing.
now() { local LC_ALL=C; echo "$EPOCHREALTIME"; }
mkdir -p "$OUT/big" "$OUT/keys"
cat > "$OUT/big/grid.yaml" <<'YAML'
register:
  - key: "grid/{model.arch}/lr{optimizer.lr}/a{a}/b{b}/seed{seed}"
    command: [/bin/true, "--lr", "{optimizer.lr}", "--seed", "{seed}"]
    bindings: {model.arch: mlp}
    axes:
      - grid: {optimizer.lr: range(0, 10), a: range(0, 10), b: range(0, 100), seed: range(0, 100)}
YAML
cat > "$OUT/keys/keys.yaml" <<'YAML'
register:
  - key: "train/digits/mlp_w{w}/randinit-lr0.1/seed{seed}"
    command: [/bin/true]
    axes: {w: range(0, 100), seed: range(0, 1000)}
YAML

cpu() { /usr/bin/time -f "%U %S" -o "$OUT/cpu.$1" "${@:2}"; }
t0=$(now); cpu 0 $BIN/orch submit "$OUT/big/grid.yaml" --no-daemon --output-root "$OUT/runs" >/dev/null; t1=$(now)
stored=$(python3 -c "import sqlite3; print(sqlite3.connect('$OUT/home/orch.db').execute('select count(*) from jobs').fetchone()[0])")
t2=$(now)
cpu 1 python3 - "$OUT/py.db" <<'PY'
import hashlib, itertools, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("pragma journal_mode=wal")
db.execute("create table jobs(id integer primary key, key text, hash text, config text, state text)")
def rows():
    for i, (lr, a, b, seed) in enumerate(itertools.product(range(10), range(10), range(100), range(100))):
        b_ = {"model.arch": "mlp", "optimizer.lr": lr, "a": a, "b": b, "seed": seed}
        cfg = json.dumps({"bindings": b_, "command": ["/bin/true", "--lr", str(lr), "--seed", str(seed)], "env": {}}, sort_keys=True, separators=(",", ":"))
        yield (i + 1, f"grid/mlp/lr{lr}/a{a}/b{b}/seed{seed}", hashlib.sha256(cfg.encode()).hexdigest(), cfg, "PENDING")
with db: db.executemany("insert into jobs values (?,?,?,?,?)", rows())
PY
t3=$(now)

t4=$(now); n=$(cpu 2 $BIN/orch configs 'mlp_w4[0-9]/.*seed99' --sweeps "$OUT/keys" | head -1); t5=$(now)
t6=$(now)
cpu 3 python3 - <<'PY' >/dev/null
import re
keys = [f"train/digits/mlp_w{w}/randinit-lr0.1/seed{s}" for w in range(100) for s in range(1000)]
m = [k for k in keys if re.search(r"mlp_w4[0-9]/.*seed99", k)]
print(f"{len(m)} configs found ====== with regex: x")
for i, k in enumerate(m): print(f"  {i:>3d}) {k}")
PY
t7=$(now)

echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 - "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$t6" "$t7" "$stored" "$n" "$OUT" <<'PY'
import sys
t = list(map(float, sys.argv[1:9])); stored, listing = sys.argv[9], sys.argv[10]
cpu = [sum(map(float, open(f"{sys.argv[11]}/cpu.{i}").read().split()[-2:])) for i in range(4)]
orch, py = t[1] - t[0], t[3] - t[2]
print(f"expand+store 1,000,000 configs: orch {orch:.2f} s ({stored} rows), python {py:.2f} s, python/orch = {py/orch:.2f}x"
      f" (CPU: orch {cpu[0]:.2f} s, python {cpu[1]:.2f} s, python/orch = {cpu[1]/cpu[0]:.2f}x)")
orch, py = t[5] - t[4], t[7] - t[6]
print(f"configs REGEX over 100,000 keys: orch {orch:.3f} s ({listing}), python {py:.3f} s, python/orch = {py/orch:.2f}x"
      f" (CPU: orch {cpu[2]:.3f} s, python {cpu[3]:.3f} s, python/orch = {cpu[3]/cpu[2]:.2f}x)")
PY
