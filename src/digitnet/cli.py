"""The ``digitnet`` command: a thin shell over the library that parses options, prints and picks exit codes.

Exit codes: 0 success, 1 unexpected error, 2 bad option, 3 bad data, 4 bad model file, 5 training diverged,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path

from . import __version__, spec
from .config import DEFAULT_PRESET, PRESETS, TrainConfig
from .errors import ConfigError, DataError, DigitnetError, ModelFileError
from .progress import DownloadProgress

DEFAULT_MODEL = Path("runs") / DEFAULT_PRESET / "model.safetensors"  # where `digitnet train` writes its model


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args) or 0
    except DigitnetError as error:
        print(f"digitnet: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("digitnet: interrupted", file=sys.stderr)
        return 130
    except ImportError as error:
        print(
            f"digitnet: error: {error}; install the command line's extras: pip install 'digitnet[cli]'", file=sys.stderr
        )
        return 1


# ---------------------------------------------------------------------------------------------- options
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitnet", description="A from-scratch NumPy network for digits.")
    parser.add_argument("--version", action="version", version=f"digitnet {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch", help="download, verify and cache MNIST or Fashion-MNIST")
    fetch.add_argument("source", nargs="?", default="mnist", choices=["mnist", "fashion-mnist"])
    add_quiet_option(fetch)
    fetch.set_defaults(command=cmd_fetch)

    train = commands.add_parser("train", help="train a network; write the model, its history and a report")
    train.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        choices=sorted(PRESETS),
        help=f"named configuration to start from (default {DEFAULT_PRESET})",
    )
    train.add_argument(
        "--data", default=None, help="mnist (default), fashion-mnist, sample, a Kaggle CSV or an IDX directory"
    )
    train.add_argument("--out", default=None, help="output directory (default runs/PRESET)")
    train.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="write a checkpoint into the output directory every N epochs (default 0: only on Ctrl-C)",
    )
    train.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="DIR",
        help="carry on an interrupted run from DIR/checkpoint.safetensors, with its own options",
    )
    add_quiet_option(train)
    add_config_options(train)
    train.set_defaults(command=cmd_train)

    evaluate = commands.add_parser("evaluate", help="accuracy and loss of a model on labelled digits")
    evaluate.add_argument("model", type=Path, nargs="+", help="a model file, or several: their probabilities averaged")
    evaluate.add_argument("--data", default="mnist", help="data source (default: the MNIST test set)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    add_reading_options(evaluate)
    evaluate.set_defaults(command=cmd_evaluate)

    predict = commands.add_parser("predict", help="write a Kaggle submission CSV (ImageId,Label)")
    predict.add_argument("model", type=Path, nargs="+", help="a model file, or several: their probabilities averaged")
    predict.add_argument("--data", required=True, help="digits to label, e.g. Kaggle's test.csv")
    predict.add_argument("--out", type=Path, default=Path("submission.csv"))
    add_reading_options(predict)
    predict.set_defaults(command=cmd_predict)

    show = commands.add_parser("show", help="draw one digit with the model's prediction and probabilities")
    show.add_argument("model", type=Path, nargs="+", help="a model file, or several: their probabilities averaged")
    show.add_argument("--data", default="mnist")
    show.add_argument("--index", type=int, required=True, help="row of the evaluation split, from 0")
    show.add_argument("--out", type=Path, default=None, help="PNG to write (default digit-INDEX.png)")
    show.set_defaults(command=cmd_show)

    serve = commands.add_parser("serve", help="a web page where you draw a digit and watch the network read it")
    serve.add_argument("model", nargs="?", type=Path, default=None, help=f"model file (default {DEFAULT_MODEL})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on; 0 = any free port (default 8000)")
    serve.add_argument(
        "--corrections",
        type=Path,
        default=None,
        help="CSV where 'correct me' saves your digits (default corrections.csv beside the model)",
    )
    serve.set_defaults(command=cmd_serve)

    report = commands.add_parser("report", help="figures, metrics.json and report.html for a trained run")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory written by `digitnet train`")
    report.add_argument("--data", metavar="SOURCE", help="labelled digits to measure (default: the run's own data)")
    report.add_argument("--out", type=Path, metavar="DIR", help="directory to write to (default RUN_DIR)")
    add_quiet_option(report)
    report.set_defaults(command=cmd_report)
    add_export_and_sweep(commands)
    return parser


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mirror",
        action="store_true",
        help="also read each picture mirrored left to right and average (for clothes and models trained with --flip)",
    )
    parser.add_argument(
        "--shifts",
        action="store_true",
        help="also read each picture moved a pixel up, down, left, right and average (models trained with --shift)",
    )


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors (for scripts)")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field; an option left out keeps the preset's value."""
    for f in dataclasses.fields(TrainConfig):
        flag = _flag(f.name)
        default = f.default
        help_text = f"{f.metadata['help']} (preset {DEFAULT_PRESET}: {_show(getattr(PRESETS[DEFAULT_PRESET], f.name))})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            parser.add_argument(flag, type=_sizes, default=None, metavar="SPEC", help=help_text)
        else:
            parser.add_argument(flag, type=type(default), default=None, metavar="X", help=help_text)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    preset = PRESETS[args.preset]
    if args.optimizer is not None:  # a new optimiser brings its own learning rate, unless one is given too
        preset = preset.with_optimizer(args.optimizer)
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    return preset.replace(**{k: v for k, v in changes.items() if v is not None})


