"""The numpy baseline of bench/engine: MLP 784-512-512-10, batch 128, forward + backward + SGD with
momentum, single-threaded BLAS (run with OPENBLAS_NUM_THREADS=1). Prints samples/s by the wall clock and
samples per CPU-second of this process."""
import sys
import time

import numpy as np

rng = np.random.default_rng(1)
B, sizes = 128, [784, 512, 512, 10]
W = [rng.standard_normal((i, o), dtype=np.float32) * np.float32(np.sqrt(2 / i)) for i, o in zip(sizes, sizes[1:])]
b = [np.zeros(o, np.float32) for o in sizes[1:]]
vW = [np.zeros_like(w) for w in W]
vb = [np.zeros_like(x) for x in b]
x = rng.random((B, 784), dtype=np.float32)
y = np.arange(B) % 10


def step():
    acts = [x]
    for i, (w, bias) in enumerate(zip(W, b)):
        z = acts[-1] @ w + bias
        acts.append(np.maximum(z, 0) if i < len(W) - 1 else z)
    logits = acts[-1]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d = p
    d[np.arange(B), y] -= 1
    d /= B
    for i in reversed(range(len(W))):
        gW, gb = acts[i].T @ d, d.sum(0)
        if i > 0:
            d = (d @ W[i].T) * (acts[i] > 0)
        vW[i] = 0.9 * vW[i] + gW
        vb[i] = 0.9 * vb[i] + gb
        W[i] -= 0.01 * vW[i]
        b[i] -= 0.01 * vb[i]


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3
step()
n, start, cpu = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - start < seconds:
    step()
    n += 1
print(f"{n * B / (time.perf_counter() - start):.0f} {n * B / (time.process_time() - cpu):.0f}")
