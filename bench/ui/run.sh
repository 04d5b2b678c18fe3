#!/usr/bin/env bash
# bench/ui: `orch ui` over a sweep of 10,000 jobs with 1,000,000 metric rows. The store is orch's
# own: one sample job runs through the daemon and reports 49 epochs × 2 metrics plus 2 final ones on
# fd 3 (100 metric rows, 99 events); a 100×100 grid is submitted with --no-daemon, and every grid
# job gets a copy of the sample's attempt, events and metric rows (values varied per job) by
# INSERT … SELECT — the rows the daemon writes, without 10,000 dispatches. Then `orch ui --port 0`,
# and in the same run, ROUNDS rounds each (median, ms): (a) time to first byte of /sweeps/grid and
# (b) total time of the curves view of 100 selected jobs, against the equivalent raw SQLite
# queries in Python's sqlite3: the first page of the sweep (jobs, configs, final metrics of their
# latest attempt) and the per-epoch metric of those 100 jobs. Usage: bench/ui/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-7}
BIN=${BIN:-$PWD/.build/release}
OUT=$(mktemp -d /tmp/orch-bench-ui.XXXX)
export ORCH_HOME=$OUT/home
UI_PID=
cleanup() {
  [ -n "$UI_PID" ] && kill "$UI_PID" 2>/dev/null || true
  $BIN/orch daemon --stop >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
trap cleanup EXIT
mkdir -p "$OUT/sweeps"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

cat > "$OUT/sample.sh" <<'SH'
for e in $(seq 1 49); do
  printf '{"type":"metric","name":"loss","value":%s,"epoch":%d,"step":%d}\n' "$(awk "BEGIN{print 2/$e}")" "$e" $((e * 10)) >&3
  printf '{"type":"metric","name":"acc","value":0.%02d,"epoch":%d,"step":%d}\n' "$e" "$e" $((e * 10)) >&3
done
echo '{"type":"done","epoch":49,"metrics":{"test_loss":0.05,"test_acc":0.97}}' >&3
SH
cat > "$OUT/sweeps/sample.yaml" <<YAML
register:
  - key: "sample/one"
    command: [sh, "$OUT/sample.sh"]
YAML
cat > "$OUT/sweeps/grid.yaml" <<'YAML'
register:
  - key: "grid/a{a}/b{b}"
    command: [/bin/true, "{a}", "{b}"]
    axes:
      - grid: {a: range(0, 100), b: range(0, 100)}
YAML
$BIN/orch submit "$OUT/sweeps/sample.yaml" --output-root "$OUT/runs" --wait >/dev/null
$BIN/orch daemon --stop >/dev/null
$BIN/orch submit "$OUT/sweeps/grid.yaml" --no-daemon --output-root "$OUT/runs" >/dev/null
python3 - "$ORCH_HOME/orch.db" <<'PY'
import sqlite3, sys, time
t0 = time.time()
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA busy_timeout = 10000")
sample = db.execute("SELECT id FROM jobs WHERE key = 'sample/one'").fetchone()[0]
assert db.execute("SELECT state FROM jobs WHERE id = ?", (sample,)).fetchone()[0] == "COMPLETED"
(n_metrics,) = db.execute("SELECT count(*) FROM metrics WHERE job_id = ?", (sample,)).fetchone()
assert n_metrics == 100, n_metrics
db.execute("BEGIN IMMEDIATE")
db.execute("""CREATE TEMP TABLE grid AS SELECT j.id FROM jobs j JOIN arrays a ON a.id = j.array_id
  JOIN sweeps s ON s.id = a.sweep_id WHERE s.name = 'grid'""")
# The job row as the daemon leaves a completed job (state, attempt, exit code; times shifted per job).
db.execute(f"""
  UPDATE jobs SET (state, reason, tries, attempt, exit_code, signal, start_time, end_time) =
    (SELECT s.state, s.reason, s.tries, s.attempt, s.exit_code, s.signal,
            s.start_time + jobs.id % 1000, s.end_time + jobs.id % 1000 FROM jobs s WHERE s.id = {sample})
  WHERE id IN (SELECT id FROM grid)""")
db.execute(f"""
  INSERT INTO attempts(job_id, attempt, state, reason, exit_code, signal, start_time, end_time, worker_pid, cpus, gpus)
  SELECT g.id, a.attempt, a.state, a.reason, a.exit_code, a.signal, a.start_time + g.id % 1000,
         a.end_time + g.id % 1000, a.worker_pid, a.cpus, a.gpus
  FROM grid g CROSS JOIN attempts a WHERE a.job_id = {sample}""")
db.execute(f"""
  INSERT INTO events(job_id, attempt, seq, type, payload, time)
  SELECT g.id, e.attempt, e.seq, e.type, e.payload, e.time + g.id % 1000
  FROM grid g CROSS JOIN events e WHERE e.job_id = {sample} ORDER BY g.id, e.attempt, e.seq""")
# Values differ per job (a per-job factor), so curves are distinct lines.
db.execute(f"""
  INSERT INTO metrics(job_id, attempt, seq, name, value, step, epoch, final)
  SELECT g.id, m.attempt, m.seq, m.name, m.value * (0.5 + (g.id % 97) / 97.0), m.step, m.epoch, m.final
  FROM grid g CROSS JOIN metrics m WHERE m.job_id = {sample} ORDER BY g.id, m.attempt, m.seq, m.name""")
db.execute("COMMIT")
jobs, = db.execute("SELECT count(*) FROM jobs WHERE id IN (SELECT id FROM grid) AND state = 'COMPLETED'").fetchone()
rows, = db.execute("SELECT count(*) FROM metrics").fetchone()
print(f"store: {jobs} grid jobs COMPLETED, {rows} metric rows, filled in {time.time() - t0:.1f} s")
PY

$BIN/orch ui --port 0 >"$OUT/ui.out" 2>"$OUT/ui.err" &
UI_PID=$!
for _ in $(seq 300); do grep -q '^orch ui: http' "$OUT/ui.out" && break; sleep 0.1; done
URL=$(sed -n 's/^orch ui: //p' "$OUT/ui.out" | head -1)
[ -n "$URL" ] || { echo "orch ui printed no URL: $(cat "$OUT/ui.err")" >&2; exit 1; }

python3 - "$URL" "$ORCH_HOME/orch.db" "$ROUNDS" <<'PY'
import http.client, re, sqlite3, statistics, sys, time, urllib.parse
url, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlsplit(url)
host, port = u.hostname, u.port

def request(target, cookie=None):
    """(ms to the first byte of the response, ms to its end, status, headers, body) on a new connection."""
    c = http.client.HTTPConnection(host, port, timeout=120)
    t0 = time.perf_counter()
    c.request("GET", target, headers={"Cookie": cookie} if cookie else {})
    r = c.getresponse()  # returns once the status line and headers arrived
    first = time.perf_counter()
    body = r.read()
    end = time.perf_counter()
    c.close()
    return (first - t0) * 1000, (end - t0) * 1000, r.status, r.getheaders(), body

_, _, status, headers, _ = request(u.path + "?" + u.query)
cookie = "; ".join(v.split(";")[0] for k, v in headers if k.lower() == "set-cookie")
assert status in (200, 302, 303), status
assert cookie, headers

# The first sweep page after start (nothing cached in the server yet), then the timed rounds.
cold_first, cold_total, status, _, _ = request("/sweeps/grid", cookie)
assert status == 200, status
# 100 jobs as the sweep page names them (data-job), from its first pages.
ids, page = [], 1
while len(ids) < 100:
    _, _, status, _, body = request(f"/sweeps/grid?page={page}", cookie)
    assert status == 200, (status, body[:300])
    found = re.findall(rb'<tr[^>]*data-job="([^"]+)"', body)
    assert found, body[:500]
    ids += [i.decode() for i in found if i.decode() not in ids]
    page += 1
ids = ids[:100]
first_page_rows = len(re.findall(rb'<tr[^>]*data-job="', request("/sweeps/grid", cookie)[4]))
curves = f"/sweeps/grid/curves?metric=loss&jobs={','.join(ids)}"
_, _, status, _, body = request(curves, cookie)
assert status == 200, (status, body[:300])
assert body.count(b'class="curve"') == 100, body.count(b'class="curve"')

db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
def first_page():
    jobs = db.execute(
        "SELECT j.id, j.array_index, j.key, j.state, j.exit_code, j.signal, j.start_time, j.end_time, j.attempt, j.config "
        "FROM sweeps s JOIN arrays a ON a.sweep_id = s.id JOIN jobs j ON j.array_id = a.id "
        "WHERE s.name = 'grid' ORDER BY j.id LIMIT ?", (first_page_rows,)).fetchall()
    finals = db.execute(
        "SELECT m.job_id, m.name, m.value FROM metrics m JOIN jobs j ON j.id = m.job_id AND m.attempt = j.attempt "
        "WHERE m.job_id IN (SELECT value FROM json_each(?)) AND m.final = 1",
        ("[" + ",".join(str(j[0]) for j in jobs) + "]",)).fetchall()
    counts = db.execute(
        "SELECT j.state, count(*) FROM sweeps s JOIN arrays a ON a.sweep_id = s.id JOIN jobs j ON j.array_id = a.id "
        "WHERE s.name = 'grid' GROUP BY j.state").fetchall()
    return jobs, finals, counts
def whole_sweep():
    """What `orch results` reads for a page: every job of the sweep with its config (the varying
    bindings and the newest job per key need them all), then the metrics of the page's rows."""
    jobs = db.execute(
        "SELECT j.id, j.array_index, j.key, j.state, j.exit_code, j.signal, j.start_time, j.end_time, j.attempt, j.config "
        "FROM sweeps s JOIN arrays a ON a.sweep_id = s.id JOIN jobs j ON j.array_id = a.id "
        "WHERE s.name = 'grid' ORDER BY j.id").fetchall()
    page = jobs[:first_page_rows]
    points = db.execute(
        "SELECT m.job_id, m.name, m.value, m.step, m.epoch, m.final FROM metrics m "
        "JOIN jobs j ON j.id = m.job_id AND m.attempt = j.attempt "
        "WHERE m.job_id IN (SELECT value FROM json_each(?)) ORDER BY m.job_id, m.seq",
        ("[" + ",".join(str(j[0]) for j in page) + "]",)).fetchall()
    return jobs, points
internal = [r[0] for r in db.execute(
    "SELECT j.id FROM sweeps s JOIN arrays a ON a.sweep_id = s.id JOIN jobs j ON j.array_id = a.id "
    "WHERE s.name = 'grid' ORDER BY j.id LIMIT 100")]
def curve_rows():
    rows = db.execute(
        "SELECT m.job_id, m.epoch, m.step, m.value FROM metrics m JOIN jobs j ON j.id = m.job_id AND m.attempt = j.attempt "
        "WHERE m.job_id IN (SELECT value FROM json_each(?)) AND m.name = 'loss' AND m.final = 0 ORDER BY m.job_id, m.seq",
        ("[" + ",".join(map(str, internal)) + "]",)).fetchall()
    assert len(rows) == 4900, len(rows)
    return rows

def timed(f):
    t0 = time.perf_counter(); f(); return (time.perf_counter() - t0) * 1000

ttfb, page_total, curves_total, raw_page, raw_whole, raw_curves = [], [], [], [], [], []
for _ in range(rounds):
    first, total, status, _, _ = request("/sweeps/grid", cookie)
    assert status == 200
    ttfb.append(first); page_total.append(total)
    curves_total.append(request(curves, cookie)[1])
    raw_page.append(timed(first_page))
    raw_whole.append(timed(whole_sweep))
    raw_curves.append(timed(curve_rows))
med = statistics.median
print(f"rounds: {rounds} (median; min-max); first page: {first_page_rows} rows")
print(f"sweep page /sweeps/grid: first byte {med(ttfb):.1f} ms ({min(ttfb):.1f}-{max(ttfb):.1f}), "
      f"whole page {med(page_total):.1f} ms   target first byte <= 200 ms")
print(f"first sweep page after start: first byte {cold_first:.1f} ms")
print(f"raw SQLite first page (jobs, configs, final metrics, counts): {med(raw_page):.1f} ms "
      f"({min(raw_page):.1f}-{max(raw_page):.1f})   ui/raw {med(ttfb) / med(raw_page):.1f}x")
print(f"raw SQLite whole sweep (10,000 jobs with configs) + page metrics: {med(raw_whole):.1f} ms "
      f"({min(raw_whole):.1f}-{max(raw_whole):.1f})   ui/raw {med(ttfb) / med(raw_whole):.1f}x")
print(f"curves of 100 jobs (4,900 points): {med(curves_total):.1f} ms ({min(curves_total):.1f}-{max(curves_total):.1f})"
      f"   target <= 300 ms")
print(f"raw SQLite metric of those 100 jobs: {med(raw_curves):.1f} ms ({min(raw_curves):.1f}-{max(raw_curves):.1f})"
      f"   ui/raw {med(curves_total) / med(raw_curves):.1f}x")
PY
