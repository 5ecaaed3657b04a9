"""Layers: each one owns its forward math and, right beside it, its derivative.

Rows are examples: ``X`` is (n, n_in), ``W`` is (n_in, n_out), ``b`` is (n_out,) and ``Z = X @ W + b`` is
(n, n_out). ``forward(X)`` keeps what ``backward`` will need; ``backward(dA)`` takes the gradient of the loss with
respect to the layer's output and returns the gradient with respect to its input, storing ``dW`` and ``db`` on the
way. There is no autograd: the chain rule is written out by hand, one layer at a time. Only a forward pass with
``training=True`` keeps anything: inference leaves a layer as it found it, so threads may share a network to read.

Images are channels-last, (n, h, w, c): a row of pixels stays contiguous, a convolution's patch of every channel
is one contiguous run, and its product with the kernels lands directly in (n, h, w, c_out) with no transpose
(``benchmarks/conv_layout.py`` measured it against channels-first).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Dense:
    """A fully connected layer, ``Z = X @ W + b``.

    Backward, for ``dZ`` the gradient of the loss with respect to ``Z`` (``numpy-ml``'s dense backward, whose
    fourth line, ``dZ`` itself, the layer after this one has already computed):

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
        if training:
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
        if not training:
            return np.maximum(Z, 0, out=Z)
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
        if not training or self.rate == 0:  # the identity (with rate 0, scaled_mask stays None: so is backward)
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


