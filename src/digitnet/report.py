"""A run's report: what the trained network learned, as numbers, figures and one self-contained ``report.html``.

``build(run_dir, dataset)`` reads a run directory (as ``experiment.run`` writes it), measures the model on digits
it never trained on and draws every figure; ``write(report)`` saves them beside the model:

- ``figures/*.png``: learning curves, confusion matrix, per-class table, mistakes, weights, reliability, samples;
- ``metrics.json``: the evaluation's numbers (confusion matrix, per-class precision/recall/F1, calibration error);
- ``report.html``: all of it on one page, figures embedded, readable offline on a laptop or a phone.

In a notebook, ``build(...).figures["confusion"]`` shows inline; ``evaluate`` and ``draw_figures`` do the same for
a network that was never saved.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import html
import importlib.resources
import io
import json
import os
import time
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics, plots
from .data import Dataset, Progress, Split, Status, load
from .errors import DataError, ModelFileError
from .experiment import run_dev_split  # the split experiment.run made, by its one rule
from .files import write_bytes, write_text
from .io import load_model
from .layers import Conv2D
from .network import Network
from .train import Record

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 150  # figures are saved at 150 dots per inch: crisp on a high-density screen, ~100 kB each
MISTAKES = 24  # digits in the gallery of mistakes
SAMPLES = 12  # digits in the sample predictions
FIGURES = {  # name -> (short name, the question the section answers, caption), in the order the report shows them
    "learning_curves": (
        "Learning curves",
        "How did it learn?",
        "Loss and accuracy at each report. Train is measured on the batches as they were learned, dev on digits "
        "held out from training. The dashed line marks the report with the lowest dev loss.",
    ),
    "confusion": (
        "Confusion matrix",
        "Which digits does it confuse?",
        "Rows are the true digits, columns the predictions: the diagonal is right, everything else is a mistake. "
        "The right panel gives each row as percentages, so a rare digit's mistakes are as visible as a common one's.",
    ),
    "per_class": (
        "Per digit",
        "How good is it at each digit?",
        "Precision: of the digits predicted as this one, the share that were. Recall: of this digit's examples, "
        "the share found. F1: their harmonic mean. Support: how many examples of the digit were measured.",
    ),
    "mistakes": (
        "Mistakes",
        "Where is it sure, and wrong?",
        "Each digit is titled label → prediction, with the probability the network gave its prediction; # is the "
        "digit's row in the evaluated set. Some are badly written; a few are mislabelled.",
    ),
    "reliability": (
        "Calibration",
        "Can its confidence be trusted?",
        "When the network says 90%, is it right 90% of the time? Predictions are binned by confidence; the bars "
        "are each bin's accuracy, the hatched boxes the gap to its mean confidence. The expected calibration error "
        "(ECE) is the average gap, weighted by the number of predictions in each bin (below).",
    ),
    "predictions": (
        "Predictions",
        "What does it say about a few digits?",
        "The first digits of the evaluated set, each with the probability the network gives every class.",
    ),
    "weights": (
        "Weights",
        "What did the first layer learn to look for?",
        "Each square is one unit's 784 input weights drawn as an image: ink on red pixels excites the unit, ink on "
        "blue ones inhibits it. Each square has its own scale. The speckle at the edges is the random initial "
        "weights: no digit has ink there, so nothing ever changes them.",
    ),
    "filters": (
        "Filters",
        "What did the first convolution learn to look for?",
        "Each square is one kernel of the first convolution, slid over every position of the digit: ink on red "
        "pixels excites it, ink on blue ones inhibits it. Many become edge and stroke detectors at some angle.",
    ),
    "feature_maps": (
        "Feature maps",
        "What does the network see in a digit?",
        "The first evaluated digit and, for each convolution block, what some of its channels make of it (after "
        "the ReLU; dark is strong). Early maps follow strokes and edges; after each 2×2 pooling they are coarser "
        "and more abstract.",
    ),
}


@dataclasses.dataclass
class Evaluation:
    """A network's predictions on labelled digits, and every number the report draws from them."""

    split: str  # what was measured: "test", "dev", or a description
    X: np.ndarray  # (n, 784) uint8 pixels
    y: np.ndarray  # (n,) labels
    probabilities: np.ndarray  # (n, k)
    loss: float
    confusion: np.ndarray  # (k, k), true classes as rows
    per_class: metrics.ClassReport
    calibration: metrics.Calibration
    mistakes: np.ndarray  # row indices of the most confident mistakes, surest first

    @property
    def accuracy(self) -> float:
        return self.per_class.accuracy


