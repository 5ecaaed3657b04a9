"""The accuracy scoreboard: digitnet's presets over several seeds, beside the published records.

    PYTHONPATH=src python benchmarks/accuracy.py                  # every preset on MNIST and Fashion-MNIST, seeds 0-2
    PYTHONPATH=src python benchmarks/accuracy.py --presets best --data mnist --seeds 0
    PYTHONPATH=src python benchmarks/accuracy.py --quick          # smoke test of the whole pipeline, in about a minute
    PYTHONPATH=src python benchmarks/accuracy.py --presets cnn --data mnist --seeds 0 --dev-only   # a candidate

Each run is ``experiment.run``: it holds out the preset's dev rows, trains on the rest of the training split and
measures the official test split once, at the end. Nothing is chosen by the test set; the presets were chosen on
dev accuracy. A run writes its model, summary and history to ``benchmarks/out/accuracy/DATA/PRESET/seedN``; a run
whose summary is already there, for the same configuration, is read back instead of trained again, and a run
stopped part-way carries on from the checkpoint it writes after every epoch, so a scoreboard that was interrupted
carries on where it stopped (``--fresh`` trains everything again).

There are two scoreboards in ``benchmarks/RESULTS.md``, each between its own markers: the fully connected presets
(``accuracy:begin`` … ``accuracy:end``) beside the published fully connected networks, and the convolutional ones
(``accuracy-conv:begin`` … ``accuracy-conv:end``) beside the published convolutional networks. This script
rewrites the section of each kind of preset it was asked to run and leaves the rest of the file as it was. Each
row also gives the accuracy of the ensemble of its seeds' models.
``--dev-only`` trains as usual but prints no test accuracy and writes no section, for a candidate whose rule is
decided on dev accuracy; once it has decided, ``--finished-only`` writes the same runs into the scoreboard.
``--quick`` trains each preset for one epoch (on the package's small sample unless ``--data`` says otherwise) and
writes ``benchmarks/out/RESULTS-quick.md`` instead, so a smoke test never overwrites real results.

A preset chosen for one data set (``MADE_FOR``: ``cnn-fashion`` mirrors its pictures, which would turn digits into
other digits) is measured on that data set alone. Some presets' models are also read several ways at test time
(``ALSO_READ``: ``cnn-fashion``'s with each picture's mirror, ``cnn``'s with each picture moved a pixel four ways), in
a note under the table, by seed; the table keeps the single reading. The whole scoreboard over three seeds takes
about six hours on two cores: about 22 minutes for each run of ``best``, 25 of ``cnn`` and 28 of ``cnn-fashion``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from digitnet import experiment, spec
from digitnet.checkpoint import CHECKPOINT_FILE, load_checkpoint
from digitnet.config import PRESETS, TrainConfig
from digitnet.data import load
from digitnet.ensemble import Ensemble
from digitnet.io import load_model

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
MADE_FOR = {"cnn-fashion": "fashion-mnist"}  # presets chosen for one data set, and measured on that one alone
BEGIN, END = "<!-- accuracy:begin -->", "<!-- accuracy:end -->"  # the fully connected presets' scoreboard
CONV_BEGIN, CONV_END = "<!-- accuracy-conv:begin -->", "<!-- accuracy-conv:end -->"  # the convolutional ones
DATA_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "sample": "the package's sample"}

# Published results for fully connected networks on the official MNIST test set, with their sources.
PUBLISHED = {
    "mnist": [
        (
            'The notebook "Simple MNIST NN from scratch" (Kaggle)',
            "[784, 10, 10], full-batch gradient descent",
            "≈ 84 (dev)",
            "https://www.kaggle.com/code/wwsalmon/simple-mnist-nn-from-scratch-numpy-no-tf-keras",
        ),
        (
            "Nielsen, *Neural Networks and Deep Learning*, ch. 3",
            "[784, 100, 10] sigmoid, cross-entropy, L2, 60 epochs",
            "98.04",
            "http://neuralnetworksanddeeplearning.com/chap3.html",
        ),
        (
            "LeCun's MNIST table: 2-layer NN, 300 HU, mean square error (LeCun et al. 1998)",
            "[784, 300, 10]",
            "95.3",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        (
            "LeCun's MNIST table: 2-layer NN, 1000 HU (LeCun et al. 1998)",
            "[784, 1000, 10]",
            "95.5",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        (
            "Simard et al. 2003 (in LeCun's table): 2-layer NN, 800 HU, cross-entropy",
            "[784, 800, 10]",
            "98.4",
            "https://doi.org/10.1109/ICDAR.2003.1227801",
        ),
        (
            "Simard et al. 2003: the same, affine distortions",
            "[784, 800, 10]",
            "98.9",
            "https://doi.org/10.1109/ICDAR.2003.1227801",
        ),
        (
            "Simard et al. 2003: the same, elastic distortions",
            "[784, 800, 10]",
            "99.3",
            "https://doi.org/10.1109/ICDAR.2003.1227801",
        ),
        (
            "Ciresan et al. 2010 (in LeCun's table): 6-layer NN, elastic distortions, days on a GPU",
            "[784, 2500, 2000, 1500, 1000, 500, 10]",
            "99.65",
            "https://arxiv.org/abs/1003.0358",
        ),
    ],
    # Zalando's table of submitted results: "we haven't yet tested these results".
    "fashion-mnist": [
        (
            "Zalando's benchmark table: MLP (MXNet)",
            "[784, 256, 128, 64, 10]",
            "90.0",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
    ],
}

# Published results for convolutional networks on the official MNIST test set, with their sources.
PUBLISHED_CONV = {
    "mnist": [
        (
            "LeCun et al. 1998 (LeCun's MNIST table): LeNet-5",
            "conv5x5x6-pool-conv5x5x16-pool-120-84-10 (tanh)",
            "99.05",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        (
            "LeCun et al. 1998: LeNet-5, distortions",
            "the same",
            "99.20",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        (
            "Simard et al. 2003: convolutional network, cross-entropy, elastic distortions",
            "conv5x5x5-conv5x5x50-100-10 (stride 2)",
            "99.60",
            "https://doi.org/10.1109/ICDAR.2003.1227801",
        ),
        (
            "Ciresan et al. 2011: one deep convolutional network on a GPU, distortions",
            "6 hidden layers, 2 convolution and pooling pairs",
            "99.65",
            "https://arxiv.org/abs/1102.0183",
        ),
        (
            "Ciresan et al. 2012: a committee of 35 convolutional networks, distortions",
            "35 networks, probabilities averaged",
            "99.77",
            "https://arxiv.org/abs/1202.2745",
        ),
    ],
    # Zalando's table of submitted results, which it says it has not checked; the highest of each kind listed.
    "fashion-mnist": [
        (
            "Zalando's benchmark table: 2 conv layers with max pooling (Keras)",
            "2 conv + pool, no preprocessing",
            "87.6",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
        (
            "Zalando's benchmark table: 2 conv layers, under 100K weights",
            "2 conv, no preprocessing",
            "92.5",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
        (
            "Zalando's benchmark table: 3 conv + pooling, 2 dense + dropout",
            "3 conv, 2 dense",
            "92.6",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
        (
            "Zalando's benchmark table: 2 conv layers, 3 dense, 1.8M weights",
            "2 conv, 3 dense",
            "93.2",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
        (
            "Zalando's benchmark table: ResNet18, flips, shifts and rotations",
            "ResNet-18",
            "94.9",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
        (
            "Zalando's benchmark table: WRN-28-10 + random erasing (Zhong et al. 2017)",
            "wide ResNet, 36M weights",
            "96.3",
            "https://github.com/zalandoresearch/fashion-mnist#benchmark",
        ),
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS), metavar="PRESET")
    parser.add_argument(
        "--data", nargs="+", default=None, metavar="SOURCE", help="default mnist fashion-mnist (--quick: sample)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="N")
    parser.add_argument("--quick", action="store_true", help="one epoch of each preset, seeds 0 and 1")
    parser.add_argument("--fresh", action="store_true", help="train every run again, even those already done")
    parser.add_argument("--out", type=Path, default=None, help="run directories (default benchmarks/out/accuracy)")
    parser.add_argument("--results", type=Path, default=None, help="file whose accuracy section is rewritten")
    parser.add_argument("--verbose", action="store_true", help="print every epoch's report")
    parser.add_argument(
        "--dev-only",
        action="store_true",
        help="print no test accuracy and write no section: a candidate's runs, before its rule on dev decides "
        "(--finished-only then writes them)",
    )
    parser.add_argument(
        "--finished-only",
        action="store_true",
        help="train nothing: write the section from the runs already finished (a scoreboard still under way)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = [0, 1]
    args.data = args.data or (["sample"] if args.quick else ["mnist", "fashion-mnist"])
    out = args.out or HERE / "out" / ("accuracy-quick" if args.quick else "accuracy")
    results = args.results or (HERE / "out" / "RESULTS-quick.md" if args.quick else RESULTS)

    rows = []  # one per data set and preset
    for source in args.data:
        dataset = load(source)
        for preset in args.presets:
            if source != "sample" and MADE_FOR.get(preset, source) != source:
                continue  # chosen for another data set (mirrored digits are other digits)
            runs = []
            for seed in args.seeds:
                config = PRESETS[preset].replace(seed=seed)
                if args.quick:  # one epoch (ten full-batch iterations) and a dev set the sample can spare
                    config = config.replace(
                        epochs=10 if config.batch_size == 0 else 1, dev_size=min(config.dev_size, 500)
                    )
                run_dir = out / source / preset / f"seed{seed}"
                if args.finished_only:
                    runs += [summary] if (summary := finished(config, run_dir)) else []
                else:
                    runs.append(run_once(config, dataset, preset, run_dir, args))
            if runs and not args.dev_only:
                row = summarise(source, preset, runs)
                run_dirs = [out / source / preset / f"seed{s}" for s in row["seeds"]]
                row["ensemble"] = ensemble_accuracy(run_dirs, dataset)
                if preset in ALSO_READ:
                    row["also_read"] = also_read(runs, run_dirs, dataset, ALSO_READ[preset])
                rows.append(row)
    if args.dev_only:
        return 0  # nothing that holds a test accuracy is summed, printed or written
    for conv, (begin, end) in ((False, (BEGIN, END)), (True, (CONV_BEGIN, CONV_END))):
        if any(is_conv(PRESETS[preset]) == conv for preset in args.presets):  # each scoreboard keeps the other's rows
            kept = read_section(results, begin, end)  # data sets not measured now keep their rows as they were
            tables = scoreboard([r for r in rows if is_conv(PRESETS[r["preset"]]) == conv], args, conv, kept)
            write_section(results, tables, begin, end)
            print(f"wrote the {'convolutional' if conv else 'fully connected'} accuracy section of {results}")
    return 0


def is_conv(config: TrainConfig) -> bool:
    return any(isinstance(entry, str) and entry.startswith("conv") for entry in config.sizes)


def ensemble_accuracy(run_dirs: list[Path], dataset) -> float | None:
    """Test accuracy of the seeds' models with their probabilities averaged (``digitnet evaluate A B C``)."""
    paths = [d / "model.safetensors" for d in run_dirs]
    if len(paths) < 2 or dataset.test is None or not all(p.is_file() for p in paths):
        return None
    ensemble = Ensemble([load_model(p)[0] for p in paths])
    return ensemble.evaluate(dataset.test.X, dataset.test.y)[1]


