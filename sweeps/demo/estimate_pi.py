"""Monte Carlo estimate of pi: a stand-in job for `make demo` that reports like a training run.

Writes JSON-lines events to fd 3 when orch provides it (ORCH_EVENTS_FD), prints progress to stdout.
"""
import argparse
import json
import math
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--samples", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()

events = None
if os.environ.get("ORCH_EVENTS_FD"):
    events = os.fdopen(int(os.environ["ORCH_EVENTS_FD"]), "w", buffering=1)
seq = 0


def emit(**event):
    global seq
    seq += 1
    if events:
        events.write(json.dumps({"seq": seq, **event}) + "\n")


rng = random.Random(args.seed)
inside = 0
chunks = 10
per_chunk = args.samples // chunks
for chunk in range(1, chunks + 1):
    for _ in range(per_chunk):
        x, y = rng.random(), rng.random()
        inside += x * x + y * y <= 1.0
    estimate = 4.0 * inside / (chunk * per_chunk)
    emit(type="metric", name="error", value=abs(estimate - math.pi), step=chunk * per_chunk)
    print(f"samples {chunk * per_chunk}: pi ~ {estimate:.6f}", flush=True)

emit(type="done", metrics={"estimate": estimate, "error": abs(estimate - math.pi)})