def _sizes(text: str) -> tuple[int | str, ...]:
    try:
        spec.plan(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return spec.normalize(text)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _show(value) -> str:
    return spec.to_text(value) if isinstance(value, tuple) else str(value)


# --------------------------------------------------------------------------------------------- commands
def cmd_fetch(args: argparse.Namespace) -> int:
    from .data import fetch_fashion_mnist, fetch_mnist

    fetch, title = {"mnist": (fetch_mnist, "MNIST"), "fashion-mnist": (fetch_fashion_mnist, "Fashion-MNIST")}[
        args.source
    ]
    with DownloadProgress(quiet=args.quiet) as download:
        path = fetch(progress=download.update, status=download.status)
    _say(args, f"{title} verified and cached at {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from . import experiment, report
    from .checkpoint import CHECKPOINT_FILE, load_checkpoint
    from .progress import TrainProgress, summary_table

    if args.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be 0 or more, got {args.checkpoint_every}")
    resume = None
    if args.resume is None:
        config, preset, source = config_from_args(args), args.preset, args.data or "mnist"
        out = Path(args.out) if args.out else Path("runs") / preset
    else:
        given = [_flag(f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None]
        if given or args.out:
            dropped = " ".join(given + (["--out"] if args.out else []))
            raise ConfigError(f"--resume carries on with the run's own options; drop {dropped}")
        resume = load_checkpoint(args.resume / CHECKPOINT_FILE)
        if args.data is not None and args.data != resume.data:
            raise ConfigError(
                f"--resume carries on with the run's own data ({resume.data}); drop --data {args.data}, or start "
                "a new run to train on other data"
            )
        config, preset, source, out = resume.config, resume.preset, resume.data, args.resume
    dataset = _load(source, quiet=args.quiet)
    experiment.check_fits(config, dataset)
    if resume is not None:
        _say(args, f"resuming {out} at epoch {resume.state['epoch']}, step {resume.state['step']}")
    _say(
        args,
        f"digitnet {__version__}: training {list(config.sizes)} on {dataset.name} ({len(dataset.train.X)} "
        f"digits, {config.dev_size} held out as dev), preset {preset}",
    )
    stop = threading.Event()
    n_train = len(dataset.train.X) - config.dev_size
    with StopOnSigint(stop), TrainProgress(config, n_train, quiet=args.quiet) as progress:
        network, summary, trainer = experiment.run(
            config,
            dataset,
            out,
            preset=preset,
            on_step=progress.on_step,
            on_report=progress.on_report,
            stop=stop,
            checkpoint_every=args.checkpoint_every,
            resume=resume,
        )
    if summary["stopped"] == "interrupted":
        print(
            f"digitnet: interrupted at epoch {summary['epoch']}, step {summary['step']}; checkpoint written to "
            f"{out / CHECKPOINT_FILE}; resume with: digitnet train --resume {out}",
            file=sys.stderr,
        )
        return 130
    _say(args, summary_table(summary, trainer.history))
    page = report.write(report.build_from(out, network, summary, trainer.history, dataset))  # no reloading
    _say(args, f"wrote {out}/: model.safetensors, summary.json, history.jsonl, metrics.json, figures/")
    _say(args, f"report: {page}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    network, split, name = _model_and_split(args.model, args.data, True, mirror=args.mirror, shifts=args.shifts)
    loss, accuracy = network.evaluate(split.X, split.y)
    if args.json:
        reading = {"mirror": args.mirror, "shifts": args.shifts}
        print(json.dumps({"accuracy": accuracy, "loss": loss, "n": len(split.y), "data": name, **reading}))
    else:
        print(f"{name}: accuracy {accuracy:.2%} ({round(accuracy * len(split.y))}/{len(split.y)}), loss {loss:.4f}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .files import write_text

    network, split, _ = _model_and_split(args.model, args.data, False, mirror=args.mirror, shifts=args.shifts)
    labels = network.predict(split.X)
    lines = ["ImageId,Label"] + [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    _write_or_fail(args.out, lambda: write_text(args.out, "\n".join(lines) + "\n"))
    print(f"wrote {len(labels)} predictions to {args.out}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .plots import digit_figure

    network, split, name = _model_and_split(args.model, args.data, need_labels=False)
    if not 0 <= args.index < len(split.X):
        raise ConfigError(f"--index {args.index} is out of range: {name} has rows 0 to {len(split.X) - 1}")
    pixels = split.X[args.index]
    probabilities = network.predict_proba(pixels[None])[0]
    label = None if split.y is None else int(split.y[args.index])
    out = args.out or Path(f"digit-{args.index}.png")
    figure = digit_figure(pixels, probabilities, label, title=f"{name} #{args.index}")
    _write_or_fail(out, lambda: _save_figure(figure, out))
    print(
        f"prediction {int(probabilities.argmax())}" + ("" if label is None else f", label {label}") + f"; wrote {out}"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from .web import serve
    except ImportError as error:
        print(
            f"digitnet: error: {error}; install the drawing page's extras: pip install 'digitnet[serve]'",
            file=sys.stderr,
        )
        return 1
    model = args.model or DEFAULT_MODEL
    if args.model is None and not model.is_file():
        raise ModelFileError(
            f"no model at {model}, where `digitnet train` puts one; train it first (well under a minute), "
            "or pass a model file: digitnet serve MODEL"
        )
    corrections = args.corrections or model.parent / "corrections.csv"
    # Answer only to this machine's names when listening on it alone, which stops DNS rebinding.
    local = serve.is_loopback(args.host)
    app = serve.create_app(model, corrections, allowed_hosts=serve.LOOPBACK_HOSTS if local else None)
    sockets = serve.open_sockets(args.host, args.port)
    print(f"digitnet: serving {model} at {serve.url(sockets[0])} (Ctrl-C to stop)", flush=True)
    if not local:
        print(f"digitnet: listening on {args.host}: other machines on the network can use the page", flush=True)
    print(f"digitnet: 'correct me' saves digits to {corrections}, a CSV that `digitnet train --data` reads", flush=True)
    serve.run(app, sockets)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import report

    dataset = None if args.data is None else _load(args.data, quiet=args.quiet)
    with DownloadProgress(quiet=args.quiet) as download:
        built = report.build(args.run_dir, dataset, progress=download.update, status=download.status)
    out = args.out or args.run_dir
    page = _write_or_fail(out, lambda: report.write(built, out))
    _say(args, f"{built.evaluation.split}: accuracy {built.evaluation.accuracy:.2%}; wrote {page}")
    return 0


# ---------------------------------------------------------------------------------------------- helpers
def _load(source: str, quiet: bool = False):
    from .data import load

    with DownloadProgress(quiet=quiet) as download:
        return load(source, progress=download.update, status=download.status)


def _say(args: argparse.Namespace, text: str) -> None:
    """Print a result line, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def _model_and_split(
    model_paths: list[Path], source: str, need_labels: bool, mirror: bool = False, shifts: bool = False
):
    """Load the model (several, or read with ``mirror`` or ``shifts``: their ensemble) and the split to use: the
    test split when the source has one, else its only split."""
    from .ensemble import Ensemble
    from .io import load_model

    networks = [load_model(path)[0] for path in model_paths]
    try:
        single = len(networks) == 1 and not (mirror or shifts)
        network = networks[0] if single else Ensemble(networks, mirror, shifts)
    except ConfigError as error:
        raise ModelFileError(f"{' '.join(map(str, model_paths))}: {error}") from None
    model_path = model_paths[0] if len(model_paths) == 1 else f"the ensemble of {len(model_paths)} models"
    dataset = _load(source)
    split = dataset.test if dataset.test is not None else dataset.train
    if need_labels and split.y is None:
        raise DataError(f"{dataset.name} has no `label` column; evaluate needs labelled digits")
    if split.X.shape[1] != network.n_inputs:
        raise DataError(
            f"{model_path} takes {network.n_inputs} inputs but {dataset.name} has "
            f"{split.X.shape[1]} pixels per digit; use a model trained on this kind of data"
        )
    return network, split, dataset.name


def _save_figure(figure, path: Path) -> None:
    from .files import atomic_path

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)


def _write_or_fail(path: Path, write):
    try:
        return write()
    except OSError as error:
        raise ConfigError(f"cannot write {path} ({error.strerror or error}); choose another path with --out") from None


class StopOnSigint:
    """The first Ctrl-C asks training to stop after the current step; a second one interrupts at once."""

    def __init__(self, stop: threading.Event):
        self.stop = stop

    def __enter__(self):
        def handler(signum, frame):
            if self.stop.is_set():
                raise KeyboardInterrupt
            self.stop.set()
            print("\nstopping after this step (Ctrl-C again to abort)", file=sys.stderr)

        self.previous = signal.signal(signal.SIGINT, handler)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


# --------------------------------------------------------------------------------- export and sweep (issue 14)
EXPORT_FORMATS = ("onnx", "web")


def add_export_and_sweep(commands) -> None:
    export = commands.add_parser("export", help="write a model in a standard format other programs read (ONNX)")
    export.add_argument("model", type=Path, help="a model file written by `digitnet train`")
    export.add_argument(
        "--format",
        required=True,
        choices=EXPORT_FORMATS,
        help="onnx: an ONNX graph (opset 17); web: a static drawing page that runs the network in the browser",
    )
    export.add_argument("--out", type=Path, required=True, help="file (onnx) or folder (web) to write")
    export.set_defaults(command=cmd_export)

    sweep = commands.add_parser("sweep", help="search training options with Optuna; write the best trial's run")
    sweep.add_argument("--space", type=Path, metavar="FILE", help="search space, TOML or JSON: a table per field")
    sweep.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a field to search: NAME=LOW..HIGH[:log] or NAME=A|B|C (repeatable; adds to --space)",
    )
    sweep.add_argument("--trials", type=int, default=10, metavar="N", help="trials this worker runs (default 10)")
    sweep.add_argument("--study", default="digitnet", help="study name: workers with the same one share it")
    sweep.add_argument(
        "--storage",
        default=None,
        help="journal file shared by this machine's workers (default OUT/study.journal), "
        "or a database URL shared across machines, e.g. postgresql://user:password@host/db",
    )
    sweep.add_argument("--threads", type=int, default=1, metavar="N", help="BLAS threads for this worker (default 1)")
    sweep.add_argument("--prune", action=argparse.BooleanOptionalAction, default=True, help="median pruning")
    sweep.add_argument(
        "--report", action=argparse.BooleanOptionalAction, default=True, help="figures and report.html for the best run"
    )
    sweep.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS), help="the base configuration")
    sweep.add_argument("--data", default="mnist", help="data source (default mnist)")
    sweep.add_argument("--out", type=Path, default=Path("runs") / "sweep", help="where the best run goes")
    add_quiet_option(sweep)
    add_config_options(sweep)
    sweep.set_defaults(command=cmd_sweep)


def cmd_export(args: argparse.Namespace) -> int:
    from .io import load_model

    if args.format == "onnx":
        try:
            from .export.onnx import OPSET, save_onnx
        except ImportError as error:
            print(
                f"digitnet: error: {error}; ONNX export needs its extra: pip install 'digitnet[export]'",
                file=sys.stderr,
            )
            return 1
        network, meta = load_model(args.model)
        metadata = {"classes": meta["classes"], "source": str(args.model)}
        _write_or_fail(args.out, lambda: save_onnx(network, args.out, metadata))
        print(f"wrote {args.out}: ONNX opset {OPSET}, input float32 (n, {network.n_inputs}) = pixels / 255")
    else:
        from .web.export import save_web

        network, meta = load_model(args.model)
        _write_or_fail(args.out, lambda: save_web(network, args.out, meta))
        print(f"wrote {args.out}/: a static drawing page; try it with: python -m http.server -d {args.out}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        import optuna
        from threadpoolctl import threadpool_limits

        from . import sweep
    except ImportError as error:
        print(f"digitnet: error: {error}; sweeps need their extra: pip install 'digitnet[sweep]'", file=sys.stderr)
        return 1
    from .experiment import prepare_out_dir, write_run
    from .files import write_text

    if args.trials < 1 or args.threads < 1:
        raise ConfigError(f"--trials and --threads must be 1 or more, got {args.trials} and {args.threads}")
    space = sweep.read_space(args.space) if args.space else {}
    space |= {param.name: param for param in map(sweep.parse_search, args.search)}
    if not space:
        raise ConfigError("nothing to search: pass --space FILE or --search NAME=SPEC, e.g. --search epochs=2..8")
    base = config_from_args(args)
    dataset = _load(args.data, quiet=args.quiet)
    sweep.check_sweep(space, base, dataset)
    storage = args.storage or args.out / "study.journal"
    if "://" not in str(storage):
        prepare_out_dir(args.out)  # the default journal lives there; a database is tried first, before any folder
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial below instead of Optuna's own
    study = sweep.open_study(args.study, storage, prune=args.prune)
    out = prepare_out_dir(args.out)
    where = sweep.shown(storage)
    _say(args, f"digitnet sweep: study {args.study!r} in {where}, {args.trials} trials in {sweep.worker_name()}")

    def on_trial(trial) -> None:
        params = " ".join(f"{k}={v}" for k, v in trial.params.items())
        if trial.state.name == "COMPLETE":
            _say(args, f"trial {trial.number}: dev accuracy {trial.value:.2%}  {params}")
        elif trial.state.name == "PRUNED" and trial.intermediate_values:
            _say(args, f"trial {trial.number}: pruned after epoch {max(trial.intermediate_values)}  {params}")
        else:
            _say(args, f"trial {trial.number}: {trial.state.name.lower()}  {params}")

    stop = threading.Event()
    with StopOnSigint(stop), threadpool_limits(limits=args.threads, user_api="blas"):
        best = sweep.run_trials(
            study, space, base, dataset, args.trials, on_trial=on_trial, stop=stop, preset=args.preset
        )
    write_text(out / "trials.json", json.dumps(sweep.study_table(study), indent=2) + "\n")
    if sweep.best_trial_is(study, best):
        write_run(out, best.network, best.summary, best.history, dataset.classes)
        if args.report:
            from . import report

            report.write(report.build(out, dataset))
        _say(args, f"best trial {best.number}: dev accuracy {best.value:.2%}; wrote its run to {out}/")
    elif best is not None:
        _say(args, f"the study's best trial is another worker's; this worker's best was trial {best.number}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
