"""Figures, drawn with matplotlib. Each function returns a Figure; saving it is the caller's choice."""

from __future__ import annotations

import numpy as np


def digit_figure(pixels: np.ndarray, probabilities: np.ndarray, label: int | None = None, title: str = ""):
    """The notebook's ``test_prediction``: the digit, its prediction and label, and the ten probabilities."""
    from matplotlib.figure import Figure

    prediction = int(np.argmax(probabilities))
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax_image, ax_bars = fig.subplots(1, 2, width_ratios=[1, 1.3])
    ax_image.imshow(pixels.reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
    ax_image.set_axis_off()
    truth = "" if label is None else f", label {label}"
    ax_image.set_title(f"prediction {prediction}{truth}", color="black" if label in (None, prediction) else "red")
    colours = ["#4c72b0"] * len(probabilities)
    colours[prediction] = "#dd8452" if label not in (None, prediction) else "#55a868"
    ax_bars.barh(range(len(probabilities)), probabilities, color=colours)
    ax_bars.set_yticks(range(len(probabilities)))
    ax_bars.invert_yaxis()
    ax_bars.set_xlim(0, 1)
    ax_bars.set_xlabel("probability")
    for side in ("top", "right"):
        ax_bars.spines[side].set_visible(False)
    if title:
        fig.suptitle(title)
    return fig
