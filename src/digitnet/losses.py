"""Softmax and cross-entropy, fused into one loss.

The network's last layer gives logits ``Z`` (n, 10). Softmax turns each row into probabilities
``P = exp(Z) / sum(exp(Z))`` and cross-entropy scores them against the true class ``y``:
``loss = -mean(log P[i, y_i])``. Fusing the two gives both a stable forward pass (log-softmax never takes the log of
a probability that underflowed to 0) and the famously simple gradient ``dZ = (P - Y) / n``, where ``Y`` is one-hot.
"""

from __future__ import annotations

import numpy as np


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(Z))``, computed stably."""
    # Softmax is unchanged by subtracting a constant from a row; subtracting the row's maximum keeps exp() from
    # overflowing (the notebook's softmax returned NaN for large logits).
    Z = Z - Z.max(axis=1, keepdims=True)  # (n, k), largest entry 0
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))  # (n, k)


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise probabilities; each row sums to 1."""
    return np.exp(log_softmax(Z))


class SoftmaxCrossEntropy:
    """Mean cross-entropy of ``softmax(Z)`` against integer labels ``y``.

    ``forward(Z, y)`` returns the loss and keeps ``P``; ``backward()`` returns ``dZ = (P - Y) / n``.
    Labels stay integers: subtracting 1 at ``P[i, y_i]`` is what ``P - Y`` does, without building ``Y``.
    """

    def __init__(self):
        self.P: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def forward(self, Z: np.ndarray, y: np.ndarray) -> float:
        Z = Z - Z.max(axis=1, keepdims=True)  # (n, k), largest entry 0: exp() cannot overflow
        P = np.exp(Z)  # (n, k), not yet normalised
        total = P.sum(axis=1, keepdims=True)  # (n, 1)
        P /= total  # softmax: each row sums to 1
        self.P, self.y = P, y
        # -log P[i, y_i] = log(total_i) - Z[i, y_i]: the log of a sum that is at least 1, never of an underflowed P.
        return float(np.mean(np.log(total[:, 0]) - Z[np.arange(len(y)), y]))

    def backward(self) -> np.ndarray:
        n = len(self.y)
        dZ = self.P  # reused in place: P is not needed after this
        dZ[np.arange(n), self.y] -= 1  # P - Y, without a one-hot Y
        dZ /= n  # the loss is a mean over the batch
        self.P = None
        return dZ
