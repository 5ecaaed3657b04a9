"""Sweeps: many training runs over a search space of ``TrainConfig`` fields, on Optuna.

A search space names fields and the values to try, in a small TOML or JSON file:

    [learning_rate]            # a range: floats (or ints, for an int field), log-uniform with log = true
    low = 0.01
    high = 0.5
    log = true

    [sizes]                    # a list of choices (a convolutional spec too: "conv5x5x32-pool-128-10")
    choices = ["784,128,10", "784,256,10"]

or as command-line options, ``--search learning_rate=0.01..0.5:log --search sizes=784,128,10|784,256,10``.
Every field the space leaves out keeps the base configuration's value.

Each trial draws a configuration from the space and trains it (``experiment.run``). After every report its dev
accuracy goes to Optuna, whose pruner may stop the trial early when it does worse than the median of the trials
before it at the same epoch; a trial that finishes is scored by its final dev accuracy (the test set chooses
nothing, here as in every run).

The study lives in an Optuna storage, which is what lets several workers share it: a journal file (the default)
for processes on one machine, or a database URL (``postgresql://user:password@host/db``) that workers on any number
of machines point at. Each worker asks the storage for its next trial, so no trial runs twice and the counts add up.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from . import spec
from .config import TrainConfig
from .data import Dataset
from .errors import ConfigError, DivergenceError
from .experiment import check_fits, run

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


@dataclass(frozen=True)
class Param:
    """One field's values to try: a range ``low``..``high`` (log-uniform if ``log``) or a list of ``choices``."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def suggest(self, trial: optuna.Trial) -> Any:
        kind = type(FIELDS[self.name].default)
        if self.choices is not None:
            return to_field(self.name, trial.suggest_categorical(self.name, self.choices))
        if kind is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


def to_field(name: str, value: Any) -> Any:
    """A value as stored by Optuna (numbers, strings, booleans) -> the TrainConfig field's value."""
    if name == "sizes":  # choices of sizes are text, "784,128,10" or "conv5x5x32-pool-10": Optuna's are plain values
        return spec.normalize(str(value))
    return value


def make_param(name: str, spec: Any) -> Param:
    """A field's entry in a search-space file (a table with low/high/log or choices, or a bare list of choices)."""
    if name not in FIELDS:
        raise ConfigError(f"search space: {name!r} is not a TrainConfig field; choose from {', '.join(FIELDS)}")
    kind = type(FIELDS[name].default)
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict) or not (set(spec) <= {"low", "high", "log", "choices"}) or not spec:
        raise ConfigError(f"search space: {name} must be low/high (and log) or choices, got {spec!r}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"search space: {name} choices must be a non-empty list, got {choices!r}")
        if name == "sizes":
            choices = [spec.to_text(spec.normalize(c)) if isinstance(c, list) else str(c) for c in choices]
        for choice in choices:  # each must make a valid configuration on its own
            try:
                TrainConfig(**{name: to_field(name, choice)})
            except (ConfigError, ValueError, TypeError) as error:
                raise ConfigError(f"search space: {name} choice {choice!r} is not valid ({error})") from None
        return Param(name, choices=tuple(choices))
    if kind not in (int, float):
        raise ConfigError(f"search space: {name} is not a number; give it choices = [...] instead of low/high")
    low, high, log = spec.get("low"), spec.get("high"), bool(spec.get("log", False))
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or not low < high:
        raise ConfigError(f"search space: {name} needs numbers low < high, got low={low!r} high={high!r}")
    if log and low <= 0:
        raise ConfigError(f"search space: {name} log range needs low > 0, got {low}")
    return Param(name, float(low), float(high), log)


def read_space(path: str | os.PathLike) -> dict[str, Param]:
    """Read a search space from a ``.toml`` or ``.json`` file: a table (object) per field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read search space {path} ({error.strerror or error}); check the path") from None
    try:
        if path.suffix == ".toml":
            import tomllib  # Python 3.11+

            table = tomllib.loads(text)
        else:
            table = json.loads(text)
    except ImportError:
        raise ConfigError(f"{path}: TOML needs Python 3.11 or newer; write the search space as JSON") from None
    except ValueError as error:  # json.JSONDecodeError and tomllib.TOMLDecodeError are both ValueErrors
        raise ConfigError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'} ({error}); fix it") from None
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{path}: a search space is a table per TrainConfig field, e.g. [learning_rate]")
    return {name: make_param(name, spec) for name, spec in table.items()}


def parse_search(text: str) -> Param:
    """``NAME=LOW..HIGH[:log]`` (a range) or ``NAME=A|B|C`` (choices), as ``--search`` takes it."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values:
        raise ConfigError(f"--search {text!r}: write NAME=LOW..HIGH[:log] or NAME=A|B|C")
    kind = type(FIELDS[name].default) if name in FIELDS else str
    if ".." in values and kind in (int, float):
        bounds, _, flag = values.partition(":")
        low, _, high = bounds.partition("..")
        try:
            spec = {"low": kind(low), "high": kind(high), "log": flag == "log"}
        except ValueError:
            raise ConfigError(f"--search {text!r}: {low!r} and {high!r} must be numbers") from None
        if flag not in ("", "log"):
            raise ConfigError(f"--search {text!r}: the only flag after ':' is log")
        return make_param(name, spec)
    choices = [choice.strip() for choice in values.split("|")]
    if kind is bool:
        choices = [choice.lower() in ("true", "1", "yes") for choice in choices]
    elif kind in (int, float):
        try:
            choices = [kind(choice) for choice in choices]
        except ValueError:
            raise ConfigError(f"--search {text!r}: each choice of {name} must be a number") from None
    return make_param(name, {"choices": choices})


def shown(storage: str | os.PathLike) -> str:
    """The storage as it may be printed: a database URL's password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", str(storage))


def open_storage(storage: str | os.PathLike):
    """A database URL (``postgresql://...``, ``sqlite:///...``) or a path to a journal file (made if missing)."""
    text = str(storage)
    if "://" in text:
        if text.startswith("postgresql://") and not _has_module("psycopg2") and _has_module("psycopg"):
            text = "postgresql+psycopg://" + text.removeprefix("postgresql://")  # SQLAlchemy's name for psycopg 3
        return optuna.storages.RDBStorage(text, engine_kwargs={"pool_pre_ping": True})
    path = Path(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The journal is an append-only log of every worker's operations; a lock file beside it serialises them.
    lock = optuna.storages.journal.JournalFileOpenLock(str(path) + ".lock")
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path), lock_obj=lock))


