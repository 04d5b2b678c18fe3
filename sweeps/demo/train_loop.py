"""A training script in the shape of a PyTorch one — dataset, model, optimizer, an epoch loop with
train and validation passes, a checkpoint per epoch — reporting to orch with the Python package.

Plain Python (no torch, no numpy): a one-hidden-layer tanh MLP on two interleaved spirals. The
hyperparameters are the config's bindings (`orch.config`), with defaults for a run outside orch:

    python3 sweeps/demo/train_loop.py                 # alone: prints, reports nothing
    orch submit sweeps/train_loop.yaml --wait         # a sweep: per-epoch curves in the store
    orch plot train_loop --metric val_acc --color lr  # (or orch.metrics("train_loop") in Python)

In a real PyTorch script the same five calls go in the same places: `orch.config()` for the
hyperparameters, `orch.report(...)` after each epoch, `orch.checkpoint(path, epoch)` after
`torch.save`, `orch.artifact(...)` for files, `orch.done(...)` with the test metrics.
"""
import json
import math
import os
import random
import sys
import tempfile

try:
    import orch
except ImportError:  # not installed: the package in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import orch


def spirals(n, seed):
    """Two spirals of n points each, with a little noise: (x, y) pairs, label 0 or 1."""
    rng = random.Random(seed)
    data = []
    for label in (0, 1):
        for i in range(n):
            r = 0.2 + 0.8 * i / n
            t = 1.75 * i / n * math.pi + label * math.pi
            data.append(((r * math.cos(t) + rng.gauss(0, 0.03), r * math.sin(t) + rng.gauss(0, 0.03)), label))
    rng.shuffle(data)
    return data


class MLP:
    """x (2) -> tanh(W1 x + b1) (hidden) -> w2 . h + b2 -> sigmoid."""

    def __init__(self, hidden, rng):
        self.w1 = [[rng.gauss(0, 1.0) for _ in range(2)] for _ in range(hidden)]
        self.b1 = [0.0] * hidden
        self.w2 = [rng.gauss(0, 1.0 / math.sqrt(hidden)) for _ in range(hidden)]
        self.b2 = 0.0

    def forward(self, x):
        h = [math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(self.w1, self.b1)]
        z = sum(w * v for w, v in zip(self.w2, h)) + self.b2
        return h, 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def state_dict(self):
        return {"w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}


class SGD:
    """Mini-batch SGD with momentum over the MLP's parameters."""

    def __init__(self, model, lr, momentum=0.9):
        self.model, self.lr, self.momentum = model, lr, momentum
        hidden = len(model.b1)
        self.v = {"w1": [[0.0, 0.0] for _ in range(hidden)], "b1": [0.0] * hidden, "w2": [0.0] * hidden, "b2": 0.0}

    def step(self, batch):
        m, hidden = self.model, len(self.model.b1)
        g = {"w1": [[0.0, 0.0] for _ in range(hidden)], "b1": [0.0] * hidden, "w2": [0.0] * hidden, "b2": 0.0}
        for x, y in batch:
            h, p = m.forward(x)
            dz = (p - y) / len(batch)  # d(binary cross-entropy)/dz
            g["b2"] += dz
            for j in range(hidden):
                g["w2"][j] += dz * h[j]
                dh = dz * m.w2[j] * (1.0 - h[j] * h[j])
                g["b1"][j] += dh
                g["w1"][j][0] += dh * x[0]
                g["w1"][j][1] += dh * x[1]
        v, mu = self.v, self.momentum
        v["b2"] = mu * v["b2"] + g["b2"]
        m.b2 -= self.lr * v["b2"]
        for j in range(hidden):
            v["w2"][j] = mu * v["w2"][j] + g["w2"][j]
            m.w2[j] -= self.lr * v["w2"][j]
            v["b1"][j] = mu * v["b1"][j] + g["b1"][j]
            m.b1[j] -= self.lr * v["b1"][j]
            for k in range(2):
                v["w1"][j][k] = mu * v["w1"][j][k] + g["w1"][j][k]
                m.w1[j][k] -= self.lr * v["w1"][j][k]


def evaluate(model, data):
    loss = correct = 0
    for x, y in data:
        _, p = model.forward(x)
        p = min(max(p, 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p > 0.5) == (y == 1)
    return loss / len(data), correct / len(data)


def main():
    cfg = orch.config({"lr": 0.1, "hidden": 16, "epochs": 10, "batch_size": 16, "seed": 0})
    rng = random.Random(cfg["seed"])
    data = spirals(150, seed=1234)  # the data are fixed; the seed varies initialisation and order
    train, val, test = data[:200], data[200:250], data[250:]
    model = MLP(int(cfg["hidden"]), rng)
    optimizer = SGD(model, float(cfg["lr"]))
    run_dir = os.environ.get("ORCH_RUN_DIR") or tempfile.mkdtemp(prefix="train_loop-")
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    step = 0
    for epoch in range(1, int(cfg["epochs"]) + 1):
        rng.shuffle(train)
        for start in range(0, len(train), int(cfg["batch_size"])):
            optimizer.step(train[start : start + int(cfg["batch_size"])])
            step += 1
        train_loss, train_acc = evaluate(model, train)
        val_loss, val_acc = evaluate(model, val)
        orch.report(epoch=epoch, step=step, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss, val_acc=val_acc)
        path = os.path.join(run_dir, "checkpoints", "epoch%03d.json" % epoch)
        with open(path, "w") as f:
            json.dump({"epoch": epoch, "model": model.state_dict()}, f)
        orch.checkpoint(path, epoch, step=step)
        print("epoch %d: train_loss %.4f val_acc %.3f" % (epoch, train_loss, val_acc), flush=True)
    test_loss, test_acc = evaluate(model, test)
    predictions = os.path.join(run_dir, "predictions.json")
    with open(predictions, "w") as f:
        json.dump([model.forward(x)[1] for x, _ in test], f)
    orch.artifact("predictions", predictions)
    orch.done(epoch=int(cfg["epochs"]), step=step, test_loss=test_loss, test_acc=test_acc)


if __name__ == "__main__":
    main()
