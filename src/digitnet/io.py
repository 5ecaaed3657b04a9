"""Model files: the weights in safetensors, everything needed to use them in its metadata.

A model file is never a pickle: safetensors holds raw arrays and a JSON header, so loading one runs no code.
The metadata names the architecture (``sizes``, the layer spec of ``digitnet.spec``, and ``dropout``, which changes
nothing at inference but says how the network was built), how pixels are prepared, the class labels, the file
format's version and the training summary. The tensors are float32 as trained, or all float64 (a network built with
``dtype=np.float64``). Loading checks them against that metadata before building a network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import spec
from .data import DIGIT_CLASSES
from .errors import ConfigError, ModelFileError
from .files import atomic_path
from .network import PIXEL_SCALE, Network

FORMAT = "digitnet-model"
# 1: digitnet 0.1, fully connected networks. 2: the layer spec in ``sizes`` (convolutions, batch norm with its
# running statistics as tensors). A version-1 file is a version-2 file whose sizes are all widths.
FORMAT_VERSION = 2
PREPROCESSING = {
    "input": "28x28 grey pixels, row by row, 0 = background, 255 = ink",
    "scale": PIXEL_SCALE,
}


def save_model(
    network: Network,
    path: str | os.PathLike,
    summary: dict[str, Any] | None = None,
    classes: Sequence[str] = DIGIT_CLASSES,
) -> None:
    """Write ``network`` to ``path`` (atomically) with its architecture, class names and ``summary`` as metadata."""
    from safetensors.numpy import save_file

    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "sizes": json.dumps(list(network.sizes)),
        "dropout": json.dumps(network.dropout),
        "activation": "relu",
        "output": "softmax",
        "preprocessing": json.dumps(PREPROCESSING),
        "classes": json.dumps(list(classes)),
        "summary": json.dumps(summary or {}),
    }
    with atomic_path(path) as tmp:
        save_file(network.state_dict(), str(tmp), metadata=metadata)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The model file's metadata, decoded, after checking that it is a digitnet model this version can read."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}; train one with `digitnet train --out DIR`")
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(
            f"{path} is not a readable safetensors model file ({_first_line(error)}); "
            "it may be truncated, or not a model: train a new one with `digitnet train`"
        ) from None
    if raw.get("format") != FORMAT:
        raise ModelFileError(f"{path} is a safetensors file but not a digitnet model (no format={FORMAT!r})")
    try:
        version = int(raw["format_version"])
        meta = {key: json.loads(raw[key]) for key in ("sizes", "preprocessing", "classes", "summary")}
    except (KeyError, ValueError) as error:
        raise ModelFileError(f"{path} has damaged metadata ({_first_line(error)}); train a new model") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format version {version}, newer than this digitnet reads ({FORMAT_VERSION}); "
            "upgrade digitnet"
        )
    try:
        meta["dropout"] = json.loads(raw.get("dropout", "0.0"))  # files from before dropout have none
    except ValueError as error:
        raise ModelFileError(f"{path} has damaged metadata ({_first_line(error)}); train a new model") from None
    meta["format_version"] = version
    return meta


def load_model(path: str | os.PathLike) -> tuple[Network, dict[str, Any]]:
    """Read a model file: returns the network and its metadata. Never runs code from the file."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    meta = read_metadata(path)
    sizes, dropout = meta["sizes"], meta["dropout"]
    if not (isinstance(dropout, int | float) and 0 <= dropout < 1):
        raise ModelFileError(f"{path} names an impossible dropout rate, {dropout!r}")
    try:
        if not isinstance(sizes, list):
            raise ConfigError(f"sizes must be a list, not {type(sizes).__name__}")
        network = Network(sizes, dropout=dropout)  # checks the spec, layer by layer
    except ConfigError as error:
        raise ModelFileError(f"{path} names an impossible architecture: {error}") from None
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path} could not be read ({_first_line(error)}); it may be truncated") from None
    expected = {name: array.shape for name, array in network.state_dict().items()}
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{path} does not match its own architecture {spec.to_text(network.sizes)}: missing tensors {missing}, "
            f"extra tensors {extra}"
        )
    dtype = tensors[next(iter(expected))].dtype  # float32 as trained, or float64 throughout
    for name, shape in expected.items():
        array = tensors[name]
        if array.shape != shape or array.dtype != dtype or dtype not in (np.float32, np.float64):
            raise ModelFileError(
                f"{path}: tensor {name} is {array.dtype}{list(array.shape)}, expected float32{list(shape)}"
            )
        if not np.all(np.isfinite(array)):
            raise ModelFileError(f"{path}: tensor {name} holds NaN or infinite values")
    if dtype != network.dtype:
        network = Network(sizes, dtype=dtype, dropout=dropout)
    network.load_state_dict(tensors)
    return network, meta


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
