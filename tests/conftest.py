"""Shared fixtures: a small model trained once on the package's real MNIST sample."""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digitnet.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="session")
def trained_run(trained_run_and_output) -> Path:
    """A run directory from `digitnet train --data sample` (a few seconds on two cores)."""
    return trained_run_and_output[0]


@pytest.fixture(scope="session")
def trained_run_and_output(tmp_path_factory) -> tuple[Path, str, str]:
    """The same run, with what the command printed: (run directory, stdout, stderr). Output is not a terminal."""
    out = tmp_path_factory.mktemp("run")
    argv = [
        "train",
        "--data",
        "sample",
        "--sizes",
        "784,64,10",
        "--epochs",
        "8",
        "--dev-size",
        "500",
        "--batch-size",
        "128",
        "--learning-rate",
        "0.05",
        "--label-smoothing",  # the fast preset smooths its labels; this small run keeps plain targets, whose
        "0",  # probabilities the report's calibration test holds to a bar
        "--warmup-epochs",
        "0",
        "--out",
        str(out),
    ]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(argv) == 0
    return out, stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def run_digitnet():
    """Run the command line in a fresh interpreter, as a user would: ``run_digitnet("evaluate", ...)``."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        return subprocess.run(
            [sys.executable, "-m", "digitnet", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )

    return run


@pytest.fixture(scope="session")
def reader_model(tmp_path_factory) -> Path:
    """A model that reads clearly drawn digits: [784, 128, 10], 15 epochs on the sample (a few seconds)."""
    from digitnet import experiment
    from digitnet.config import TrainConfig
    from digitnet.data import load

    out = tmp_path_factory.mktemp("reader")
    config = TrainConfig(sizes=(784, 128, 10), epochs=15, dev_size=500, seed=0)
    experiment.run(config, load("sample"), out)
    return out / "model.safetensors"
