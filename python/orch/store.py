"""Reading orch's store (``$ORCH_HOME/orch.db``) for analysis: read-only, and safe while the daemon
writes.

The store is SQLite in WAL mode: a reader sees one committed snapshot and never blocks the daemon
(nor is blocked by it). Each call opens the file with ``mode=ro`` (this module cannot change it)
and reads everything inside one transaction, so a call's rows are one consistent snapshot.
"""

import json
import os
import re
import sqlite3
import urllib.parse

__all__ = ["home", "connect", "results", "metrics", "jobs"]


def home():
    """ORCH_HOME as the CLI resolves it: the variable (empty counts as unset), else
    ``~/.local/state/orch``; a relative path is taken from the working directory."""
    chosen = os.environ.get("ORCH_HOME") or os.path.join(
        os.environ.get("HOME") or os.path.expanduser("~"), ".local/state/orch"
    )
    return chosen if chosen.startswith("/") else os.path.join(os.getcwd(), chosen)


def _check_trusted(directory, path):
    """As the CLI (`OrchHome`): a home not owned by the caller, or writable by group or others,
    is refused before anything in it is read — whoever can write it decides what its store says;
    so is a store another user put in it."""
    info = os.stat(directory)
    if info.st_uid != os.geteuid():
        raise PermissionError(
            "ORCH_HOME %s is owned by uid %d, not by you (uid %d): refusing to read another user's store"
            % (directory, info.st_uid, os.geteuid())
        )
    if info.st_mode & 0o022:
        raise PermissionError(
            "ORCH_HOME %s has mode %o, writable by group or others: another user could have replaced its"
            " store; check what it holds, then `chmod 700 %s`" % (directory, info.st_mode & 0o7777, directory)
        )
    owner = os.lstat(path).st_uid
    if owner != os.geteuid():
        raise PermissionError("%s is owned by uid %d, not by you: refusing to read it" % (path, owner))


def connect(orch_home=None):
    """A read-only connection to the store of `orch_home` (default: `home()`)."""
    directory = orch_home or home()
    path = os.path.join(directory, "orch.db")
    if not os.path.exists(path):
        raise FileNotFoundError("no orch store at %s (set ORCH_HOME, or submit a sweep first)" % path)
    _check_trusted(directory, path)
    uri = "file:%s?mode=ro" % urllib.parse.quote(path)
    # isolation_level None: no implicit transactions; _snapshot opens the one it reads in.
    db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA query_only = 1")
    return db


class _snapshot:
    """One read transaction over a fresh read-only connection."""

    def __init__(self, orch_home):
        self.orch_home = orch_home

    def __enter__(self):
        self.db = connect(self.orch_home)
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, *exc):
        try:
            self.db.execute("ROLLBACK")
        finally:
            self.db.close()
        return False


def _frame(rows, columns, frame):
    if frame is False:
        return rows
    try:
        import pandas
    except ImportError:
        if frame:
            raise
        return rows
    return pandas.DataFrame.from_records(rows, columns=columns)


def _names(value):
    if value is None:
        return None
    if isinstance(value, str):
        return [n for n in (p.strip() for p in value.split(",")) if n]
    return list(value)


_JOBS = """
    SELECT j.id, j.array_id, j.array_index, a.is_array, s.name, j.key, j.state, j.reason, j.attempt,
      j.exit_code, j.signal, j.cpus, j.submit_time, j.start_time, j.end_time,
      a.output_root || '/' || j.key, j.backend, j.slurm_id, j.config
    FROM jobs j JOIN arrays a ON a.id = j.array_id LEFT JOIN sweeps s ON s.id = a.sweep_id
"""
_JOB_FIELDS = [
    "job", "array", "index", "is_array", "sweep", "key", "state", "reason", "attempt", "exit_code",
    "signal", "cpus", "submit_time", "start_time", "end_time", "run_dir", "backend", "slurm_id",
    "config",
]


def _display(job):
    if job["is_array"] and job["index"] is not None:
        return "%d_%d" % (job["array"], job["index"])
    return str(job["array"])


def _job_rows(db, where, args):
    out = []
    for r in db.execute(_JOBS + where + " ORDER BY j.id", args):
        job = dict(zip(_JOB_FIELDS, r))
        job["is_array"] = bool(job["is_array"])
        job["display"] = _display(job)
        out.append(job)
    return out


