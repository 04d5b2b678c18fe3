"""The job side of the package: what it writes on the event fd, and that it is silent outside orch.
That the worker and daemon store these lines is checked with the real binaries
(Tests/IntegrationTests/PythonPackageTests.swift)."""

import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
REPO = os.path.dirname(PACKAGE)
sys.path.insert(0, PACKAGE)

import orch  # noqa: E402
from orch import events  # noqa: E402


class Pipe:
    """A pipe whose write end is ORCH_EVENTS_FD while the test runs."""

    def __enter__(self):
        self.read, self.write = os.pipe()
        self.env = mock.patch.dict(os.environ, {"ORCH_EVENTS_FD": str(self.write)})
        self.env.start()
        events._broken = False
        events._warned = False
        return self

    def lines(self):
        os.close(self.write)
        self.write = None
        with os.fdopen(self.read, "rb") as f:
            data = f.read()
        self.read = None
        assert data == b"" or data.endswith(b"\n"), data
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]

    def __exit__(self, *exc):
        self.env.stop()
        for fd in (self.read, self.write):
            if fd is not None:
                os.close(fd)
        events._broken = False
        events._warned = False


def strip_time(event):
    assert isinstance(event.pop("time"), float)
    return event


class ReportTests(unittest.TestCase):
    def test_report_writes_one_metric_line_per_name_with_step_and_epoch(self):
        with Pipe() as pipe:
            orch.report(step=120, epoch=3, train_loss=0.25, val_acc=1)
            lines = pipe.lines()
        self.assertEqual(
            [strip_time(e) for e in lines],
            [
                {"type": "metric", "name": "train_loss", "value": 0.25, "step": 120, "epoch": 3},
                {"type": "metric", "name": "val_acc", "value": 1.0, "step": 120, "epoch": 3},
            ],
        )

    def test_lines_carry_no_seq_so_the_worker_numbers_them_by_offset(self):
        # Forked reporters share the pipe: a per-process counter would collide, offsets cannot.
        with Pipe() as pipe:
            orch.report(epoch=1, loss=1.0)
            orch.done(acc=0.5)
            self.assertTrue(all("seq" not in e for e in pipe.lines()))

    def test_many_metrics_go_out_in_writes_a_pipe_keeps_whole(self):
        import select

        writes = []
        real = os.write

        def recording(fd, data):
            writes.append(bytes(data))
            return real(fd, data)

        with Pipe() as pipe:
            with mock.patch("os.write", recording):
                orch.report(epoch=1, **{"metric_%03d" % i: i for i in range(200)})
            lines = pipe.lines()
        self.assertEqual([e["name"] for e in lines], ["metric_%03d" % i for i in range(200)])
        self.assertGreater(len(writes), 1)
        self.assertTrue(all(len(w) <= select.PIPE_BUF and w.endswith(b"\n") for w in writes))

    def test_step_and_epoch_are_optional_and_must_be_64_bit_integers(self):
        with Pipe() as pipe:
            orch.report(loss=2.0)
            with self.assertRaises(TypeError):
                orch.report(epoch=1.5, loss=1.0)
            with self.assertRaises(TypeError):
                orch.report(epoch=True, loss=1.0)
            with self.assertRaises(ValueError):
                orch.report(step=2**63, loss=1.0)
            orch.report(step=2**63 - 1, loss=1.0)
            lines = [strip_time(e) for e in pipe.lines()]
        self.assertEqual(lines[0], {"type": "metric", "name": "loss", "value": 2.0})
        self.assertEqual(lines[1]["step"], 2**63 - 1)
        self.assertEqual(len(lines), 2)

    def test_non_finite_values_are_null_and_non_numbers_raise(self):
        with Pipe() as pipe:
            orch.report(epoch=1, a=float("nan"), b=float("inf"))
            for bad in ("0.5", None, True, [1.0]):
                with self.assertRaises(TypeError):
                    orch.report(epoch=1, x=bad)
            with self.assertRaises(TypeError):
                orch.report(epoch=1)
            lines = pipe.lines()
        self.assertEqual([e["value"] for e in lines], [None, None])

    def test_numbers_that_convert_to_float_are_accepted(self):
        class Scalar:  # a numpy scalar or a 0-d tensor
            def __float__(self):
                return 0.125

        with Pipe() as pipe:
            orch.report(epoch=2, x=Scalar(), y=10**20)
            lines = pipe.lines()
        self.assertEqual([e["value"] for e in lines], [0.125, 1e20])

    def test_done_checkpoint_artifact_heartbeat(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "ckpt.bin")
            with open(path, "wb") as f:
                f.write(b"weights" * 1000)
            with Pipe() as pipe:
                orch.checkpoint(path, 4, step=40)
                orch.checkpoint(path, 5, sha256=False)
                orch.artifact("predictions", path)
                orch.heartbeat()
                orch.done(epoch=5, test_acc=0.75, bad=float("nan"))
                lines = [strip_time(e) for e in pipe.lines()]
            with self.assertRaises(FileNotFoundError):
                orch.checkpoint(os.path.join(tmp, "missing"), 1)
        digest = hashlib.sha256(b"weights" * 1000).hexdigest()
        self.assertEqual(
            lines,
            [
                {"type": "checkpoint", "path": path, "bytes": 7000, "sha256": digest, "step": 40, "epoch": 4},
                {"type": "checkpoint", "path": path, "bytes": 7000, "epoch": 5},
                {"type": "artifact", "name": "predictions", "path": path},
                {"type": "heartbeat"},
                {"type": "done", "metrics": {"test_acc": 0.75, "bad": None}, "epoch": 5},
            ],
        )

    def test_relative_paths_are_made_absolute(self):
        with tempfile.TemporaryDirectory() as tmp:
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                with open("c.bin", "wb") as f:
                    f.write(b"x")
                expected = os.path.join(os.getcwd(), "c.bin")
                with Pipe() as pipe:
                    orch.checkpoint("c.bin", 1)
                    orch.artifact("c", "c.bin")
                    lines = pipe.lines()
            finally:
                os.chdir(cwd)
        self.assertEqual([e["path"] for e in lines], [expected, expected])

    def test_outside_orch_every_call_is_a_silent_no_op(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("ORCH_EVENTS_FD", None)
            os.environ.pop("ORCH_RUN_DIR", None)
            err = io.StringIO()
            with redirect_stderr(err):
                self.assertFalse(orch.enabled())
                orch.report(epoch=1, loss=0.1)
                orch.done(acc=1.0)
                orch.heartbeat()
                self.assertEqual(orch.config({"lr": 0.1}), {"lr": 0.1})
            self.assertEqual(err.getvalue(), "")

    def test_a_closed_event_channel_warns_once_and_never_raises(self):
        with Pipe() as pipe:
            os.close(pipe.read)
            pipe.read = None
            err = io.StringIO()
            with redirect_stderr(err):
                orch.report(epoch=1, loss=0.1)
                orch.report(epoch=2, loss=0.1)
                orch.done(acc=1.0)
            self.assertFalse(orch.enabled())
        self.assertEqual(err.getvalue().count("orch:"), 1, err.getvalue())

    def test_a_line_over_the_workers_limit_raises_instead_of_being_dropped(self):
        with Pipe() as pipe:
            with self.assertRaises(ValueError):
                orch.report(epoch=1, **{"x" * (1 << 20): 1.0})
            self.assertEqual(pipe.lines(), [])


class ConfigTests(unittest.TestCase):
    def test_config_is_the_run_directorys_bindings_over_the_defaults(self):
        with tempfile.TemporaryDirectory() as run:
            with open(os.path.join(run, "config.json"), "w") as f:
                json.dump({"bindings": {"lr": 0.2, "model.width": 64}, "command": ["x"], "env": {}}, f)
            with mock.patch.dict(os.environ, {"ORCH_RUN_DIR": run}):
                self.assertEqual(
                    orch.config({"lr": 0.1, "epochs": 3}), {"lr": 0.2, "epochs": 3, "model.width": 64}
                )
                self.assertEqual(orch.config(), {"lr": 0.2, "model.width": 64})


def run_example(test, script, args, with_fd):
    """Runs an example as orch's worker would: fd 3 a pipe, ORCH_EVENTS_FD=3, ORCH_RUN_DIR set."""
    run = tempfile.mkdtemp()
    test.addCleanup(shutil.rmtree, run)
    env = dict(os.environ, PYTHONPATH=PACKAGE)
    env.pop("ORCH_EVENTS_FD", None)
    env.pop("ORCH_RUN_DIR", None)
    read = write = None
    kwargs = {}
    if with_fd:
        read, write = os.pipe()
        env["ORCH_EVENTS_FD"] = "3"
        env["ORCH_RUN_DIR"] = run
        with open(os.path.join(run, "config.json"), "w") as f:
            json.dump({"bindings": {"epochs": 3, "hidden": 4}, "command": [], "env": {}}, f)

        def child():
            os.dup2(write, 3)

        kwargs = {"preexec_fn": child, "pass_fds": (3,)}  # kept open after the dup2
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, script)] + args,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )
    if write is not None:
        os.close(write)
    data = b""
    if read is not None:
        with os.fdopen(read, "rb") as f:
            data = f.read()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode(), [json.loads(line) for line in data.decode().splitlines()]


