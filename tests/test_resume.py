"""Checkpoints: a run stopped at any step, or killed, and resumed ends with the same weights as one never stopped.

Promise: on the same machine with the same thread count, the resumed run's weights are identical to the bit (all
state is restored exactly: weights, optimiser buffers, the epoch's order, the random generator, the schedule
position). Tests compare with ``np.array_equal``.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from digitnet import experiment
from digitnet.checkpoint import CHECKPOINT_FILE, load_checkpoint
from digitnet.config import TrainConfig
from digitnet.data import load
from digitnet.io import load_model

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIG = TrainConfig(sizes=(784, 32, 10), epochs=4, batch_size=100, learning_rate=0.05, dev_size=500, seed=5)
# Everything random switched on: dropout masks and distortions must come out the same after a resume.
REGULARISED = CONFIG.replace(
    sizes=(784, 32, 16, 10), dropout=0.2, rotate=10.0, scale=0.1, shear=5.0, shift=1.5, elastic_alpha=20.0, max_norm=3.0
)
ARGS = [  # CONFIG as command-line options, less --epochs
    "--data",
    "sample",
    "--sizes",
    "784,32,10",
    "--batch-size",
    "100",
    "--learning-rate",
    "0.05",
    "--dev-size",
    "500",
    "--seed",
    "5",
]


@pytest.fixture(scope="module")
def sample():
    return load("sample")


@pytest.fixture(scope="module")
def uninterrupted(sample):
    runs = {}
    for name, config in (("plain", CONFIG), ("regularised", REGULARISED)):
        network, _summary, trainer = experiment.run(config, sample)
        runs[name] = network.state_dict(), trainer.history
    return runs


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize(
    "name, stop_after_steps",  # 25 steps per epoch: mid-epoch and on its end
    [("plain", 1), ("plain", 20), ("plain", 25), ("plain", 61), ("regularised", 20), ("regularised", 50)],
)
def test_stop_and_resume_reaches_the_same_weights(name, stop_after_steps, sample, uninterrupted, tmp_path):
    config = {"plain": CONFIG, "regularised": REGULARISED}[name]
    stop, steps = threading.Event(), []

    def on_step(step, steps_per_epoch):
        steps.append(step)
        if len(steps) == stop_after_steps:
            stop.set()

    _, summary, _ = experiment.run(config, sample, tmp_path, on_step=on_step, stop=stop)
    assert summary == {"stopped": "interrupted", "epoch": stop_after_steps // 25, "step": stop_after_steps}
    checkpoint = load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert checkpoint.config == config

    network, summary, trainer = experiment.run(config, sample, tmp_path, resume=checkpoint)
    assert summary["stopped"] == "finished"
    weights, history = uninterrupted[name]
    assert_same_weights(network.state_dict(), weights)
    assert [(r.epoch, r.train_loss, r.dev_loss) for r in trainer.history] == [
        (r.epoch, r.train_loss, r.dev_loss) for r in history
    ]


def test_checkpoints_are_written_every_n_epochs(sample, tmp_path):
    written = []
    experiment.run(
        CONFIG,
        sample,
        tmp_path,
        checkpoint_every=2,
        on_report=lambda r: written.append(os.path.exists(tmp_path / CHECKPOINT_FILE)),
    )
    assert written == [False, False, True, True]  # the report of epoch 2 comes before its checkpoint
    assert load_checkpoint(tmp_path / CHECKPOINT_FILE).state["epoch"] == 4


def digitnet(*args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "digitnet", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_sigkill_leaves_a_usable_checkpoint(tmp_path):
    # Long enough (200 epochs) that the kill lands mid-run, right after the first checkpoint appears.
    args = [
        "train",
        "--data",
        "sample",
        "--sizes",
        "784,32,10",
        "--epochs",
        "200",
        "--batch-size",
        "50",
        "--dev-size",
        "500",
        "--checkpoint-every",
        "1",
        "--out",
        str(tmp_path),
    ]
    process = digitnet(*args)
    wait_for(lambda: (tmp_path / CHECKPOINT_FILE).exists())
    time.sleep(0.05)  # kill it somewhere later, possibly while the next checkpoint is being written
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    checkpoint = load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert 1 <= checkpoint.state["epoch"] < 200


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes_identically(tmp_path, sample):
    epochs = 40  # long enough that Ctrl-C, sent after epoch 1, always lands mid-run
    process = digitnet("train", *ARGS, "--epochs", str(epochs), "--out", str(tmp_path))
    assert process.stderr.readline().startswith("epoch  1/")  # progress goes to stderr: training is under way
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"resume with: digitnet train --resume {tmp_path}" in err
    assert not (tmp_path / "model.safetensors").exists()

    resumed = digitnet("train", "--resume", str(tmp_path))
    _out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    network, _ = load_model(tmp_path / "model.safetensors")
    uninterrupted, _, _ = experiment.run(CONFIG.replace(epochs=epochs), sample)
    assert_same_weights(network.state_dict(), uninterrupted.state_dict())


def test_resume_refuses_new_options(tmp_path, capsys):
    from digitnet.cli import main

    assert main(["train", "--resume", str(tmp_path), "--epochs", "9"]) == 2
    assert "--resume carries on with the run's own options; drop --epochs" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 4
    assert "no checkpoint at" in capsys.readouterr().err
