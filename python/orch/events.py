"""Reporting from a job: JSON lines on the file descriptor orch's worker reads (``ORCH_EVENTS_FD``,
fd 3), as the worker's ``EventParser`` reads them (README "Reporting from a job").

Lines carry no ``seq``: the worker numbers such a line by its byte offset in the stream, which is
unique even when forked processes (data loader workers) report on the same pipe, and idempotent
when a chunk is ingested twice. Lines go out in writes of at most PIPE_BUF bytes, so a line is never
interleaved with another writer's. Outside orch (no ``ORCH_EVENTS_FD``) every call is a no-op.

A failed write (the worker gone) is reported once on stderr and never raised: losing the event
channel must not kill a training run. Bad arguments (a non-numeric value, a step that is not an
integer of 64 bits) raise at once, where the bug is, instead of becoming a dropped line.
"""

import hashlib
import json
import math
import numbers
import operator
import os
import select
import sys
import threading
import time

__all__ = ["enabled", "report", "checkpoint", "artifact", "done", "heartbeat", "config"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# The worker drops a line over 1 MiB (EventStream.defaultMaxLine).
MAX_LINE = 1 << 20

_lock = threading.Lock()
_warned = False
_broken = False
_config_cache = None


def _fd():
    text = os.environ.get("ORCH_EVENTS_FD", "")
    if not text:
        return None
    try:
        fd = int(text)
    except ValueError:
        return None
    return fd if fd >= 0 else None


def enabled():
    """Whether this process reports to orch (it was started by orch's worker with an event fd)."""
    return _fd() is not None and not _broken


def _warn(message):
    global _warned
    if not _warned:
        _warned = True
        try:
            sys.stderr.write("orch: %s; further events are not reported\n" % message)
            sys.stderr.flush()
        except Exception:
            pass


def _batches(lines):
    """The lines in as few writes as keep each one atomic on a pipe (at most PIPE_BUF bytes; a
    longer line goes alone)."""
    batch = b""
    for line in lines:
        data = line.encode("utf-8")
        if batch and len(batch) + len(data) > select.PIPE_BUF:
            yield batch
            batch = b""
        batch += data
    if batch:
        yield batch


def _write(lines):
    global _broken
    fd = _fd()
    if fd is None or _broken:
        return
    with _lock:
        try:
            for batch in _batches(lines):
                view = memoryview(batch)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
        except OSError as error:
            _broken = True
            _warn("writing events to fd %d failed: %s" % (fd, error.strerror or error))


def _line(event):
    text = json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n"
    if len(text.encode("utf-8")) > MAX_LINE + 1:
        raise ValueError("event line over %d bytes (orch drops it): %s…" % (MAX_LINE, text[:80]))
    return text


def _integer(name, value):
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("%s must be an integer, got a bool" % name)
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, got %r" % (name, value)) from None
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError("%s must be an integer of 64 bits, got %d" % (name, number))
    return number


def _number(name, value):
    """A metric value as JSON: a float, or null for NaN and infinities (the store keeps only
    finite values, as for the engine's own metrics)."""
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise TypeError("metric %r must be a number, got %r" % (name, value))
    if isinstance(value, numbers.Integral):
        number = float(int(value))
    else:
        try:
            number = float(value)  # float, numpy scalars, 0-d tensors
        except (TypeError, ValueError):
            raise TypeError("metric %r must be a number, got %r" % (name, value)) from None
    return number if math.isfinite(number) else None


def _name(name):
    if not isinstance(name, str) or not name:
        raise TypeError("a metric or artifact name must be a non-empty string, got %r" % (name,))
    return name


def _stamp(event, step, epoch):
    step = _integer("step", step)
    epoch = _integer("epoch", epoch)
    if step is not None:
        event["step"] = step
    if epoch is not None:
        event["epoch"] = epoch
    event["time"] = time.time()
    return event


def report(step=None, epoch=None, **metrics):
    """Reports metrics at a step and/or epoch: ``orch.report(epoch=3, train_loss=0.41, val_acc=0.9)``.
    One ``metric`` event per name; `orch metrics` and `orch plot` read them."""
    if not metrics:
        raise TypeError("report() needs at least one metric, e.g. report(epoch=1, loss=0.3)")
    lines = []
    for name, value in metrics.items():
        event = {"type": "metric", "name": _name(name), "value": _number(name, value)}
        lines.append(_line(_stamp(event, step, epoch)))
    _write(lines)


def checkpoint(path, epoch, step=None, sha256=True):
    """Records a checkpoint file written for `epoch`: its absolute path, size and (unless
    ``sha256=False``, for very large files) its SHA-256. The file must exist."""
    epoch = _integer("epoch", epoch)
    if epoch is None:
        raise TypeError("checkpoint() needs the epoch")
    path = os.path.abspath(os.fspath(path))
    size = os.path.getsize(path)
    event = {"type": "checkpoint", "path": path, "bytes": size}
    if sha256:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        event["sha256"] = digest.hexdigest()
    _write([_line(_stamp(event, step, epoch))])


def artifact(name, path):
    """Records a file the job produced (predictions, a plot) under `name`."""
    event = {"type": "artifact", "name": _name(name), "path": os.path.abspath(os.fspath(path))}
    _write([_line(_stamp(event, None, None))])


def done(step=None, epoch=None, **final):
    """Reports the final metrics, once at the end: the columns of `orch results`."""
    values = {_name(name): _number(name, value) for name, value in final.items()}
    _write([_line(_stamp({"type": "done", "metrics": values}, step, epoch))])


def heartbeat():
    """Says the job is alive without reporting a metric."""
    _write([_line(_stamp({"type": "heartbeat"}, None, None))])


def config(defaults=None):
    """The job's bindings (flat dotted names, e.g. ``optimizer.base_lr``) laid over `defaults`.

    Read from ``$ORCH_RUN_DIR/config.json``, which the worker writes before the job starts; outside
    orch, `defaults` alone (a copy)."""
    global _config_cache
    merged = dict(defaults or {})
    run_dir = os.environ.get("ORCH_RUN_DIR")
    if not run_dir:
        return merged
    if _config_cache is None or _config_cache[0] != run_dir:
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
            document = json.load(f)
        bindings = document.get("bindings") if isinstance(document, dict) else None
        _config_cache = (run_dir, dict(bindings or {}))
    merged.update(_config_cache[1])
    return merged
