"""Training: epochs of shuffled mini-batches, a report after every few, early stopping, divergence caught.

The loop, in words: shuffle the training rows; for each batch, distort it when augmentation is asked for
(``augment.Distortion``), run forward and backward (``Network.train_step``), set the scheduled learning rate and let
the optimiser update the weights (then cap their norms, with max-norm); every ``report_every`` epochs measure the
dev set, append a record to the history and hand it to ``on_report``. With ``swa_epochs``, the run ends on the mean
of the weights after each of its last epochs. With ``precise_bn`` (and always after averaging), batch norm's
statistics are measured on the undistorted training examples once the last epoch is done. The library never
prints: progress goes through the callbacks, and a request to stop (Ctrl-C in the command line) through ``stop``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .augment import Distortion
from .config import TrainConfig
from .errors import ConfigError, DivergenceError
from .losses import SoftmaxCrossEntropy
from .network import Network, pixels_to_inputs
from .optim import Adam, GradientDescent, Momentum, clip_max_norm, scheduled_learning_rate
from .parallel import BLOCK_ROWS, DataParallel


@dataclass
class Record:
    """One line of the history: where training stands and how well it does."""

    epoch: float  # epochs completed (full batch: iterations)
    step: int  # optimiser steps taken
    learning_rate: float
    train_loss: float  # mean over the batches since the last report, measured before each update
    train_accuracy: float
    dev_loss: float | None
    dev_accuracy: float | None
    seconds: float  # training time so far, evaluation included


@dataclass
class Result:
    history: list[Record]
    best_epoch: float | None  # the report with the lowest dev loss (its weights are restored with early stopping)
    stopped: str  # "finished", "early-stopping" or "interrupted"
    seconds: float


def make_optimizer(config: TrainConfig, network: Network) -> GradientDescent:
    parameters = network.parameters()
    if config.optimizer == "gd":
        return GradientDescent(parameters, config.learning_rate, config.weight_decay)
    if config.optimizer == "momentum":
        return Momentum(parameters, config.learning_rate, config.momentum, config.nesterov, config.weight_decay)
    return Adam(parameters, config.learning_rate, weight_decay=config.weight_decay)


def gather_rows(source: np.ndarray, rows: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """``source[rows]``, copied into the first ``len(rows)`` rows of a reused ``buffer`` instead of a new array.

    ``np.take`` writes straight into ``out`` in ``mode="clip"``; its default mode copies through a temporary first.
    """
    return np.take(source, rows, axis=0, out=buffer[: len(rows)], mode="clip")


@dataclass
class Trainer:
    """Trains ``network`` on ``X`` (n, 784) and labels ``y`` (n,), measuring on the dev set.

    ``X`` is uint8 pixels 0-255, scaled by 1/255 here, or inputs already scaled (floats in [0, 1]), taken as they
    are: the same rule as ``Network.predict`` (``as_inputs``). Everything given is checked first (``check_examples``,
    ``check_fits_network``), with a one-line ``ConfigError`` naming the bad argument.

    All of its state is in plain attributes (weights, optimiser, epoch, random generator, history), so a run can
    be stopped after any step and carried on later.
    """

    network: Network
    config: TrainConfig
    X: np.ndarray
    y: np.ndarray
    X_dev: np.ndarray | None = None
    y_dev: np.ndarray | None = None
    on_report: Callable[[Record], None] | None = None
    on_step: Callable[[int, int], None] | None = None  # (step within the epoch, steps per epoch)
    on_epoch: Callable[[Trainer], None] | None = None  # after each completed epoch (checkpoints hook in here)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        check_fits_network(self.network, self.config)
        check_examples(self.network, self.X, self.y, "X", "y")
        if (self.X_dev is None) != (self.y_dev is None):
            raise ConfigError("pass both X_dev and y_dev, or neither")
        if self.X_dev is not None:
            check_examples(self.network, self.X_dev, self.y_dev, "X_dev", "y_dev", allow_empty=True)
        if self.config.patience and (self.X_dev is None or len(self.X_dev) == 0):
            raise ConfigError(
                f"patience {self.config.patience} stops on the dev loss, and no dev rows were given; "
                "hold some out (--dev-size 5000) or pass --patience 0"
            )
        dtype = self.network.dtype
        config = self.config
        self.distortion = Distortion(
            rotate=config.rotate,
            scale=config.scale,
            shear=config.shear,
            shift=config.shift,
            elastic_alpha=config.elastic_alpha,
            elastic_sigma=config.elastic_sigma,
            flip=config.flip,
            crop=config.crop,
            erase=config.erase,
        )
        self.augment_rng = np.random.default_rng([config.seed, 2])  # the distortions; used only when there are any
        # Convert the pixels once. Mini-batches are gathered from these rows into a reused buffer (below); the full
        # batch is used whole and kept column-major, where its thin products run faster (see layers.order_of).
        # Data-parallel, an undistorted full batch of pixels stays uint8: each thread scales a block at a time.
        full_batch = config.batch_size == 0 or config.batch_size >= len(self.X)
        if full_batch and config.data_parallel > 1 and self.X.dtype == np.uint8 and self.distortion.is_identity:
            self.inputs = np.ascontiguousarray(self.X)  # (n, 784) uint8
        else:
            self.inputs = as_inputs(self.X, dtype, order="F" if full_batch and config.data_parallel == 1 else "C")
        self.dev_inputs = None if self.X_dev is None else as_inputs(self.X_dev, dtype)
        self.optimizer = make_optimizer(config, self.network)
        self.network.loss = SoftmaxCrossEntropy(config.label_smoothing)  # the training loss
        self.parallel = None  # or the copies that each take a part of every batch (parallel.py)
        if config.data_parallel > 1:
            rngs = [np.random.default_rng([config.seed, 3, i]) for i in range(config.data_parallel)]  # their dropout
            self.parallel = DataParallel(self.network, rngs)
        self.rng = np.random.default_rng([config.seed, 1])  # shuffling; independent of init and dev split
        n = len(self.X)
        self.batch_size = n if self.config.batch_size == 0 else min(self.config.batch_size, n)
        self.X_batch = np.empty((0 if full_batch else self.batch_size, self.inputs.shape[1]), dtype)  # reused
        self.y_batch = np.empty(0 if full_batch else self.batch_size, self.y.dtype)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        self.epoch = 0  # completed epochs
        self.step = 0  # optimiser steps taken
        self.step_in_epoch = 0  # steps taken in the epoch under way
        self.order: np.ndarray | None = None  # the epoch's shuffled row order (None with full batches)
        self.history: list[Record] = []
        self.best: tuple[float, float, dict] | None = None  # (dev loss, epoch, weights)
        self.seconds = 0.0
        self.average: list[np.ndarray] | None = None  # swa_epochs: the mean of the parameters' values so far
        self.averaged = 0  # epochs in that mean
        self._since_report = [0.0, 0, 0]  # summed loss * n, correct, examples

    def run(self) -> Result:
        """Train until the configured epochs are done, early stopping triggers, or ``stop`` is set."""
        config = self.config
        stopped = "finished"
        last_good = self.network.state_dict()
        while self.epoch < config.epochs:
            start = time.perf_counter()
            try:
                # a NaN loss is caught and reported; data-parallel, all of the epoch's BLAS runs on one thread
                with np.errstate(over="ignore", invalid="ignore"), self._blas_for_steps():
                    finished = self._run_epoch()
            except DivergenceError:
                self.network.load_state_dict(last_good)
                raise
            self.seconds += time.perf_counter() - start
            if not finished:
                stopped = "interrupted"
                break
            if self.epoch > config.epochs - config.swa_epochs:  # one of the last swa_epochs: into the average
                self._add_to_average()
            if self.epoch % config.report_every == 0 or self.epoch == config.epochs:
                start = time.perf_counter()
                record = self._report()
                self.seconds += time.perf_counter() - start
                record.seconds = self.seconds
                last_good = self.network.state_dict()
                if self._should_stop_early():
                    stopped = "early-stopping"
            if self.stop.is_set() and stopped == "finished" and self.epoch < config.epochs:
                stopped = "interrupted"  # asked to stop on an epoch's last step: the epoch was finished first
            if self.on_epoch is not None:
                self.on_epoch(self)
            if stopped != "finished":
                break
        if config.patience and self.best is not None and stopped != "interrupted":
            self.network.load_state_dict(self.best[2])
        if stopped != "interrupted":  # the end of training: both counted as training time
            start = time.perf_counter()
            if self.average is not None:
                for (value, _, _), mean in zip(self.network.parameters(), self.average, strict=True):
                    value[...] = mean
            # averaged weights never ran a step, so their batch norms have no statistics of their own yet
            if config.precise_bn or (self.average is not None and self.network.has_batch_norm):
                self.network.recalibrate_batch_norm(self.inputs)
            self.seconds += time.perf_counter() - start
        best_epoch = None if self.best is None else self.best[1]
        return Result(self.history, best_epoch, stopped, self.seconds)

    def _add_to_average(self) -> None:
        """Stochastic weight averaging (Izmailov et al. 2018): the running mean of the weights at the end of each
        of the last ``swa_epochs`` epochs, ``mean += (W - mean) / k`` at the k-th. Weights late in a run wander
        about a wide valley of low loss; their mean lies nearer its middle than most of them do (see
        docs/weight-averaging.md)."""
        self.averaged += 1
        values = [value for value, _, _ in self.network.parameters()]
        if self.average is None:
            self.average = [value.copy() for value in values]
            return
        for mean, value in zip(self.average, values, strict=True):
            mean += (value - mean) / self.averaged

    def _blas_for_steps(self):
        """Data-parallel, the steps' BLAS threads: one, between the copies' steps as well as in them (the elastic
        distortion's smoothing is a matrix product; see ``DataParallel.one_blas_thread``). Otherwise as they are."""
        return contextlib.nullcontext() if self.parallel is None else self.parallel.one_blas_thread()

    def _run_epoch(self) -> bool:
        """Take the epoch's remaining steps; returns False if ``stop`` was set before the epoch ended."""
        n = len(self.X)
        full_batch = self.batch_size == n
        if self.step_in_epoch == 0 and not full_batch:  # a resumed run keeps the order it was interrupted in
            self.order = self.rng.permutation(n)
        while self.step_in_epoch < self.steps_per_epoch:
            i = self.step_in_epoch
            if full_batch:  # every row every step: no shuffling and no copying needed
                X_batch, y_batch = self.inputs, self.y
            else:
                rows = self.order[i * self.batch_size : (i + 1) * self.batch_size]
                X_batch = gather_rows(self.inputs, rows, self.X_batch)  # self.inputs[rows], (batch, 784)
                y_batch = gather_rows(self.y, rows, self.y_batch)  # self.y[rows], (batch,)
            X_batch = self.distortion(X_batch, self.augment_rng)  # a new distorted copy, or X_batch when none
            if self.parallel is None:
                loss, correct = self.network.train_step(X_batch, y_batch)
            else:  # the same gradients, from parts of the batch on several threads
                loss, correct = self.parallel.train_step(X_batch, y_batch, BLOCK_ROWS if full_batch else None)
            if not math.isfinite(loss):
                raise DivergenceError(
                    f"the loss became {loss} at step {self.step + 1} (epoch {self.epoch + 1}); the last good "
                    f"weights are kept; try a lower learning rate than {self.config.learning_rate}"
                )
            self.optimizer.learning_rate = self.learning_rate(self.epoch + i / self.steps_per_epoch)
            self.optimizer.step()
            if self.config.max_norm:
                for layer in self.network.dense_layers:
                    clip_max_norm(layer.W, self.config.max_norm)
            self.step += 1
            self.step_in_epoch += 1
            self._since_report[0] += loss * len(y_batch)
            self._since_report[1] += correct
            self._since_report[2] += len(y_batch)
            if self.on_step is not None:
                self.on_step(self.step_in_epoch, self.steps_per_epoch)
            if self.stop.is_set() and self.step_in_epoch < self.steps_per_epoch:
                return False
        self.epoch += 1
        self.step_in_epoch = 0
        self.order = None
        return True

    # Everything a resumed run needs, as arrays (for safetensors) and JSON-ready values; nothing is pickled.
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {f"network/{k}": v for k, v in self.network.state_dict().items()}
        arrays |= {f"optimizer/{k}": np.asarray(v) for k, v in self.optimizer.state_dict().items()}
        if self.best is not None:
            arrays |= {f"best/{k}": v for k, v in self.best[2].items()}
        if self.order is not None:
            arrays["order"] = self.order
        if self.average is not None:
            arrays |= {f"average/{i}": mean for i, mean in enumerate(self.average)}
        values = {
            "train_rows": len(self.X),  # checked on loading: the order and the schedule only fit the same data
            "epoch": self.epoch,
            "step": self.step,
            "step_in_epoch": self.step_in_epoch,
            "rng": self.rng.bit_generator.state,
            "augment_rng": self.augment_rng.bit_generator.state,
            "dropout_rng": self.network.rng.bit_generator.state,
            "parallel_rngs": [] if self.parallel is None else [t.rng.bit_generator.state for t in self.parallel.copies],
            "history": [dataclasses.asdict(r) for r in self.history],
            "best": None if self.best is None else self.best[:2],
            "seconds": self.seconds,
            "averaged": self.averaged,
            "since_report": self._since_report,
        }
        return arrays, values

    def load_state_dict(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        def group(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}

        rows = values.get("train_rows", len(self.X))
        if rows != len(self.X):
            raise ConfigError(
                f"the checkpoint was trained on {rows} rows but this run has {len(self.X)}; resume with the run's "
                "own data and dev size"
            )

        self.network.load_state_dict(group("network/"))
        self.optimizer.load_state_dict(group("optimizer/"))
        self.order = arrays.get("order")
        self.epoch, self.step, self.step_in_epoch = values["epoch"], values["step"], values["step_in_epoch"]
        self.rng.bit_generator.state = values["rng"]
        self.augment_rng.bit_generator.state = values["augment_rng"]
        self.network.rng.bit_generator.state = values["dropout_rng"]
        states = values.get("parallel_rngs", [])  # one per copy; none for a single copy
        copies = [] if self.parallel is None else self.parallel.copies
        if len(states) != len(copies):
            raise ConfigError(
                f"the checkpoint was trained with data_parallel {len(states) or 1} but this run asks for "
                f"{len(copies) or 1}; resume with the run's own --data-parallel"
            )
        for twin, state in zip(copies, states, strict=True):
            twin.rng.bit_generator.state = state
        self.history = [Record(**r) for r in values["history"]]
        self.best = None if values["best"] is None else (*values["best"], group("best/"))
        self.seconds = values["seconds"]
        self.averaged = values.get("averaged", 0)  # checkpoints from before swa_epochs have none
        average = group("average/")
        self.average = [average[str(i)].copy() for i in range(len(average))] if self.averaged else None
        self._since_report = list(values["since_report"])

    def learning_rate(self, epoch: float) -> float:
        c = self.config
        return scheduled_learning_rate(
            c.learning_rate, c.schedule, epoch, c.epochs, c.step_every, c.step_gamma, c.warmup_epochs
        )

    def _report(self) -> Record:
        total_loss, correct, seen = self._since_report
        self._since_report = [0.0, 0, 0]
        dev_loss = dev_accuracy = None
        if self.dev_inputs is not None and len(self.dev_inputs):
            dev_loss, dev_accuracy = self.network.evaluate(self.dev_inputs, self.y_dev)
        record = Record(
            epoch=self.epoch,
            step=self.step,
            learning_rate=self.learning_rate(self.epoch),
            train_loss=total_loss / seen,
            train_accuracy=correct / seen,
            dev_loss=dev_loss,
            dev_accuracy=dev_accuracy,
            seconds=self.seconds,
        )
        self.history.append(record)
        if dev_loss is not None and (self.best is None or dev_loss < self.best[0]):
            self.best = (dev_loss, self.epoch, self.network.state_dict())
        if self.on_report is not None:
            self.on_report(record)
        return record

    def _should_stop_early(self) -> bool:
        patience = self.config.patience
        if not patience or self.best is None:
            return False
        reports_since_best = sum(1 for r in self.history if r.epoch > self.best[1])
        return reports_since_best >= patience


def as_inputs(X: np.ndarray, dtype, order: str = "C") -> np.ndarray:
    """The one rule for what a network reads: uint8 pixels 0-255 are scaled by 1/255; any other numbers (floats
    in [0, 1], say) are inputs already and taken as they are (``Network.predict`` follows the same rule)."""
    if X.dtype == np.uint8:
        return pixels_to_inputs(X, dtype, order=order)
    return np.array(X, dtype=dtype, order=order, copy=True)  # ours: the caller may change theirs


def check_fits_network(network: Network, config: TrainConfig) -> None:
    """Refuse a configuration that describes another network than the one given."""
    if tuple(config.sizes) != tuple(network.sizes):
        raise ConfigError(
            f"the configuration's sizes {list(config.sizes)} are not the network's {list(network.sizes)}; "
            "build it with Network(config.sizes, ...) or pass config.replace(sizes=network.sizes)"
        )
    if network.dropout != config.dropout:
        raise ConfigError(
            f"the network has dropout {network.dropout} but the configuration asks for {config.dropout}; "
            "build it with Network(config.sizes, dropout=config.dropout)"
        )
    if network.dtype != np.dtype(config.dtype):
        raise ConfigError(
            f"the network is {network.dtype} but the configuration asks for {config.dtype}; "
            "build it with Network(config.sizes, dtype=config.dtype)"
        )


def check_examples(
    network: Network, X: np.ndarray, y: np.ndarray, x_name: str, y_name: str, *, allow_empty: bool = False
) -> None:
    """Refuse examples the network cannot learn from, naming the argument, the problem and the fix."""
    if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
        raise ConfigError(f"{x_name} and {y_name} must be NumPy arrays, got {type(X).__name__} and {type(y).__name__}")
    width = int(np.prod([int(d) for d in str(network.sizes[0]).split("x")]))  # 784, or "28x28x1" -> 784
    if X.ndim != 2 or X.shape[1] != width:
        raise ConfigError(
            f"{x_name} has shape {X.shape} but the network's first layer takes {width} values per example; "
            f"pass {x_name} as (n, {width}), one row per example"
        )
    if y.ndim != 1 or len(y) != len(X):
        raise ConfigError(f"{x_name} has {len(X)} rows but {y_name} has shape {y.shape}; pass one label per row")
    if not len(X) and not allow_empty:
        raise ConfigError(f"{x_name} has no rows; pass at least one example")
    if X.dtype.kind not in "iuf":
        raise ConfigError(f"{x_name} is {X.dtype}; pass uint8 pixels 0-255, or numbers already scaled (e.g. to [0, 1])")
    if X.dtype.kind == "f" and len(X) and not np.isfinite(X).all():
        raise ConfigError(f"{x_name} holds NaN or infinite values; pass finite inputs")
    classes = network.sizes[-1]
    if y.dtype.kind not in "iu":
        raise ConfigError(f"{y_name} is {y.dtype}; pass integer labels from 0 to {classes - 1}")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise ConfigError(
            f"{y_name} holds labels from {y.min()} to {y.max()} but the network has {classes} classes (0 to "
            f"{classes - 1}); make the last size at least {y.max() + 1}"
        )


def train(
    network: Network,
    X: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    X_dev: np.ndarray | None = None,
    y_dev: np.ndarray | None = None,
    **callbacks,
) -> Result:
    """Train ``network`` in place; see ``Trainer`` for the arguments and ``Result`` for what comes back."""
    return Trainer(network, config, X, y, X_dev, y_dev, **callbacks).run()
