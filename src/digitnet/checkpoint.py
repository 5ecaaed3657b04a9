"""Checkpoints: everything an interrupted run needs to carry on exactly where it stopped.

A checkpoint is a safetensors file like a model file: the weights, the optimiser's buffers, the best weights so far
and the epoch's shuffled order as tensors; the configuration, the position (epoch, step), the random generator's
state and the history as JSON metadata. Nothing is pickled, and it is written atomically, so a run killed at any
moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig
from .errors import ConfigError, ModelFileError
from .files import atomic_path
from .train import Trainer

CHECKPOINT_FILE = "checkpoint.safetensors"
FORMAT = "digitnet-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, trainer: Trainer, *, preset: str | None, data: str) -> None:
    from safetensors.numpy import save_file

    arrays, state = trainer.state_dict()
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(dataclasses.asdict(trainer.config)),
        "preset": json.dumps(preset),
        "data": json.dumps(data),
        "state": json.dumps(state),
    }
    # np.require, not np.ascontiguousarray, which turns Adam's step count t from shape () into (1,)
    arrays = {name: np.require(array, requirements="C") for name, array in arrays.items()}
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata=metadata)


@dataclasses.dataclass
class Checkpoint:
    config: TrainConfig
    preset: str | None
    data: str  # the data source the run was trained on
    arrays: dict[str, np.ndarray]
    state: dict[str, Any]

    def restore(self, trainer: Trainer) -> None:
        trainer.load_state_dict(self.arrays, self.state)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``; refuse anything else with a one-line message."""
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"no checkpoint at {path}; start the run with `digitnet train --checkpoint-every N --out DIR`"
        )
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw = f.metadata() or {}
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path} is not a readable checkpoint ({error}); it may be truncated") from None
    if raw.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a digitnet checkpoint (no format={FORMAT!r})")
    try:
        version = int(raw["format_version"])
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"{path} is checkpoint format {version}, newer than this digitnet reads ({FORMAT_VERSION}); "
                "upgrade digitnet"
            )
        fields = json.loads(raw["config"])
        config = TrainConfig(**{**fields, "sizes": tuple(fields["sizes"])})
        return Checkpoint(config, json.loads(raw["preset"]), json.loads(raw["data"]), arrays, json.loads(raw["state"]))
    except (KeyError, TypeError, ValueError, ConfigError) as error:
        raise ModelFileError(f"{path} has damaged metadata ({error}); start the run again") from None
