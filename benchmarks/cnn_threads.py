"""How much of two cores a `cnn` training step uses: the step as digitnet takes it, and two bounds on doing better.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cnn_threads.py   # about a minute

A step of the `cnn` preset's network spends about two thirds of its time outside the matrix products (im2col,
col2im, batch norm, ReLU and pooling over the first block's maps: ``cnn_speed.py``'s profile), and NumPy runs
those passes on one core while OpenBLAS shares only the products between them. Timed here, forward, backward and
optimiser on batches of 128 real digits (no augmentation), median of the steps:

- **as digitnet trains**: the whole batch, OpenBLAS with two threads;
- **one BLAS thread**: the same on one core, to see what the second thread adds;
- **two half-batches at once**: two copies of the network, each taking 64 of the 128 digits on its own thread with
  a one-thread BLAS, as data-parallel training would. The copies exchange no gradients and share no weights
  (data-parallel training would add a sum of the two gradients, a pass over the 330,000 weights, each step), and
  each copy's batch norm sees 64 digits, not 128: this is a bound on the speed of that design, not a drop-in.

Nothing here changes digitnet; it prints a Markdown section and adds it to ``RESULTS.md`` unless ``--no-write``.
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

from threadpoolctl import threadpool_limits  # noqa: E402

from digitnet import PRESETS, Network, Trainer, data, spec  # noqa: E402
from speed import add_section, machine_info, repeated, utc_now  # noqa: E402

MARK = "<!-- cnn-threads: new sections go below this line -->"
BATCH = 128


def trainer(config, X, y) -> Trainer:
    return Trainer(Network(config.sizes, seed=config.seed, dropout=config.dropout), config, X, y)


def step(t: Trainer, rows: slice) -> None:
    t.network.train_step(t.inputs[rows], t.y[rows])
    t.optimizer.step()


def median_ms(work, batches: int) -> float:
    """Median milliseconds of ``work(i)`` over batches 1 to ``batches`` (after batch 0, to warm up)."""
    numbers = iter(range(batches + 1))
    return 1e3 * statistics.median(repeated(lambda: work(next(numbers)), batches))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    machine, load_before = machine_info(cores), os.getloadavg()[0]
    config = PRESETS["cnn"].replace(rotate=0.0, scale=0.0, shift=0.0)  # the distortions cost the same either way
    dataset = data.load("mnist")
    X, y = dataset.train.X[: BATCH * (args.steps + 1)], dataset.train.y[: BATCH * (args.steps + 1)]
    whole, halves = trainer(config, X, y), [trainer(config, X, y) for _ in range(2)]
    pool = ThreadPoolExecutor(2)

    def batch(i: int) -> slice:
        return slice(i * BATCH, (i + 1) * BATCH)

    def two_halves(i: int) -> None:
        half = BATCH // 2
        parts = [slice(i * BATCH + j * half, i * BATCH + (j + 1) * half) for j in (0, 1)]
        list(pool.map(step, halves, parts))

    times = {"as digitnet trains (OpenBLAS, 2 threads)": median_ms(lambda i: step(whole, batch(i)), args.steps)}
    with threadpool_limits(1):
        times["one BLAS thread"] = median_ms(lambda i: step(whole, batch(i)), args.steps)
        times["two half-batches at once, one BLAS thread each"] = median_ms(two_halves, args.steps)

    now = utc_now()
    first = next(iter(times.values()))
    lines = [
        f"## {now} · a `cnn` step on two cores · {machine['cpu']} · {cores} cores",
        "",
        f"`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cnn_threads.py`; "
        f"`{spec.to_text(config.sizes)}`, batch {BATCH}, the preset's optimiser and dropout, no augmentation; "
        f"NumPy {machine['numpy']}, {machine['blas']} kernel {machine['blas_kernel']}; median of {args.steps} "
        f"steps; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after.",
        "",
        "| step | ms | examples/s | speed-up |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {ms:.1f} | {1e3 * BATCH / ms:,.0f} | {first / ms:.2f}× |" for name, ms in times.items()]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        add_section(args.results, MARK, "# A `cnn` step on two cores (`cnn_threads.py`)", section)


if __name__ == "__main__":
    main()