def _sweep_jobs(db, sweep):
    """A sweep's jobs, one per key: a key submitted again (--force) by its newest job."""
    rows = _job_rows(db, "WHERE s.name = ?", (sweep,))
    if not rows:
        raise KeyError("no jobs in sweep %r" % sweep)
    newest = {}
    for job in rows:
        newest[job["key"]] = job["job"]
    return [job for job in rows if newest[job["key"]] == job["job"]]


def _job_by_display(db, text):
    """One job by the CLI's id: ``12`` (a single job, or an array of one) or ``12_3``."""
    text = str(text)
    m = re.fullmatch(r"(\d+)(?:_(\d+))?", text)
    if not m:
        raise ValueError("not a job id: %r (12 or 12_3)" % text)
    if m.group(2) is None:
        rows = _job_rows(db, "WHERE j.array_id = ?", (int(m.group(1)),))
        if len(rows) > 1:
            raise ValueError("%r names %d jobs; give one element such as %s_0" % (text, len(rows), text))
    else:
        rows = _job_rows(
            db, "WHERE j.array_id = ? AND j.array_index = ? AND a.is_array = 1", (int(m.group(1)), int(m.group(2)))
        )
    if not rows:
        raise KeyError("no job %s" % text)
    return rows[0]


def _final_metrics(db, job_id):
    """The final metrics (the `done` event's) of the job's latest attempt that reported any."""
    return dict(
        db.execute(
            """
            SELECT name, value FROM metrics WHERE job_id = ? AND final = 1
              AND attempt = (SELECT MAX(attempt) FROM metrics WHERE job_id = ? AND final = 1)
            """,
            (job_id, job_id),
        ).fetchall()
    )


def _bindings(job):
    try:
        document = json.loads(job["config"])
    except ValueError:
        return {}
    bindings = document.get("bindings") if isinstance(document, dict) else None
    return bindings if isinstance(bindings, dict) else {}


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def results(sweep, params=True, metrics=None, frame=None, orch_home=None):
    """One row per config of the sweep(s), as ``orch results SWEEP --json``: ``sweep``, ``key``,
    ``job`` (the integer id), ``state``, then the bindings, then the final metrics (None where a
    job reported none).

    `sweep`: a name or a list of names (rows in that order). `params`: True, the bindings that vary
    across the rows, by dotted name, in name order; False, none; "all", every binding; a list (or a
    comma-separated string), those. `metrics`: only these final metrics (default: all but the
    per-class ones, in the CLI's order; "all": every one). Returns a DataFrame when pandas is importable (`frame=False`: a list of dicts)."""
    sweeps = [sweep] if isinstance(sweep, str) else list(sweep)
    with _snapshot(orch_home) as db:
        chosen = [job for name in sweeps for job in _sweep_jobs(db, name)]
        finals = [_final_metrics(db, job["job"]) for job in chosen]
    bindings = [_bindings(job) for job in chosen]
    if params is True or params == "all":
        every = sorted({name for b in bindings for name in b})
        if params is True:
            every = [n for n in every if len({_canonical(b.get(n)) for b in bindings}) > 1]
        names = every
    elif params is False or params is None or params == "none":
        names = []
    else:
        names = _names(params)
    wanted = _names(metrics)
    every_metric = {n for f in finals for n in f}
    if wanted is None:
        metric_names = _metric_order(n for n in every_metric if "_class_" not in n)
    elif wanted == ["all"]:
        metric_names = _metric_order(every_metric)
    else:
        metric_names = wanted
    # A metric named like a column before it is `metric:<name>`, as in the CLI.
    taken = {"sweep", "key", "job", "state", *names}
    labels = [("metric:" + n if n in taken else n) for n in metric_names]
    rows = []
    for job, b, final in zip(chosen, bindings, finals):
        row = {"sweep": job["sweep"], "key": job["key"], "job": job["job"], "state": job["state"]}
        for name in names:
            row[name] = b.get(name)
        for name, label in zip(metric_names, labels):
            row[label] = final.get(name)
        rows.append(row)
    return _frame(rows, ["sweep", "key", "job", "state"] + names + labels, frame)


def _metric_order(names):
    """The CLI's reading order (`ResultsTable.metricOrder`): train_, val_, test_ (per-class and
    per-group last, classes numerically), the rest; byte order within each."""
    def rank(s):
        if s == "epoch":
            return -1
        if s.startswith("train_"):
            return 0
        if s.startswith("val_"):
            return 1
        if s.startswith("test_"):
            return 3 if ("_class_" in s or "group" in s) else 2
        return 4

    def key(s):
        prefix = "test_acc_class_"
        if s.startswith(prefix):  # shorter first among these: class 2 before class 10
            s = prefix + "\0" * max(0, 64 - len(s)) + s[len(prefix):]
        return (rank(s), s.encode())

    return sorted(set(names), key=key)


