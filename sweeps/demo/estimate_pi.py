"""Monte Carlo estimate of pi: a stand-in job for `make demo` that reports like a training run.

Reports to orch with the Python package (`pip install ./python`): a metric per chunk of samples and
the final metrics; outside orch the reports are no-ops. Prints progress to stdout.
"""
import argparse
import math
import os
import random
import sys

try:
    import orch
except ImportError:  # not installed: the package in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import orch

parser = argparse.ArgumentParser()
parser.add_argument("--samples", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()

rng = random.Random(args.seed)
inside = 0
chunks = 10
per_chunk = args.samples // chunks
for chunk in range(1, chunks + 1):
    for _ in range(per_chunk):
        x, y = rng.random(), rng.random()
        inside += x * x + y * y <= 1.0
    estimate = 4.0 * inside / (chunk * per_chunk)
    orch.report(step=chunk * per_chunk, error=abs(estimate - math.pi))
    print(f"samples {chunk * per_chunk}: pi ~ {estimate:.6f}", flush=True)

orch.done(estimate=estimate, error=abs(estimate - math.pi))