# The presets whose models are also read several ways at test time: the Ensemble option, and how the note says it.
# Whether a reading counts was decided by a rule on seed 0's dev accuracy, set before its run (ACCURACY-NOTES.md):
# the mirror does for cnn-fashion, the shifts do not for cnn; both are reported, beside the single reading.
ALSO_READ = {
    "cnn-fashion": ("mirror", "with each picture's mirror as well", "mirrored"),
    "cnn": ("shifts", "with each picture moved a pixel up, down, left and right as well", "shifted"),
}


def also_read(runs: list[dict], run_dirs: list[Path], dataset, reading: tuple[str, str, str]) -> dict | None:
    """Each seed's model read several ways (``digitnet evaluate --mirror`` or ``--shifts``), the readings
    averaged: dev and test accuracy by seed beside the single readings, and the ensemble's, read so."""
    paths = [d / "model.safetensors" for d in run_dirs]
    if dataset.test is None or not all(p.is_file() for p in paths):
        return None
    option = {reading[0]: True}  # mirror=True or shifts=True
    networks = [load_model(p)[0] for p in paths]
    dev, test = [], []
    for run, network in zip(runs, networks, strict=True):
        config = run["config"]
        _, dev_split = experiment.run_dev_split(dataset.train.X, dataset.train.y, config["dev_size"], config["seed"])
        dev.append(Ensemble([network], **option).evaluate(dev_split.X, dev_split.y)[1] if len(dev_split.y) else None)
        test.append(Ensemble([network], **option).evaluate(dataset.test.X, dataset.test.y)[1])
    single = [run["test_accuracy"] for run in runs]
    ensemble = Ensemble(networks, **option).evaluate(dataset.test.X, dataset.test.y)[1] if len(paths) > 1 else None
    return {"reading": reading, "dev": dev, "test": test, "single_test": single,
            "single_dev": [run["dev_accuracy"] for run in runs], "ensemble": ensemble}  # fmt: skip


