"""Softmax and cross-entropy, fused into one loss.

The network's last layer gives logits ``Z`` (n, 10). Softmax turns each row into probabilities
``P = exp(Z) / sum(exp(Z))`` and cross-entropy scores them against the true class ``y``:
``loss = -mean(log P[i, y_i])``. Fusing the two gives both a stable forward pass (log-softmax never takes the log of
a probability that underflowed to 0) and the famously simple gradient ``dZ = (P - Y) / n``, where ``Y`` is one-hot.
"""

from __future__ import annotations

import numpy as np

from .layers import order_of


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(Z))``, computed stably: (n, k), column-major."""
    # Softmax is unchanged by subtracting a constant from a row; subtracting the row's maximum keeps exp() from
    # overflowing (the notebook's softmax returned NaN for large logits).
    S = by_class(Z)  # (k, n): row j holds every example's logit for class j
    S -= S.max(axis=0)  # each example's largest logit becomes 0
    S -= np.log(np.exp(S).sum(axis=0))  # minus the log of each example's sum of exponentials
    return S.T  # (n, k)


def by_class(Z: np.ndarray) -> np.ndarray:
    """A copy of ``Z`` (n, k) laid out class by class, (k, n) row-major: each example's max and sum then run over
    k long rows at memory speed, where over n rows of ten NumPy's reductions are several times slower
    (``python benchmarks/tricks.py``)."""
    return np.array(Z.T, order="C")


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise probabilities; each row sums to 1."""
    return np.exp(log_softmax(Z))


class SoftmaxCrossEntropy:
    """Mean cross-entropy of ``softmax(Z)`` against integer labels ``y``.

    ``forward(Z, y)`` returns the loss and keeps ``P``; ``backward()`` returns ``dZ = (P - Y) / n``.
    Labels stay integers: subtracting 1 at ``P[i, y_i]`` is what ``P - Y`` does, without building ``Y``.

    With ``label_smoothing = eps`` (Szegedy et al. 2016) the target is no longer one-hot but
    ``Q = (1 - eps) * Y + eps / k``: the true class gets ``1 - eps`` plus an equal share ``eps / k`` with every other
    class. The loss becomes ``-mean(sum(Q * log P))`` and its gradient ``dZ = (P - Q) / n``; the network is
    discouraged from pushing its logits to extremes to be ever more sure.
    """

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing
        self.P: np.ndarray | None = None
        self.y: np.ndarray | None = None
        self.order = "C"

    def forward(self, Z: np.ndarray, y: np.ndarray) -> float:
        log_P = log_softmax(Z)  # (n, k): stable, the log of no probability that underflowed to 0
        self.P, self.y = np.exp(log_P), y  # softmax, kept for backward: each row sums to 1
        self.order = order_of(Z)
        loss = -np.mean(log_P[np.arange(len(y)), y])  # cross-entropy against Y
        eps = self.label_smoothing
        if eps:  # against Q instead: 1 - eps on the true class, and eps shared equally by all k classes
            loss = (1 - eps) * loss - eps * np.mean(log_P.mean(axis=1))
        return float(loss)

    def backward(self) -> np.ndarray:
        n, k = self.P.shape
        eps = self.label_smoothing
        dZ = self.P  # reused in place: P is not needed after this
        if eps:
            dZ -= eps / k  # P - Q, the share every class gets ...
        dZ[np.arange(n), self.y] -= 1 - eps  # ... and the true class's part; with eps = 0 simply P - Y
        dZ /= n  # the loss is a mean over the batch
        self.P = None
        return np.asarray(dZ, order=self.order)  # laid out as the logits were, as the layers below expect
