"""Candidate recipes for the ``fast`` preset, compared by dev accuracy alone, several seeds each, in parallel.

    PYTHONPATH=src python benchmarks/fast_candidates.py --workers 15       # one BLAS thread per run

Each run is ``experiment.run`` on MNIST (its dev split held out of the training digits). The table gives, per
candidate, the first epoch whose dev accuracy reached 98.0% and the final dev accuracy, as mean over the seeds.
The test accuracy is written to each run's summary, as always, but this script never reads it: choosing a recipe
by its test score is not allowed. Seconds are not compared here (the runs share the machine); an epoch's time at
each batch size comes from ``benchmarks/speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor

from threadpoolctl import threadpool_limits

from digitnet import PRESETS, experiment
from digitnet.data import load

FAST = PRESETS["fast"]  # [784, 800, 10], Nesterov momentum, cosine schedule; the candidates differ from it in:
CANDIDATES = {
    "batch 128, lr 0.05, 16 epochs (the old fast)": FAST.replace(batch_size=128, learning_rate=0.05, epochs=16),
    "batch 256, lr 0.1, 16 epochs": FAST.replace(batch_size=256, learning_rate=0.1, epochs=16),
    "batch 256, lr 0.1, 12 epochs": FAST.replace(batch_size=256, learning_rate=0.1, epochs=12),
    "batch 512, lr 0.2, 16 epochs (fast now)": FAST.replace(batch_size=512, learning_rate=0.2, epochs=16),
}
TARGET = 0.98


def dev_curve(name: str, seed: int) -> tuple[str, int, list[float]]:
    with threadpool_limits(1), tempfile.TemporaryDirectory() as out:
        _, _, trainer = experiment.run(CANDIDATES[name].replace(seed=seed), load("mnist"), out)
    return name, seed, [record.dev_accuracy for record in trainer.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(name, seed) for name in CANDIDATES for seed in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        curves = list(pool.map(dev_curve, *zip(*jobs, strict=True)))
    print(f"| candidate | first epoch with dev ≥ {TARGET:.1%} (per seed) | final dev accuracy, mean ± sd |")
    print("|---|---|---|")
    for name in CANDIDATES:
        runs = [curve for n, _, curve in curves if n == name]
        firsts = [next((i + 1 for i, a in enumerate(curve) if a >= TARGET), None) for curve in runs]
        finals = [curve[-1] for curve in runs]
        print(
            f"| {name} | {', '.join('–' if f is None else str(f) for f in firsts)} "
            f"| {statistics.fmean(finals):.2%} ± {statistics.stdev(finals):.2%} |"
        )
    for name, seed, curve in curves:
        print(name, seed, " ".join(f"{a:.4f}" for a in curve))


if __name__ == "__main__":
    main()
