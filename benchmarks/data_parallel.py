"""Data-parallel training against one copy of the network, for each preset's network, timed in turns.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/data_parallel.py   # about two minutes

``--data-parallel 2`` (``parallel.py``) has two copies of the network each take half of every batch on a thread
of its own with a one-thread BLAS; one copy takes the whole batch with OpenBLAS's two threads. Which is faster
depends on how much of a step is matrix products, which OpenBLAS already spreads over both cores, and how much is
NumPy's other passes, which run on one core unless there are two copies. Timed here through ``Trainer`` itself,
whole epochs (or the notebook's full-batch iterations) in turns, medians, on real MNIST digits and without
augmentation (the distortions happen before the batch is split, and cost the same either way):

- the ``cnn`` preset's network at batch 128, where most of a step is im2col, batch norm and pooling;
- the ``fast`` preset's ``[784, 800, 10]`` at batch 128, 256 and 512, where most of a step is products;
- the ``seed`` preset's full batch of 41,000 digits through ``[784, 10, 10]``: one copy reads the float32 batch
  whole, twice an iteration; two copies take blocks of 1024 uint8 rows in turns, each block scaled in the cache
  and read there by both products.

This is how the presets' ``data_parallel`` was chosen; it prints a Markdown section and adds it to ``RESULTS.md``
unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from digitnet import PRESETS, Network, Trainer, data  # noqa: E402
from speed import NOTEBOOK_ROWS, add_section, clock, interleave, machine_info, median, spread, utc_now  # noqa: E402

MARK = "<!-- data-parallel: new sections go below this line -->"
STILL = {"rotate": 0.0, "scale": 0.0, "shift": 0.0, "elastic_alpha": 0.0, "warmup_epochs": 0.0, "dev_size": 0}


def cases(quick: bool) -> list[tuple[str, object, int]]:
    """(name, configuration, training rows) for each network measured."""
    rows = 4096 if quick else 16384
    fast = PRESETS["fast"].replace(**STILL)
    return [
        ("`cnn`, batch 128", PRESETS["cnn"].replace(**STILL), rows // 2),
        *[(f"`fast`, batch {b}", fast.replace(batch_size=b), 4 * rows) for b in (128, 256, 512)],
        ("`seed`, full batch of 41,000, 10 iterations", PRESETS["seed"].replace(**STILL), NOTEBOOK_ROWS),
    ]


def epoch_timer(config, X, y):
    """A function that trains one more epoch (full batch: 10 more iterations) and returns its seconds."""
    more = 10 if config.batch_size == 0 else 1
    trainer = Trainer(Network(config.sizes, seed=0, dropout=config.dropout), config.replace(epochs=more), X, y)

    def epoch() -> float:
        trainer.config = trainer.config.replace(epochs=trainer.epoch + more)
        start = clock()
        trainer.run()
        return clock() - start

    return epoch, more


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer digits and rounds: a smoke run")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    rounds = 2 if args.quick else 5
    cores = len(os.sched_getaffinity(0))
    machine, load_before = machine_info(cores), os.getloadavg()[0]
    mnist = data.load("mnist")
    table = []
    for name, config, rows in cases(args.quick):
        X, y = mnist.train.X[:rows], mnist.train.y[:rows]
        timers = {copies: epoch_timer(config.replace(data_parallel=copies), X, y) for copies in (1, 2)}
        seconds = interleave({copies: timer for copies, (timer, _) in timers.items()}, rounds)
        rate = {copies: rows * timers[copies][1] / median(s) for copies, s in seconds.items()}
        table.append(
            f"| {name} | {rate[1]:,.0f} ({spread(seconds[1]):.0%}) | {rate[2]:,.0f} ({spread(seconds[2]):.0%}) | "
            f"{rate[2] / rate[1]:.2f}× |"
        )
    lines = [
        f"## {utc_now()} · data-parallel training against one copy · {machine['cpu']} · {cores} cores",
        "",
        f"`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/data_parallel.py`; NumPy {machine['numpy']}, "
        f"{machine['blas']} kernel {machine['blas_kernel']}; commit {machine['commit']}; {rounds} epochs (full batch: "
        f"10 iterations) each in turns, medians; no augmentation; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after.",
        "",
        "| network | one copy, 2 BLAS threads: examples/s (spread) | two copies: examples/s (spread) | two / one |",
        "|---|---:|---:|---:|",
        *table,
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        add_section(args.results, MARK, "# Data-parallel training against one copy (`data_parallel.py`)", section)


if __name__ == "__main__":
    main()
