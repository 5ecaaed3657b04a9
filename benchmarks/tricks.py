"""Each tuning trick in digitnet against the plain way of writing the same step, timed in turns (medians).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/tricks.py              # about half a minute
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/tricks.py --threads 1  # on a busy machine

STYLE.md asks that a trick be proven by a benchmark: this is that proof, one line per trick, on real MNIST shapes.
A trick that stops paying (a new NumPy, another BLAS) shows here as a ratio near or below 1. With ``--threads 1``
the BLAS runs on one thread and the timings are CPU seconds, which a busy machine disturbs much less.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # the digitnet next to this file

import numpy as np
from threadpoolctl import threadpool_limits

from digitnet import Network, data, optim
from digitnet.layers import Conv2D, im2col
from digitnet.losses import SoftmaxCrossEntropy, log_softmax
from digitnet.network import pixels_to_inputs
from digitnet.optim import Momentum
from digitnet.train import gather_rows

CLOCK = time.perf_counter


def race(title: str, plain: Callable[[], object], trick: Callable[[], object], rounds: int = 30) -> None:
    """Time ``plain`` and ``trick`` in turns and print the median of each and how many times faster the trick is."""
    plain(), trick()  # warm up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for function, seconds in zip((plain, trick), times, strict=True):
            start = CLOCK()
            function()
            seconds.append(CLOCK() - start)
    a, b = np.median(times[0]), np.median(times[1])
    print(f"{title:<62} {a * 1e3:9.3f} ms -> {b * 1e3:9.3f} ms   {a / b:5.2f}x", flush=True)


def momentum_plain(parameters, velocities, learning_rate=0.01, momentum=0.9) -> None:
    """Nesterov momentum written the plain way: three temporaries the size of W per parameter and step."""
    for (value, grad, _), v in zip(parameters, velocities, strict=True):
        v *= momentum
        v += grad
        value -= learning_rate * (grad + momentum * v)


def log_softmax_by_rows(Z: np.ndarray) -> np.ndarray:
    """log_softmax written the plain way: each example's max and sum over its row of ten logits."""
    Z = Z - Z.max(axis=1, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))


def im2col_by_kernel_rows(Xp: np.ndarray, k: int, h_out: int, w_out: int) -> np.ndarray:
    """``layers.im2col``'s way for many channels, on one: k copies of runs of k values."""
    n, _, _, c = Xp.shape
    runs = np.lib.stride_tricks.sliding_window_view(Xp, k, axis=2).transpose(0, 1, 2, 4, 3)  # (n, h, w_out, k, c)
    cols = np.empty((n, h_out, w_out, k, k, c), Xp.dtype)
    for p in range(k):
        cols[:, :, :, p] = runs[:, p : p + h_out]
    return cols.reshape(n * h_out * w_out, k * k * c)


