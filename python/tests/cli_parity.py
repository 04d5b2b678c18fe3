"""Checks that the package reads the store as the CLI does; run by PythonPackageTests with
ORCH_HOME set and the `orch` binary as argv[1]:

    cli_parity.py ORCH results SWEEP...   orch.results == `orch results SWEEP --json` (rows and key order),
                                          for each sweep (with --params variants) and for all together
    cli_parity.py ORCH metrics SWEEP      orch.metrics(job) == `orch metrics JOB --json` for each job

Prints what differs and exits 1 on a difference."""

import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import orch  # noqa: E402

failures = []


def cli(*args):
    r = subprocess.run([ORCH, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("orch %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def check(what, got, want):
    if got != want:
        failures.append("%s differ:\n  python: %.2000s\n  cli:    %.2000s" % (what, got, want))


def pairs(rows):
    """Rows as lists of (key, value) pairs: the comparison includes the key order."""
    return [list(r.items()) if isinstance(r, dict) else r for r in rows]


def results(*sweeps):
    for sweep in sweeps:
        results_of(sweep)
    if len(sweeps) > 1:
        want = json.loads(cli("results", *sweeps, "--json"), object_pairs_hook=list)
        check("results of %s" % (sweeps,), pairs(orch.results(list(sweeps), frame=False)), want)


def results_of(sweep):
    # A list of bindings, in an order of its own: the varying ones, last first.
    without = set(orch.results(sweep, params=False, frame=False)[0])
    varying = [k for k in orch.results(sweep, frame=False)[0] if k not in without][:2][::-1]
    variants = [
        ({}, []),
        ({"params": False}, ["--params", "none"]),
        ({"params": varying}, ["--params", ",".join(varying)]),
    ]
    for kwargs, flags in variants:
        want = json.loads(cli("results", sweep, "--json", *flags), object_pairs_hook=list)
        got = orch.results(sweep, frame=False, **kwargs)
        check("results %s %s" % (sweep, kwargs), pairs(got), want)
        try:
            import pandas  # noqa: F401
        except ImportError:
            continue
        frame = orch.results(sweep, **kwargs)
        check("DataFrame columns %s" % kwargs, list(frame.columns), [k for k, _ in want[0]] if want else [])
        records = frame.to_dict("records")
        normalised = [
            [(k, None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()] for r in records
        ]
        check("DataFrame rows %s" % kwargs, normalised, want)


def metrics(sweep):
    jobs = orch.jobs(sweep=sweep, frame=False)
    if not jobs:
        sys.exit("no jobs in %s" % sweep)
    fields = ["attempt", "seq", "name", "value", "step", "epoch", "final"]
    for job in jobs:
        want = [{f: m.get(f) for f in fields} for m in json.loads(cli("metrics", job["display"], "--json"))]
        rows = orch.metrics(job=job["display"], attempts="all", frame=False)
        check("metrics of %s" % job["display"], [{f: m[f] for f in fields} for m in rows], want)
        check("metrics of job id %d" % job["job"], orch.metrics(job["job"], attempts="all", frame=False), rows)
        check("time of each metric of %s" % job["display"], all(isinstance(m["time"], float) for m in rows), True)
    array = jobs[0]["display"].split("_")[0]
    try:
        orch.metrics(job=array)
        failures.append("job %r (an array of %d) did not raise" % (array, len(jobs)))
    except ValueError as error:
        check("error for the array id", "give one element such as %s_0" % array in str(error), True)
    # orch.jobs is `orch history --sweep S --json` under the package's column names.
    history = json.loads(cli("history", "--sweep", sweep, "--json"))
    names = {"job": "id", "key": "key", "state": "state", "attempt": "attempt", "exit_code": "exitCode",
             "cpus": "cpus", "submit_time": "submitTime", "start_time": "startTime", "end_time": "endTime",
             "run_dir": "runDir", "sweep": "sweep"}
    check(
        "jobs of %s" % sweep,
        [{k: j[k] for k in names} for j in jobs],
        [{k: h.get(v) for k, v in names.items()} for h in history],
    )
    check("jobs by state", orch.jobs(sweep=sweep, state="completed", frame=False), [j for j in jobs if j["state"] == "COMPLETED"])
    pattern = jobs[-1]["key"].split("/")[-1] + "$"
    check("jobs by key", [j["job"] for j in orch.jobs(key=pattern, frame=False) if j["sweep"] == sweep],
          [j["job"] for j in jobs if j["key"].endswith(pattern[:-1])])
    by_sweep = orch.metrics(sweep, frame=False)
    check(
        "sweep metrics",
        sorted((m["job"], m["seq"], m["name"]) for m in by_sweep),
        sorted(
            (m["job"], m["seq"], m["name"])
            for r in orch.results(sweep, frame=False)  # the newest job of each key
            for m in orch.metrics(job=r["job"], frame=False)
        ),
    )


ORCH = sys.argv[1]
{"results": results, "metrics": metrics}[sys.argv[2]](*sys.argv[3:])
if failures:
    print("\n".join(failures))
    sys.exit(1)
print("OK")
