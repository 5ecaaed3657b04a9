"""Ways to take one iteration of the notebook's recipe, measured side by side: which read the digits fewer times.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/notebook_formulations.py   # about a minute

The notebook's recipe is full-batch gradient descent on ``[784, 10, 10]`` over 41,000 digits. Its two large products,
``Z = X @ W`` forward and ``dW = X.T @ dZ`` backward, each read the whole (41,000, 784) float32 input, 128 MB, and
have only 10 columns, so they run far below the machine's matrix-multiply peak. Timed side by side, on the same
weights:

- **digitnet's own iteration**: ``Network.train_step`` and the optimiser's step on the trainer's column-major
  full batch, as ``digitnet train --preset seed`` takes it;
- **whole arrays, written out**: the same math in one plain function, the reference the blocked way is checked
  against;
- **the products alone**: just the two products, the least a whole-array iteration could cost;
- **without the always-blank pixels, products alone**: the same products over the pixels that are ink in at least
  one digit (the others add nothing to ``Z`` and get a gradient of exactly 0);
- **one pass, in blocks of uint8 rows on two threads**: the digits kept as their uint8 pixels (a quarter of the
  bytes); each thread takes every other block of rows, converts it to float32 in a buffer that stays in cache, and
  does the whole forward and backward on it with a one-thread BLAS, so the block is read from memory once and both
  products find it in cache; the two threads' gradients are added at the end. Its gradients are checked against
  the written-out ones, to float32 rounding;
- **the same, each product 96 rows at a time**: OpenBLAS (0.3.31, AVX-512 kernel) ran a (96, 784) @ (784, 10)
  product about 1.5x faster per row than one of 128 rows or more, timed by hand; this asks whether that survives
  the loop and the extra sums. Also checked against the written-out gradients.

Nothing here is in digitnet yet: a second way of training is kept only where it pays on both kinds of machine
(issue 15), and this script is how to find out. It prints a Markdown section, and adds it to ``RESULTS.md`` unless
``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from digitnet import PRESETS, Network, Trainer, data  # noqa: E402
from speed import NOTEBOOK_ROWS, add_section, machine_info, matmul_peak, repeated, training_flop, utc_now  # noqa: E402

SCALE = np.float32(1 / 255)
PIECE = 96  # rows: a (96, 784) @ (784, 10) product ran 1.5x faster per row than one of 128 or more (AVX-512)
MARK = "<!-- notebook-formulations: new sections go below this line -->"


def gradients(X: np.ndarray, y: np.ndarray, W1, b1, W2, b2, n: int, scale=None, piece: int = 0):
    """dW1, db1, dW2, db2 of the mean cross-entropy over ``n`` rows, from the rows ``X`` (pixels times ``scale``);
    the two products with ``X`` taken ``piece`` rows at a time when ``piece`` is set."""
    if piece:
        Z1 = np.empty((len(X), W1.shape[1]), np.float32)  # (m, 10)
        for i in range(0, len(X), piece):
            np.matmul(X[i : i + piece], W1, out=Z1[i : i + piece])
    else:
        Z1 = np.matmul(X, W1, order="F" if X.flags.f_contiguous else "C")  # (m, 10)
    if scale is not None:
        Z1 *= scale  # uint8 pixels: the 1/255 applied to the product instead of the input
    Z1 += b1
    mask = Z1 > 0
    A1 = Z1 * mask
    Z2 = A1 @ W2 + b2
    Z2 -= Z2.max(axis=1, keepdims=True)
    P = np.exp(Z2)
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(len(y)), y] -= 1  # P - Y
    P /= n
    dA1 = P @ W2.T
    dA1 *= mask
    rows = piece or len(X)  # dW1 = X.T @ dA1, as the sum over pieces of rows of X_i.T @ dA1_i (one piece unless set)
    dW1 = sum(X[i : i + rows].T @ dA1[i : i + rows] for i in range(0, len(X), rows))
    if scale is not None:
        dW1 *= scale
    return dW1, dA1.sum(axis=0), A1.T @ P, P.sum(axis=0)


def in_blocks(pixels: np.ndarray, y: np.ndarray, weights, rows: int, pool: ThreadPoolExecutor, piece: int = 0):
    """The same gradients, each thread taking every other block of ``rows`` uint8 rows through a float32 buffer
    (and its products ``piece`` rows at a time when ``piece`` is set)."""
    n = len(pixels)
    starts = list(range(0, n, rows))

    def thread(first: int):
        buffer = np.empty((rows, pixels.shape[1]), np.float32)
        total = None
        for start in starts[first::2]:
            block = buffer[: min(rows, n - start)]
            np.copyto(block, pixels[start : start + len(block)])  # uint8 -> float32, in cache
            parts = gradients(block, y[start : start + len(block)], *weights, n, SCALE, piece)
            total = parts if total is None else [a + b for a, b in zip(total, parts, strict=True)]
        return total

    halves = list(pool.map(thread, (0, 1)))
    return [a + b for a, b in zip(*halves, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="iterations timed for each way")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    machine = machine_info(cores)
    load_before = os.getloadavg()[0]
    peaks = matmul_peak(10)  # and as many at the end: the best is the peak, which noise can lower but not raise

    dataset = data.load("mnist")
    pixels, y = dataset.train.X[:NOTEBOOK_ROWS], dataset.train.y[:NOTEBOOK_ROWS]
    n = len(pixels)
    network = Network([784, 10, 10], seed=0)
    weights = [a for layer in network.dense_layers for a in (layer.W, layer.b)]
    X = np.multiply(pixels, SCALE, dtype=np.float32, order="F")  # as the trainer keeps a full batch
    inked = pixels.max(axis=0) > 0  # pixels that are ink in at least one digit
    X_inked, W_inked = np.asfortranarray(X[:, inked]), weights[0][inked]
    dZ = np.ones((n, 10), np.float32, order="F")
    pool = ThreadPoolExecutor(2)
    rows = 1024

    reference = gradients(X, y, *weights, n)
    with threadpool_limits(1):
        blocked = in_blocks(pixels, y, weights, rows, pool)
        pieces = in_blocks(pixels, y, weights, rows, pool, PIECE)
    difference = max(
        float(np.abs(a - b).max() / np.abs(a).max())
        for way in (blocked, pieces)
        for a, b in zip(reference, way, strict=True)
    )

    trainer = Trainer(Network([784, 10, 10], seed=0), PRESETS["seed"], pixels, y)

    def digitnet_iteration() -> None:
        trainer.network.train_step(trainer.inputs, y)
        trainer.optimizer.step()

    ways = {
        "digitnet's own iteration": digitnet_iteration,
        "whole arrays, written out": lambda: gradients(X, y, *weights, n),
        "the products alone": lambda: (np.matmul(X, weights[0], order="F"), X.T @ dZ),
        f"without the always-blank pixels ({int((~inked).sum())} of 784): products alone": lambda: (
            np.matmul(X_inked, W_inked, order="F"),
            X_inked.T @ dZ,
        ),
    }
    seconds = {name: repeated(work, args.repeats) for name, work in ways.items()}
    with threadpool_limits(1):
        name = f"one pass, blocks of {rows} uint8 rows on two threads"
        seconds[name] = repeated(lambda: in_blocks(pixels, y, weights, rows, pool), args.repeats)
        name = f"the same, each product {PIECE} rows at a time"
        seconds[name] = repeated(lambda: in_blocks(pixels, y, weights, rows, pool, PIECE), args.repeats)

    peak = max(peaks + matmul_peak(10))
    flop = training_flop((784, 10, 10)) * n
    now = utc_now()
    lines = [
        f"## {now} · the notebook's iteration, side by side · {machine['cpu']} · {cores} cores",
        "",
        f"`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/notebook_formulations.py`; NumPy "
        f"{machine['numpy']}, {machine['blas']} kernel {machine['blas_kernel']}; float32 matmul peak {peak:.0f} "
        f"GFLOP/s; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after. One iteration of "
        f"[784, 10, 10] on {n:,} digits ({flop / 1e9:.2f} GFLOP), median of {args.repeats}. The blocked gradients "
        f"differ from the whole-array ones by {difference:.1e} of their largest value.",
        "",
        "| way | ms per iteration | 500 iterations, s | % of peak |",
        "|---|---:|---:|---:|",
    ]
    for name, times in seconds.items():
        ms = 1e3 * statistics.median(times)
        lines.append(f"| {name} | {ms:.1f} | {ms / 2:.1f} | {flop / (ms / 1e3) / 1e9 / peak:.0%} |")
    lines.append(f"| at the matmul peak | {1e3 * flop / 1e9 / peak:.1f} | {flop / 1e9 / peak * 500:.1f} | 100% |")
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        add_section(args.results, MARK, "# Ways to take the notebook's iteration (`notebook_formulations.py`)", section)


if __name__ == "__main__":
    main()
