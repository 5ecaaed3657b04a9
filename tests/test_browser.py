"""A real browser on the real server: Chromium, driven by Playwright, draws digits stroke by stroke on the page.

The server is `digitnet serve` in its own process on a free port of 127.0.0.1; the browser is Debian's Chromium
(Playwright cannot download its own here). Screenshots of the page on a laptop and on a phone are saved in the
test's temporary folder.
"""

import itertools
import math
import os
import re
import selectors
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitnet.data import read_csv
from strokes import DIGITS, PAD

CHROMIUM = Path("/usr/bin/chromium")
SRC = Path(__file__).resolve().parents[1] / "src"
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium; install Debian's: apt-get install chromium"
)
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(reader_model, tmp_path_factory):
    """`digitnet serve` on a free port; yields (url, corrections file) and stops the server afterwards."""
    folder = tmp_path_factory.mktemp("served")
    corrections = folder / "corrections.csv"
    command = [sys.executable, "-m", "digitnet", "serve", str(reader_model), "--port", "0"]
    command += ["--corrections", str(corrections)]
    log = open(folder / "server.log", "w+")  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "PYTHONPATH": str(SRC)}, cwd=folder
    )
    try:
        url = _first_url(process, timeout=60)
        yield url, corrections
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        log.close()


def _first_url(process: subprocess.Popen, timeout: float) -> str:
    # The command prints its URL once it is listening; a server that dies or stays silent fails the test.
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail(f"digitnet serve printed no URL within {timeout} s")
    line = process.stdout.readline()
    found = re.search(r"http://\S+/", line)
    assert found, f"digitnet serve said {line!r} (exit code {process.poll()})"
    return found.group(0)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


def watched_page(context, url: str):
    """A new page of ``context`` at ``url`` that records console errors (``problems``) and every URL it asks for."""
    page = context.new_page()
    page.problems, page.requested = [], []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(url)
    return page


@pytest.fixture
def open_page(browser, server):
    """Open the page in a new browser context; records console errors and every URL the page asks for."""
    url, _ = server
    contexts = []

    def open_(**context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        return watched_page(context, url)

    yield open_
    for context in contexts:
        context.close()


def pad_to_screen(page):
    """A function from pad pixels (0-280) to page coordinates, inside the pad's border."""
    box = page.locator("#pad").bounding_box()
    border = page.locator("#pad").evaluate("pad => pad.clientLeft")
    scale = (box["width"] - 2 * border) / PAD
    return lambda x, y: (box["x"] + border + x * scale, box["y"] + border + y * scale)


def draw_with_mouse(page, strokes) -> None:
    to_screen = pad_to_screen(page)
    for stroke in strokes:
        page.mouse.move(*to_screen(*stroke[0]))
        page.mouse.down()
        for (x0, y0), (x, y) in itertools.pairwise(stroke):
            # a mouse event every 20 pad pixels or so, as a hand moving at a steady pace makes them
            page.mouse.move(*to_screen(x, y), steps=max(1, round(math.hypot(x - x0, y - y0) / 20)))
        page.mouse.up()


def draw_with_finger(page, strokes) -> None:
    # Playwright has no touch drag, so send the touch events the way the browser's own input layer gets them.
    to_screen = pad_to_screen(page)
    session = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = [dict(zip(("x", "y"), to_screen(*point), strict=True)) for point in stroke]
        session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
        for point in points[1:]:
            session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def wait_until_read(page) -> None:
    """Wait until the prediction on the page is about the drawing now on the pad."""
    page.wait_for_function("() => document.body.dataset.read === document.getElementById('pad').dataset.version")


def ink_on(page, selector: str) -> int:
    """How many pixels of a canvas are not blank."""
    return page.locator(selector).evaluate(
        """canvas => {
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i] < 250) n += 1;
            return n;
        }"""
    )


def test_digits_drawn_with_the_mouse_are_read(open_page, server, tmp_path):
    url, _ = server
    page = open_page(viewport=LAPTOP)
    assert page.title() == "digitnet: draw a digit"
    assert page.locator("#digit").text_content() == "?"
    for digit in (0, 1, 3, 7):
        draw_with_mouse(page, DIGITS[digit])
        wait_until_read(page)
        assert page.locator("#digit").text_content() == str(digit)
        assert page.locator("#bars li.top").get_attribute("data-digit") == str(digit)
        assert float(page.locator("#confidence").text_content().split("%")[0]) > 50
        assert ink_on(page, "#seen") > 40  # the 28x28 image the network received is shown
        assert page.locator("#units figure").count() > 0  # and a look inside
        if digit == 7:
            page.screenshot(path=tmp_path / "laptop.png", full_page=True)
        page.get_by_role("button", name="Clear").click()
        assert page.locator("#digit").text_content() == "?"
        assert ink_on(page, "#pad") == 0 and ink_on(page, "#seen") == 0
    assert (tmp_path / "laptop.png").read_bytes()[:4] == b"\x89PNG"
    assert page.problems == []
    assert all(request.startswith(url) for request in page.requested), page.requested  # nothing from elsewhere


def test_the_page_sends_its_drawing_prepared_as_a_28x28_digit(open_page):
    page = open_page(viewport=LAPTOP)
    with page.expect_request(lambda request: request.url.endswith("/api/predict")) as sent:
        draw_with_mouse(page, DIGITS[3])
    body = sent.value.post_data_json
    assert set(body) == {"pixels", "prepared"} and body["prepared"] is True  # no 280x280 PNG for the server
    pixels = np.array(body["pixels"])
    assert pixels.shape == (28, 28) and 0 < pixels.max() <= 255
    wait_until_read(page)
    assert page.problems == []


def test_correct_me_saves_the_drawing_with_the_right_label(open_page, server):
    _, corrections = server
    page = open_page(viewport=LAPTOP)
    labels = page.locator("#labels button")
    assert labels.first.is_disabled()  # nothing to correct yet
    draw_with_mouse(page, DIGITS[1])
    wait_until_read(page)
    shown = page.evaluate("Array.from(document.getElementById('seen').getContext('2d').getImageData(0,0,28,28).data)")
    page.get_by_role("button", name="This is a 4: save it").click()  # say the network got it wrong
    status = page.locator("#stored")
    status.filter(has_text="Saved as a 4").wait_for()
    assert str(corrections) in status.text_content()
    split = read_csv(corrections, require_labels=True)
    assert split.y.tolist() == [4]
    # the stored digit is the 28x28 image the page showed (drawn there as 255 - ink)
    assert np.array_equal(split.X[0], 255 - np.array(shown[0::4], dtype=np.uint8))
    assert page.problems == []


def test_a_finger_draws_on_a_phone(open_page, tmp_path):
    page = open_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    draw_with_finger(page, DIGITS[7])
    wait_until_read(page)
    assert page.locator("#digit").text_content() == "7"
    assert page.evaluate("window.scrollY") == 0  # drawing did not scroll the page
    page.screenshot(path=tmp_path / "phone.png", full_page=True)
    assert page.problems == []
