"""The network: a stack of layers with a softmax cross-entropy loss on top.

``Network([784, 800, 10])`` is 784 inputs, one hidden layer of 800 ReLU units and 10 outputs:

    X (n, 784) -> Dense(784, 800) -> ReLU -> Dense(800, 10) -> Z (n, 10) -> softmax -> P

``Network([784, 800, 10], dropout=0.2)`` puts a Dropout layer after each hidden dense layer's ReLU (training only).
A convolutional network is written the same way (``spec.py`` has the whole language):

    Network("conv5x5x32-pool-conv5x5x64-pool-800-10")
    X (n, 784) viewed as (n, 28, 28, 1) -> Conv2D(5, 1, 32) -> ReLU -> MaxPool2D -> (n, 14, 14, 32)
      -> Conv2D(5, 32, 64) -> ReLU -> MaxPool2D -> (n, 7, 7, 64) -> Flatten -> Dense(3136, 800) -> ReLU
      -> Dense(800, 10) -> Z (n, 10)

Forward is a loop over the layers; backward is the same loop reversed, each layer turning the gradient of its
output into the gradient of its input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import spec
from .errors import ConfigError
from .layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from .losses import SoftmaxCrossEntropy, log_softmax, softmax

# The notebook's preprocessing, kept in one place: pixels 0-255 become inputs in [0, 1].
PIXEL_SCALE = 1.0 / 255.0
# Predictions go through the network this many rows at a time at most, and fewer where a layer's largest array
# (a convolution's patches: k×k times its input) would pass INFERENCE_BYTES. 4096 rows of the cnn preset's second
# convolution would be 1.3 GB of patches; 54 rows are 16 MB, and predict 2.5-3x faster (timed by hand, one thread).
INFERENCE_ROWS = 4096
INFERENCE_BYTES = 16 * 2**20


def pixels_to_inputs(pixels: np.ndarray, dtype=np.float32, order: str = "C", out: np.ndarray | None = None):
    """uint8 pixels (n, 784) in 0-255 -> network inputs (n, 784) in [0, 1], row-major unless ``order="F"``; into
    ``out`` when given."""
    dtype = np.dtype(dtype)
    if out is None:
        out = np.empty(pixels.shape, dtype, order=order)
    # Two passes, each of one type, run faster than one mixed-type multiply on a block in the cache (1.5x on 1024
    # rows; the same on a whole batch in memory), and give the same floats.
    np.copyto(out, pixels)  # 0-255 as floats, exactly
    out *= dtype.type(PIXEL_SCALE)
    return out


def values_per_row(plan: spec.Plan) -> int:
    """The largest array a layer makes for one example: its output, or a convolution's patches if larger (im2col:
    k×k×c_in values for each output position)."""
    values = math.prod(plan.shape_out)
    if plan.kind == "conv":
        h_out, w_out, _ = plan.shape_out
        values = max(values, h_out * w_out * plan.kernel**2 * plan.shape_in[-1])
    return values


class Network:
    """A feed-forward network of dense (and convolutional) ReLU layers with a softmax output.

    >>> net = Network([784, 10, 10], seed=0)   # the notebook's network
    >>> [layer.W.shape for layer in net.dense_layers]
    [(784, 10), (10, 10)]

    ``sizes`` lists the layers, input first and number of classes last: widths for a fully connected network, or a
    spec with convolutions such as ``"conv5x5x32-pool-800-10"`` (``digitnet.spec``). Weights are float32 unless
    ``dtype=np.float64`` is asked for (the gradient checks do). ``seed`` (or a ``numpy.random.Generator``) makes the
    initial weights reproducible; the same generator then goes on to draw the dropout masks (``rng``).
    ``dropout`` is the fraction of each hidden dense layer's units dropped at each training step (0 = no dropout).
    """

    def __init__(
        self,
        sizes: str | Sequence[int | str],
        *,
        seed: int | np.random.Generator = 0,
        dtype=np.float32,
        dropout: float = 0.0,
    ):
        if not 0 <= dropout < 1:
            raise ConfigError(f"dropout {dropout} must be at least 0 and below 1, e.g. 0.2")
        self.input_shape, plans = spec.plan(sizes)  # checks every layer's shapes; (784,) or (28, 28, 1)
        self.sizes = spec.normalize(sizes)
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.dropout = float(dropout)
        self.layers: list = []
        for i, plan in enumerate(plans):
            self.layers.append(self._build(plan, first=i == 0))
            normalised_next = i + 1 < len(plans) and plans[i + 1].kind == "bn"  # then its ReLU comes after the bn
            if (plan.relu and not normalised_next) or plan.kind == "bn":
                self.layers.append(ReLU())
                if self.dropout and len(plan.shape_out) == 1:  # dropout follows hidden dense layers only
                    self.layers.append(Dropout(self.dropout, rng=self.rng))
        self.loss = SoftmaxCrossEntropy()
        largest = max(values_per_row(plan) for plan in plans) * self.dtype.itemsize  # bytes for one example
        self.inference_rows = max(1, min(INFERENCE_ROWS, INFERENCE_BYTES // largest))  # rows a prediction takes

    def _build(self, plan: spec.Plan, first: bool):
        """One layer from its plan; the first layer's input is the data, so it computes no input gradient."""
        if plan.kind == "dense":
            return Dense(plan.shape_in[0], plan.units, rng=self.rng, dtype=self.dtype, input_grad=not first)
        if plan.kind == "conv":
            c_in = plan.shape_in[2]
            return Conv2D(
                plan.kernel, c_in, plan.units, plan.padding, rng=self.rng, dtype=self.dtype, input_grad=not first
            )
        if plan.kind == "bn":
            return BatchNorm(plan.units, dtype=self.dtype)
        return MaxPool2D() if plan.kind == "pool" else Flatten()

    @property
    def n_inputs(self) -> int:
        """Values in each input row: 784 for digits, whether the first layer is dense or a convolution."""
        return int(np.prod(self.input_shape))

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def has_batch_norm(self) -> bool:
        return any(isinstance(layer, BatchNorm) for layer in self.layers)

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """Every ``(value, gradient, decays)`` triple, in layer order; optimisers update the values in place."""
        return [p for layer in self.layers for p in layer.parameters()]

    # feedforward
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Inputs (n, n_inputs) -> logits Z (n, n_classes)."""
        A = X.reshape(len(X), *self.input_shape)  # rows are examples; a conv net sees each row as an image
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    def activations(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits and every hidden ReLU's output ((n, h, w, c) feature maps or (n, width)), for looking inside."""
        A = X.reshape(len(X), *self.input_shape)
        hidden = []
        for layer in self.layers:
            A = layer.forward(A)
            if isinstance(layer, ReLU):
                hidden.append(A.copy())  # the next layer may work in place on A
        return A, hidden

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

    def logits(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Logits (n, k) for pixels or inputs X (n, n_in), computed ``batch_size`` rows at a time to bound memory (by
        default ``inference_rows``: 4096, or fewer where a layer's arrays for 4096 rows would pass 16 MB)."""
        if batch_size is None:
            batch_size = self.inference_rows
        elif batch_size < 1:
            raise ConfigError(f"batch_size {batch_size} must be at least 1 row, e.g. 256 (or None: inference_rows)")
        parts = [self.forward(self.inputs(X[i : i + batch_size])) for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.n_classes), self.dtype)

    def predict_proba(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (n, k); each row sums to 1."""
        return softmax(self.logits(X, batch_size))

    def predict(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The most probable class of each row, (n,) int64."""
        return self.logits(X, batch_size).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray, batch_size: int | None = None) -> tuple[float, float]:
        """Mean cross-entropy loss and accuracy on labelled examples."""
        log_P = log_softmax(self.logits(X, batch_size))  # (n, k)
        loss = float(-log_P[np.arange(len(y)), y].mean())
        accuracy = float(np.mean(log_P.argmax(axis=1) == y))
        return loss, accuracy

    def recalibrate_batch_norm(self, X: np.ndarray, batch_size: int | None = None) -> None:
        """Set every batch norm's running statistics to the mean and variance of its input over all of ``X`` (n, n_in),
        in place of the running averages that training kept ("precise BN", Wu & Johnson 2021).

        Training's averages (momentum 0.9) follow the last dozen or so batches, drawn while the weights were still
        moving and, when a run distorts its examples, of distorted ones. These come from the final weights and the
        examples as given. Layer by layer: each batch norm's input is computed with the ones before it already
        recalibrated, as inference will compute it; sums are float64, of values less the old mean, so that the
        variance keeps its digits.
        """
        if len(X) == 0:
            raise ConfigError("batch norm statistics need at least one example; pass the training examples")
        batch_size = batch_size or self.inference_rows
        for k, layer in enumerate(self.layers):
            if not isinstance(layer, BatchNorm):
                continue
            shift = layer.running_mean.astype(np.float64)  # (c,)
            total = squares = 0.0
            m = 0
            for start in range(0, len(X), batch_size):
                A = self.inputs(X[start : start + batch_size])
                A = A.reshape(len(A), *self.input_shape)
                for before in self.layers[:k]:
                    A = before.forward(A)
                A = A.reshape(-1, A.shape[-1]) - shift  # (rows × positions, c), float64
                total = total + A.sum(axis=0)
                squares = squares + np.einsum("ij,ij->j", A, A)
                m += len(A)
            mean = total / m  # of the values less the shift
            layer.running_mean[...] = shift + mean
            layer.running_var[...] = (squares / m - mean**2) * (m / max(m - 1, 1))  # unbiased, as in training

    def named_layers(self) -> list[tuple[str, object]]:
        """Layers that hold weights or statistics, named by kind and count: dense0, conv0, conv1, bn0 …"""
        counts: dict[str, int] = {}
        named = []
        for layer in self.layers:
            kind = {Dense: "dense", Conv2D: "conv", BatchNorm: "bn"}.get(type(layer))
            if kind is not None:
                named.append((f"{kind}{counts.get(kind, 0)}", layer))
                counts[kind] = counts.get(kind, 0) + 1
        return named

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the weights (``dense0.W``, ``dense0.b``, ``conv0.W`` …) and of batch norm's running statistics."""
        return {
            f"{name}.{key}": getattr(layer, key).copy()
            for name, layer in self.named_layers()
            for key in _ARRAYS[type(layer)]
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy weights from ``state`` (as made by ``state_dict``) into the network, in place."""
        for name, layer in self.named_layers():
            for key in _ARRAYS[type(layer)]:
                getattr(layer, key)[...] = state[f"{name}.{key}"]


# What each kind of layer keeps in a model file.
_ARRAYS = {
    Dense: ("W", "b"),
    Conv2D: ("W", "b"),
    BatchNorm: ("gamma", "beta", "running_mean", "running_var"),
}
