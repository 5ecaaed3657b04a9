"""Progress: a live bar on a terminal, plain lines anywhere else, and nothing but errors with --quiet."""

import io
import re

from digitnet import TrainConfig
from digitnet.cli import main
from digitnet.progress import DownloadProgress, TrainProgress, summary_table
from digitnet.train import Record

CONFIG = TrainConfig(sizes=(784, 16, 10), epochs=2, batch_size=100, dev_size=0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(epoch: int) -> Record:
    return Record(epoch, 3 * epoch, 0.05, 0.5 / epoch, 0.8 + epoch / 100, 0.6 / epoch, 0.75 + epoch / 100, epoch * 1.5)


def train_for_two_epochs(progress: TrainProgress) -> None:
    # what a Trainer does with 250 rows in batches of 100: three steps an epoch, a report after each epoch
    with progress:
        for epoch in (1, 2):
            for step in (1, 2, 3):
                progress.on_step(step, 3)
            progress.on_report(record(epoch))


def test_outside_a_terminal_training_prints_one_plain_line_per_report():
    stream = io.StringIO()
    train_for_two_epochs(TrainProgress(CONFIG, 250, stream=stream))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2  train loss 0.5000 accuracy 81.00%  dev loss 0.6000 accuracy 76.00%  ")
    # 250 examples in 1.5 s; as long again for the one epoch left
    assert lines[0].endswith("167 examples/s  00:02 elapsed, 00:02 left")
    assert lines[1].endswith("00:03 elapsed, 00:00 left")


def test_on_a_terminal_training_draws_a_bar_with_epoch_step_rate_loss_dev_and_time_left():
    stream = Terminal()
    train_for_two_epochs(TrainProgress(CONFIG, 250, stream=stream))
    final = stream.getvalue().split("\r")[-1]
    # epoch and step, a full bar ('#' where the stream cannot show blocks), examples/s, the last report, time left
    assert re.match(
        r"epoch 2/2 step 3/3 100%\|[#█]+\| [\d.]+[kM]? examples/s, loss 0\.2500, dev 77\.00% \[00:00<00:00\]", final
    )


def test_quiet_progress_prints_nothing_even_on_a_terminal():
    for stream in (io.StringIO(), Terminal()):
        train_for_two_epochs(TrainProgress(CONFIG, 250, quiet=True, stream=stream))
        with DownloadProgress(quiet=True, stream=stream) as download:
            download.status("fetching MNIST from somewhere")
            download.update(100, 100)
        assert stream.getvalue() == ""


def test_downloads_outside_a_terminal_print_a_line_at_each_quarter_of_each_file():
    stream = io.StringIO()
    with DownloadProgress(stream=stream) as download:
        for done in range(0, 8_000_001, 1_000_000):  # one file of 8 MB
            download.update(done, 8_000_000)
        download.update(500_000, 1_000_000)  # the next file starts over
    assert stream.getvalue().splitlines() == [
        "download: 2.0 MB of 8.0 MB",
        "download: 4.0 MB of 8.0 MB",
        "download: 6.0 MB of 8.0 MB",
        "download: 8.0 MB of 8.0 MB",
        "download: 0.5 MB of 1.0 MB",
    ]


def test_each_step_of_a_download_is_a_line_on_a_terminal_and_off_it():
    for stream in (io.StringIO(), Terminal()):
        with DownloadProgress(stream=stream) as download:
            download.status("fetching MNIST from https://example.org/")
            download.update(1_000_000, 1_000_000)
            download.status("MNIST: 60,000 training and 10,000 test images, SHA-256 verified, cached at here")
        lines = stream.getvalue().splitlines()
        assert lines[0] == "download: fetching MNIST from https://example.org/"
        assert lines[-1].endswith(
            "download: MNIST: 60,000 training and 10,000 test images, SHA-256 verified, cached at here"
        )


def test_a_cached_download_prints_nothing():
    stream = Terminal()
    with DownloadProgress(stream=stream):
        pass
    assert stream.getvalue() == ""


def test_train_outside_a_terminal_prints_plain_progress_lines_a_table_and_the_report(trained_run_and_output):
    run, stdout, stderr = trained_run_and_output
    assert "\r" not in stderr
    assert [line.split("  ")[0] for line in stderr.splitlines()] == [f"epoch {e}/8" for e in range(1, 9)]
    lines = stdout.splitlines()
    assert re.match(r"\s+loss\s+accuracy\s+digits$", lines[1])
    assert [line.split()[0] for line in lines[2:5]] == ["train", "dev", "test"]
    assert lines[-1] == f"report: {run / 'report.html'}"


def test_quiet_train_prints_nothing_and_still_writes_the_report(tmp_path, capsys):
    argv = ["train", "--data", "sample", "--sizes", "784,8,10", "--epochs", "1", "--dev-size", "500"]
    assert main([*argv, "--quiet", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "report.html").is_file()


def test_quiet_still_prints_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "nowhere.csv", "--quiet"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("digitnet: error: unknown data source 'nowhere.csv'") and err.count("\n") == 1


def test_summary_table_lines_up_the_splits():
    summary = {
        "epochs": 2,
        "train_seconds": 3.04,
        "stopped": "finished",
        "best_epoch": 2,
        "train_examples": 250,
        "dev_examples": 50,
        "dev_loss": 0.3,
        "dev_accuracy": 0.9,
        "test_examples": 1000,
        "test_loss": 0.31,
        "test_accuracy": 0.885,
        "config": {"batch_size": 100},
    }
    assert summary_table(summary, [record(1), record(2)]).splitlines() == [
        "         loss  accuracy  digits",
        "train  0.2500    82.00%     250  (measured while learning)",
        "dev    0.3000    90.00%      50",
        "test   0.3100    88.50%   1,000",
        "2 epochs in 3.0s (finished); best epoch 2 (lowest dev loss)",
    ]


def test_summary_table_says_when_the_model_is_an_average_of_epochs():
    summary = {"epochs": 4, "train_seconds": 1.0, "stopped": "finished", "best_epoch": None, "train_examples": 10,
               "config": {"batch_size": 100, "swa_epochs": 3}}  # fmt: skip
    lines = summary_table(summary, [record(4)]).splitlines()
    assert lines[-1] == "the model: the mean of the weights after each of the last 3 epochs (SWA)"
    assert "SWA" not in summary_table({**summary, "config": {"batch_size": 100}}, [record(4)])
