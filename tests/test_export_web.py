"""The drawing page exported as static files: served by `python -m http.server`, run in real Chromium.

The same page as `digitnet serve`'s, with the preparation of the drawing and the network in JavaScript; each is
held here against its Python original (drawing.prepare, Network.predict_proba).
"""

import base64
import json
import re
import selectors
import subprocess
import sys

import numpy as np
import pytest

from digitnet.cli import main
from digitnet.io import load_model
from digitnet.layers import BatchNorm
from digitnet.network import Network
from digitnet.web.drawing import prepare
from digitnet.web.export import save_web
from strokes import DIGITS, render
from test_browser import CHROMIUM, LAPTOP, draw_with_mouse, ink_on, wait_until_read, watched_page

# Arrays cross into the page as base64 of their float32 bytes, much faster than lists of numbers.
FLOATS = "text => new Float32Array(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer)"


def floats(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


browser_only = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium; install Debian's: apt-get install chromium"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The folder the static server serves: the exported page is its page/, other exports may go beside it."""
    return tmp_path_factory.mktemp("site")


@pytest.fixture(scope="module")
def exported(reader_model, site):
    out = site / "page"
    assert main(["export", str(reader_model), "--format", "web", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def origin(site):
    """`python -m http.server` on a free port of 127.0.0.1, serving ``site`` and nothing else."""
    command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(site)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(30), "http.server printed nothing within 30 s"
        port = re.search(r"port (\d+)", process.stdout.readline()).group(1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture(scope="module")
def static_url(origin, exported):
    return f"{origin}/page/"


@pytest.fixture(scope="module")
def page(static_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield watched_page(browser.new_context(viewport=LAPTOP), static_url)
        browser.close()


def test_the_folder_holds_the_servers_page_and_the_weights(exported, reader_model):
    assert sorted(p.name for p in exported.iterdir()) == ["index.html", "model.bin", "model.json", "static"]
    assert sorted(p.name for p in (exported / "static").iterdir()) == ["app.js", "offline.js", "style.css"]
    model = json.loads((exported / "model.json").read_text())
    network, _ = load_model(reader_model)
    weights = np.fromfile(exported / "model.bin", dtype="<f4")
    start, length = model["layers"][0]["W"]
    np.testing.assert_array_equal(weights[start : start + length].reshape(784, 128), network.dense_layers[0].W)
    assert '<meta name="digitnet-model" content="model.json">' in (exported / "index.html").read_text()


@browser_only
def test_digits_drawn_with_the_mouse_are_read_in_the_browser_alone(page, static_url):
    assert page.locator("#correct").is_hidden()  # no server to save corrections to
    for digit in (0, 1, 3, 7):
        draw_with_mouse(page, DIGITS[digit])
        wait_until_read(page)
        assert page.locator("#digit").text_content() == str(digit)
        assert float(page.locator("#confidence").text_content().split("%")[0]) > 50
        assert ink_on(page, "#seen") > 40 and page.locator("#units figure").count() > 0  # the look inside too
        page.get_by_role("button", name="Clear").click()
    assert page.locator("#model-info").text_content().startswith("Network 784 → 128 → 10")
    assert page.problems == []
    assert page.requested and all(url.startswith(static_url) for url in page.requested), page.requested


@browser_only
def test_the_pages_preparation_gives_drawing_prepares_image(page):
    rng = np.random.default_rng(0)
    inks = [np.asarray(render(strokes).getchannel("A"), np.float32) for strokes in DIGITS.values()]
    for _ in range(12):  # blocks of ink of any size and place, with specks that the crop must ignore
        h, w = rng.integers(3, 300, 2)
        ink = np.zeros((h, w), np.float32)
        top, left = rng.integers(0, h), rng.integers(0, w)
        ink[top : top + rng.integers(1, h + 1), left : left + rng.integers(1, w + 1)] = rng.uniform(1, 255)
        ink += (rng.random((h, w)) < 0.03) * rng.uniform(0, 255, (h, w))
        inks.append(ink.astype(np.float32))
    got = page.evaluate(
        f"inks => inks.map(([ink, w, h]) => prepare(({FLOATS})(ink), w, h))",
        [[floats(ink), ink.shape[1], ink.shape[0]] for ink in inks],
    )
    for ink, rows in zip(inks, got, strict=True):
        assert np.abs(np.array(rows) - prepare(ink).astype(int)).max() <= 1  # within rounding


@browser_only
def test_the_pages_network_gives_digitnets_probabilities(page, site):
    # A fresh network with two hidden layers and dropout, exported beside the page and loaded by the page's code.
    network = Network([784, 48, 24, 10], seed=5, dropout=0.2)
    save_web(network, site / "deep", {})
    pixels = np.random.default_rng(1).integers(0, 256, (8, 784), dtype=np.uint8)
    probabilities = page.evaluate(
        """async (digits) => {
            const model = await loadBundledModel("/deep/model.json");
            return digits.map((rows) => readDigit(model, rows, 6).probabilities);
        }""",
        pixels.reshape(8, 28, 28).tolist(),
    )
    np.testing.assert_allclose(probabilities, network.predict_proba(pixels), rtol=0, atol=1e-5)


@browser_only
def test_the_pages_network_runs_convolutional_networks_too(page, site):
    network = Network("conv3x3x4-bn-pool-conv3x3x6:valid-bn-pool-16-10", seed=4)
    rng = np.random.default_rng(2)
    for _, layer in network.named_layers():  # statistics of a trained network, not the identity
        if isinstance(layer, BatchNorm):
            layer.running_mean[...] = rng.normal(0, 0.3, layer.running_mean.shape)
            layer.running_var[...] = rng.uniform(0.5, 2, layer.running_var.shape)
            layer.gamma[...] = rng.uniform(0.5, 1.5, layer.gamma.shape)
    save_web(network, site / "cnn", {})
    pixels = rng.integers(0, 256, (4, 784), dtype=np.uint8)
    readings = page.evaluate(
        """async (digits) => {
            const model = await loadBundledModel("/cnn/model.json");
            return digits.map((rows) => readDigit(model, rows, 6));
        }""",
        pixels.reshape(4, 28, 28).tolist(),
    )
    probabilities = [reading["probabilities"] for reading in readings]
    np.testing.assert_allclose(probabilities, network.predict_proba(pixels), rtol=0, atol=1e-5)
    _, hidden = network.activations(network.inputs(pixels[:1]))
    maps = readings[0]["maps"]  # what the server's look inside shows: each block's first channels, 0-255
    assert [m["size"] for m in maps] == [list(A.shape[1:]) for A in hidden if A.ndim == 4] == [[28, 28, 4], [12, 12, 6]]
    first = hidden[0][0, :, :, 0]
    assert np.abs(np.array(maps[0]["channels"][0]) - np.rint(255 * first / first.max())).max() <= 1
    # the dense hidden layer's 16 units; no strongest units, as the first layer is a convolution (as on the server)
    assert [len(h) for h in readings[0]["hidden"]] == [16] and readings[0]["strongest"] == []


def test_export_refuses_a_foreign_folder_and_a_model_that_is_not_of_digits(reader_model, tmp_path, capsys):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    assert main(["export", str(reader_model), "--format", "web", "--out", str(foreign)]) == 2
    assert "is not an earlier web export" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"]
    with pytest.raises(Exception, match="784 inputs, 10 classes"):
        save_web(Network([20, 8, 3]), tmp_path / "small", {})
    assert not (tmp_path / "small").exists() and not list(tmp_path.glob(".small*"))


def test_an_earlier_export_is_replaced_whole(reader_model, tmp_path):
    out = tmp_path / "page"
    save_web(Network([784, 8, 10], seed=1), out, {})
    assert main(["export", str(reader_model), "--format", "web", "--out", str(out)]) == 0
    assert json.loads((out / "model.json").read_text())["info"]["sizes"] == [784, 128, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page"]  # no temporary folders left beside it