def conv_backward_by_patches(layer: Conv2D, cols: np.ndarray, dZ: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A valid convolution's backward the way ``Conv2D`` took it before: ``dX`` from one product ``dZ @ W.T``,
    its rows added back in runs of c_in values."""
    n, h_out, w_out, c_out = dZ.shape
    k = layer.k
    dZ = dZ.reshape(-1, c_out)
    np.matmul(cols.T, dZ, out=layer.dW.reshape(-1, c_out))
    layer.db[...] = dZ.sum(axis=0)
    dcols = (dZ @ layer.W.reshape(-1, c_out).T).reshape(n, h_out, w_out, k, k, -1)
    dX = np.zeros(shape, dZ.dtype)
    for p in range(k):
        for q in range(k):
            dX[:, p : p + h_out, q : q + w_out, :] += dcols[:, :, :, p, q, :]
    return dX


def main() -> None:
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, help="BLAS threads (default: OpenBLAS's own choice)")
    args = parser.parse_args()
    if args.threads is not None:
        threadpool_limits(args.threads, user_api="blas")
        if args.threads == 1:
            CLOCK = time.thread_time
    dataset = data.load("mnist")
    pixels, labels = dataset.train.X, dataset.train.y
    rng = np.random.default_rng(0)
    clock = "CPU" if CLOCK is time.thread_time else "wall-clock"
    print(f"NumPy {np.__version__}; each line: plain -> trick, median of turns in {clock} seconds\n")

    # Optimiser: in place through a scratch array, against temporaries.
    network = Network([784, 800, 10], seed=0)
    for _, grad, _ in network.parameters():
        grad[...] = rng.standard_normal(grad.shape).astype(grad.dtype) * 1e-3
    velocities = [np.zeros_like(value) for value, _, _ in network.parameters()]
    with mock.patch.object(optim, "pieces", lambda *arrays: [arrays]):  # as before optim.pieces: whole arrays
        whole = Momentum(network.parameters(), learning_rate=0.01, momentum=0.9, nesterov=True)
    race(
        "Nesterov update, [784, 800, 10]: in place (optim.add_scaled)",
        lambda: momentum_plain(network.parameters(), velocities),
        whole.step,
    )
    optimizer = Momentum(network.parameters(), learning_rate=0.01, momentum=0.9, nesterov=True)
    race("  the in-place update: in pieces (optim.pieces) of whole arrays", whole.step, optimizer.step)
    inputs = pixels_to_inputs(pixels[:128])

    def training_step(update: Callable[[], object]) -> None:
        network.train_step(inputs, labels[:128])
        update()

    race(
        "  the same inside a training step at batch 128",
        lambda: training_step(lambda: momentum_plain(network.parameters(), velocities)),
        lambda: training_step(optimizer.step),
    )

    # Full batch: column-major inputs (Trainer, layers.order_of) against row-major.
    X, y = pixels[:41_000], labels[:41_000]
    row_major, column_major = pixels_to_inputs(X), pixels_to_inputs(X, order="F")
    network = Network([784, 10, 10], seed=0)
    race(
        "full-batch step, [784, 10, 10] on 41,000: column-major inputs",
        lambda: network.train_step(row_major, y),
        lambda: network.train_step(column_major, y),
        rounds=10,
    )
    logits = rng.standard_normal((41_000, 10)).astype(np.float32)
    column_major_logits = np.asfortranarray(logits)
    race(
        "loss forward, (41,000, 10) logits: column-major",
        lambda: SoftmaxCrossEntropy().forward(logits, y),
        lambda: SoftmaxCrossEntropy().forward(column_major_logits, y),
        rounds=10,
    )

    # Loss: each example's max and sum over (k, n) rows of classes (losses.by_class), against over rows of ten.
    for n in (128, 1024, 41_000):
        Z = rng.standard_normal((n, 10)).astype(np.float32)
        race(
            f"log-softmax, ({n:,}, 10) logits: class by class",
            lambda Z=Z: log_softmax_by_rows(Z),
            lambda Z=Z: log_softmax(Z),
        )

    # Gathering a batch: into a reused buffer, and from row-major rows.
    inputs = pixels_to_inputs(pixels)
    rows = rng.permutation(len(inputs))[:128]
    buffer = np.empty((128, 784), np.float32)
    race(
        "gather 128 rows: np.take(mode='clip') into a buffer",
        lambda: inputs[rows],
        lambda: gather_rows(inputs, rows, buffer),
    )
    race(
        "gather 128 rows: np.take default mode -> mode='clip'",
        lambda: np.take(inputs, rows, axis=0, out=buffer),
        lambda: np.take(inputs, rows, axis=0, out=buffer, mode="clip"),
    )
    column_major_inputs = np.asfortranarray(inputs[:20_000])
    rows_20k = rows % 20_000
    race(
        "gather 128 rows: from column-major (pandas) -> row-major",
        lambda: column_major_inputs[rows_20k],
        lambda: inputs[rows_20k],
        rounds=5,
    )

    # ReLU: a comparison and a multiply, against the alternatives.
    Z = rng.standard_normal((128, 800)).astype(np.float32)
    dA = rng.standard_normal((128, 800)).astype(np.float32)
    out = np.empty_like(Z)
    race(
        "ReLU forward (128, 800): Z * (Z > 0) instead of np.maximum(Z, 0)",
        lambda: np.maximum(Z, 0, out=out),
        lambda: np.multiply(Z, Z > 0, out=out),
        rounds=200,
    )
    mask = Z > 0
    race(
        "ReLU backward (128, 800): dA * mask instead of np.where(mask, dA, 0)",
        lambda: np.where(mask, dA, 0),
        lambda: np.multiply(dA, mask, out=out),
        rounds=200,
    )

    # The cnn preset's first convolution (5x5, 1 -> 32) forward on a data-parallel copy's 64 digits.
    images = pixels_to_inputs(pixels[:64]).reshape(64, 28, 28, 1)
    kernels = rng.standard_normal((25, 32)).astype(np.float32)
    race(
        "conv 5x5 1->32 forward, 64 digits: im2col by shifted images",
        lambda: im2col_by_kernel_rows(images, 5, 24, 24) @ kernels,
        lambda: im2col(images, 5, 24, 24) @ kernels,
    )

    # The cnn preset's second convolution (5x5, 32 -> 64, 12x12 -> 8x8): its backward on 64 digits.
    conv = Conv2D(5, 32, 64, "valid", rng=rng)
    features = rng.standard_normal((64, 12, 12, 32)).astype(np.float32)
    cols = im2col(features, 5, 8, 8)
    dZ = rng.standard_normal((64, 8, 8, 64)).astype(np.float32)

    def backward() -> np.ndarray:
        conv.cols, conv.X_shape = cols, features.shape  # what forward keeps, and backward lets go
        return conv.backward(dZ)

    race(
        "conv 5x5 32->64 backward, 64 digits: dX by kernel position",
        lambda: conv_backward_by_patches(conv, cols, dZ, features.shape),
        backward,
    )


if __name__ == "__main__":
    main()
