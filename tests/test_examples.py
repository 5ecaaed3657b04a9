"""The examples in examples/ run as a reader would run them, on the shipped sample, and reach their accuracy bars."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitnet.data import load

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def percentages(text: str, label: str) -> list[float]:
    return [float(p) / 100 for p in re.findall(rf"{label} (\d+\.\d+)%", text)]


def test_the_training_loop_from_raw_parts_learns(tmp_path):
    done = run_example("train_loop.py", "--epochs", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    accuracies = percentages(done.stdout, "dev accuracy")
    assert len(accuracies) == 4
    assert accuracies[-1] > 0.85  # 2500 training digits, four epochs
    losses = [float(x) for x in re.findall(r"train loss (\d+\.\d+)", done.stdout)]
    assert losses[-1] < losses[0]
    assert len((ROOT / "examples" / "train_loop.py").read_text().splitlines()) <= 45  # "about 30 lines"


def test_a_new_layer_is_checked_and_trained_with(tmp_path):
    done = run_example("new_layer.py", "--epochs", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    assert first.startswith("WrongLeakyReLU layer: the gradient of X is off")  # the broken one is caught
    assert second.startswith("Network (3 layers): gradients match")  # the right one passes, inside a network
    assert percentages(done.stdout, "test accuracy:")[0] > 0.85


def test_the_new_layer_is_really_used():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import new_layer
    finally:
        sys.path.remove(str(ROOT / "examples"))
    from digitnet.network import Network

    network = new_layer.with_leaky_relus(Network([4, 3, 2], seed=0, dtype=np.float64), 0.5)
    assert sum(isinstance(layer, new_layer.LeakyReLU) for layer in network.layers) == 1
    X = -np.ones((1, 4))  # drives every hidden unit negative
    network.layers[0].b[:] = 0
    network.layers[0].W[:] = np.abs(network.layers[0].W)
    hidden = network.layers[1].forward(network.layers[0].forward(X.copy()))
    assert np.all(hidden < 0)  # leaky: a ReLU would give 0


@pytest.fixture(scope="module")
def kaggle_files(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    """The sample written as Kaggle writes its files: train.csv with labels, test.csv without (labels kept aside)."""
    folder = tmp_path_factory.mktemp("kaggle")
    sample = load("sample")
    header = [f"pixel{i}" for i in range(784)]
    with (folder / "train.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", *header])
        writer.writerows(np.column_stack([sample.train.y, sample.train.X]).tolist())
    with (folder / "test.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(sample.test.X.tolist())
    return folder / "train.csv", folder / "test.csv", sample.test.y


def test_kaggle_end_to_end(kaggle_files, tmp_path):
    train_csv, test_csv, truth = kaggle_files
    done = run_example("kaggle.py", str(train_csv), str(test_csv), "--epochs", "10", "--dev-size", "500", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "dev accuracy" in done.stdout and "on 2500 rows" in done.stdout
    rows = (tmp_path / "submission.csv").read_text().splitlines()
    assert rows[0] == "ImageId,Label"
    ids, labels = zip(*(map(int, row.split(",")) for row in rows[1:]), strict=True)
    assert list(ids) == list(range(1, len(truth) + 1))
    assert np.mean(np.array(labels) == truth) > 0.85  # the fast preset for ten epochs on 2500 digits (about 89%)


def test_kaggle_final_trains_on_every_row(kaggle_files, tmp_path):
    train_csv, test_csv, _ = kaggle_files
    out = tmp_path / "final.csv"
    done = run_example(
        "kaggle.py", str(train_csv), str(test_csv), "--epochs", "1", "--final", "--out", str(out), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "on 3000 rows" in done.stdout and "no dev set" in done.stdout
    assert len(out.read_text().splitlines()) == 1001


def test_kaggle_refuses_a_test_file_for_training(kaggle_files, tmp_path):
    _, test_csv, _ = kaggle_files
    done = run_example("kaggle.py", str(test_csv), str(test_csv), cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "submission.csv").exists()
