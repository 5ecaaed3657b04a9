"""Sweeps on Optuna: the search space, pruning, and several worker processes sharing one study.

The shared-study test runs twice: on a journal file (several processes on one machine) and on a real PostgreSQL
server (workers on several machines), whose URL `.ci/run` puts in DIGITNET_TEST_POSTGRES_URL.
"""

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest

from digitnet import sweep
from digitnet.cli import main
from digitnet.config import TrainConfig
from digitnet.data import load
from digitnet.errors import ConfigError

SRC = Path(__file__).resolve().parents[1] / "src"
POSTGRES_URL = os.environ.get("DIGITNET_TEST_POSTGRES_URL")
QUICK = ["--data", "sample", "--dev-size", "500", "--sizes", "784,16,10", "--epochs", "2", "--batch-size", "256"]


def test_search_space_from_toml_json_and_options(tmp_path):
    toml = tmp_path / "space.toml"
    toml.write_text(
        '[learning_rate]\nlow = 0.01\nhigh = 0.5\nlog = true\n\n[sizes]\nchoices = ["784,64,10", "784,128,10"]\n'
    )
    space = sweep.read_space(toml)
    assert space["learning_rate"] == sweep.Param("learning_rate", 0.01, 0.5, log=True)
    assert space["sizes"].choices == ("784,64,10", "784,128,10")
    (tmp_path / "space.json").write_text('{"batch_size": [64, 128], "epochs": {"low": 2, "high": 8}}')
    space = sweep.read_space(tmp_path / "space.json")
    assert space["batch_size"].choices == (64, 128) and (space["epochs"].low, space["epochs"].high) == (2, 8)
    assert sweep.parse_search("learning-rate=0.001..0.1:log") == sweep.Param("learning_rate", 0.001, 0.1, log=True)
    assert sweep.parse_search("optimizer=adam|momentum").choices == ("adam", "momentum")
    assert sweep.parse_search("nesterov=true|false").choices == (True, False)
    assert sweep.to_field("sizes", sweep.parse_search("sizes=784,32,10|784,64,10").choices[1]) == (784, 64, 10)
    conv = sweep.parse_search("sizes=784,32,10|conv5x5x8-pool-10").choices[1]
    assert sweep.to_field("sizes", conv) == ("28x28x1", "conv5x5x8", "pool", 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rat=0.1..1", "'learning_rat' is not a TrainConfig field"),
        ("learning_rate=0.5..0.1", "needs numbers low < high"),
        ("learning_rate=0..0.1:log", "log range needs low > 0"),
        ("learning_rate=a..b", "must be numbers"),
        ("optimizer=adam|sgd", "optimizer choice 'sgd' is not valid"),
        ("sizes=784,10|784,x,10", "sizes choice '784,x,10' is not valid"),
        ("epochs", "write NAME=LOW..HIGH"),
    ],
)
def test_bad_search_options_are_refused_by_name(text, message):
    with pytest.raises(ConfigError, match=message):
        sweep.parse_search(text)


