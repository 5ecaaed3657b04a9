"""Kaggle's Digit Recognizer, end to end: train on train.csv, write submission.csv for test.csv.

    python examples/kaggle.py train.csv test.csv [--out submission.csv] [--preset fast] [--dev-size 5000]
                              [--epochs N] [--final]

Advice, from digitnet's benchmarks (benchmarks/RESULTS.md):

- **Dev size.** Kaggle's train.csv has 42 000 labelled digits. Hold out 5000 to measure on: at 98% accuracy that
  measures to about +-0.2% (one standard error, sqrt(0.98 * 0.02 / 5000)), enough to compare two settings; 1000 (the
  original notebook's) only to about +-0.45%. Choose on the dev set, never on Kaggle's leaderboard, then add
  ``--final`` to retrain the chosen settings on every row (dev size 0) for the submission.
- **Preset.** ``fast`` (the default: [784, 800, 10], 16 epochs at batch 512) reaches about 98% in well under a minute
  on two cores; ``best`` ([784, 1024, 1024, 10] with distortions, 150 epochs) about 99.5%, in roughly 17 minutes on
  two cores for Kaggle's 42 000 rows (22 for MNIST's 55 000); ``cnn`` (two convolutions with batch normalisation,
  30 epochs on distorted digits) is the strongest and the slowest, see benchmarks/RESULTS.md for what it measured;
  ``seed`` is the original notebook's recipe, about 90%.
- **Time.** It grows with rows x epochs x the network's weights: try settings with ``--epochs`` small, and run the
  long preset once.
"""

import argparse
import sys
import time

import numpy as np

from digitnet import PRESETS, Network, train
from digitnet.data import dev_split, read_csv
from digitnet.errors import DigitnetError
from digitnet.files import write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train_csv", help="Kaggle's train.csv: label,pixel0,...,pixel783")
    parser.add_argument("test_csv", help="Kaggle's test.csv: pixel0,...,pixel783, no label")
    parser.add_argument("--out", default="submission.csv", help="where to write ImageId,Label")
    parser.add_argument("--preset", default="fast", choices=sorted(PRESETS))
    parser.add_argument("--dev-size", type=int, default=5000, help="rows held out to measure on")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--final", action="store_true", help="train on every row (no dev set) for the submission")
    args = parser.parse_args(argv)

    try:
        labelled = read_csv(args.train_csv, require_labels=True)  # X (n, 784) uint8, y (n,)
        unlabelled = read_csv(args.test_csv)  # X (m, 784); y is None in Kaggle's test.csv
        dev_size = 0 if args.final else min(args.dev_size, len(labelled.X) // 5)
        changes = {"dev_size": dev_size} | ({"epochs": args.epochs} if args.epochs else {})
        config = PRESETS[args.preset].replace(**changes)
        train_rows, dev = dev_split(labelled.X, labelled.y, dev_size, np.random.default_rng(config.seed))
        network = Network(config.sizes, seed=config.seed, dropout=config.dropout)
        start = time.perf_counter()
        dev_X, dev_y = (dev.X, dev.y) if dev_size else (None, None)
        result = train(network, train_rows.X, train_rows.y, config, dev_X, dev_y)
        seconds = time.perf_counter() - start
        took = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
        last = result.history[-1]
        measured = f"dev accuracy {last.dev_accuracy:.2%} on {dev_size} rows" if dev_size else "no dev set (--final)"
        print(f"trained {args.preset} on {len(train_rows.X)} rows in {took}: {measured}")

        labels = network.predict(unlabelled.X)  # (m,) digits
        lines = ["ImageId,Label"] + [f"{i},{label}" for i, label in enumerate(labels, start=1)]  # ImageId from 1
        write_text(args.out, "\n".join(lines) + "\n")  # written beside the target and renamed into place
    except DigitnetError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(f"wrote {len(labels)} predictions to {args.out}; upload it on the competition's Submit page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
