"""A drawing, prepared the way MNIST digits were, and what the network makes of it.

Most "it does not recognise my handwriting" reports come from feeding a network a digit that was not prepared
like its training data. LeCun, Cortes and Burges describe MNIST's preparation: the NIST digits "were size
normalized to fit in a 20x20 pixel box while preserving their aspect ratio", which left grey levels from the
anti-aliasing, and "were centered in a 28x28 image by computing the center of mass of the pixels, and translating
the image so as to position this point at the center of the 28x28 field". ``prepare`` does the same:

    ink (h, w), any size  ->  crop to the ink  ->  scale to fit 20x20  ->  centre of mass to the centre  ->  (28, 28)

Measured on MNIST itself, the centre of mass sits at row 14.0, column 14.0 (0-based), spread evenly over a pixel:
the translation was by whole pixels, and so is ours. Every MNIST digit's brightest pixel is 254 or 255, so the
brightest pixel here becomes 255 too. Pixels are uint8 with 0 = background and 255 = ink, as in training.

``ink_from_png`` turns a PNG into such an ink array, whatever its colours; ``read`` runs the network on a prepared
digit and keeps the hidden layers' activations, for a look inside.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ..losses import softmax
from ..network import Network

SIDE = 28  # MNIST images are SIDE x SIDE
BOX = 20  # the digit is scaled to fit a BOX x BOX square inside them
CENTRE = 14.0  # row and column where MNIST puts the centre of mass (0-based; measured on the training set)
INK_LEVEL = 0.1  # a pixel counts towards the bounding box when it has at least this fraction of the strongest ink
MAX_PNG_SIDE = 1024  # widest or tallest PNG ink_from_png decodes; a larger one is refused before decoding


def prepare(ink: np.ndarray) -> np.ndarray:
    """A drawing (h, w), more ink = higher value, -> an MNIST-style digit (28, 28) uint8, 0 background, 255 ink.

    The drawing may be any size and any numeric type (uint8 0-255, or floats 0-1); only relative values matter.
    Raises ``DataError`` when it has no ink at all.
    """
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2 or ink.size == 0:
        raise DataError(f"a drawing is a 2-D array of pixels, got shape {ink.shape}; pass (height, width) values")
    if not np.all(np.isfinite(ink)):
        raise DataError("the drawing holds NaN or infinite values; pass finite pixel values")
    ink = np.clip(ink, 0, None)
    strongest = float(ink.max())
    if strongest == 0:
        raise DataError("the drawing is blank (no pixel has ink); draw a digit first")

    # crop to the ink's bounding box, ignoring faint specks
    rows, cols = np.nonzero(ink >= INK_LEVEL * strongest)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]  # (h, w)

    # scale the longer side to BOX, keeping the aspect ratio
    h, w = ink.shape
    scale = BOX / max(h, w)
    box = _resize(ink, max(1, round(h * scale)), max(1, round(w * scale)))  # (≤ 20, ≤ 20)
    box *= 255.0 / box.max()  # the brightest pixel becomes full ink, as in MNIST

    # translate by whole pixels so the centre of mass lands on (CENTRE, CENTRE), keeping the box inside the image
    top = _offset(box.sum(axis=1), SIDE)  # ink per row
    left = _offset(box.sum(axis=0), SIDE)  # ink per column
    digit = np.zeros((SIDE, SIDE), dtype=np.float32)  # (28, 28)
    digit[top : top + box.shape[0], left : left + box.shape[1]] = box
    return np.rint(digit).astype(np.uint8)


def _offset(mass: np.ndarray, side: int) -> int:
    """Where to put the first of ``len(mass)`` pixels so that their centre of mass lands on CENTRE."""
    centre_of_mass = float(np.arange(len(mass)) @ mass / mass.sum())
    return int(np.clip(round(CENTRE - centre_of_mass), 0, side - len(mass)))


def _resize(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    # Pillow's bilinear filter widens with the shrink factor, so each output pixel averages all the ink under it:
    # the anti-aliasing that gave MNIST its grey edges. Its weights are never negative, so unlike Lanczos it adds
    # no ringing around strokes. Mode "F" keeps float precision throughout.
    Image = _pillow()

    image = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32), mode="F")
    return np.array(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)  # a writable copy


def ink_from_png(data: bytes, *, max_side: int = MAX_PNG_SIDE) -> np.ndarray:
    """The ink of a PNG image, (h, w) float32, 0 = background, higher = more ink.

    Which pixels are ink is read from the image, so any colours work:

    - when the alpha channel varies (a drawing on a transparent canvas), the ink is the opacity;
    - otherwise the image is made grey, and the border says which side is paper: a light border means dark ink
      on light paper, which is inverted. The paper's own level is subtracted, so grey paper becomes 0.

    Raises ``DataError`` for data that is not a PNG, a damaged one, or one wider or taller than ``max_side``.
    """
    Image = _pillow()
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"])  # reads the header only
    except (OSError, ValueError):  # UnidentifiedImageError is an OSError
        raise DataError("the image is not a PNG file; send a PNG (it starts with the bytes \\x89PNG)") from None
    width, height = image.size
    if max(width, height) > max_side:
        raise DataError(f"the PNG is {width}x{height} pixels; send one at most {max_side} pixels on each side")
    try:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.float32)  # (h, w)
            if alpha.min() < alpha.max():
                return alpha
        grey = np.asarray(image.convert("L"), dtype=np.float32)  # (h, w) 0 black .. 255 white
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"the PNG is damaged ({error}); send the image again") from None
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    paper = float(np.median(border))
    if paper > 127:  # light paper, dark ink
        return np.clip(paper - grey, 0, None)
    return np.clip(grey - paper, 0, None)


def _pillow():
    try:
        from PIL import Image  # an optional dependency: only drawings need it
    except ImportError:
        raise ImportError("preparing drawings needs Pillow: pip install 'digitnet[serve]'") from None
    return Image


@dataclass(frozen=True)
class Reading:
    """What the network made of one prepared digit."""

    digit: int  # the most probable class
    probabilities: np.ndarray  # (10,) float, sums to 1
    pixels: np.ndarray  # (28, 28) uint8, exactly what the network received
    hidden: list[np.ndarray]  # each hidden ReLU's output: (h, w, c) feature maps of a convolution, or (width,)


def read(network: Network, pixels: np.ndarray) -> Reading:
    """Run ``network`` on one prepared digit (28, 28) or (784,) uint8 and keep every hidden activation.

    An inference pass changes nothing in the network, so threads may share one network to read digits.
    """
    pixels = np.asarray(pixels, dtype=np.uint8).reshape(SIDE, SIDE)
    Z, hidden = network.activations(network.inputs(pixels.reshape(1, SIDE * SIDE)))  # (1, 10), each (1, ...)
    probabilities = softmax(Z)[0]  # (10,)
    return Reading(int(probabilities.argmax()), probabilities, pixels, [A[0] for A in hidden])


def strongest_units(network: Network, reading: Reading, k: int) -> list[tuple[int, float, np.ndarray]]:
    """The ``k`` most active units of the first hidden layer (fewer if fewer fire), strongest first; none when
    the first layer is a convolution, whose units are its feature maps (``Reading.hidden[0]``).

    Each comes as ``(unit, activation, weights)``: its input weights as a (28, 28) picture divided by their
    largest magnitude, so 1 is the pixel where ink excites it most and -1 the one where ink inhibits it most.
    """
    if not reading.hidden or reading.hidden[0].ndim != 1:
        return []
    A = reading.hidden[0]  # (width,)
    W = network.dense_layers[0].W  # (784, width)
    units = [int(i) for i in np.argsort(-A, kind="stable")[:k] if A[i] > 0]
    largest = [float(np.abs(W[:, i]).max()) or 1.0 for i in units]  # a unit with no weights shows as all zero
    return [(i, float(A[i]), (W[:, i] / m).reshape(SIDE, SIDE)) for i, m in zip(units, largest, strict=True)]