def test_bad_space_file_and_missing_space_exit_2(tmp_path, capsys):
    bad = tmp_path / "space.json"
    bad.write_text("{learning_rate: ")
    assert main(["sweep", *QUICK, "--space", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "is not valid json" in capsys.readouterr().err
    assert main(["sweep", *QUICK, "--out", str(tmp_path / "out")]) == 2
    assert "nothing to search" in capsys.readouterr().err
    assert main(["sweep", *QUICK, "--dev-size", "0", "--search", "epochs=1..2", "--out", str(tmp_path / "out")]) == 2
    assert "give it a dev split" in capsys.readouterr().err
    unreachable = "postgresql://nobody:secret@127.0.0.1:1/none"  # port 1: refused at once
    assert (
        main(["sweep", *QUICK, "--search", "epochs=1..2", "--storage", unreachable, "--out", str(tmp_path / "out")])
        == 2
    )
    error = capsys.readouterr().err
    assert "cannot open the study in postgresql://nobody:***@127.0.0.1:1/none" in error and "secret" not in error
    assert not (tmp_path / "out").exists()


def test_a_trial_below_the_median_is_pruned_after_its_first_epoch(tmp_path):
    study = sweep.open_study("prune", tmp_path / "study.journal")
    for learning_rate in (0.1, 0.05, 0.1, 1e-6):  # the last barely moves from its random start
        study.enqueue_trial({"learning_rate": learning_rate})
    space = {"learning_rate": sweep.Param("learning_rate", 1e-6, 1.0, log=True)}
    base = TrainConfig(sizes=(784, 16, 10), epochs=3, batch_size=256, dev_size=500)
    best = sweep.run_trials(study, space, base, load("sample"), n_trials=4)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 3 + [optuna.trial.TrialState.PRUNED]
    assert list(study.trials[3].intermediate_values) == [1]  # stopped after epoch 1 of 3
    assert [len(t.intermediate_values) for t in study.trials[:3]] == [3, 3, 3]
    assert best.number == study.best_trial.number and best.value == study.best_value
    assert best.summary["sweep"]["params"] == study.best_trial.params


def workers(storage: str, study: str, out: Path, *options: str, n_workers: int = 2, trials: int = 2) -> list[str]:
    """Start `digitnet sweep` in ``n_workers`` processes at once on one study; returns what each printed."""
    # BLAS may use 2 threads by its environment; each worker's --threads 1 must bring it down to 1.
    env = {**os.environ, "PYTHONPATH": str(SRC), "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    command = [sys.executable, "-m", "digitnet", "sweep", *QUICK, "--trials", str(trials), "--study", study]
    command += ["--storage", storage, "--search", "learning_rate=0.01..0.3:log", "--search", "batch_size=128|256"]
    command += options
    processes = [
        subprocess.Popen([*command, "--out", str(out / f"w{i}")], env=env, stdout=subprocess.PIPE, text=True)
        for i in range(n_workers)
    ]
    try:
        outputs = [p.communicate(timeout=600)[0] for p in processes]  # seconds when idle; a busy machine is slower
    finally:
        for p in processes:  # a worker left behind by a failure is stopped, never left running
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in processes] == [0] * n_workers, outputs
    return outputs


def check_shared_study(study: optuna.Study, outputs: list[str], out: Path) -> Path:
    trials = study.get_trials()
    assert len(trials) == 4  # 2 workers x 2 trials: the counts add up
    assert sorted(t.number for t in trials) == list(range(4))  # each trial once
    assert sorted(Counter(t.user_attrs["worker"] for t in trials).values()) == [2, 2]
    assert {t.user_attrs["blas_threads"] for t in trials} == {1}  # --threads 1: workers do not fight over cores
    printed = [
        {int(line.split()[1].rstrip(":")) for line in o.splitlines() if line.startswith("trial ")} for o in outputs
    ]
    assert len(printed[0]) == len(printed[1]) == 2 and not printed[0] & printed[1]  # no trial ran in both
    best = study.best_trial.number
    # The worker that ran the study's best trial wrote its run (the other may have written its own best before).
    runs = {int(p.parent.name[1:]): json.loads(p.read_text())["sweep"]["trial"] for p in out.glob("w*/summary.json")}
    [worker] = [w for w, trial in runs.items() if trial == best]
    assert best in printed[worker] and (out / f"w{worker}" / "model.safetensors").is_file()
    return out / f"w{worker}"


def test_two_workers_share_a_journal_file(tmp_path):
    journal = tmp_path / "study.journal"
    outputs = workers(str(journal), "shared", tmp_path)
    best_run = check_shared_study(sweep.open_study("shared", journal), outputs, tmp_path)
    assert {"history.jsonl", "report.html", "metrics.json"} <= {p.name for p in best_run.iterdir()}  # like any run


@pytest.mark.skipif(
    POSTGRES_URL is None and not os.environ.get("CI"),
    reason="no PostgreSQL: set DIGITNET_TEST_POSTGRES_URL (bash .ci/postgres.sh starts one and prints it)",
)
def test_two_workers_share_a_study_on_postgresql(tmp_path):
    assert POSTGRES_URL, "CI must set DIGITNET_TEST_POSTGRES_URL (.ci/run does, from .ci/postgres.sh)"
    name = f"test-{uuid.uuid4().hex[:12]}"  # a fresh study each run, in a database that outlives it
    outputs = workers(POSTGRES_URL, name, tmp_path, "--no-report")
    study = sweep.open_study(name, POSTGRES_URL)
    try:
        check_shared_study(study, outputs, tmp_path)
    finally:
        optuna.delete_study(study_name=name, storage=sweep.open_storage(POSTGRES_URL))
