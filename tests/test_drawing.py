"""Preparing a drawing the way MNIST digits were prepared, reading PNGs of any colours, and reading the digit."""

import io

import numpy as np
import pytest
from PIL import Image

from digitnet.data import load
from digitnet.errors import DataError
from digitnet.io import load_model
from digitnet.web import drawing
from strokes import DIGITS, render


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    rows, cols = np.mgrid[0:28, 0:28]
    mass = digit.astype(float).sum()
    return float((rows * digit).sum() / mass), float((cols * digit).sum() / mass)


def ink_box(digit: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the pixels with any ink."""
    rows, cols = np.nonzero(digit)
    return rows.min(), cols.min(), rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def assert_mnist_style(digit: np.ndarray) -> None:
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255  # the strongest ink is full ink, as in every MNIST digit
    _, _, height, width = ink_box(digit)
    assert max(height, width) == 20  # fits 20x20, touching it on the longer side
    row, col = centre_of_mass(digit)
    # MNIST's centre of mass sits within half a pixel of (14, 14): it was moved by whole pixels
    assert 13.5 <= row <= 14.5 and 13.5 <= col <= 14.5


def test_an_off_centre_drawing_is_centred_by_its_centre_of_mass():
    canvas = np.zeros((300, 300))
    canvas[10:70, 220:260] = 1.0  # a small block in the top-right corner
    digit = drawing.prepare(canvas)
    assert_mnist_style(digit)
    assert ink_box(digit)[2:] == (20, 13)  # 60x40 keeps its 3:2 shape: 20 by 13.3 rounded


def test_an_oversized_drawing_is_scaled_down_to_fit_20_by_20_keeping_its_aspect_ratio():
    canvas = np.zeros((500, 800), dtype=np.uint8)
    canvas[:, :] = 255  # ink from edge to edge, wider than tall
    canvas[100:400, 200:600] = 0  # a hollow frame
    digit = drawing.prepare(canvas)
    assert_mnist_style(digit)
    assert ink_box(digit)[2:] == (12, 20)  # 800x500 -> 20x12.5, rounded to 12 rows
    assert digit[12, 14] == 0  # still hollow


def test_a_thin_stroke_is_scaled_and_stays_visible():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[40:240, 150] = 255  # a one-pixel line, 200 pixels tall: a tenth of a pixel wide once scaled
    digit = drawing.prepare(canvas)
    assert_mnist_style(digit)
    top, left, height, width = ink_box(digit)
    assert (height, width) == (20, 1)
    assert (digit[top : top + 20, left] == 255).all()  # anti-aliasing greys it, the intensity scale restores it


def test_a_tiny_drawing_is_scaled_up():
    canvas = np.zeros((100, 100), dtype=np.uint8)
    canvas[50:55, 60:62] = 255  # a 5x2 speck
    digit = drawing.prepare(canvas)
    assert_mnist_style(digit)
    assert ink_box(digit)[2:] == (20, 8)


def test_only_relative_ink_matters_uint8_or_floats():
    canvas = np.zeros((200, 200), dtype=np.uint8)
    canvas[30:170, 90:110] = 200
    assert np.array_equal(drawing.prepare(canvas), drawing.prepare(canvas / 255.0))


def test_an_mnist_digit_prepared_again_is_almost_unchanged():
    # The strongest check that preparation matches MNIST's: its own digits are fixed points, up to faint specks.
    X = load("sample").test.X[:200]
    again = np.stack([drawing.prepare(x.reshape(28, 28)).ravel() for x in X])
    assert np.mean(np.all(again == X, axis=1)) >= 0.6
    assert np.abs(again.astype(int) - X).mean() < 0.2  # out of 255


@pytest.mark.parametrize(
    "ink, message",
    [
        (np.zeros((280, 280)), "the drawing is blank"),
        (np.zeros((3, 280, 280)), "2-D array"),
        (np.zeros((0, 5)), "2-D array"),
        (np.full((4, 4), np.nan), "NaN"),
    ],
)
def test_a_drawing_without_ink_or_of_the_wrong_shape_is_refused(ink, message):
    with pytest.raises(DataError, match=message):
        drawing.prepare(ink)


# ------------------------------------------------------------------------------------------------- PNGs
def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_png_from_the_page_has_its_ink_in_the_alpha_channel():
    image = render(DIGITS[7])
    ink = drawing.ink_from_png(png(image))
    assert np.array_equal(ink, np.asarray(image.getchannel("A"), dtype=np.float32))


def test_dark_ink_on_light_paper_reads_like_light_ink_on_dark():
    alpha = render(DIGITS[7]).getchannel("A")  # 0 paper, 255 ink
    on_black = Image.merge("RGB", [alpha] * 3)
    on_white = on_black.point(lambda v: 255 - v)
    on_grey_paper = on_white.point(lambda v: 40 + v * 180 // 255)  # a photo of grey paper: paper 220, ink 40
    expected = drawing.prepare(drawing.ink_from_png(png(on_black)))
    assert np.array_equal(drawing.prepare(drawing.ink_from_png(png(on_white))), expected)
    assert np.abs(drawing.prepare(drawing.ink_from_png(png(on_grey_paper))).astype(int) - expected).max() <= 2


def test_a_png_that_is_not_a_png_or_too_big_or_damaged_is_refused():
    with pytest.raises(DataError, match="not a PNG"):
        drawing.ink_from_png(b"GIF89a not really")
    with pytest.raises(DataError, match="at most 100 pixels"):
        drawing.ink_from_png(png(Image.new("L", (101, 20))), max_side=100)
    with pytest.raises(DataError, match="damaged"):
        drawing.ink_from_png(png(render(DIGITS[1]))[:300])


# ------------------------------------------------------------------------------------------------ reading
@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_clearly_drawn_digits_are_read(reader_model, digit):
    network, _ = load_model(reader_model)
    pixels = drawing.prepare(drawing.ink_from_png(png(render(DIGITS[digit]))))
    assert drawing.read(network, pixels).digit == digit


def test_read_agrees_with_the_network_and_shows_the_hidden_layer(reader_model):
    network, _ = load_model(reader_model)
    pixels = load("sample").test.X[:1]  # (1, 784)
    reading = drawing.read(network, pixels.reshape(28, 28))
    assert np.allclose(reading.probabilities, network.predict_proba(pixels)[0], atol=1e-6)
    dense = network.dense_layers[0]
    expected_hidden = np.maximum(pixels / 255.0 @ dense.W + dense.b, 0)[0]  # ReLU(X W + b)
    assert len(reading.hidden) == 1
    assert np.allclose(reading.hidden[0], expected_hidden, atol=1e-4)
    units = drawing.strongest_units(network, reading, 5)
    activations = [activation for _, activation, _ in units]
    assert activations == sorted(activations, reverse=True) and activations[0] == reading.hidden[0].max()
    assert all(np.abs(weights).max() == pytest.approx(1) and weights.shape == (28, 28) for _, _, weights in units)
