"""The PyTorch baseline of bench/engine, single-threaded (torch.set_num_threads(1)), on the engine bench's
shapes: forward + backward + SGD (momentum 0.9, lr 0.01) on random data, batch 128.

- MLP 784-512-512-10 with ReLU.
- CNN on 3x32x32: conv 3x3 3->32 (padding 1) + ReLU, max pool 2, conv 32->64 + ReLU, max pool 2,
  conv 64->128 + ReLU, global average pool, linear 128->10 (conv biases on, as in the engine).
  Measured in PyTorch's default NCHW layout and in channels_last (NHWC, the engine's layout);
  run.sh takes the faster of the two as the baseline, by each measure.

Usage: python3 torch_bench.py [seconds per measurement]. Prints `KEY WALL CPU` lines: samples/s by the
wall clock and samples per CPU-second of this process.
"""
import sys
import time

import torch
from torch import nn

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.manual_seed(1)
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3
B = 128


def rate(model, x, y):
    """Samples/s of training steps for about `seconds`, after warm-up steps, by the wall clock and
    per second of this process's CPU time (which other processes on the machine move less)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n * B / (time.perf_counter() - start), n * B / (time.process_time() - cpu)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def cnn():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
        GlobalAvgPool(), nn.Linear(128, 10))


def show(key, rates):
    print(f"{key} {rates[0]:.0f} {rates[1]:.0f}")


y = torch.arange(B) % 10
mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
show("mlp", rate(mlp, torch.rand(B, 784), y))
image = torch.rand(B, 3, 32, 32)
nchw = rate(cnn(), image, y)
show("cnn_nchw", nchw)
nhwc = rate(cnn().to(memory_format=torch.channels_last), image.contiguous(memory_format=torch.channels_last), y)
show("cnn_channels_last", nhwc)
print(f"version {torch.__version__}")
