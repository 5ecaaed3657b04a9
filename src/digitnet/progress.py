"""What the command line shows while it works: a live bar on a terminal, plain lines in a log, nothing when quiet.

The library reports progress through callbacks (the ``Trainer``'s ``on_step`` and ``on_report``, the data
loaders' ``progress``) and never prints; the classes here turn those calls into output for the command line. On a
terminal they draw a tqdm bar that redraws in place; when the output is a file, a pipe or a CI log, a bar's
carriage returns would make it unreadable, so they print one plain line per report instead.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from .config import TrainConfig
from .train import Record


def is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class TrainProgress:
    """Shows training as it happens: epoch, step, examples per second, loss, dev accuracy and time left.

    ``n_train`` is the number of training rows (without the dev rows). Use as a context manager, and pass
    ``on_step`` and ``on_report`` to the trainer.
    """

    def __init__(self, config: TrainConfig, n_train: int, *, quiet: bool = False, stream: IO[str] | None = None):
        self.config = config
        self.n_train = max(n_train, 1)
        self.batch_size = self.n_train if config.batch_size == 0 else min(config.batch_size, self.n_train)
        self.unit = "iteration" if config.batch_size == 0 else "epoch"
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.live = not quiet and is_terminal(self.stream)
        self.bar = None
        self.epoch = 0  # epochs completed
        self.last: Record | None = None

    def __enter__(self) -> TrainProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def on_step(self, step: int, steps_per_epoch: int) -> None:
        if self.live:
            if self.bar is None:
                self.bar = self._make_bar()
            self.bar.set_description_str(
                f"{self.unit} {self.epoch + 1}/{self.config.epochs} step {step}/{steps_per_epoch}", refresh=False
            )
            # examples in this step: a full batch, except for the last, shorter one of each epoch
            self.bar.update(min(self.batch_size, self.n_train - (step - 1) * self.batch_size))
        if step == steps_per_epoch:
            self.epoch += 1

    def on_report(self, record: Record) -> None:
        self.last = record
        if self.quiet:
            return
        if self.live:
            if self.bar is not None:
                self.bar.set_postfix_str(_scores(record, short=True))
            return
        examples = record.epoch * self.n_train
        rate = examples / record.seconds if record.seconds > 0 else float("inf")
        left = record.seconds / record.epoch * (self.config.epochs - record.epoch)
        print(
            f"{self.unit} {record.epoch:>{len(str(self.config.epochs))}g}/{self.config.epochs}  {_scores(record)}  "
            f"{rate:,.0f} examples/s  {_clock(record.seconds)} elapsed, {_clock(left)} left",
            file=self.stream,
            flush=True,
        )

    def _make_bar(self):
        from tqdm import tqdm

        return tqdm(
            desc=f"{self.unit} 1/{self.config.epochs}",
            total=self.config.epochs * self.n_train,
            unit=" examples",
            unit_scale=True,
            file=self.stream,
            dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {rate_fmt}{postfix} [{elapsed}<{remaining}]",
        )


def _scores(record: Record, short: bool = False) -> str:
    has_dev = record.dev_accuracy is not None
    if short:  # for the bar's narrow tail
        return f"loss {record.train_loss:.4f}" + (f", dev {record.dev_accuracy:.2%}" if has_dev else "")
    dev = f"  dev loss {record.dev_loss:.4f} accuracy {record.dev_accuracy:.2%}" if has_dev else ""
    return f"train loss {record.train_loss:.4f} accuracy {record.train_accuracy:.2%}{dev}"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class DownloadProgress:
    """Shows a first download: a line for each step (the source tried, what came of it, where the verified data
    was cached), and the bytes as a bar on a terminal or a line at each quarter of each file otherwise.

    Use as a context manager; pass its ``update`` as the data loaders' ``progress`` and its ``status`` as their
    ``status``. A source that is already cached prints nothing.
    """

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.live = not quiet and is_terminal(self.stream)
        self.bar = None
        self.done = 0
        self.quarter = 0  # the last quarter of the current file announced (plain lines)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def status(self, line: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:  # a finished file's bar gives way to the line
            self.bar.close()
            self.bar = None
        print(f"download: {line}", file=self.stream, flush=True)

    def update(self, done: int, total: int | None) -> None:
        if self.quiet:
            return
        new_file = done < self.done
        self.done = done
        if self.live:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="B", unit_scale=True, desc="download", file=self.stream)
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()
            return
        if new_file:
            self.quarter = 0
        # a line at 25, 50, 75 and 100% of each file; every 10 MB when the server does not say the size
        quarter = 4 * done // total if total else done // 10_000_000
        if quarter > self.quarter:
            self.quarter = quarter
            size = f" of {_megabytes(total)}" if total else ""
            print(f"download: {_megabytes(done)}{size}", file=self.stream, flush=True)


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def summary_table(summary: dict[str, Any], history: list[Record]) -> str:
    """The end of a training run as a small table: loss, accuracy and digits of train, dev and test."""
    last = history[-1] if history else None
    rows = [("", "loss", "accuracy", "digits")]
    if last is not None:
        rows.append(("train", f"{last.train_loss:.4f}", f"{last.train_accuracy:.2%}", f"{summary['train_examples']:,}"))
    for split in ("dev", "test"):
        if summary.get(f"{split}_accuracy") is not None:
            loss, accuracy = summary[f"{split}_loss"], summary[f"{split}_accuracy"]
            rows.append((split, f"{loss:.4f}", f"{accuracy:.2%}", f"{summary[f'{split}_examples']:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    # the split names on the left, the numbers lined up on the right
    lines = ["  ".join([row[0].ljust(widths[0]), *(row[i].rjust(widths[i]) for i in (1, 2, 3))]) for row in rows]
    unit = "iterations" if (summary.get("config") or {}).get("batch_size") == 0 else "epochs"
    best = ""
    if summary.get("best_epoch") is not None:
        best = f"; best {unit[:-1]} {summary['best_epoch']:g} (lowest dev loss)"
    lines.append(f"{summary['epochs']} {unit} in {summary['train_seconds']:.1f}s ({summary['stopped']}){best}")
    averaged = (summary.get("config") or {}).get("swa_epochs")
    if averaged and summary["stopped"] == "finished":  # dev and test above read the mean, not the last epoch
        lines.append(f"the model: the mean of the weights after each of the last {averaged} {unit} (SWA)")
    if last is not None:
        lines[1] += "  (measured while learning)"
    return "\n".join(lines)
