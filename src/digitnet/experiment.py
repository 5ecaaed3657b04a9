"""One training run from start to finish: data in, a directory of results out.

``run(config, dataset, out_dir)`` holds out the dev split, trains, measures the test set (never used to choose
anything) and writes, each file atomically:

- ``model.safetensors``: the weights, with the architecture and the summary as metadata;
- ``summary.json``: the configuration, the timings and the accuracies;
- ``history.jsonl``: one JSON object per report.

The command line and the benchmarks call this; a notebook can too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import spec
from .checkpoint import CHECKPOINT_FILE, Checkpoint, save_checkpoint
from .config import TrainConfig
from .data import Dataset, Split, dev_split
from .errors import ConfigError, DataError
from .files import remove_stale_partials, write_text
from .io import save_model
from .network import Network
from .train import Trainer

RUN_FILES = (CHECKPOINT_FILE, "model.safetensors", "summary.json", "history.jsonl")  # what run writes


def check_fits(config: TrainConfig, dataset: Dataset) -> None:
    """Refuse a configuration whose first or last size does not match the data."""
    n_inputs = dataset.train.X.shape[1]
    if dataset.train.y is None:
        raise DataError(f"{dataset.name} has no labels to train on; pass a training CSV with a `label` column")
    n_classes = int(dataset.train.y.max()) + 1
    text = spec.to_text(config.sizes)
    if spec.input_width(config.sizes) != n_inputs:
        raise ConfigError(
            f"sizes {text} start with {config.sizes[0]}, but each digit in "
            f"{dataset.name} has {n_inputs} pixels; make the first size {n_inputs}"
        )
    if config.sizes[-1] < n_classes:
        raise ConfigError(
            f"sizes {text} end with {config.sizes[-1]}, but {dataset.name} has "
            f"{n_classes} classes; make the last size {max(n_classes, 10)}"
        )
    if config.dev_size >= len(dataset.train.X):
        raise ConfigError(
            f"dev_size {config.dev_size} leaves no training rows out of {len(dataset.train.X)}; lower --dev-size"
        )


def run_dev_split(X: np.ndarray, y: np.ndarray, dev_size: int, seed: int) -> tuple[Split, Split]:
    """The (train, dev) split a run with ``seed`` makes; the one place its seed rule is written (report.py
    draws the same dev rows again through it)."""
    return dev_split(X, y, dev_size, np.random.default_rng([seed, 0]))  # [seed, 0]: apart from the other streams


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` and prove it writable, before any time is spent training."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ConfigError(
            f"cannot write to output directory {out} ({error.strerror or error}); choose another with --out"
        ) from None
    return out


def run(
    config: TrainConfig,
    dataset: Dataset,
    out_dir: str | os.PathLike | None = None,
    *,
    preset: str | None = None,
    checkpoint_every: int = 0,
    resume: Checkpoint | None = None,
    **callbacks,
) -> tuple[Network, dict[str, Any], Trainer]:
    """Train on ``dataset`` as ``config`` says; write the results to ``out_dir`` when given.

    With ``checkpoint_every=N`` a checkpoint is written to ``out_dir`` every N epochs, and whenever training is
    interrupted (``stop`` set); ``resume`` carries on from one. ``callbacks`` (``on_report``, ``on_step``,
    ``stop``) go to the ``Trainer``. Returns the trained network, the summary and the trainer (whose ``history``
    holds every report, and whose ``epoch`` says how far it got).
    """
    check_fits(config, dataset)
    train, dev = run_dev_split(dataset.train.X, dataset.train.y, config.dev_size, config.seed)
    network = Network(config.sizes, seed=config.seed, dtype=np.dtype(config.dtype), dropout=config.dropout)
    trainer = Trainer(network, config, train.X, train.y, dev.X, dev.y, **callbacks)  # refuses what cannot train
    out = None if out_dir is None else prepare_out_dir(out_dir)  # and only then makes the output directory
    if out is not None:  # a run killed while writing leaves its hidden temporary files: this run writes them anew
        for name in RUN_FILES:
            remove_stale_partials(out / name)
    if resume is not None:
        resume.restore(trainer)

    def write_checkpoint(trainer: Trainer) -> None:
        save_checkpoint(out / CHECKPOINT_FILE, trainer, preset=preset, data=dataset.name)

    def checkpoint_on_schedule(trainer: Trainer) -> None:
        if trainer.epoch % checkpoint_every == 0:
            write_checkpoint(trainer)

    if out is not None and checkpoint_every:
        trainer.on_epoch = checkpoint_on_schedule
    result = trainer.run()
    if result.stopped == "interrupted":
        if out is not None:
            write_checkpoint(trainer)
        return network, {"stopped": "interrupted", "epoch": trainer.epoch, "step": trainer.step}, trainer

    dev_loss, dev_accuracy = network.evaluate(dev.X, dev.y) if len(dev.X) else (None, None)
    test = dataset.test if dataset.test is not None and dataset.test.y is not None else None
    test_loss, test_accuracy = network.evaluate(test.X, test.y) if test is not None else (None, None)
    summary = {
        "preset": preset,
        "data": dataset.name,
        "sizes": list(config.sizes),
        "epochs": trainer.epoch,
        "seed": config.seed,
        "stopped": result.stopped,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 3),
        "train_examples": len(train.X),
        "dev_examples": len(dev.X),
        "dev_loss": dev_loss,
        "dev_accuracy": dev_accuracy,
        "test_examples": None if test is None else len(test.X),
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "config": dataclasses.asdict(config),
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpu": platform.machine()},
    }
    if out is not None:
        write_run(out, network, summary, result.history, dataset.classes)
    return network, summary, trainer


def write_run(out: Path, network: Network, summary: dict[str, Any], history: list, classes) -> None:
    """Write a finished run's ``model.safetensors``, ``summary.json`` and ``history.jsonl`` into ``out``."""
    save_model(network, out / "model.safetensors", summary, classes)
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    lines = [json.dumps(dataclasses.asdict(record)) for record in history]
    write_text(out / "history.jsonl", "".join(line + "\n" for line in lines))
