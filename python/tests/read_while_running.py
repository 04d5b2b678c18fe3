"""Reads a sweep with the package while orch's daemon runs it; run by PythonPackageTests with
ORCH_HOME set: ``read_while_running.py SWEEP JOBS EPOCHS``.

Each job of the sweep reports `loss` = lr / epoch and `acc` = epoch / EPOCHS for epochs 1..EPOCHS,
then `final_loss` = lr / EPOCHS. Until every job has ended, reads results, metrics and jobs in a
loop and checks each read is a consistent snapshot: every job's epochs so far are 1..k with the
values its config implies, and no call fails (a locked store, a torn read). Then checks the end
state. Exits 1 with what went wrong, prints counts on success."""

import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import orch  # noqa: E402

sweep, count, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY"}


def fail(message):
    print(message)
    sys.exit(1)


def check_curves(rows, lrs):
    """Returns how many (job, epoch) points the read holds; fails on a gap or a wrong value."""
    seen = {}
    for m in rows:
        if m["final"]:
            continue
        seen.setdefault((m["job"], m["name"]), []).append((m["epoch"], m["value"]))
    for (job, name), points in seen.items():
        if [e for e, _ in points] != list(range(1, len(points) + 1)):
            fail("job %d %s: epochs %s are not 1..k" % (job, name, [e for e, _ in points]))
        for e, v in points:
            want = lrs[job] / e if name == "loss" else e / epochs
            if abs(v - want) > 1e-12:
                fail("job %d %s epoch %d: %r, want %r" % (job, name, e, v, want))
    return sum(len(p) for p in seen.values())


# The store is only read: a write through the package's connection is refused.
db = orch.connect()
try:
    db.execute("UPDATE jobs SET state = 'FAILED'")
    fail("a write through orch.connect() succeeded")
except sqlite3.OperationalError as error:
    if "readonly" not in str(error) and "read-only" not in str(error):
        fail("unexpected error on write: %s" % error)
db.close()

reads = running_reads = partial_reads = 0
deadline = time.monotonic() + 300
lrs = {}
while True:
    if time.monotonic() > deadline:
        fail("the sweep did not end in time")
    jobs = orch.jobs(sweep=sweep, frame=False)
    if len(jobs) != count:
        fail("%d jobs, want %d" % (len(jobs), count))
    lrs = {j["job"]: j["bindings"]["lr"] for j in jobs}
    rows = orch.results(sweep, frame=False)
    if [r["job"] for r in rows] != sorted(lrs):
        fail("results rows %s, jobs %s" % ([r["job"] for r in rows], sorted(lrs)))
    points = check_curves(orch.metrics(sweep, frame=False), lrs)
    reads += 1
    states = {j["state"] for j in jobs}
    running_reads += "RUNNING" in states
    partial_reads += 0 < points < count * epochs * 2
    if states <= TERMINAL:
        break

if {j["state"] for j in jobs} != {"COMPLETED"}:
    fail("states at the end: %s" % sorted(j["state"] for j in jobs))
if check_curves(orch.metrics(sweep, frame=False), lrs) != count * epochs * 2:
    fail("not every epoch of every job is in the store")
for r in orch.results(sweep, frame=False):
    if abs(r["final_loss"] - lrs[r["job"]] / epochs) > 1e-12:
        fail("final_loss of %d: %r" % (r["job"], r["final_loss"]))
    if "lr" not in r:
        fail("the varying binding lr is not a column: %s" % list(r))
print("reads=%d running=%d partial=%d" % (reads, running_reads, partial_reads))
if running_reads == 0 or partial_reads == 0:
    fail("no read happened while the sweep ran (running=%d partial=%d)" % (running_reads, partial_reads))
