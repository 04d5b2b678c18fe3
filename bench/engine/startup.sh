#!/usr/bin/env bash
# bench/engine/startup.sh: start-up to first batch and resident memory of real engine jobs, each run a fresh
# `orch-worker engine --run-dir DIR` (release build) spawned as the pool worker spawns it: posix_spawn,
# events on fd 3, OPENBLAS_NUM_THREADS=1.
#
# - Start-up: from just before posix_spawn to the arrival of the `heartbeat` event the engine writes right
#   before its first training batch (after reading the config, loading and normalising the data, building
#   the model and writing the E000 checkpoint); and, from /proc/PID/task/*/schedstat at that moment, how
#   much of it the worker spent on a CPU and how much runnable but waiting for one (a loaded machine).
# - Memory: peak RSS of the job (getrusage of the reaped child, ru_maxrss) and RSS at the first batch, against
#   64 MiB + the model + the data, the sizes taken from the `memory:` line the job logs: parameters;
#   gradients and optimizer state; workspace (activations, their gradients, im2col buffer for the largest
#   batch, batch buffers); data (the splits as float32 in memory).
# - Baselines in the same run: the bare worker process (`orch-worker` with no arguments: exec, dynamic
#   loading, Swift runtime, usage message, exit) and, when importable, `python3 -c 'import torch'` (where a
#   PyTorch training script starts), spawn to exit; for the image set, numpy doing the same data preparation
#   (load, uint8 NCHW -> float32 NHWC, per-channel standardisation).
#
# Cases: digits MLP and MNIST-1D CNN (the built-in sets, 1 epoch to completion), and a CIFAR-shaped set
# generated here (20,000 + 2,000 random 3x32x32 uint8 images in NCHW, 61 MB on disk) with the bench CNN at
# batch 128, stopped 1 s after its first batch.
#
# Usage: bench/engine/startup.sh [runs per case, default 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product orch-worker >/dev/null
echo "load before the run: $(uptime)"
python3 - "${1:-5}" "$PWD/.build/release/orch-worker" <<'EOF'
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

runs, worker = int(sys.argv[1]), sys.argv[2]
MiB = 1 << 20
work = tempfile.mkdtemp(prefix="orch-startup-")
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", ORCH_EVENTS_FD="3")


# Peak RSS comes from GNU time's wait4 of its child: a child's ru_maxrss also counts the memory of the
# process it was spawned from, before its exec (here this Python, with numpy loaded), while time is small.
TIME = "/usr/bin/time"


def timed(argv, peak_file, **kwargs):
    return os.posix_spawn(TIME, [TIME, "-f", "%M", "-o", peak_file] + argv, env, **kwargs)


def child_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return int(f.read().split()[0])


def peak_of(peak_file):
    return int(open(peak_file).read().split()[-1]) * 1024


def baseline(argv):
    """Spawn to exit, and peak RSS, of a command (its output discarded)."""
    null = os.open(os.devnull, os.O_WRONLY)
    start = time.monotonic()
    pid = timed(argv, f"{work}/peak", file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    os.close(null)
    os.waitpid(pid, 0)
    return time.monotonic() - start, peak_of(f"{work}/peak")


def job(bindings, stop_after=None):
    """One engine job in a fresh run directory: (start-up s, RSS at first batch, peak RSS, memory line)."""
    run = tempfile.mkdtemp(dir=work)
    with open(f"{run}/config.json", "w") as f:
        json.dump({"bindings": bindings, "engine": "train"}, f)
    log = os.open(f"{run}/log.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    r, w = os.pipe()
    start = time.monotonic()
    pid = timed(
        [worker, "engine", "--run-dir", run], f"{run}.peak",
        # stdout to the log first: the log's descriptor may be 3 here.
        file_actions=[(os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, w, 3)])
    os.close(w)
    os.close(log)
    first = rss = None
    pending = b""
    while first is None:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        if any(json.loads(line)["type"] == "heartbeat" for line in lines if line):
            first = time.monotonic() - start
            worker_pid = child_of(pid)
            with open(f"/proc/{worker_pid}/status") as f:
                rss = int(re.search(r"VmRSS:\s+(\d+)", f.read())[1]) * 1024
            # On-CPU and runnable-but-waiting nanoseconds of the worker's threads so far (schedstat).
            cpu = wait = 0
            for task in os.listdir(f"/proc/{worker_pid}/task"):
                with open(f"/proc/{worker_pid}/task/{task}/schedstat") as f:
                    on, queued, _ = f.read().split()
                cpu, wait = cpu + int(on) / 1e9, wait + int(queued) / 1e9
    if stop_after is not None:
        time.sleep(stop_after)
        os.kill(child_of(pid), signal.SIGKILL)
    while os.read(r, 65536):
        pass
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if stop_after is None and os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"job failed: {open(f'{run}/log.txt').read()}")
    if first is None:
        sys.exit(f"no first-batch heartbeat: {open(f'{run}/log.txt').read()}")
    text = open(f"{run}/log.txt").read()
    m = re.search(r"memory: parameters (\d+) B, gradients and optimizer state (\d+) B, workspace (\d+) B "
                  r"\(batch (\d+)\), data (\d+) B", text)
    memory = dict(zip(["parameters", "state", "workspace", "batch", "data"], map(int, m.groups())))
    shutil.rmtree(run)
    return first, rss, peak_of(f"{run}.peak"), memory, cpu, wait


def summary(values, scale=1.0, unit=""):
    values = [v * scale for v in values]
    return f"median {statistics.median(values):.1f}{unit} (min {min(values):.1f}, max {max(values):.1f})"


# The CIFAR-shaped set.
import numpy as np

images = f"{work}/images"
os.mkdir(images)
rng = np.random.default_rng(0)
for split, n in [("train", 20000), ("test", 2000)]:
    np.save(f"{images}/{split}_x.npy", rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8))
    np.save(f"{images}/{split}_targets.npy", rng.integers(0, 10, n).astype(np.int64))