def run_once(config: TrainConfig, dataset, preset: str, run_dir: Path, args) -> dict:
    """Train one preset with one seed (or read back the summary of a finished identical run)."""
    summary = None if args.fresh else finished(config, run_dir)
    if summary is not None:
        done = describe(summary, args.dev_only)
        print(f"{dataset.name} {preset} seed {config.seed}: done before, {done}", flush=True)
        return summary

    def on_report(record) -> None:
        if args.verbose:
            dev = "" if record.dev_accuracy is None else f" dev {record.dev_accuracy:.4f}"
            print(f"  epoch {record.epoch}/{config.epochs}{dev} {record.seconds:.0f}s", flush=True)

    checkpoint = run_dir / CHECKPOINT_FILE
    resume = load_checkpoint(checkpoint) if checkpoint.is_file() and not args.fresh else None
    if resume is not None and resume.config != config:
        resume = None  # a checkpoint of another recipe: start afresh
    started = "" if resume is None else f" from the checkpoint at epoch {resume.state['epoch']}"
    print(f"{dataset.name} {preset} seed {config.seed}: training {list(config.sizes)}{started} ...", flush=True)
    start = time.perf_counter()
    _, summary, _ = experiment.run(
        config, dataset, run_dir, preset=preset, on_report=on_report, checkpoint_every=1, resume=resume
    )
    took = f"{time.perf_counter() - start:.0f}s with evaluation and writing"
    print(f"  {describe(summary, args.dev_only)} ({took})", flush=True)
    return summary


