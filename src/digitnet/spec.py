"""The network description: a short list of layers, checked shape by shape before anything is built.

A fully connected network is its list of widths, as in Nielsen's book: ``[784, 800, 10]`` is 784 inputs, 800 ReLU
units and 10 classes. A convolutional one adds three kinds of entry, and reads the same way in Python and on the
command line (``--sizes conv5x5x32-pool-conv5x5x64-pool-800-10``):

| entry | layer |
|---|---|
| ``784`` first | the input, a row of 784 values |
| ``28x28x1`` first | the input, each row an image: 28 rows of 28 pixels, 1 channel (the default before a convolution) |
| ``conv5x5x32`` | ``Conv2D``: 32 kernels of 5×5, "same" padding (``conv5x5x32:valid``: no padding), then ReLU |
| ``bn`` | ``BatchNorm`` of the layer just before, placed before its ReLU (Ioffe & Szegedy's order) |
| ``pool`` | ``MaxPool2D``: the largest value of each 2×2 window |
| ``800`` | ``Dense`` with 800 units, then ReLU; an image is flattened first. The last entry is the classes |

Why a string of dashes: it is what papers and Kaggle notebooks write (``32C5-P2-64C5-P2-128-10``), it fits on a
command line and in a file name, and every entry is one layer a learner can point at. ReLU follows every
convolution and hidden dense layer, as it follows every hidden width in ``[784, 800, 10]``, so it is not written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigError

IMAGE = re.compile(r"(\d+)x(\d+)x(\d+)")
CONV = re.compile(r"conv(\d+)x(\d+)x(\d+)(?::(same|valid))?")
DIGIT_IMAGE = (28, 28, 1)  # what a spec that starts with a convolution takes


@dataclass(frozen=True)
class Plan:
    """One layer to build: its kind, its settings and the shape of what it receives (image or flat)."""

    kind: str  # "dense", "conv", "bn", "pool" or "flatten"
    shape_in: tuple[int, ...]  # (h, w, c) or (width,)
    shape_out: tuple[int, ...]
    units: int = 0  # dense: n_out; conv: c_out
    kernel: int = 0  # conv: k
    padding: str = "same"  # conv
    relu: bool = False  # followed by a ReLU (every conv and every dense layer but the last)


def normalize(sizes: str | Sequence[int | str]) -> tuple[int | str, ...]:
    """The spec as a tuple: widths as ints, every other entry as its string, the input always written out.

    >>> normalize("conv5x5x32-pool-10")
    ('28x28x1', 'conv5x5x32', 'pool', 10)
    >>> normalize([784, 800, 10])
    (784, 800, 10)
    """
    if isinstance(sizes, str):
        entries = re.split(r"[-,]", sizes)
    elif isinstance(sizes, Sequence):
        entries = list(sizes)
    else:
        raise ConfigError(f"sizes {sizes!r} must be a list of layers such as [784, 800, 10] or text like conv3x3x8-10")
    out: list[int | str] = []
    for entry in entries:
        if isinstance(entry, bool) or not (isinstance(entry, int | str) or hasattr(entry, "__index__")):
            raise ConfigError(f"sizes {list(entries)}: {entry!r} is not a width or a layer name such as conv5x5x32")
        text = str(entry).strip().lower()
        out.append(int(text) if text.lstrip("-").isdigit() else text)
    if out and isinstance(out[0], str) and out[0].startswith("conv"):
        out.insert(0, "x".join(map(str, DIGIT_IMAGE)))
    return tuple(out)


def to_text(sizes: Sequence[int | str]) -> str:
    """``conv5x5x32-pool-10``-style text for a normalized spec (widths joined by commas for a plain MLP)."""
    separator = "," if all(isinstance(s, int) for s in sizes) else "-"
    return separator.join(map(str, sizes))


def plan(sizes: str | Sequence[int | str]) -> tuple[tuple[int, ...], list[Plan]]:
    """Check a spec and lay it out: ``(input shape, plans)``. Raises ``ConfigError`` naming the layer at fault."""
    spec = normalize(sizes)
    text = to_text(spec)
    if len(spec) < 2:
        raise ConfigError(f"sizes {text!r} needs an input and at least one layer, e.g. 784,800,10")
    first = spec[0]
    if isinstance(first, int) and first > 0:
        shape: tuple[int, ...] = (first,)
    elif isinstance(first, str) and (m := IMAGE.fullmatch(first)) and min(map(int, m.groups())) > 0:
        shape = tuple(int(g) for g in m.groups())
    else:
        raise ConfigError(f"sizes {text!r} must start with the input: a width such as 784 or an image such as 28x28x1")
    input_shape = shape
    plans: list[Plan] = []
    for i, entry in enumerate(spec[1:], start=1):
        where = f"sizes {text!r}, layer {i} ({entry})"
        last = i == len(spec) - 1
        if isinstance(entry, int):
            if entry < 1:
                raise ConfigError(f"{where}: a width must be at least 1")
            if len(shape) == 3:
                plans.append(Plan("flatten", shape, (shape[0] * shape[1] * shape[2],)))
                shape = plans[-1].shape_out
            plans.append(Plan("dense", shape, (entry,), units=entry, relu=not last))
            shape = (entry,)
        elif m := CONV.fullmatch(entry):
            k, k2, c_out = (int(g) for g in m.groups()[:3])
            padding = m.group(4) or "same"
            if len(shape) != 3:
                raise ConfigError(f"{where} needs an image but receives {shape[0]} values; start with e.g. 28x28x1")
            if k != k2 or k < 1 or c_out < 1:
                raise ConfigError(
                    f"{where}: kernels are square and at least 1x1 with 1 or more channels, e.g. conv5x5x32"
                )
            if padding == "same" and k % 2 == 0:
                raise ConfigError(f"{where}: 'same' padding needs an odd kernel; use conv{k + 1}x{k + 1}x{c_out}")
            h, w, _ = shape
            out = (h, w, c_out) if padding == "same" else (h - k + 1, w - k + 1, c_out)
            if min(out[:2]) < 1:
                raise ConfigError(f"{where}: a {k}x{k} valid convolution does not fit a {h}x{w} image")
            plans.append(Plan("conv", shape, out, units=c_out, kernel=k, padding=padding, relu=True))
            shape = out
        elif entry == "bn":
            if not plans or plans[-1].kind not in ("conv", "dense") or not plans[-1].relu:
                raise ConfigError(f"{where}: bn normalises the convolution or hidden dense layer just before it")
            plans.append(Plan("bn", shape, shape, units=shape[-1]))
        elif entry == "pool":
            if len(shape) != 3 or min(shape[:2]) < 2:
                size = "x".join(map(str, shape))
                raise ConfigError(f"{where}: 2x2 pooling needs an image at least 2x2, but receives {size}")
            plans.append(Plan("pool", shape, (shape[0] // 2, shape[1] // 2, shape[2])))
            shape = plans[-1].shape_out
        else:
            raise ConfigError(f"{where} is not a layer: use a width (800), convKxKxC (conv5x5x32), bn or pool")
        if last and plans[-1].kind != "dense":
            raise ConfigError(f"sizes {text!r} must end with the number of classes, e.g. -10")
    return input_shape, plans


def input_width(sizes: Sequence[int | str]) -> int:
    """How many values each input row holds: 784 for both ``784`` and ``28x28x1``."""
    input_shape, _ = plan(sizes)
    return math.prod(input_shape)