def evaluate(network: Network, X: np.ndarray, y: np.ndarray, split: str = "test") -> Evaluation:
    """Measure ``network`` on pixels ``X`` (n, 784) with labels ``y`` (n,)."""
    probabilities = network.predict_proba(X)  # (n, k)
    loss, _ = network.evaluate(X, y)
    confusion = metrics.confusion_matrix(y, probabilities.argmax(axis=1), network.sizes[-1])
    return Evaluation(
        split=split,
        X=X,
        y=y,
        probabilities=probabilities,
        loss=loss,
        confusion=confusion,
        per_class=metrics.report_from_confusion(confusion),
        calibration=metrics.calibration(probabilities, y),
        mistakes=metrics.most_confident_mistakes(probabilities, y, MISTAKES),
    )


def draw_figures(
    network: Network, evaluation: Evaluation, history: list[Record] | None = None, summary: dict | None = None
) -> dict[str, Figure]:
    """Every figure of the report, by name (see ``FIGURES``); the learning curves only when there is a history."""
    e, summary = evaluation, summary or {}
    on = _split_name(e.split)
    figures = {}
    if history:
        figures["learning_curves"] = plots.learning_curves_figure(
            history, summary.get("best_epoch"), summary.get("test_accuracy"), _unit(summary)
        )
    figures["confusion"] = plots.confusion_figure(e.confusion, title=f"Confusion matrix on the {on}")
    figures["per_class"] = plots.per_class_figure(e.per_class, title=f"Per class on the {on}")
    figures["mistakes"] = plots.mistakes_figure(e.X, e.y, e.probabilities, e.mistakes)
    figures["reliability"] = plots.reliability_figure(e.calibration)
    n = min(SAMPLES, len(e.X))
    figures["predictions"] = plots.predictions_figure(e.X[:n], e.probabilities[:n], e.y[:n])
    first = network.layers[0]
    if isinstance(first, Conv2D):
        figures["filters"] = plots.weights_figure(first.W)
        _, hidden = network.activations(network.inputs(e.X[:1]))
        maps = [A[0] for A in hidden if A.ndim == 4]  # (h, w, c) after each convolution's ReLU
        figures["feature_maps"] = plots.feature_maps_figure(e.X[0], maps)
    else:
        figures["weights"] = plots.weights_figure(first.W)
    return figures


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")


@dataclasses.dataclass
class Report:
    run_dir: Path
    summary: dict[str, Any]  # as in summary.json
    history: list[Record]  # as in history.jsonl; empty when the run has none
    network: Network
    evaluation: Evaluation
    figures: dict[str, Figure]
    seconds: float = 0.0  # time taken to build the report (``write`` adds the time to draw and save it)
    created: str = dataclasses.field(default_factory=_now)  # local time, to the second


def build(
    run_dir: str | os.PathLike,
    dataset: Dataset | None = None,
    *,
    progress: Progress | None = None,
    status: Status | None = None,
) -> Report:
    """Read the run in ``run_dir``, measure it on held-out digits from ``dataset`` and draw the figures.

    ``dataset`` defaults to the source the run was trained on (loaded with ``progress`` and ``status``). The
    digits measured are the test split when the data has one; else the run's own dev split, drawn again from the
    same seed; else all the data's rows (digits from another source than the run's, or a run that held none out).
    """
    start = time.perf_counter()
    run_dir = Path(run_dir)
    network, meta = load_model(run_dir / "model.safetensors")
    summary = meta["summary"]
    if dataset is None:
        if not summary.get("data"):
            raise DataError(f"{run_dir}/model.safetensors does not say what data it was trained on; pass --data")
        dataset = load(summary["data"], progress=progress, status=status)
    report = build_from(run_dir, network, summary, read_history(run_dir / "history.jsonl"), dataset)
    return dataclasses.replace(report, seconds=time.perf_counter() - start)  # the reading and loading too