def open_study(name: str, storage: str | os.PathLike, *, prune: bool = True, seed: int | None = None):
    """The study ``name`` in ``storage``, made on first use; every worker of a sweep opens the same one."""
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0) if prune else optuna.pruners.NopPruner()
    attempts = 4 if "://" in str(storage) else 1
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                study_name=name,
                storage=open_storage(storage),
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=seed),
                pruner=pruner,
                load_if_exists=True,
            )
        except ConfigError:
            raise
        except Exception as error:  # a database that cannot be reached, a URL without its driver...
            # Workers started together on a new database race to create its tables, and all but one fail on a
            # duplicate; by the next attempt the tables are there.
            if attempt + 1 < attempts and "duplicate" in str(error).lower():
                time.sleep(0.5 * (attempt + 1))
                continue
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(f"cannot open the study in {shown(storage)} ({message}); check --storage") from None
    raise AssertionError("unreachable")


@dataclass
class Best:
    """This worker's best finished trial so far, kept in memory to be written out as a run."""

    number: int
    value: float
    network: Any
    summary: dict[str, Any]
    history: list


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def check_sweep(space: dict[str, Param], base: TrainConfig, dataset: Dataset) -> None:
    """Refuse, before any trial, a sweep with no dev split or with sizes that do not fit the data."""
    if base.dev_size == 0:
        raise ConfigError("a sweep chooses on dev accuracy: give it a dev split, e.g. --dev-size 5000")
    check_fits(base, dataset)
    if "sizes" in space and space["sizes"].choices:
        for choice in space["sizes"].choices:
            check_fits(base.replace(sizes=to_field("sizes", choice)), dataset)


def run_trials(
    study: optuna.Study,
    space: dict[str, Param],
    base: TrainConfig,
    dataset: Dataset,
    n_trials: int,
    *,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
    stop: threading.Event | None = None,
    preset: str | None = None,
) -> Best | None:
    """Run ``n_trials`` trials of ``study`` in this process; returns this worker's best finished trial, if any.

    Each trial trains ``base`` with the fields of ``space`` drawn by the study's sampler. ``on_trial`` hears about
    every trial when it ends (finished, pruned or failed); ``stop`` ends the sweep after the current trial; ``preset``
    names the base configuration in the summary.
    """
    check_sweep(space, base, dataset)
    me = worker_name()
    best: Best | None = None

    def objective(trial: optuna.Trial) -> float:
        nonlocal best
        trial.set_user_attr("worker", me)
        trial.set_user_attr("blas_threads", blas_threads())  # what the worker's limit left it
        try:
            config = base.replace(**{name: param.suggest(trial) for name, param in space.items()})
        except ConfigError as error:  # a combination no single choice rules out, e.g. a warm-up longer than the run
            raise optuna.TrialPruned(f"invalid configuration: {error}") from None
        pruned_at: list[float] = []
        stop_trial = threading.Event()

        def on_report(record) -> None:
            trial.report(record.dev_accuracy, step=math.ceil(record.epoch))
            if trial.should_prune():
                pruned_at.append(record.epoch)
                stop_trial.set()  # the trainer ends after this epoch: nothing half-done is kept

        network, summary, trainer = run(config, dataset, None, preset=preset, on_report=on_report, stop=stop_trial)
        if pruned_at:
            raise optuna.TrialPruned(f"dev accuracy below the median at epoch {pruned_at[0]:g}")
        value = float(summary["dev_accuracy"])
        trial.set_user_attr("test_accuracy", summary["test_accuracy"])
        trial.set_user_attr("train_seconds", summary["train_seconds"])
        if best is None or value > best.value:
            summary["sweep"] = {"study": study.study_name, "trial": trial.number, "params": trial.params}
            best = Best(trial.number, value, network, summary, trainer.history)
        return value

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(trial)
        if stop is not None and stop.is_set():
            study.stop()

    study.optimize(objective, n_trials=n_trials, callbacks=[after_trial], catch=(DivergenceError,))
    return best


def blas_threads() -> int | None:
    """The threads the BLAS library NumPy calls will use now (threadpoolctl), or None when it cannot tell."""
    from threadpoolctl import threadpool_info

    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts) if counts else None


def best_trial_is(study: optuna.Study, best: Best | None) -> bool:
    """True when the study's best finished trial, over every worker, is this worker's ``best``."""
    if best is None:
        return False
    try:
        return study.best_trial.number == best.number
    except ValueError:  # no finished trial in the study
        return False


def study_table(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial of the study, as JSON-ready rows."""
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "worker": t.user_attrs.get("worker"),
            "epochs_reported": len(t.intermediate_values),
        }
        for t in study.get_trials(deepcopy=False)
    ]


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
