"""Digits drawn as strokes on the page's 280x280 pad, and a renderer that draws them like the page's brush.

Each digit is a list of strokes; each stroke is a list of (x, y) points in pad pixels. The shapes are plain,
upright, printed-style digits that a network trained on the package's sample reads with high confidence.
"""

import math

import numpy as np

PAD = 280  # the pad's size in canvas pixels (static/index.html)
BRUSH = 24  # the page's stroke width (static/app.js)


def arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 24) -> list:
    """Points along an ellipse from angle ``start`` to ``stop`` (degrees, clockwise on screen from 3 o'clock)."""
    angles = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


DIGITS = {
    0: [arc(140, 140, 60, 95, -90, 270, 40)],
    1: [[(150, 40), (135, 240)]],
    3: [arc(135, 90, 55, 45, 210, 450, 20), arc(135, 185, 60, 50, 270, 510, 20)],
    7: [[(80, 50), (205, 50), (120, 240)]],
}


def render(strokes: list, size: int = PAD, width: int = BRUSH):
    """The strokes as an RGBA image: black ink with round ends on a transparent pad, as the page draws them."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=(22, 24, 29, 255), width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=(22, 24, 29, 255))
    return image