def finished(config: TrainConfig, run_dir: Path) -> dict | None:
    """The summary of a finished run of exactly ``config`` in ``run_dir``, or None."""
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        if summary.get("config") == json.loads(json.dumps(dataclasses.asdict(config))):
            return summary
    return None


def describe(summary: dict, hide_test: bool = False) -> str:
    test = summary["test_accuracy"]
    shown = "(hidden)" if hide_test else "-" if test is None else f"{test:.2%}"
    dev = "-" if summary["dev_accuracy"] is None else f"{summary['dev_accuracy']:.2%}"  # none held out
    return f"dev {dev}, test {shown}, {summary['train_seconds']:.0f}s of training"


def summarise(source: str, preset: str, runs: list[dict]) -> dict:
    def mean_sd(key: str) -> tuple[float, float] | None:
        values = [run[key] for run in runs if run[key] is not None]
        if not values:
            return None
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    return {
        "data": source,
        "preset": preset,
        "config": runs[0]["config"],
        "seeds": [run["seed"] for run in runs],
        "test": mean_sd("test_accuracy"),
        "dev": mean_sd("dev_accuracy"),
        "seconds": mean_sd("train_seconds"),
        "epochs": runs[0]["epochs"],
    }


def recipe(config: dict) -> str:
    """A one-line description of what a preset does beyond a plain network."""
    parts = [
        f"{config['optimizer']}" + (" (Nesterov)" if config["optimizer"] == "momentum" and config["nesterov"] else "")
    ]
    parts.append(f"lr {config['learning_rate']:g} {config['schedule']}")
    parts.append("full batch" if config["batch_size"] == 0 else f"batch {config['batch_size']}")
    if config["warmup_epochs"]:
        parts.append(f"warm-up {config['warmup_epochs']:g}")
    for name, label in [("dropout", "dropout"), ("max_norm", "max-norm"), ("label_smoothing", "label smoothing")]:
        if config[name]:
            parts.append(f"{label} {config[name]:g}")
    if config["weight_decay"]:
        parts.append(f"weight decay {config['weight_decay']:g}")
    affine = [(k, config[k]) for k in ("rotate", "scale", "shear", "shift") if config[k]]
    if affine:
        parts.append("affine " + ", ".join(f"{k} {v:g}" for k, v in affine))
    if config["elastic_alpha"]:
        parts.append(f"elastic α {config['elastic_alpha']:g} σ {config['elastic_sigma']:g}")
    if config.get("flip"):
        parts.append(f"mirrored with probability {config['flip']:g}")
    if config.get("crop"):
        parts.append(f"cropped by up to {config['crop']} whole pixels")
    if config.get("erase"):
        parts.append(f"erased with probability {config['erase']:g}")
    if config.get("data_parallel", 1) > 1:
        parts.append(f"{config['data_parallel']} data-parallel copies")
    if not config["dev_size"]:
        parts.append("trained on every training digit (no dev rows)")
    return ", ".join(parts)


