"""Figures, drawn with matplotlib. Each function returns a Figure; saving it is the caller's choice.

The figures are built on ``matplotlib.figure.Figure`` rather than ``pyplot``, so they need no display and leave no
global state behind; in a notebook a returned figure shows inline. They share one look (``STYLE``, ``COLOURS``):

- ``learning_curves_figure``: loss and accuracy per report, train and dev, the best epoch marked;
- ``confusion_figure``: the confusion matrix, as counts and normalised by row;
- ``per_class_figure``: precision, recall, F1 and support of each digit, as a coloured table;
- ``mistakes_figure``: a gallery of the most confident mistakes;
- ``weights_figure``: each hidden unit's first-layer weights drawn as a 28x28 image (a convolution's: its kernels);
- ``feature_maps_figure``: what each convolution block of a conv net makes of one digit;
- ``reliability_figure``: accuracy against confidence, with the expected calibration error;
- ``predictions_figure`` and ``digit_figure``: digits with their probability bars (the notebook's ``test_prediction``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .metrics import Calibration, ClassReport

COLOURS = {
    "train": "#2563eb",  # blue
    "dev": "#ea580c",  # orange
    "test": "#059669",  # green
    "right": "#059669",
    "wrong": "#dc2626",  # red
    "bar": "#94a3b8",  # the probabilities that were not chosen
    "ink": "#1e293b",
    "muted": "#64748b",
    "grid": "#e2e8f0",
}
STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same figures on every machine
    "font.size": 10,
    "text.color": COLOURS["ink"],
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 8,
    "axes.labelcolor": COLOURS["ink"],
    "axes.edgecolor": "#cbd5e1",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": COLOURS["grid"],
    "grid.linewidth": 0.8,
    "xtick.color": COLOURS["muted"],
    "ytick.color": COLOURS["muted"],
    "legend.frameon": False,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "image.interpolation": "nearest",  # pixels stay pixels
}
DIGIT_CMAP = "gray_r"  # ink dark on white, as on paper


def styled(draw):
    """Draw the figure inside ``STYLE``: matplotlib reads most settings when an artist is made."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def _figure(size: tuple[float, float], left: float, right: float, top: float, bottom: float, **spacing) -> Figure:
    """A Figure of ``size`` inches whose subplots sit inside fixed margins, in inches (``wspace`` and ``hspace``
    stay matplotlib's fractions of a subplot's width and height).

    The figures have fixed sizes and predictable labels, so fixed margins fit them; matplotlib's constrained
    layout would find much the same margins but make saving several times slower.
    """
    from matplotlib.figure import Figure

    width, height = size
    fig = Figure(figsize=size)
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        **spacing)  # fmt: skip
    return fig