class ExampleTests(unittest.TestCase):
    def test_estimate_pi_reports_through_the_package(self):
        out, lines = run_example(self, "sweeps/demo/estimate_pi.py", ["--samples", "1000", "--seed", "1"], True)
        metrics = [e for e in lines if e["type"] == "metric"]
        self.assertEqual([e["step"] for e in metrics], list(range(100, 1001, 100)))
        self.assertTrue(all(e["name"] == "error" for e in metrics))
        self.assertEqual(lines[-1]["type"], "done")
        self.assertAlmostEqual(lines[-1]["metrics"]["error"], abs(lines[-1]["metrics"]["estimate"] - math.pi))
        self.assertEqual(lines[-1]["metrics"]["error"], metrics[-1]["value"])
        self.assertIn("samples 1000", out)

    def test_estimate_pi_runs_outside_orch(self):
        out, lines = run_example(self, "sweeps/demo/estimate_pi.py", ["--samples", "1000", "--seed", "1"], False)
        self.assertEqual(lines, [])
        self.assertIn("samples 1000", out)

    def test_the_training_loop_example_reports_each_epoch_its_checkpoints_and_final_metrics(self):
        out, lines = run_example(self, "sweeps/demo/train_loop.py", [], True)
        by_type = {}
        for e in lines:
            by_type.setdefault(e["type"], []).append(e)
        names = {"train_loss", "train_acc", "val_loss", "val_acc"}
        self.assertEqual(sorted({(e["epoch"], e["name"]) for e in by_type["metric"]}), sorted((ep, n) for ep in (1, 2, 3) for n in names))
        self.assertEqual([e["epoch"] for e in by_type["checkpoint"]], [1, 2, 3])
        for e in by_type["checkpoint"]:
            with open(e["path"], "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), e["sha256"])
        self.assertEqual([e["name"] for e in by_type["artifact"]], ["predictions"])
        self.assertEqual(set(by_type["done"][0]["metrics"]), {"test_loss", "test_acc"})
        self.assertIn("epoch 3:", out)
        self.assertNotIn("epoch 4:", out)  # train.epochs came from config.json


if __name__ == "__main__":
    unittest.main()