def build_from(
    run_dir: str | os.PathLike,
    network: Network,
    summary: dict[str, Any],
    history: list[Record],
    dataset: Dataset,
) -> Report:
    """The report of a run still in memory (``digitnet train`` has its network, summary and history at hand),
    measured on ``dataset`` as ``build`` measures it; ``run_dir`` is where the run was written."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    split, name = held_out(dataset, summary)
    if split.X.shape[1] != network.n_inputs:
        raise DataError(
            f"{run_dir}/model.safetensors takes {network.n_inputs} inputs but {dataset.name} has {split.X.shape[1]} "
            "pixels per digit; pass the data the model was trained on with --data"
        )
    evaluation = evaluate(network, split.X, split.y, name)
    figures = draw_figures(network, evaluation, history, summary)
    return Report(run_dir, summary, history, network, evaluation, figures, time.perf_counter() - start)


def held_out(dataset: Dataset, summary: dict[str, Any]) -> tuple[Split, str]:
    """The labelled digits to judge a run on, and their name; see ``build``."""
    if dataset.test is not None and dataset.test.y is not None:
        return dataset.test, "test"
    if dataset.train.y is None:
        raise DataError(f"{dataset.name} has no `label` column; a report needs labelled digits")
    config = summary.get("config") or {}
    same_data = dataset.name == summary.get("data")
    if same_data and config.get("dev_size"):
        _, dev = run_dev_split(dataset.train.X, dataset.train.y, config["dev_size"], config["seed"])
        return dev, "dev"
    if same_data:
        return dataset.train, "training set (the run held no digits out)"
    return dataset.train, f"{len(dataset.train.X):,} digits of {dataset.name}"


def read_history(path: Path) -> list[Record]:
    """The records of a ``history.jsonl``; none when the file is missing."""
    if not path.is_file():
        return []
    history = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            history.append(Record(**json.loads(line)))
        except (ValueError, TypeError):
            raise ModelFileError(f"{path}: line {number} is not a training record; delete the file or rerun") from None
    return history


# --------------------------------------------------------------------------------------------------- files
def write(report: Report, out_dir: str | os.PathLike | None = None) -> Path:
    """Save the figures (``figures/*.png``), ``metrics.json`` and ``report.html`` to ``out_dir`` (default: the run
    directory), each file atomically; returns the path of ``report.html``."""
    start = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else report.run_dir
    (out / "figures").mkdir(parents=True, exist_ok=True)
    images = {}
    for name, figure in report.figures.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)  # drawing happens here: most of a report's time
        images[name] = buffer.getvalue()
        write_bytes(out / "figures" / f"{name}.png", images[name])
    write_text(out / "metrics.json", json.dumps(metrics_dict(report.evaluation), indent=2) + "\n")
    timed = dataclasses.replace(report, seconds=report.seconds + time.perf_counter() - start)
    write_text(out / "report.html", render_html(timed, images))
    return out / "report.html"


def metrics_dict(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation's numbers as plain JSON values."""
    e = evaluation
    return {
        "split": e.split,
        "examples": len(e.y),
        "accuracy": e.accuracy,
        "loss": e.loss,
        "expected_calibration_error": e.calibration.ece,
        "per_class": e.per_class.rows(),
        "macro_average": e.per_class.macro,
        "weighted_average": e.per_class.weighted,
        "confusion_matrix": e.confusion.tolist(),
        "calibration_bins": {
            "edges": e.calibration.edges.tolist(),
            "count": e.calibration.count.tolist(),
            "accuracy": [None if np.isnan(a) else float(a) for a in e.calibration.accuracy],
            "confidence": [None if np.isnan(c) else float(c) for c in e.calibration.confidence],
        },
    }


# ---------------------------------------------------------------------------------------------------- html
def render_html(report: Report, images: dict[str, bytes]) -> str:
    """``report.html``: one page, the PNG ``images`` embedded as data URLs, no request to any network."""
    from . import __version__

    s, e = report.summary, report.evaluation
    template = Template(importlib.resources.files("digitnet").joinpath("report.html").read_text(encoding="utf-8"))
    run_name = report.run_dir.resolve().name
    # per_class is drawn as a figure for notebooks and the figures folder; the page shows it as a real table
    shown = [name for name in FIGURES if name in images or name == "per_class"]
    sections = [_table_section(e) if name == "per_class" else _figure_section(name, images[name]) for name in shown]
    return template.substitute(
        title=_escape(f"{run_name}: {e.accuracy:.2%} on the {_split_name(e.split)}"),
        run_name=_escape(run_name),
        subtitle=_escape(_subtitle(report)),
        tiles=_tiles(report),
        nav="\n".join(f'<a href="#{name}">{_escape(FIGURES[name][0])}</a>' for name in shown)
        + '\n<a href="#run">Configuration</a>',
        sections="\n".join(sections),
        configuration=_definitions((s.get("config") or {}).items()),
        timings=_definitions(_timings(report)),
        footer=_escape(f"digitnet {__version__} · {report.created} · {report.run_dir.resolve()}"),
    )


def _unit(summary: dict) -> str:
    # what the history counts: full-batch training reports iterations, mini-batch training epochs
    return "iteration" if (summary.get("config") or {}).get("batch_size") == 0 else "epoch"


def _split_name(split: str) -> str:
    return f"{split} set" if split in ("test", "dev") else split


def _subtitle(report: Report) -> str:
    summary = report.summary
    parameters = sum(value.size for value, _, _ in report.network.parameters())
    parts = [f"network {' → '.join(map(str, report.network.sizes))} ({parameters:,} parameters)"]
    if summary.get("data"):
        parts.append(f"trained on {summary['data']}")
    if summary.get("preset"):
        parts.append(f"preset {summary['preset']}")
    if summary.get("stopped"):
        parts.append(f"{summary['stopped']} after {summary.get('epochs')} {_unit(summary)}s")
    return " · ".join(parts)


def _tiles(report: Report) -> str:
    s, e = report.summary, report.evaluation
    wrong = int(len(e.y) - np.trace(e.confusion))
    tiles = [(f"{e.accuracy:.2%}", f"accuracy on the {_split_name(e.split)}", True)]
    tiles.append((f"{wrong:,}", f"mistakes in {len(e.y):,} digits", False))
    if s.get("dev_accuracy") is not None and e.split != "dev":
        tiles.append((f"{s['dev_accuracy']:.2%}", "dev accuracy", False))
    tiles.append((f"{e.loss:.4f}", "loss (cross-entropy)", False))
    tiles.append((f"{e.calibration.ece:.2%}", "calibration error (ECE)", False))
    if s.get("train_seconds") is not None:
        tiles.append((_duration(s["train_seconds"]), "of training", False))
    return "\n".join(
        f'<div class="tile{" main" if main else ""}"><b>{_escape(value)}</b><span>{_escape(label)}</span></div>'
        for value, label, main in tiles
    )


def _figure_section(name: str, png: bytes) -> str:
    _, heading, caption = FIGURES[name]
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the PNG's IHDR chunk
    # Shown at the size matplotlib drew it (CSS pixels are 1/96 inch), sharp on high-density screens; on a
    # phone a wide figure keeps 60% of that width and scrolls sideways rather than shrinking past reading.
    width, height = round(width * 96 / DPI), round(height * 96 / DPI)
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<section id="{name}"><h2>{_escape(heading)}</h2><figure><div class="plot">'
        f'<img src="data:image/png;base64,{data}" width="{width}" height="{height}" alt="{_escape(heading)}" '
        f'style="--narrowest: {round(0.6 * width)}px"></div>'
        f"<figcaption>{_escape(caption)}</figcaption></figure></section>"
    )


def _table_section(evaluation: Evaluation) -> str:
    report = evaluation.per_class
    worst = int(np.argmin(report.f1))
    rows = []
    for row in report.rows():
        cells = "".join(f"<td>{row[key]:.3f}</td>" for key in ("precision", "recall", "f1"))
        mark = ' class="worst"' if row["class"] == worst else ""
        rows.append(f"<tr{mark}><th>{row['class']}</th>{cells}<td>{row['support']:,}</td></tr>")
    for name, average in [("macro average", report.macro), ("weighted average", report.weighted)]:
        cells = "".join(f"<td>{average[key]:.3f}</td>" for key in ("precision", "recall", "f1"))
        rows.append(f'<tr class="average"><th>{name}</th>{cells}<td>{report.support.sum():,}</td></tr>')
    _, heading, caption = FIGURES["per_class"]
    return (
        f'<section id="per_class"><h2>{_escape(heading)}</h2><div class="scroll"><table>'
        "<thead><tr><th>digit</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead>"
        f'<tbody>{"".join(rows)}</tbody></table></div><p class="note">{_escape(caption)}</p></section>'
    )


def _timings(report: Report) -> list[tuple[str, Any]]:
    s = report.summary
    rows = []
    if s.get("train_seconds"):
        rows.append(("training", _duration(s["train_seconds"])))
        if s.get("epochs"):
            rows.append((f"per {_unit(s)}", _duration(s["train_seconds"] / s["epochs"])))
            if s.get("train_examples"):
                rows.append(("examples per second", f"{s['train_examples'] * s['epochs'] / s['train_seconds']:,.0f}"))
    rows.append(("this report", _duration(report.seconds)))
    for key in ("train_examples", "dev_examples", "test_examples"):
        if s.get(key) is not None:
            rows.append((key.replace("_", " "), f"{s[key]:,}"))
    rows += [(key, value) for key, value in (s.get("machine") or {}).items()]
    return rows


def _definitions(items) -> str:
    out = []
    for key, value in items:
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        out.append(f"<dt>{_escape(str(key).replace('_', ' '))}</dt><dd>{_escape(str(value))}</dd>")
    return "\n".join(out)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