# ------------------------------------------------------------------------------------------- learning curves
@styled
def learning_curves_figure(
    history: Sequence[Any],
    best_epoch: float | None = None,
    test_accuracy: float | None = None,
    unit: str = "epoch",
) -> Figure:
    """Loss and accuracy at each report, train and dev; the best epoch marked, the test accuracy as a line.

    ``history`` is a list of ``train.Record`` (a trainer's ``history``) or of dicts with the same keys (the lines
    of ``history.jsonl``). ``unit`` names the x axis: "epoch", or "iteration" for full-batch training.
    """
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    def column(name: str) -> np.ndarray:
        values = [r.get(name) if isinstance(r, dict) else getattr(r, name, None) for r in history]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    x = column("epoch")
    marker = "o" if len(x) <= 30 else None  # dots help read a short run, and clutter a long one
    fig = _figure((10, 4), left=0.75, right=0.15, top=0.4, bottom=0.55, wspace=0.22)
    ax_loss, ax_accuracy = fig.subplots(1, 2)
    for ax, name, title in [(ax_loss, "loss", "Loss (cross-entropy)"), (ax_accuracy, "accuracy", "Accuracy")]:
        for split in ("train", "dev"):
            y = column(f"{split}_{name}")
            if not np.all(np.isnan(y)):
                ax.plot(x, y, marker=marker, markersize=4, lw=2, color=COLOURS[split], label=split)
        if best_epoch is not None:
            ax.axvline(best_epoch, color=COLOURS["muted"], ls="--", lw=1)
            dev = column(f"dev_{name}")[x == best_epoch]
            if len(dev) and not np.isnan(dev[0]):
                ax.plot(best_epoch, dev[0], "o", ms=10, mfc="none", mec=COLOURS["dev"], mew=2)
        ax.set_title(title)
        ax.set_xlabel(unit)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    losses = np.concatenate([column("train_loss"), column("dev_loss")])
    _plain_log_y(ax_loss, np.nanmin(losses), np.nanmax(losses))  # the loss falls by orders of magnitude
    ax_accuracy.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if test_accuracy is not None:
        ax_accuracy.axhline(test_accuracy, color=COLOURS["test"], ls=":", lw=2, label=f"test {test_accuracy:.2%}")
    if best_epoch is not None:
        right_half = best_epoch > (x.min() + x.max()) / 2  # write the label on the side with room for it
        ax_loss.annotate(f"best {unit} {best_epoch:g}", (best_epoch, 1), xycoords=("data", "axes fraction"),
                         xytext=(-4 if right_half else 4, -4), textcoords="offset points", va="top",
                         ha="right" if right_half else "left", color=COLOURS["muted"], fontsize=9)  # fmt: skip
    ax_accuracy.legend(loc="lower right")
    return fig