bare = [baseline([worker]) for _ in range(runs)]
print(f"baseline: bare orch-worker process (spawn to exit), {runs} runs: "
      f"{summary([b[0] for b in bare], 1000, ' ms')}, peak RSS {summary([b[1] for b in bare], 1 / MiB, ' MiB')}")
torch_import = None
if shutil.which("python3") and os.system("python3 -c 'import torch' 2>/dev/null") == 0:
    torch_import = [baseline([shutil.which("python3"), "-c", "import torch"]) for _ in range(runs)]
    print(f"baseline: python3 -c 'import torch' (spawn to exit), {runs} runs: "
          f"{summary([b[0] for b in torch_import], 1000, ' ms')}, "
          f"peak RSS {summary([b[1] for b in torch_import], 1 / MiB, ' MiB')}")
else:
    print("baseline: PyTorch not installed, no 'import torch' baseline")

cases = [
    ("digits MLP 64-128-128-10, batch 32, 1 epoch",
     {"data.name": "digits", "model.arch": "mlp", "train.epochs": 1, "train.batch_size": 32}, None),
    ("MNIST-1D CNN (32-64-128, kernel 5), batch 128, 1 epoch",
     {"data.name": "mnist1d", "model.arch": "cnn", "model.width": 32, "model.depth": 3, "model.kernel_size": 5,
      "train.epochs": 1, "train.batch_size": 128}, None),
    ("20,000 3x32x32 uint8 NCHW images, bench CNN (32-64-128), batch 128, stopped 1 s after the first batch",
     {"data.name": images, "model.arch": "cnn", "model.width": 32, "model.depth": 3, "train.epochs": 1,
      "train.batch_size": 128}, 1.0),
]
bare_ms = statistics.median(b[0] for b in bare) * 1000


def numpy_prepare():
    """numpy doing the engine's data preparation of the image set, written for speed: load, per-channel
    statistics from uint8 histograms (exact), uint8 NCHW -> float32 NHWC, standardisation in place."""
    start = time.monotonic()
    raw = np.load(f"{images}/train_x.npy")
    counts = np.stack([np.bincount(raw[:, c].ravel(), minlength=256) for c in range(raw.shape[1])])
    levels = np.arange(256, dtype=np.float64)
    n = counts.sum(axis=1)
    mean = counts @ levels / n
    std = np.sqrt(counts @ levels**2 / n - mean**2)
    for x in (raw, np.load(f"{images}/test_x.npy")):
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=np.float32)
        x -= mean.astype(np.float32)
        x *= (1 / std).astype(np.float32)
    np.load(f"{images}/train_targets.npy"), np.load(f"{images}/test_targets.npy")
    return time.monotonic() - start


numpy_ms = statistics.median(numpy_prepare() for _ in range(runs)) * 1000
print(f"baseline: numpy preparing the image set (np.load, NCHW uint8 -> NHWC float32, per-channel standardisation), "
      f"{runs} runs: median {numpy_ms:.1f} ms")
for name, bindings, stop in cases:
    results = [job(bindings, stop) for _ in range(runs)]
    firsts = [r[0] for r in results]
    m = results[0][3]
    model = m["parameters"] + m["state"] + m["workspace"]
    peak = max(r[2] for r in results)
    allowance = 64 * MiB + model + m["data"]
    median_ms = statistics.median(firsts) * 1000
    print(f"\n{name}, {runs} runs:")
    print(f"  start-up to first batch: {summary(firsts, 1000, ' ms')}; / bare process = {median_ms / bare_ms:.1f}x"
          + (f"; / import torch = {median_ms / (statistics.median(b[0] for b in torch_import) * 1000):.2f}x"
             if torch_import else "")
          + (f"; / numpy preparing the data = {median_ms / numpy_ms:.2f}x" if stop is not None else "")
          + f"; target <= 100 ms: {'met' if median_ms <= 100 else 'not met'}")
    print(f"  of which the worker on a CPU: {summary([r[4] for r in results], 1000, ' ms')}; runnable but waiting for "
          f"a CPU (other processes): {summary([r[5] for r in results], 1000, ' ms')}")
    print(f"  model: parameters {m['parameters'] / MiB:.2f} MiB, gradients and optimizer state {m['state'] / MiB:.2f} MiB, "
          f"workspace {m['workspace'] / MiB:.2f} MiB (batch {m['batch']}); data {m['data'] / MiB:.2f} MiB")
    print(f"  RSS at first batch {summary([r[1] for r in results], 1 / MiB, ' MiB')}; "
          f"peak RSS (max of runs) {peak / MiB:.1f} MiB")
    print(f"  peak - (model + data) = {(peak - model - m['data']) / MiB:.1f} MiB; target peak <= 64 MiB + model + data "
          f"= {allowance / MiB:.1f} MiB: {'met' if peak <= allowance else 'not met'} "
          f"(peak / allowance = {peak / allowance:.2f}); counting the parameters alone as the model: "
          f"peak - (parameters + data) = {(peak - m['parameters'] - m['data']) / MiB:.1f} MiB")
shutil.rmtree(work)
EOF
echo "load after the run: $(uptime)"
