"""Checkpoints: a run stopped at any step, or killed, and resumed ends with the same weights as one never stopped.

Promise: on the same machine with the same thread count, the resumed run's weights are identical to the bit (all
state is restored exactly: weights, optimiser buffers, the epoch's order, the random generators, the schedule
position). Tests compare with ``np.array_equal``.

A resumed run rebuilds its network and trainer from the same seed, so a resume that ignored the checkpoint could
still end on the same weights. The tests therefore also count the steps a resumed run takes, and change each part
of a checkpoint on purpose: every change must change where the run ends.
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
from digitnet.errors import ConfigError
from digitnet.io import load_model

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIG = TrainConfig(sizes=(784, 32, 10), epochs=4, batch_size=100, learning_rate=0.05, dev_size=500, seed=5)
# Everything random switched on: dropout masks and distortions must come out the same after a resume.
REGULARISED = CONFIG.replace(
    sizes=(784, 32, 16, 10), dropout=0.2, rotate=10.0, scale=0.1, shear=5.0, shift=1.5, elastic_alpha=20.0, max_norm=3.0
)
CONFIGS = {  # every optimiser, and everything random
    "plain": CONFIG,  # Nesterov momentum
    "classical": CONFIG.replace(nesterov=False),
    "gd": CONFIG.replace(optimizer="gd", learning_rate=0.2),
    "adam": CONFIG.replace(optimizer="adam", learning_rate=0.002),
    "regularised": REGULARISED,
    "parallel": REGULARISED.replace(data_parallel=2),  # each copy draws its own dropout masks
    "swa": CONFIG.replace(swa_epochs=4),  # the mean of the weights so far is in the checkpoint
}
STEPS = CONFIG.epochs * 25  # 2500 training rows at batch 100: 25 steps per epoch
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
    "--label-smoothing",  # the fast preset's, which CONFIG does not have
    "0",
    "--warmup-epochs",
    "0",
]


@pytest.fixture(scope="module")
def sample():
    return load("sample")


@pytest.fixture(scope="module")
def uninterrupted(sample):
    runs = {}
    for name, config in CONFIGS.items():
        network, _summary, trainer = experiment.run(config, sample)
        runs[name] = network.state_dict(), trainer.history
    return runs


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def stop_after(steps: int) -> tuple[threading.Event, object]:
    """A stop event and an ``on_step`` callback that sets it after ``steps`` steps."""
    stop, taken = threading.Event(), []

    def on_step(step, steps_per_epoch):
        taken.append(step)
        if len(taken) == steps:
            stop.set()

    return stop, on_step


def interrupted_checkpoint(config, sample, out, steps):
    stop, on_step = stop_after(steps)
    _, summary, _ = experiment.run(config, sample, out, on_step=on_step, stop=stop)
    assert summary == {"stopped": "interrupted", "epoch": steps // 25, "step": steps}
    return load_checkpoint(out / CHECKPOINT_FILE)


@pytest.mark.parametrize(
    "name, stop_after_steps",  # 25 steps per epoch: mid-epoch and on its end
    [
        ("plain", 1),
        ("plain", 20),
        ("plain", 25),
        ("plain", 61),
        ("classical", 30),
        ("gd", 30),
        ("adam", 30),
        ("regularised", 20),
        ("regularised", 50),
        ("parallel", 20),
        ("parallel", 50),
        ("swa", 20),
        ("swa", 60),
    ],
)
def test_stop_and_resume_reaches_the_same_weights(name, stop_after_steps, sample, uninterrupted, tmp_path):
    config = CONFIGS[name]
    checkpoint = interrupted_checkpoint(config, sample, tmp_path, stop_after_steps)
    assert checkpoint.config == config

    steps = []
    network, summary, trainer = experiment.run(
        config, sample, tmp_path, resume=checkpoint, on_step=lambda step, n: steps.append(step)
    )
    assert summary["stopped"] == "finished"
    # exactly the steps that were left, starting with the one after the interruption
    assert len(steps) == STEPS - stop_after_steps
    assert steps[0] == stop_after_steps % 25 + 1
    assert trainer.step == STEPS
    weights, history = uninterrupted[name]
    assert_same_weights(network.state_dict(), weights)
    assert [(r.epoch, r.train_loss, r.dev_loss) for r in trainer.history] == [
        (r.epoch, r.train_loss, r.dev_loss) for r in history
    ]


def _shift(array):
    return array + np.asarray(1e-3, array.dtype)


def _other_generator(state):
    return np.random.default_rng(12345).bit_generator.state


CHANGES = [  # (config, where the value is, its name, the change): each must change the end of the run
    ("plain", "arrays", "network/dense0.W", _shift),
    ("plain", "arrays", "network/dense1.b", _shift),
    ("plain", "arrays", "optimizer/velocity0", np.zeros_like),
    ("plain", "arrays", "order", lambda order: order[::-1].copy()),
    ("plain", "state", "rng", _other_generator),  # the later epochs' shuffles
    ("plain", "state", "step_in_epoch", lambda step: step - 1),
    ("plain", "state", "epoch", lambda epoch: epoch - 1),  # the schedule's position
    ("classical", "arrays", "optimizer/velocity2", np.zeros_like),
    ("adam", "arrays", "optimizer/m0", np.zeros_like),
    ("adam", "arrays", "optimizer/v1", _shift),
    ("adam", "arrays", "optimizer/t", lambda t: np.asarray(1)),
    ("regularised", "state", "dropout_rng", _other_generator),
    ("regularised", "state", "augment_rng", _other_generator),
    ("parallel", "state", "parallel_rngs", lambda states: [states[0], _other_generator(states[1])]),
    ("swa", "arrays", "average/0", _shift),
    ("swa", "state", "averaged", lambda count: count + 1),  # the later epochs' share of the mean
]


@pytest.mark.parametrize("name, where, key, change", CHANGES, ids=[f"{c[0]}-{c[2]}" for c in CHANGES])
def test_a_changed_checkpoint_ends_elsewhere(name, where, key, change, sample, uninterrupted, tmp_path):
    checkpoint = interrupted_checkpoint(CONFIGS[name], sample, tmp_path, 30)  # mid-epoch 2
    values = getattr(checkpoint, where)
    assert key in values
    values[key] = change(values[key])
    network, summary, _ = experiment.run(CONFIGS[name], sample, resume=checkpoint)
    assert summary["stopped"] == "finished"
    weights, _ = uninterrupted[name]
    assert any(not np.array_equal(network.state_dict()[k], weights[k]) for k in weights)


def test_resume_refuses_a_checkpoint_of_other_data(sample, tmp_path):
    checkpoint = interrupted_checkpoint(CONFIG, sample, tmp_path, 30)
    with pytest.raises(ConfigError, match="trained on 2500 rows but this run has 2600"):
        experiment.run(CONFIG.replace(dev_size=400), sample, resume=checkpoint)


def test_a_run_removes_the_temporary_files_a_killed_run_left(sample, tmp_path):
    stale = [tmp_path / f".{name}.abc123.partial" for name in (CHECKPOINT_FILE, "model.safetensors")]
    other = tmp_path / ".notes.txt.abc123.partial"  # not one of the run's files: left alone
    for path in [*stale, other]:
        path.write_bytes(b"half a file")
    experiment.run(CONFIG.replace(epochs=1), sample, tmp_path)
    assert not any(path.exists() for path in stale)
    assert other.exists()


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


def test_sigkill_leaves_a_checkpoint_that_resumes_to_the_same_weights(tmp_path, sample):
    # 30 epochs of about a tenth of a second each: the kill lands mid-run, right after the first checkpoint appears
    epochs = 30
    process = digitnet("train", *ARGS, "--epochs", str(epochs), "--checkpoint-every", "1", "--out", str(tmp_path))
    wait_for(lambda: (tmp_path / CHECKPOINT_FILE).exists())
    time.sleep(0.05)  # kill it somewhere later, possibly while the next checkpoint is being written
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "model.safetensors").exists()  # it was killed before it finished
    checkpoint = load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert checkpoint.config == CONFIG.replace(epochs=epochs)
    left_at = checkpoint.state["step"]
    assert 1 <= checkpoint.state["epoch"] < epochs

    steps = []
    network, summary, _ = experiment.run(
        checkpoint.config, sample, tmp_path, resume=checkpoint, on_step=lambda step, n: steps.append(step)
    )
    assert summary["stopped"] == "finished"
    assert len(steps) == epochs * 25 - left_at  # it carried on from where the killed run's checkpoint was
    assert not list(tmp_path.glob(".*.partial"))  # the killed run's temporary files are gone
    uninterrupted, _, _ = experiment.run(CONFIG.replace(epochs=epochs), sample)
    assert_same_weights(network.state_dict(), uninterrupted.state_dict())


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


def test_resume_refuses_other_data(tmp_path, sample, capsys):
    from digitnet.cli import main

    interrupted_checkpoint(CONFIG, sample, tmp_path, 30)
    assert main(["train", "--resume", str(tmp_path), "--data", "mnist"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--resume carries on with the run's own data (sample); drop --data mnist" in err