def percent(pair: tuple[float, float] | None) -> str:
    """A mean and standard deviation in percent. The mean keeps a third decimal: a mean of three runs on 10,000
    digits moves in steps of 1/30,000, and two decimals would show 99.647% (29,894 of 30,000) as 99.65%."""
    return "-" if pair is None else f"{100 * pair[0]:.3f} ± {100 * pair[1]:.3f}"


def minutes(pair: tuple[float, float] | None) -> str:
    if pair is None:
        return "-"
    mean, sd = pair
    return f"{mean / 60:.1f} ± {sd / 60:.1f} min" if mean >= 120 else f"{mean:.0f} ± {sd:.0f} s"


def machine() -> str:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = ""
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            kernel = f" (kernel {info[0]['architecture']})" if info[0].get("architecture") else ""
            blas = f", {info[0].get('internal_api')}{kernel} with {info[0].get('num_threads')} threads"
    except ImportError:
        pass
    return f"{cpu}, {cores} cores{blas}; Python {platform.python_version()}, NumPy {np.__version__}"


def data_markers(source: str, begin: str) -> tuple[str, str]:
    """The markers around one data set's part of a scoreboard: ``<!-- accuracy-conv:mnist:begin -->`` …"""
    kind = begin.removeprefix("<!-- ").removesuffix(":begin -->")
    return f"<!-- {kind}:{source}:begin -->", f"<!-- {kind}:{source}:end -->"


def read_section(path: Path, begin: str, end: str) -> str:
    """The text between the markers in ``path``; empty when there is none."""
    return between(path.read_text() if path.is_file() else "", begin, end)


def between(text: str, begin: str, end: str) -> str:
    """The text between the markers ``begin`` and ``end``; empty when either is missing."""
    return text.split(begin, 1)[1].split(end, 1)[0] if begin in text and end in text else ""


def scoreboard(rows: list[dict], args, conv: bool = False, kept: str = "") -> str:
    """The scoreboard of one kind of preset: a part per data set, each between its own markers (``data_markers``).

    Rows measured now replace their preset's row; every other row and part is kept from ``kept`` (the section as
    it was) with the note of when and how it was measured, so that a scoreboard can be measured a preset and a
    data set at a time, on different days and machines.
    """
    begin = CONV_BEGIN if conv else BEGIN
    kind = "convolutional" if conv else "fully connected"
    lines = [
        f"## Accuracy: digitnet's {kind} presets against the published records",
        "",
        "Each digitnet row is the mean ± standard deviation over the seeds named of a whole run: training on the "
        "training split less the preset's dev rows, then one measurement of the official test split. Training time "
        "excludes loading the data and includes the dev measurement after each epoch. The presets were chosen on "
        "dev accuracy; the test set chose nothing. A preset with no dev rows was chosen with them and then trained "
        "on every training digit, as the published networks were. The ensemble is the seeds' models with their "
        "probabilities averaged (`digitnet evaluate A B C`), measured on the same test split.",
    ]
    for source in dict.fromkeys([*DATA_TITLES, *(row["data"] for row in rows)]):
        part_begin, part_end = data_markers(source, begin)
        old = between(kept, part_begin, part_end)
        part = data_part(source, [r for r in rows if r["data"] == source], args, conv, old)
        if part:
            lines += ["", part_begin, *part, part_end]
    return "\n".join(lines) + "\n"