def _plain_log_y(ax, low: float, high: float) -> None:
    """A log y axis labelled 0.3, 1, 10 rather than 3×10⁻¹, 10⁰, 10¹; when the data spans under two decades, some
    multiples of each power of ten are labelled too, so that a short range still has numbers on it."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    axis = ax.yaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    span = high / max(low, 1e-300)
    labelled = (2, 3, 4, 6, 8) if span < 10 else (2, 3, 5) if span < 100 else ()  # fewer as the range grows

    def minor(v: float, _) -> str:
        leading = round(v / 10 ** math.floor(math.log10(v)))  # 2 for 0.2, 20, 200 ...
        return f"{v:g}" if leading in labelled else ""

    axis.set_minor_formatter(FuncFormatter(minor))


# ---------------------------------------------------------------------------------------------- confusion
@styled
def confusion_figure(confusion: np.ndarray, title: str = "") -> Figure:
    """The confusion matrix (k, k), true class as rows: counts on the left, each row as percentages on the right.

    The right panel's colours follow a square-root scale so that a 1% confusion is visible beside a 98% diagonal.
    """
    from matplotlib.colors import Normalize, PowerNorm

    k = len(confusion)
    support = confusion.sum(axis=1, keepdims=True)  # (k, 1)
    share = confusion / np.maximum(support, 1)  # (k, k) each row sums to 1
    fig = _figure(
        (11, 5.4 if title else 5.1), left=0.55, right=0.1, top=0.8 if title else 0.45, bottom=0.55, wspace=0.2
    )
    ax_counts, ax_share = fig.subplots(1, 2)
    panels = [
        (ax_counts, confusion, Normalize(0, max(confusion.max(), 1)), "Counts", lambda v: f"{v:d}"),
        (ax_share, share, PowerNorm(0.5, 0, 1), "% of each true digit", _percent_label),
    ]
    for ax, values, norm, panel_title, label in panels:
        ax.imshow(values, cmap="Blues", norm=norm)
        ax.grid(False)
        for i, j in zip(*np.nonzero(values), strict=True):  # empty cells stay empty
            dark = norm(values[i, j]) > 0.55
            ax.text(j, i, label(values[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if dark else COLOURS["ink"])  # fmt: skip
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(panel_title)
    if title:
        fig.suptitle(title, x=0.55 / 11, ha="left")
    return fig


def _percent_label(share: float) -> str:
    return f"{share:.1%}"[:-1] if share < 0.1 else f"{share:.0%}"[:-1]  # "0.4", "2.5", "97": % is in the title


# ---------------------------------------------------------------------------------------------- per class
@styled
def per_class_figure(report: ClassReport, title: str = "") -> Figure:
    """Precision, recall and F1 of each class as a table whose cells are coloured by value, with the support.

    The colours span the table's own range (from its lowest value to 1), so the weakest digits stand out.
    """
    from matplotlib.colors import Normalize

    k = len(report.support)
    macro = report.macro
    values = np.column_stack([report.precision, report.recall, report.f1])  # (k, 3)
    values = np.vstack([values, [macro["precision"], macro["recall"], macro["f1"]]])  # (k + 1, 3)
    low = min(float(values.min()), 0.95)
    norm = Normalize(low - 0.25 * (1 - low), 1)  # the lowest value lands near the colour map's red end
    fig = _figure((6.4, 0.42 * (k + 1) + 1.1), left=0.75, right=0.1, top=0.8, bottom=0.1)
    ax = fig.subplots()
    ax.imshow(values, cmap="RdYlGn", norm=norm, aspect="auto", alpha=0.75)
    ax.grid(False)
    for i in range(k + 1):
        for j in range(3):
            ax.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", fontsize=10,
                    fontweight="bold" if i == k else "normal")  # fmt: skip
        support = report.support.sum() if i == k else report.support[i]
        ax.text(3.1, i, f"{support:,}", ha="center", va="center", fontsize=10, color=COLOURS["muted"])
    ax.axhline(k - 0.5, color="white", lw=4)  # set the average apart from the classes
    ax.set_xlim(-0.5, 3.6)
    ax.set_xticks([0, 1, 2, 3.1], ["precision", "recall", "F1", "support"])
    ax.xaxis.tick_top()
    ax.set_yticks(range(k + 1), [str(c) for c in range(k)] + ["mean"])
    ax.tick_params(length=0, labelsize=10)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(title or f"Per class (accuracy {report.accuracy:.2%})", x=0.1 / 6.4, y=1 - 0.12 / fig.get_figheight(),
                 ha="left", va="top")  # fmt: skip
    return fig


# ------------------------------------------------------------------------------------------------ mistakes
@styled
def mistakes_figure(
    X: np.ndarray, y: np.ndarray, probabilities: np.ndarray, indices: np.ndarray, columns: int = 8, title: str = ""
) -> Figure:
    """A gallery of the digits at ``indices`` (e.g. ``metrics.most_confident_mistakes``): each one titled
    "label → prediction  probability", with its row number below.
    """
    n = len(indices)
    fig, ax, offsets = _tiled_figure(n, columns, tile=(28 + 8, 28 + 18), inches_per_unit=1.25 / 36)
    title_artist = fig.suptitle(title or "Most confident mistakes", x=0.01, ha="left")
    fig.text(0.99, title_artist.get_position()[1], "label → prediction (its probability) above, row below",
             ha="right", va="top", fontsize=9, color=COLOURS["muted"])  # fmt: skip
    if n == 0:
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=14, color=COLOURS["muted"],
                transform=ax.transAxes)  # fmt: skip
    for (x0, y0), i in zip(offsets, indices, strict=False):
        prediction = int(probabilities[i].argmax())
        _draw_digit(ax, X[i], x0 + 4, y0 + 9)
        colour = COLOURS["wrong"] if prediction != y[i] else COLOURS["ink"]
        ax.text(x0 + 18, y0 + 7.5, f"{y[i]} → {prediction}  {probabilities[i, prediction]:.0%}", ha="center",
                va="bottom", fontsize=9.5, fontweight="bold", color=colour)  # fmt: skip
        ax.text(x0 + 18, y0 + 38, f"#{i}", ha="center", va="top", fontsize=8, color=COLOURS["muted"])
    return fig


def _tiled_figure(n: int, columns: int, tile: tuple[float, float], inches_per_unit: float):
    """One axes holding ``n`` tiles of ``tile`` (width, height) data units, ``columns`` to a row, y pointing down.

    Drawing a gallery into a single axes is many times faster than one axes per digit. Returns the figure, the
    axes and the top-left corner of each tile.
    """
    from matplotlib.figure import Figure

    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    width, height = columns * tile[0], rows * tile[1]
    title_inches = 0.45
    fig = Figure(figsize=(width * inches_per_unit + 0.2, height * inches_per_unit + title_inches + 0.1))
    fig_w, fig_h = fig.get_size_inches()
    ax = fig.add_axes((0.1 / fig_w, 0.1 / fig_h, 1 - 0.2 / fig_w, 1 - (title_inches + 0.1) / fig_h))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # rows go down, as in an image
    ax.set_axis_off()
    offsets = [(c * tile[0], r * tile[1]) for r, c in (divmod(i, columns) for i in range(n))]
    return fig, ax, offsets


def _draw_digit(ax, pixels: np.ndarray, x0: float, y0: float) -> None:
    # A 28x28 digit whose top-left corner is at (x0, y0), one data unit per pixel.
    ax.imshow(pixels.reshape(28, 28), cmap=DIGIT_CMAP, vmin=0, vmax=255, extent=(x0, x0 + 28, y0 + 28, y0))


# ------------------------------------------------------------------------------------------------- weights
@styled
def weights_figure(W: np.ndarray, max_units: int = 100, title: str = "") -> Figure:
    """The first layer's weights as pictures: each hidden unit's 784 weights (``W`` (784, n_hidden)) as a 28x28
    image, or each of a first convolution's kernels (``W`` (k, k, 1, c_out)) as a k×k one.

    Red pixels raise the unit when they hold ink, blue ones lower it. Each unit is scaled to its own largest
    weight, so the pattern shows whatever the unit's scale. Only the first ``max_units`` units are drawn.
    """
    from matplotlib.figure import Figure

    pictures = W.mean(axis=2).transpose(2, 0, 1) if W.ndim == 4 else W.T.reshape(-1, 28, 28)  # (n_units, h, w)
    total, side = len(pictures), pictures.shape[1]
    n = min(total, max_units)
    columns = min(10, n) if side == 28 else min(16, n)  # rows of ten: the notebook's 10 hidden units make one strip
    rows = math.ceil(n / columns)
    units = pictures[:n].reshape(n, -1).astype(np.float64)  # (n, side * side)
    units = units / np.maximum(np.abs(units).max(axis=1, keepdims=True), 1e-12)  # each unit in [-1, 1]
    # One mosaic image with a one-pixel gap between tiles: much faster to draw than one axes per unit.
    tile = side + 1
    mosaic = np.full((rows * tile + 1, columns * tile + 1), np.nan)  # NaN: the gaps, drawn as background
    for u in range(n):
        r, c = divmod(u, columns)
        mosaic[1 + r * tile : (r + 1) * tile, 1 + c * tile : (c + 1) * tile] = units[u].reshape(side, side)
    kind = "units" if side == 28 else f"{side}×{side} filters of the first convolution"

    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    inch_per_tile, top, bottom = 0.75, 0.55, 0.6  # bottom: room for the colour bar
    width, height = max(6.0, columns * inch_per_tile + 0.3), rows * inch_per_tile + top + bottom  # room for the title
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0.15 / width, bottom / height, 1 - 0.3 / width, 1 - (top + bottom) / height))
    image = ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1)  # square pixels, centred in the axes
    ax.set_axis_off()
    bar_width = min(3.5, width - 0.6)
    bar_ax = fig.add_axes(((1 - bar_width / width) / 2, 0.3 / height, bar_width / width, 0.1 / height))
    bar = fig.colorbar(image, cax=bar_ax, orientation="horizontal")
    bar.set_ticks([-1, 0, 1], labels=["lowers the unit", "0", "raises the unit"])
    bar.outline.set_visible(False)
    bar.ax.tick_params(labelsize=8, length=0)
    fig.suptitle(title or f"First-layer weights: {n} of {total} {kind}", x=0.15 / width, ha="left",
                 y=1 - 0.12 / height, va="top")  # fmt: skip
    return fig


# -------------------------------------------------------------------------------------------- feature maps
@styled
def feature_maps_figure(pixels: np.ndarray, maps: list[np.ndarray], max_channels: int = 12, title: str = "") -> Figure:
    """One digit (784,) and, row by row, the feature maps (h, w, c) each convolution block made of it.

    Each map is one channel's ReLU output, scaled to its own largest value (white 0, dark the strongest);
    only the first ``max_channels`` channels of each block are drawn.
    """
    from matplotlib.figure import Figure

    columns = 1 + max_channels
    fig = Figure(figsize=(columns * 0.75 + 0.3, len(maps) * 0.9 + 0.7))
    grid = fig.add_gridspec(len(maps), columns, left=0.02, right=0.98, top=1 - 0.6 / fig.get_figheight(),
                            bottom=0.02, wspace=0.08, hspace=0.35)  # fmt: skip
    for row, A in enumerate(maps):
        ax = fig.add_subplot(grid[row, 0])
        if row == 0:
            ax.imshow(pixels.reshape(28, 28), cmap=DIGIT_CMAP, vmin=0, vmax=255)
            ax.set_title("input", fontsize=7)
        ax.set_axis_off()
        for c in range(min(max_channels, A.shape[-1])):
            ax = fig.add_subplot(grid[row, 1 + c])
            ax.imshow(A[:, :, c], cmap="Greys", vmin=0, vmax=max(float(A[:, :, c].max()), 1e-12))
            ax.set_axis_off()
            if c == 0:
                ax.set_title(f"block {row + 1}: {A.shape[0]}×{A.shape[1]}, {A.shape[2]} channels", fontsize=7,
                             loc="left")  # fmt: skip
    fig.suptitle(title or "Feature maps of one digit", x=0.02, ha="left", y=1 - 0.1 / fig.get_figheight(), va="top")
    return fig


# --------------------------------------------------------------------------------------------- calibration
@styled
def reliability_figure(calibration: Calibration, title: str = "") -> Figure:
    """Accuracy against confidence, bin by bin, with the diagonal of perfect calibration and each bin's gap;
    below, how many predictions fall in each bin (log scale: most are near 100%).
    """
    from matplotlib.ticker import PercentFormatter

    c = calibration
    left, width = c.edges[:-1], np.diff(c.edges)  # (n_bins,)
    filled = c.count > 0
    fig = _figure((6, 6.4), left=0.85, right=0.25, top=0.45, bottom=0.65, hspace=0.12)
    ax, ax_count = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], ls="--", color=COLOURS["muted"], lw=1, label="perfect calibration")
    ax.bar(left[filled], c.accuracy[filled], width[filled], align="edge", color=COLOURS["train"], alpha=0.85,
           edgecolor="white", label="accuracy")  # fmt: skip
    gap = c.confidence[filled] - c.accuracy[filled]  # > 0: over-confident
    ax.bar(left[filled], gap, width[filled], bottom=c.accuracy[filled], align="edge", fill=False,
           edgecolor=COLOURS["wrong"], hatch="////", lw=0.8, label="gap to the bin's confidence")  # fmt: skip
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    ax.set_title(title or f"Reliability: expected calibration error {c.ece:.2%}")
    ax.legend(loc="upper left")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax_count.bar(left[filled], c.count[filled], width[filled], align="edge", color=COLOURS["muted"],
                 edgecolor="white")  # fmt: skip
    _plain_log_y(ax_count, c.count[filled].min(), c.count.max())
    ax_count.set(xlabel="confidence (largest probability)", ylabel="predictions")
    ax_count.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return fig


# --------------------------------------------------------------------------------------------- predictions
@styled
def predictions_figure(
    X: np.ndarray, probabilities: np.ndarray, y: np.ndarray | None = None, columns: int = 4, title: str = ""
) -> Figure:
    """Many digits at once, each with its prediction and its ten probability bars: the notebook's
    ``test_prediction`` for every row of ``X`` (n, 784) and ``probabilities`` (n, k).
    """
    n, k = probabilities.shape
    fig, ax, offsets = _tiled_figure(n, columns, tile=(80, 42), inches_per_unit=3.0 / 80)
    fig.suptitle(title or "Sample predictions", x=0.01, ha="left")
    pitch = 28 / k  # the bars span the digit's height, one row per class
    tracks, bars, colours = [], [], []
    for (x0, y0), i in zip(offsets, range(n), strict=False):
        label = None if y is None else int(y[i])
        prediction = int(probabilities[i].argmax())
        wrong = label is not None and label != prediction
        _draw_digit(ax, X[i], x0 + 2, y0 + 10)
        truth = "" if label is None else f"   label {label}"
        ax.text(x0 + 2, y0 + 8, f"prediction {prediction}{truth}", va="bottom", fontsize=9, fontweight="bold",
                color=COLOURS["wrong"] if wrong else COLOURS["ink"])  # fmt: skip
        left, length = x0 + 38, 38  # the bars' x for probability 0, and their length for probability 1
        for c in range(k):
            top = y0 + 10 + pitch * (c + 0.14)
            tracks.append((left, top, length, pitch * 0.72))  # a light track shows the whole 0-1 range
            bars.append((left, top, probabilities[i, c] * length, pitch * 0.72))
            colours.append(COLOURS["wrong" if wrong else "right"] if c == prediction else COLOURS["bar"])
            ax.text(left - 1.2, top + pitch * 0.36, str(c), ha="right", va="center", fontsize=7.5,
                    color=COLOURS["muted"])  # fmt: skip
    _add_rectangles(ax, tracks, COLOURS["grid"])
    _add_rectangles(ax, bars, colours)
    return fig


def _add_rectangles(ax, rectangles: list[tuple[float, float, float, float]], colours) -> None:
    # Rectangles (x, y, width, height) as one PolyCollection: `barh` would make a patch per bar, 20x slower.
    from matplotlib.collections import PolyCollection

    x, y, w, h = np.array(rectangles, dtype=np.float64).reshape(-1, 4).T  # (m,) each
    corners = np.stack([np.stack(c, axis=1) for c in [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]], axis=1)
    ax.add_collection(PolyCollection(corners, facecolors=colours, edgecolors="none"))  # corners: (m, 4, 2)


def digit_figure(pixels: np.ndarray, probabilities: np.ndarray, label: int | None = None, title: str = "") -> Figure:
    """The notebook's ``test_prediction``: the digit, its prediction and label, and the ten probabilities."""
    return _digit_figure(pixels, probabilities, label, title)


@styled
def _digit_figure(pixels, probabilities, label, title):
    from matplotlib.figure import Figure

    prediction = int(np.argmax(probabilities))
    wrong = label is not None and label != prediction
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax_image, ax_bars = fig.subplots(1, 2, width_ratios=[1, 1.3])
    ax_image.imshow(pixels.reshape(28, 28), cmap=DIGIT_CMAP, vmin=0, vmax=255)
    ax_image.set_axis_off()
    truth = "" if label is None else f", label {label}"
    ax_image.set_title(f"prediction {prediction}{truth}", loc="center",
                       color=COLOURS["wrong"] if wrong else COLOURS["ink"])  # fmt: skip
    k = len(probabilities)
    colours = [COLOURS["bar"]] * k
    colours[prediction] = COLOURS["wrong"] if wrong else COLOURS["right"]
    ax_bars.barh(range(k), probabilities, color=colours, height=0.75)
    ax_bars.set_yticks(range(k))
    ax_bars.invert_yaxis()
    ax_bars.set_xlim(0, 1)
    ax_bars.grid(axis="y", visible=False)
    ax_bars.tick_params(axis="y", length=0)
    ax_bars.set_xlabel("probability")
    if title:
        fig.suptitle(title)
    return fig