class Conv2D:
    """A k×k convolution of a channels-last image, stride 1, as a ``Dense`` product over image patches.

    Forward, for ``X`` (n, h, w, c_in) padded to ``Xp`` with ``(k - 1) / 2`` zeros on each side ("same") or not
    at all ("valid"), and kernels ``W`` (k, k, c_in, c_out):

        Z[n, i, j, o] = b[o] + sum over p, q, c of Xp[n, i + p, j + q, c] * W[p, q, c, o]

    (a cross-correlation, which every framework calls convolution). im2col writes each output position's k×k×c_in
    patch as one row of ``cols``, and the sum becomes one matrix product, ``Z = cols @ W + b``, exactly ``Dense``'s.

    Backward, for ``dZ`` (n, h', w', c_out), is then ``Dense``'s backward over those rows:

        dW = cols.T @ dZ       the correlation of the input with dZ              (k, k, c_in, c_out)
        db = dZ summed over examples and positions                             (c_out,)
        dX = col2im(dZ @ W.T)  each patch's gradient added back where the patch came from: the full convolution
                               of dZ with the flipped kernels                  (n, h, w, c_in)

    ``input_grad=False`` skips ``dX`` for the first layer, as ``Dense`` does.
    """

    def __init__(
        self,
        k: int,
        c_in: int,
        c_out: int,
        padding: str = "same",
        *,
        rng: np.random.Generator,
        dtype=np.float32,
        input_grad: bool = True,
    ):
        fan_in = k * k * c_in  # each output sums over one k×k×c_in patch
        self.W = (rng.standard_normal((k, k, c_in, c_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)  # He, as Dense
        self.b = np.zeros(c_out, dtype=dtype)  # (c_out,)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.k, self.pad = k, (k - 1) // 2 if padding == "same" else 0
        self.input_grad = input_grad
        self.cols: np.ndarray | None = None
        self.X_shape: tuple[int, ...] = ()

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        n, h, w, c = X.shape
        k, pad = self.k, self.pad
        h_out, w_out = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        Xp = np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if pad else X  # (n, h + 2 pad, w + 2 pad, c)
        cols = im2col(Xp, k, h_out, w_out)  # (n * h_out * w_out, k * k * c)
        if training:
            self.cols, self.X_shape = cols, X.shape  # backward needs the patches for dW
        Z = cols @ self.W.reshape(k * k * c, -1)  # (n * h_out * w_out, c_out)
        Z += self.b
        return Z.reshape(n, h_out, w_out, -1)  # (n, h_out, w_out, c_out)

    def backward(self, dZ: np.ndarray) -> np.ndarray | None:
        k, pad = self.k, self.pad
        n, h_out, w_out, c_out = dZ.shape
        dZ = dZ.reshape(-1, c_out)  # (n * h_out * w_out, c_out): one row per patch
        np.matmul(self.cols.T, dZ, out=self.dW.reshape(-1, c_out))  # dW = cols.T @ dZ
        self.db[...] = column_sums(dZ)
        self.cols = None  # the largest array of the step: let it go before dX is made
        if not self.input_grad:
            return None
        _, h, w, c = self.X_shape
        # dcols = dZ @ W.T, each patch's gradient, made one kernel position (p, q) at a time: the gradient of the
        # image shifted by (p, q), which col2im adds back whole (python benchmarks/tricks.py)
        by_position = self.W.reshape(k * k, c, c_out).transpose(0, 2, 1)  # (k * k, c_out, c_in)
        dshifted = np.matmul(dZ, by_position)  # (k * k, n * h_out * w_out, c_in)
        dXp = col2im(dshifted, (n, h + 2 * pad, w + 2 * pad, c), k, h_out, w_out)
        return dXp[:, pad : pad + h, pad : pad + w, :] if pad else dXp  # (n, h, w, c): the padding had no input

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        yield self.W, self.dW, True
        yield self.b, self.db, False


def im2col(Xp: np.ndarray, k: int, h_out: int, w_out: int) -> np.ndarray:
    """Every k×k patch of ``Xp`` (n, h, w, c) as a row: (n * h_out * w_out, k * k * c), ordered (p, q, c).

    A patch's row p, ``Xp[n, i + p, j : j + k, :]``, is k×c values side by side in memory, so the patches are
    copied one kernel row at a time: k large copies of k×c-value runs, instead of one small copy per patch.

    With one channel (the digits themselves) those runs are only k values long, and the copy is made the other
    way round: column (p, q) of every patch is the image shifted by (p, q), copied whole, k×k large copies of
    w_out-value runs. That gives the same matrix column-major, which BLAS takes as it is; about 1.8x faster
    forward for the first layer of the ``cnn`` preset (``python benchmarks/tricks.py``).
    """
    n, _, _, c = Xp.shape
    if c == 1:
        shifted = np.empty((k, k, n, h_out, w_out), Xp.dtype)  # (p, q): Xp[:, i + p, j + q] at every (i, j)
        for p in range(k):
            for q in range(k):
                shifted[p, q] = Xp[:, p : p + h_out, q : q + w_out, 0]
        return shifted.reshape(k * k, n * h_out * w_out).T  # (n * h_out * w_out, k * k), column-major
    runs = sliding_window_view(Xp, k, axis=2).transpose(0, 1, 2, 4, 3)  # (n, h, w_out, k, c): a view, no copy
    cols = np.empty((n, h_out, w_out, k, k, c), Xp.dtype)  # patch (i, j) holds Xp[:, i + p, j + q, :] at (p, q)
    for p in range(k):
        cols[:, :, :, p] = runs[:, p : p + h_out]  # kernel row p of every patch
    return cols.reshape(n * h_out * w_out, k * k * c)


def col2im(dshifted: np.ndarray, shape: tuple[int, ...], k: int, h_out: int, w_out: int) -> np.ndarray:
    """The reverse of ``im2col``: add each patch's gradient back onto the pixels it was copied from, (n, h, w, c).

    ``dshifted`` (k * k, n * h_out * w_out, c) holds the patches' gradients by kernel position: ``dshifted[p * k +
    q]`` is the gradient of the image shifted by (p, q), and is added back shifted, whole.
    """
    n, _, _, c = shape
    dXp = np.zeros(shape, dshifted.dtype)
    for p in range(k):
        for q in range(k):  # overlapping patches add up
            dXp[:, p : p + h_out, q : q + w_out, :] += dshifted[p * k + q].reshape(n, h_out, w_out, c)
    return dXp


def column_sums(A: np.ndarray) -> np.ndarray:
    """``A.sum(axis=0)`` for a tall (m, c) array, as the product ``ones @ A``: BLAS does it about 3x faster."""
    return np.ones(len(A), A.dtype) @ A


class MaxPool2D:
    """2×2 max pooling with stride 2: each output is the largest of a window of four (odd edges are dropped).

    Backward, the gradient goes to the maximum: ``dX = dA`` at the position of each window's maximum, 0 at the
    other three. A window whose four values tie (after a ReLU: four zeros, whose gradient the ReLU stops anyway)
    passes the gradient to each of them.
    """

    def __init__(self):
        self.mask: np.ndarray | None = None
        self.X_shape: tuple[int, ...] = ()

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        n, h, w, c = X.shape
        h2, w2 = h // 2, w // 2
        windows = X[:, : 2 * h2, : 2 * w2].reshape(n, h2, 2, w2, 2, c)  # (n, h2, 2, w2, 2, c): window (i, j)
        # The largest of the four corners of every window, (n, h2, w2, c); twice as fast as windows.max(axis=(2, 4))
        A = np.maximum(windows[:, :, 0, :, 0], windows[:, :, 0, :, 1])
        np.maximum(A, windows[:, :, 1, :, 0], out=A)
        np.maximum(A, windows[:, :, 1, :, 1], out=A)
        if training:
            self.mask = windows == A[:, :, None, :, None]  # (n, h2, 2, w2, 2, c): where each maximum sits
            self.X_shape = X.shape
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        n, h2, w2, c = dA.shape
        dwindows = self.mask * dA[:, :, None, :, None]  # (n, h2, 2, w2, 2, c): dA at each maximum, else 0
        self.mask = None
        dX = dwindows.reshape(n, 2 * h2, 2 * w2, c)
        if dX.shape != self.X_shape:  # odd edges took no part: their gradient is 0
            dX = np.pad(dX, ((0, 0), (0, self.X_shape[1] - 2 * h2), (0, self.X_shape[2] - 2 * w2), (0, 0)))
        return dX

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        return iter(())


class Flatten:
    """Images (n, h, w, c) -> rows (n, h * w * c), read row by row, channel fastest; backward reshapes back."""

    def __init__(self):
        self.X_shape: tuple[int, ...] = ()

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        if training:
            self.X_shape = X.shape
        return X.reshape(len(X), -1)  # (n, h * w * c)

    def backward(self, dA: np.ndarray) -> np.ndarray:
        return dA.reshape(self.X_shape)  # (n, h, w, c)

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        return iter(())


class BatchNorm:
    """Batch normalisation (Ioffe & Szegedy 2015) of each channel: the last axis of (n, c) or (n, h, w, c).

    Forward in training, with ``mean`` and ``var`` of each channel over the batch's m = n (× h × w) values:

        X_hat = (X - mean) / sqrt(var + eps)        A = gamma * X_hat + beta

    and the running averages ``running = momentum * running + (1 - momentum) * batch`` (the variance unbiased,
    m / (m - 1)) kept for inference, which uses them in place of the batch's. Backward, for ``dA``:

        dgamma = sum(dA * X_hat)    dbeta = sum(dA)
        dX = gamma / sqrt(var + eps) * (dA - mean(dA) - X_hat * mean(dA * X_hat))

    The two means are the paths through ``mean`` and ``var``, which every value of the batch moves; they are
    ``dbeta / m`` and ``dgamma / m``, already summed.
    """

    def __init__(self, c: int, *, momentum: float = 0.9, eps: float = 1e-5, dtype=np.float32):
        self.gamma = np.ones(c, dtype=dtype)  # (c,): starts as the identity, X_hat
        self.beta = np.zeros(c, dtype=dtype)  # (c,)
        self.dgamma = np.zeros_like(self.gamma)
        self.dbeta = np.zeros_like(self.beta)
        self.running_mean = np.zeros(c, dtype=dtype)  # (c,): statistics, not parameters; saved in model files
        self.running_var = np.ones(c, dtype=dtype)
        self.momentum, self.eps = momentum, eps
        self.X_hat: np.ndarray | None = None
        self.inv_std: np.ndarray | None = None

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        shape, c = X.shape, X.shape[-1]
        X = X.reshape(-1, c)  # (m, c): every value of a channel in one column
        if not training:
            scale = self.gamma / np.sqrt(self.running_var + self.eps)  # (c,): the whole layer is X * scale + shift
            return (X * scale + (self.beta - self.running_mean * scale)).reshape(shape)
        m = len(X)
        mean = column_sums(X) / m  # (c,)
        X_hat = X - mean  # (m, c): centred, and normalised in place below
        var = np.einsum("ij,ij->j", X_hat, X_hat) / m  # (c,): the mean square of each centred column
        self.running_mean *= self.momentum
        self.running_mean += (1 - self.momentum) * mean
        self.running_var *= self.momentum
        self.running_var += (1 - self.momentum) * var * (m / max(m - 1, 1))
        self.inv_std = 1.0 / np.sqrt(var + self.eps)  # (c,)
        X_hat *= self.inv_std
        self.X_hat = X_hat
        A = X_hat * self.gamma
        A += self.beta
        return A.reshape(shape)

    def backward(self, dA: np.ndarray) -> np.ndarray:
        shape, c = dA.shape, dA.shape[-1]
        dA = dA.reshape(-1, c)  # (m, c)
        m = len(dA)
        self.dgamma[...] = np.einsum("ij,ij->j", dA, self.X_hat)  # sum(dA * X_hat), without the product array
        self.dbeta[...] = column_sums(dA)
        dX = self.X_hat * (-self.dgamma / m)  # - X_hat * mean(dA * X_hat) ...
        dX += dA  # ... + dA
        dX -= self.dbeta / m  # ... - mean(dA)
        dX *= self.gamma * self.inv_std
        self.X_hat = None
        return dX.reshape(shape)

    def parameters(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        """``gamma`` and ``beta`` are not decayed: shrinking them would undo the normalisation, not the weights."""
        yield self.gamma, self.dgamma, False
        yield self.beta, self.dbeta, False