_METRIC_FIELDS = ["sweep", "key", "job", "attempt", "seq", "name", "value", "step", "epoch", "final", "time"]


def metrics(target=None, sweep=None, job=None, attempts="last", names=None, frame=None, orch_home=None):
    """Every metric the job(s) reported, in long form: one row per (job, attempt, event, name) with
    ``sweep, key, job, attempt, seq, name, value, step, epoch, final, time`` (``time``: when the
    job reported it). Ordered as ``orch metrics JOB`` lists them.

    `target` (or `sweep=` / `job=`): a sweep name (its newest job per key), or one job — an int id,
    or the CLI's ``"12"`` / ``"12_3"``. `attempts`: "last" (default; each job's latest attempt
    that reported metrics) or "all". `names`: only these metric names."""
    if target is not None:
        if isinstance(target, int) or re.fullmatch(r"\d+(?:_\d+)?", str(target)):
            job = target if job is None else job
        else:
            sweep = target if sweep is None else sweep
    if (sweep is None) == (job is None):
        raise TypeError("metrics() takes one sweep or one job")
    if attempts not in ("last", "all"):
        raise ValueError("attempts must be 'last' or 'all'")
    wanted = _names(names)
    rows = []
    with _snapshot(orch_home) as db:
        if job is not None:
            chosen = _job_rows(db, "WHERE j.id = ?", (job,)) if isinstance(job, int) else [_job_by_display(db, job)]
            if not chosen:
                raise KeyError("no job %s" % job)
        else:
            chosen = _sweep_jobs(db, sweep)
        query = """
            SELECT m.attempt, m.seq, m.name, m.value, m.step, m.epoch, m.final, e.time
            FROM metrics m LEFT JOIN events e ON e.job_id = m.job_id AND e.attempt = m.attempt AND e.seq = m.seq
            WHERE m.job_id = ?
        """
        if attempts == "last":
            query += " AND m.attempt = (SELECT MAX(attempt) FROM metrics WHERE job_id = m.job_id)"
        query += " ORDER BY m.attempt, m.seq, m.name"
        for j in chosen:
            for attempt, seq, name, value, step, epoch, final, at in db.execute(query, (j["job"],)):
                if wanted is not None and name not in wanted:
                    continue
                rows.append(
                    {
                        "sweep": j["sweep"], "key": j["key"], "job": j["job"], "attempt": attempt, "seq": seq,
                        "name": name, "value": value, "step": step, "epoch": epoch, "final": bool(final),
                        "time": at,
                    }
                )
    return _frame(rows, _METRIC_FIELDS, frame)


_JOB_COLUMNS = [
    "sweep", "key", "job", "display", "state", "reason", "attempt", "exit_code", "signal", "cpus",
    "submit_time", "start_time", "end_time", "run_dir", "backend", "slurm_id", "bindings",
]


def jobs(sweep=None, state=None, key=None, frame=None, orch_home=None):
    """Jobs of the store in id order (every submission, as ``orch history``): ``sweep, key, job,
    display`` (the CLI's id, ``12_3``), ``state, reason, attempt, exit_code, signal, cpus``, the
    submit/start/end times (Unix seconds), ``run_dir, backend, slurm_id`` and ``bindings`` (a dict).

    `sweep`: a name or list of names; `state`: a state or list (``"FAILED"``); `key`: a regular
    expression searched in the key."""
    clauses, args = [], []
    if sweep is not None:
        names = [sweep] if isinstance(sweep, str) else list(sweep)
        clauses.append("s.name IN (%s)" % ",".join("?" * len(names)))
        args += names
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        clauses.append("j.state IN (%s)" % ",".join("?" * len(states)))
        args += [s.upper() for s in states]
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    pattern = re.compile(key) if key is not None else None
    with _snapshot(orch_home) as db:
        chosen = _job_rows(db, where, args)
    rows = []
    for j in chosen:
        if pattern is not None and not pattern.search(j["key"]):
            continue
        row = {name: j.get(name) for name in _JOB_COLUMNS if name != "bindings"}
        row["bindings"] = _bindings(j)
        rows.append(row)
    return _frame(rows, _JOB_COLUMNS, frame)