def data_part(source: str, rows: list[dict], args, conv: bool, old: str) -> list[str]:
    """One data set's table: the rows measured now and the other presets' rows from ``old``, each with a note of
    when, how and where it was measured; then the published rows. Empty when there are no rows at all."""
    measured = {row["preset"]: row for row in rows}
    old_lines = old.splitlines()
    command = "python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if __name__ == "__main__" else [])
    table, notes = [], []
    for preset in PRESETS:
        if preset in measured:
            table.append(row_line(measured[preset], args))
            seeds = ", ".join(map(str, measured[preset]["seeds"]))
            how = "written from runs finished before, by" if args.finished_only else "measured by"
            notes.append(
                f"- `{preset}`, seeds {seeds}: {how} `{command.strip()}`, {datetime.date.today().isoformat()}, on "
                f"{machine()}."
            )
            if measured[preset].get("also_read"):
                notes.append(also_read_note(preset, measured[preset]["also_read"]))
        else:  # kept as it was, with its note
            table += [line for line in old_lines if line.startswith(f"| digitnet `{preset}`")]
            notes += [line for line in old_lines if line.startswith(f"- `{preset}`")]
    if not table:
        return []
    kind = "convolutional" if conv else "fully connected"
    lines = [f"### {DATA_TITLES.get(source, source)}", ""]
    if args.quick:
        lines += ["**Smoke test (`--quick`): one epoch of each preset. These are not results.**", ""]
    lines += [
        "| | network | recipe | epochs | test accuracy % | dev accuracy % | training time | ensemble test % |",
        "|---|---|---|---|---|---|---|---|",
        *table,
        "",
        *notes,
    ]
    published = (PUBLISHED_CONV if conv else PUBLISHED).get(source, [])
    if published:
        lines += ["", f"Published {kind} networks on the same test set:", ""]
        lines += ["| | network | test accuracy % | source |", "|---|---|---|---|"]
        lines += [f"| {who} | {net} | {accuracy} | <{url}> |" for who, net, accuracy, url in published]
    return lines


def also_read_note(preset: str, read: dict) -> str:
    """The note under the table for a preset in ``ALSO_READ``: its models read several ways, by seed."""

    def by_seed(values: list[float]) -> str:
        return ", ".join(f"{100 * v:.2f}" for v in values)

    def mean_sd(values: list[float]) -> str:
        return percent((statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0))

    option, how, done = read["reading"]
    ensemble = "" if read["ensemble"] is None else f"; the ensemble, {done}, {100 * read['ensemble']:.2f}"
    held_out = None not in read["dev"]  # a preset refit on every training digit has no dev rows to read
    dev = f", dev {mean_sd(read['dev'])} ({by_seed(read['dev'])})" if held_out else ""
    single_dev = f", dev {by_seed(read['single_dev'])}" if held_out else ""
    return (
        f"- `{preset}` read {how} (`digitnet evaluate --{option}`): test **{mean_sd(read['test'])}** "
        f"({by_seed(read['test'])}){dev}{ensemble}. Read once, as in the table: test "
        f"{by_seed(read['single_test'])}{single_dev}."
    )


def row_line(row: dict, args) -> str:
    """A preset's row of the scoreboard: network, recipe, epochs, accuracies, time and the ensemble's accuracy."""
    sizes = row["config"]["sizes"]
    ensemble = "-" if row["ensemble"] is None else f"{100 * row['ensemble']:.2f}"
    sizes = f"`{spec.to_text(sizes)}`" if is_conv(PRESETS[row["preset"]]) else f"[{', '.join(map(str, sizes))}]"
    seeds = "" if row["seeds"] == args.seeds else f" (seed {', '.join(map(str, row['seeds']))} only)"
    return (
        f"| digitnet `{row['preset']}`{seeds} | {sizes} | {recipe(row['config'])} | {row['epochs']} | "
        f"**{percent(row['test'])}** | {percent(row['dev'])} | {minutes(row['seconds'])} | {ensemble} |"
    )


def write_section(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the text between the markers in ``path`` (or add it at the end); leave the rest untouched."""
    block = f"{begin}\n{section}{end}\n"
    text = path.read_text() if path.is_file() else "# digitnet benchmark results\n\n"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        after = rest.split(end, 1)[1].removeprefix("\n")
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
