"""Channels last or channels first? One im2col convolution, forward and backward, written both ways and timed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv_layout.py     # about half a minute

digitnet's ``Conv2D`` keeps images as (n, h, w, c). This times it against the same im2col convolution for
(n, c, h, w) images, PyTorch's layout, written as plainly here, on the two convolutions of the ``cnn`` preset at its
batch size; both give the same numbers (checked). It prints a Markdown table; the choice and these numbers are
recorded in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from digitnet.layers import Conv2D  # noqa: E402
from speed import clock, machine_info, median  # noqa: E402


class ChannelsFirstConv2D:
    """The same valid convolution for (n, c, h, w) images: patches ordered (c, p, q), output back to (n, c, h, w)."""

    def __init__(self, layer: Conv2D):
        k, _, c_in, c_out = layer.W.shape
        self.k = k
        self.W = layer.W.transpose(2, 0, 1, 3).reshape(c_in * k * k, c_out)  # rows ordered (c, p, q)
        self.b = layer.b

    def forward(self, X):
        n, c, h, w = X.shape
        k = self.k
        h_out, w_out = h - k + 1, w - k + 1
        windows = sliding_window_view(X, (k, k), axis=(2, 3))  # (n, c, h_out, w_out, k, k), a view
        self.cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * k * k)  # the copy
        self.shape = X.shape
        Z = self.cols @ self.W + self.b  # (n * h_out * w_out, c_out)
        return Z.reshape(n, h_out, w_out, -1).transpose(0, 3, 1, 2).copy()  # (n, c_out, h_out, w_out)

    def backward(self, dZ):
        n, c_out, h_out, w_out = dZ.shape
        c = self.shape[1]
        k = self.k
        dZ = dZ.transpose(0, 2, 3, 1).reshape(-1, c_out)  # rows per output position, as the patches
        self.dW = self.cols.T @ dZ
        self.db = dZ.sum(axis=0)
        dcols = (dZ @ self.W.T).reshape(n, h_out, w_out, c, k, k)
        dX = np.zeros(self.shape, dZ.dtype)
        for p in range(k):
            for q in range(k):
                dX[:, :, p : p + h_out, q : q + w_out] += dcols[:, :, :, :, p, q].transpose(0, 3, 1, 2)
        return dX


def time_both(shape_in: tuple[int, int, int], c_out: int, batch: int, repeats: int) -> dict[str, float]:
    h, w, c_in = shape_in
    rng = np.random.default_rng(0)
    last = Conv2D(5, c_in, c_out, "valid", rng=rng)
    first = ChannelsFirstConv2D(last)
    X = rng.random((batch, h, w, c_in), dtype=np.float32)
    X_first = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    Z = last.forward(X, training=True)
    dZ = rng.standard_normal(Z.shape, dtype=np.float32)
    dZ_first = np.ascontiguousarray(dZ.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(first.forward(X_first), Z.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(first.backward(dZ_first), last.backward(dZ.copy()).transpose(0, 3, 1, 2), atol=1e-3)
    seconds: dict[str, list[float]] = {"channels last (n, h, w, c)": [], "channels first (n, c, h, w)": []}
    for _ in range(repeats):
        for name, layer, A, dA in [
            ("channels last (n, h, w, c)", last, X, dZ),
            ("channels first (n, c, h, w)", first, X_first, dZ_first),
        ]:
            start = clock()
            layer.forward(A, training=True) if layer is last else layer.forward(A)
            layer.backward(dA.copy())
            seconds[name].append(clock() - start)
    return {name: median(s) for name, s in seconds.items()}


def main() -> None:
    machine = machine_info(len(os.sched_getaffinity(0)))
    print(f"{machine['cpu']}; NumPy {machine['numpy']}, {machine['blas']} {machine['blas_kernel']}, "
          f"{machine['blas_threads']} threads; {machine['environment']}\n")  # fmt: skip
    print("| convolution (batch 128, forward + backward) | channels last ms | channels first ms | first / last |")
    print("|---|---:|---:|---:|")
    for shape_in, c_out in [((28, 28, 1), 32), ((12, 12, 32), 64)]:
        t = time_both(shape_in, c_out, 128, 15)
        last, first = t["channels last (n, h, w, c)"], t["channels first (n, c, h, w)"]
        h, w, c = shape_in
        print(f"| 5×5, {h}×{w}×{c} → {c_out} | {1e3 * last:.1f} | {1e3 * first:.1f} | {first / last:.2f}× |")


if __name__ == "__main__":
    main()
