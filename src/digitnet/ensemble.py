"""An ensemble: several trained networks read each digit, and their probabilities are averaged.

Averaging the softmax outputs of independently trained networks (Ciresan et al. 2012's committee of 35 networks
reached 99.77% on MNIST) cancels part of each one's mistakes: they rarely make the same one with confidence.
``Ensemble`` offers the reading half of ``Network``'s interface (``predict_proba``, ``predict``, ``evaluate``), so
everything that only reads digits takes either.

With ``mirror=True`` each network also reads every picture mirrored left to right, and those probabilities join
the average: test-time augmentation, for pictures that have no handedness (clothes, not digits) read by networks
trained on mirrored pictures (``flip``). With ``shifts=True`` each picture (and each mirror) is also read moved
one pixel up, down, left and right: for networks trained on shifted pictures (``shift``, ``crop``), digits
included. One network read several ways is still one network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import augment
from .errors import ConfigError
from .network import Network

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # (down, right) in pixels: up, down, left, right


class Ensemble:
    """The mean of the probabilities of ``networks``, which must take the same inputs and give the same classes;
    with ``mirror``, of each one's reading of the pictures and of their mirror images; with ``shifts``, of those
    and of each moved a pixel in the four directions."""

    def __init__(self, networks: Sequence[Network], mirror: bool = False, shifts: bool = False):
        if not networks:
            raise ConfigError("an ensemble needs at least one network")
        shapes = {(net.n_inputs, net.n_classes) for net in networks}
        if len(shapes) > 1:
            raise ConfigError(
                f"the networks disagree on (inputs, classes): {sorted(shapes)}; ensemble models of the same data"
            )
        self.networks = list(networks)
        self.n_inputs, self.n_classes = shapes.pop()
        if (mirror or shifts) and self.n_inputs != augment.SIDE**2:
            side, reading = augment.SIDE, "mirroring" if mirror else "shifting"
            raise ConfigError(f"{reading} reads {side}x{side} pictures, but the networks take {self.n_inputs} inputs")
        self.mirror, self.shifts = mirror, shifts

    def predict_proba(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """(n, k) probabilities: each network's softmax of each picture (and, with ``mirror``, of its mirror image;
        with ``shifts``, of each of those moved a pixel four ways), averaged."""
        views = [X, augment.mirror(X)] if self.mirror else [X]
        if self.shifts:
            views += [augment.moved(view, *move) for view in views for move in MOVES]  # 5 or 10 views in all
        total = np.zeros((len(X), self.n_classes), self.networks[0].dtype)  # (n, k)
        for network in self.networks:
            for view in views:
                total += network.predict_proba(view, batch_size)
        return total / (len(self.networks) * len(views))

    def predict(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        return self.predict_proba(X, batch_size).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray, batch_size: int | None = None) -> tuple[float, float]:
        """Cross-entropy of the averaged probabilities, and accuracy."""
        P = self.predict_proba(X, batch_size)  # (n, k)
        loss = float(-np.log(np.maximum(P[np.arange(len(y)), y], 1e-30)).mean())  # a mean of probabilities can be 0
        return loss, float(np.mean(P.argmax(axis=1) == y))
