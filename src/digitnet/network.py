"""The network: a stack of Dense and ReLU layers with a softmax cross-entropy loss on top.

``Network([784, 800, 10])`` is 784 inputs, one hidden layer of 800 ReLU units and 10 outputs:

    X (n, 784) -> Dense(784, 800) -> ReLU -> Dense(800, 10) -> Z (n, 10) -> softmax -> P

``Network([784, 800, 10], dropout=0.2)`` puts a Dropout layer after each hidden ReLU (training only).

Forward is a loop over the layers; backward is the same loop reversed, each layer turning the gradient of its
output into the gradient of its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from .errors import ConfigError
from .layers import Dense, Dropout, ReLU
from .losses import SoftmaxCrossEntropy, log_softmax

# The notebook's preprocessing, kept in one place: pixels 0-255 become inputs in [0, 1].
PIXEL_SCALE = 1.0 / 255.0


def pixels_to_inputs(pixels: np.ndarray, dtype=np.float32, order: str = "C") -> np.ndarray:
    """uint8 pixels (n, 784) in 0-255 -> network inputs (n, 784) in [0, 1], row-major unless ``order="F"``."""
    dtype = np.dtype(dtype)
    return np.multiply(pixels, dtype.type(PIXEL_SCALE), dtype=dtype, order=order)


class Network:
    """A multilayer perceptron with ReLU hidden layers and a softmax output.

    >>> net = Network([784, 10, 10], seed=0)   # the notebook's network
    >>> [layer.W.shape for layer in net.dense_layers]
    [(784, 10), (10, 10)]

    ``sizes`` lists the layer widths, input first and number of classes last. Weights are float32 unless
    ``dtype=np.float64`` is asked for (the gradient checks do). ``seed`` (or a ``numpy.random.Generator``) makes the
    initial weights reproducible; the same generator then goes on to draw the dropout masks (``rng``).
    ``dropout`` is the fraction of each hidden layer's units dropped at each training step (0 = no dropout).
    """

    def __init__(
        self, sizes: Sequence[int], *, seed: int | np.random.Generator = 0, dtype=np.float32, dropout: float = 0.0
    ):
        sizes = tuple(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int | np.integer) or s < 1 for s in sizes):
            raise ConfigError(
                f"sizes {list(sizes)} must be two or more positive integers, input first and classes last, "
                "e.g. [784, 800, 10]"
            )
        if not 0 <= dropout < 1:
            raise ConfigError(f"dropout {dropout} must be at least 0 and below 1, e.g. 0.2")
        self.rng = np.random.default_rng(seed)
        self.sizes = tuple(int(s) for s in sizes)
        self.dtype = np.dtype(dtype)
        self.dropout = float(dropout)
        self.layers: list[Dense | ReLU | Dropout] = []
        for i, (n_in, n_out) in enumerate(pairwise(self.sizes)):
            self.layers.append(Dense(n_in, n_out, rng=self.rng, dtype=self.dtype, input_grad=i > 0))
            if i < len(self.sizes) - 2:  # every layer but the last is followed by a ReLU
                self.layers.append(ReLU())
                if self.dropout:
                    self.layers.append(Dropout(self.dropout, rng=self.rng))
        self.loss = SoftmaxCrossEntropy()

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """Every ``(value, gradient, decays)`` triple, in layer order; optimisers update the values in place."""
        return [p for layer in self.layers for p in layer.parameters()]

    # feedforward
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Inputs (n, n_in) -> logits Z (n, n_out)."""
        A = X
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    # backward pass
    def backward(self, dZ: np.ndarray) -> None:
        """Push the gradient of the loss with respect to the logits back through every layer."""
        dA = dZ
        for layer in reversed(self.layers):
            dA = layer.backward(dA)

    def train_step(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """Forward, loss and backward on one batch; leaves the gradients in the layers.

        Returns the batch's mean loss and how many examples it classified correctly (before the update).
        """
        Z = self.forward(X, training=True)  # (n, k)
        correct = int(np.count_nonzero(Z.argmax(axis=1) == y))
        loss = self.loss.forward(Z, y)
        self.backward(self.loss.backward())
        return loss, correct

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """Accept uint8 pixels (scaled here) or inputs already in [0, 1]."""
        if X.dtype == np.uint8:
            return pixels_to_inputs(X, self.dtype)
        return X.astype(self.dtype, copy=False)

    def logits(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Logits (n, k) for pixels or inputs X (n, n_in), computed in batches to bound memory."""
        parts = [self.forward(self.inputs(X[i : i + batch_size])) for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.sizes[-1]), self.dtype)

    def predict_proba(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (n, k); each row sums to 1."""
        return np.exp(log_softmax(self.logits(X, batch_size)))

    def predict(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """The most probable class of each row, (n,) int64."""
        return self.logits(X, batch_size).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray, batch_size: int = 4096) -> tuple[float, float]:
        """Mean cross-entropy loss and accuracy on labelled examples."""
        log_P = log_softmax(self.logits(X, batch_size))  # (n, k)
        loss = float(-log_P[np.arange(len(y)), y].mean())
        accuracy = float(np.mean(log_P.argmax(axis=1) == y))
        return loss, accuracy

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the weights, named ``dense0.W``, ``dense0.b``, ``dense1.W`` …"""
        state = {}
        for i, layer in enumerate(self.dense_layers):
            state[f"dense{i}.W"] = layer.W.copy()
            state[f"dense{i}.b"] = layer.b.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy weights from ``state`` (as made by ``state_dict``) into the network, in place."""
        for i, layer in enumerate(self.dense_layers):
            layer.W[...] = state[f"dense{i}.W"]
            layer.b[...] = state[f"dense{i}.b"]
