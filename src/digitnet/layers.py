"""Layers: each one owns its forward math and, right beside it, its derivative.

Rows are examples: ``X`` is (n, n_in), ``W`` is (n_in, n_out), ``b`` is (n_out,) and ``Z = X @ W + b`` is
(n, n_out). ``forward(X)`` keeps what ``backward`` will need; ``backward(dA)`` takes the gradient of the loss with
respect to the layer's output and returns the gradient with respect to its input, storing ``dW`` and ``db`` on the
way. There is no autograd: the chain rule is written out by hand, one layer at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class Dense:
    """A fully connected layer, ``Z = X @ W + b``.

    Backward, for ``dZ`` the gradient of the loss with respect to ``Z`` (``numpy-ml``'s four lines):

        dW = X.T @ dZ          (n_in, n_out)
        db = dZ summed over examples (n_out,)
        dX = dZ @ W.T          (n, n_in)

    ``input_grad=False`` skips ``dX`` for the first layer, whose input is the data: nothing upstream needs it,
    and it would cost as much as the whole ``dW`` product.
    """

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator, dtype=np.float32, input_grad: bool = True):
        # He initialisation (He et al. 2015): variance 2 / n_in keeps the signal's scale through ReLU layers.
        self.W = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)  # (n_in, n_out)
        self.b = np.zeros(n_out, dtype=dtype)  # (n_out,)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.input_grad = input_grad
        self.X: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        self.X = X  # backward needs the input for dW
        Z = np.matmul(X, self.W, order=order_of(X))  # Z = X @ W, (n, n_out)
        Z += self.b  # broadcast over rows, in place
        return Z

    def backward(self, dZ: np.ndarray) -> np.ndarray | None:
        np.matmul(self.X.T, dZ, out=self.dW)  # dW = X.T @ dZ, into the buffer the optimiser reads
        np.sum(dZ, axis=0, out=self.db)  # db = sum of dZ over the examples
        if not self.input_grad:
            return None
        return np.matmul(dZ, self.W.T, order=order_of(dZ))  # dX = dZ @ W.T, (n, n_in)

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        """Yield ``(value, gradient, decays)``: weight decay applies to ``W`` but not to ``b``."""
        yield self.W, self.dW, True
        yield self.b, self.db, False


def order_of(A: np.ndarray) -> str:
    """``"F"`` for a column-major array, else ``"C"``: each product is laid out like its input.

    The trainer keeps full-batch inputs column-major (``Trainer``); OpenBLAS computes the thin products of
    ``[784, 10, 10]`` about 1.5x faster in that layout, and the softmax's row-wise max and sum over a column-major
    (n, 10) array run down contiguous columns instead of across rows of ten (``python benchmarks/tricks.py``).
    """
    return "F" if A.flags.f_contiguous and not A.flags.c_contiguous else "C"


class ReLU:
    """``A = max(Z, 0)``, with derivative ``dZ = dA * (Z > 0)``.

    Both directions work in place on their argument: the network only passes arrays it made itself and no longer
    needs, so this saves an (n, width) allocation per layer and step.
    """

    def __init__(self):
        self.mask: np.ndarray | None = None

    def forward(self, Z: np.ndarray, training: bool = False) -> np.ndarray:
        self.mask = Z > 0  # (n, width) booleans, all that backward needs
        np.multiply(Z, self.mask, out=Z)  # A = Z * (Z > 0) = max(Z, 0)
        return Z

    def backward(self, dA: np.ndarray) -> np.ndarray:
        np.multiply(dA, self.mask, out=dA)  # dZ = dA * (Z > 0)
        return dA

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        return iter(())


class Dropout:
    """Inverted dropout (Srivastava et al. 2014): in training, each unit is kept with probability ``1 - rate``.

    Forward in training, with a fresh random mask ``M`` of 0s and 1s each call: ``A = X * M / (1 - rate)``.
    Dividing by the keep probability keeps each unit's expected value, so at inference the layer is the identity
    (no rescaling of the weights, unlike the original paper). Backward uses the same mask: ``dX = dA * M / (1 - rate)``.

    The masks come from ``rng``, which the network shares between its dropout layers and a trainer saves in its
    checkpoints, so a resumed run draws the same masks.
    """

    def __init__(self, rate: float, *, rng: np.random.Generator):
        self.rate = rate
        self.rng = rng
        self.scaled_mask: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self.scaled_mask = None
            return X
        keep = self.rng.random(X.shape, dtype=np.float32) >= self.rate  # (n, width): True with probability 1 - rate
        self.scaled_mask = keep * X.dtype.type(1.0 / (1.0 - self.rate))  # (n, width): M / (1 - rate)
        np.multiply(X, self.scaled_mask, out=X)  # in place, like ReLU: the network hands over arrays it owns
        return X

    def backward(self, dA: np.ndarray) -> np.ndarray:
        if self.scaled_mask is None:  # the forward pass was the identity
            return dA
        np.multiply(dA, self.scaled_mask, out=dA)  # dX = dA * M / (1 - rate)
        return dA

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        return iter(())
