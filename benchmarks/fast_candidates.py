"""Candidate recipes for the ``fast`` preset and the optimisers' default learning rates, compared by dev accuracy.

    PYTHONPATH=src nice -n 5 python benchmarks/fast_candidates.py                 # every candidate, seeds 0, 1, 2
    PYTHONPATH=src nice -n 5 python benchmarks/fast_candidates.py --group adam --seeds 0

Each run is ``experiment.run`` on MNIST (its dev split held out of the training digits), one after another, each
with the machine's BLAS threads. The table gives, per candidate, the final dev accuracy of each seed, their mean,
and the training seconds from the run's summary (evaluations included). The test accuracy is written to each run's
summary, as always, but this script never reads it: choosing a recipe by its test score is not allowed. Each run's
result is kept in ``benchmarks/out/fast_candidates.jsonl``, so an interrupted comparison carries on where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path

from digitnet import experiment
from digitnet.config import PRESETS, TrainConfig
from digitnet.data import load

OUT = Path(__file__).resolve().parent / "out" / "fast_candidates.jsonl"
OLD_FAST = TrainConfig(sizes=(784, 800, 10), epochs=16, batch_size=512, learning_rate=0.2)  # fast until 2026-12-02
SHORT = OLD_FAST.replace(epochs=10)  # 10 epochs fit in 20 s of training on two cores; 16 do not
GROUPS: dict[str, dict[str, TrainConfig]] = {
    "fast": {
        "16 epochs (the old fast)": OLD_FAST,
        "10 epochs": SHORT,
        "10 epochs, label smoothing 0.1": SHORT.replace(label_smoothing=0.1),
        "10 epochs, weight decay 5e-4": SHORT.replace(weight_decay=5e-4),
        "10 epochs, lr 0.4, warm-up 1, label smoothing 0.1": SHORT.replace(
            learning_rate=0.4, warmup_epochs=1.0, label_smoothing=0.1
        ),
        "[784, 512, 512, 10], 10 epochs, label smoothing 0.1": SHORT.replace(
            sizes=(784, 512, 512, 10), label_smoothing=0.1
        ),
        "12 epochs, batch 1024, lr 0.4, label smoothing 0.1": SHORT.replace(
            epochs=12, batch_size=1024, learning_rate=0.4, label_smoothing=0.1
        ),
    },
    # The default learning rate of each optimiser: the 10-epoch recipe with the optimiser swapped in.
    "adam": {f"adam, lr {lr:g}": SHORT.replace(optimizer="adam", learning_rate=lr) for lr in (3e-4, 1e-3, 3e-3)},
    "gd": {f"gd, lr {lr:g}": SHORT.replace(optimizer="gd", learning_rate=lr) for lr in (0.2, 0.5, 1.0, 2.0)},
}


def done_runs() -> dict[tuple[str, int], dict]:
    if not OUT.is_file():
        return {}
    runs = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()]
    return {(run["name"], run["seed"]): run for run in runs}


def train_once(name: str, config: TrainConfig, seed: int, dataset) -> dict:
    with tempfile.TemporaryDirectory() as out:
        _, summary, trainer = experiment.run(config.replace(seed=seed), dataset, out)
    return {
        "name": name,
        "seed": seed,
        "config": dataclasses.asdict(config),
        "dev_accuracy": summary["dev_accuracy"],
        "dev_curve": [record.dev_accuracy for record in trainer.history],
        "train_seconds": summary["train_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--group", nargs="+", choices=sorted(GROUPS), default=["fast"])
    args = parser.parse_args()
    dataset = load("mnist")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    runs = done_runs()
    candidates = {name: config for group in args.group for name, config in GROUPS[group].items()}
    for name, config in candidates.items():
        for seed in args.seeds:
            same = json.loads(json.dumps(dataclasses.asdict(config)))  # as read back from the file
            if (name, seed) in runs and runs[name, seed]["config"] == same:
                continue
            runs[name, seed] = train_once(name, config, seed, dataset)
            with OUT.open("a") as f:
                f.write(json.dumps(runs[name, seed]) + "\n")
            print(f"{name}, seed {seed}: dev {runs[name, seed]['dev_accuracy']:.2%}", flush=True)
    print("| candidate | dev accuracy per seed | mean | training s per seed (shared machine) |")
    print("|---|---|---|---|")
    for name in candidates:
        done = [runs[name, s] for s in args.seeds if (name, s) in runs]
        accuracies = [run["dev_accuracy"] for run in done]
        seconds = ", ".join(f"{run['train_seconds']:.1f}" for run in done)
        print(
            f"| {name} | {', '.join(f'{a:.2%}' for a in accuracies)} | {statistics.fmean(accuracies):.2%} | {seconds} |"
        )
    print(f"(fast preset now: {PRESETS['fast']})")


if __name__ == "__main__":
    main()
