"""The report of a run: figures that are drawn and not blank, numbers that agree, and a page that opens in a browser."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from digitnet import report
from digitnet.cli import main
from digitnet.data import Dataset, Split, load
from digitnet.errors import DataError
from digitnet.io import load_model

CHROMIUM = Path("/usr/bin/chromium")

# Each PNG is its figure's size in inches at 150 dpi. The weights show the 64 hidden units in 7 rows of 10, the
# mistakes 24 digits in 3 rows of 8, the predictions 12 digits in 3 rows of 4.
FIGURE_PIXELS = {
    "learning_curves": (1500, 600),  # 10 x 4 inches
    "confusion": (1650, 810),  # 11 x 5.4
    "per_class": (960, 858),  # 6.4 x 5.72: a row per digit and one for the mean
    "mistakes": (1530, 801),
    "reliability": (900, 960),  # 6 x 6.4
    "predictions": (1830, 791),
    "weights": (1170, 960),  # 7.8 x 6.4
}


def read_png(path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(path)[..., :3]  # (height, width, 3) RGB in [0, 1]


def assert_not_blank(pixels: np.ndarray, name: str) -> None:
    grey = pixels.mean(axis=2)
    inked = np.mean(grey < 0.9)  # the share of pixels that are not (nearly) white
    assert 0.02 < inked < 0.95, f"{name}: {inked:.1%} of pixels drawn"
    assert grey.std() > 0.05, f"{name}: too uniform (std {grey.std():.3f})"


def test_train_writes_every_figure_at_its_size_and_none_is_blank(trained_run):
    written = sorted(path.stem for path in (trained_run / "figures").glob("*.png"))
    assert written == sorted(FIGURE_PIXELS)
    for name, (width, height) in FIGURE_PIXELS.items():
        pixels = read_png(trained_run / "figures" / f"{name}.png")
        assert pixels.shape[:2] == (height, width), name
        assert_not_blank(pixels, name)


def test_metrics_json_agrees_with_the_summary_and_adds_up(trained_run):
    summary = json.loads((trained_run / "summary.json").read_text())
    measured = json.loads((trained_run / "metrics.json").read_text())
    assert measured["split"] == "test"
    assert measured["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert measured["loss"] == pytest.approx(summary["test_loss"], rel=1e-5)
    confusion = np.array(measured["confusion_matrix"])
    assert confusion.sum() == measured["examples"] == 1000
    assert [row["support"] for row in measured["per_class"]] == confusion.sum(axis=1).tolist()
    assert 0 <= measured["expected_calibration_error"] < 0.1


def test_the_library_returns_figures_and_writes_nothing(trained_run, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    before = sorted(trained_run.rglob("*"))
    built = report.build(trained_run, load("sample"))
    assert set(built.figures) == set(FIGURE_PIXELS)
    assert all(isinstance(figure, Figure) for figure in built.figures.values())
    assert built.evaluation.per_class.support.sum() == 1000
    assert sorted(trained_run.rglob("*")) == before and list(tmp_path.iterdir()) == []


def test_figures_draw_the_edge_cases_a_notebook_can_meet():
    from digitnet import plots
    from digitnet.metrics import calibration

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (3, 784), dtype=np.uint8)
    P = np.full((3, 10), 0.1)  # no confident prediction
    figures = [
        plots.mistakes_figure(X, np.zeros(3, int), P, np.array([], int)),  # no mistakes at all
        plots.predictions_figure(X[:1], P[:1]),  # one digit, no labels
        plots.weights_figure(rng.normal(size=(784, 1))),  # a single unit
        plots.reliability_figure(calibration(P, np.zeros(3, int))),  # every prediction in one bin
        plots.learning_curves_figure([{"epoch": 1, "train_loss": 2.3, "train_accuracy": 0.1}]),  # one report, no dev
    ]
    for figure in figures:
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=40)  # draws without error
        png.seek(0)
        assert (read_png(png).mean(axis=2) < 0.9).any()  # and draws something


def test_without_a_test_split_the_run_is_judged_on_the_dev_digits_it_held_out(trained_run):
    summary = json.loads((trained_run / "summary.json").read_text())
    sample = load("sample")
    split, name = report.held_out(Dataset("sample", sample.train, None), summary)
    network, _ = load_model(trained_run / "model.safetensors")
    assert name == "dev" and len(split.y) == 500
    assert network.evaluate(split.X, split.y)[1] == pytest.approx(summary["dev_accuracy"])
    # digits from another source were never seen: all of them count
    split, name = report.held_out(Dataset("other.csv", sample.train, None), summary)
    assert len(split.y) == 3000 and name == "3,000 digits of other.csv"
    with pytest.raises(DataError, match="no `label` column"):
        report.held_out(Dataset("kaggle-test.csv", Split(sample.train.X, None), None), summary)


def test_report_command_rebuilds_the_report_of_an_existing_run(trained_run, tmp_path, capsys):
    for name in ("model.safetensors", "history.jsonl"):
        shutil.copy(trained_run / name, tmp_path / name)
    assert main(["report", str(tmp_path), "--data", "sample"]) == 0
    assert (
        capsys.readouterr().out == f"test: accuracy {report_accuracy(tmp_path):.2%}; wrote {tmp_path / 'report.html'}\n"
    )
    assert sorted(p.stem for p in (tmp_path / "figures").iterdir()) == sorted(FIGURE_PIXELS)
    assert (tmp_path / "metrics.json").is_file()


def report_accuracy(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text())["accuracy"]


def test_report_of_a_directory_without_a_model_is_refused_in_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--quiet"]) == 4
    out, err = capsys.readouterr()
    assert out == "" and err == f"digitnet: error: no model file at {tmp_path}/model.safetensors; " + (
        "train one with `digitnet train --out DIR`\n"
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)")
def test_report_html_opens_offline_in_a_browser_with_every_image_and_fits_a_phone(trained_run, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            for width, height in [(1280, 800), (390, 844)]:  # a laptop, a phone
                seen = open_in(browser, trained_run / "report.html", width, height, tmp_path / f"{width}.png")
                assert seen["problems"] == []  # no console errors or warnings, no script errors
                assert [url for url in seen["requests"] if not url.startswith(("file:", "data:"))] == []  # offline
                assert len(seen["images"]) == 6  # every figure but the per-class one, which is an HTML table
                assert all(complete and w > 0 and h > 0 for complete, w, h in seen["images"])
                assert seen["overflow"] <= 0  # nothing wider than the screen: wide figures scroll in their box
                assert_not_blank(read_png(tmp_path / f"{width}.png"), f"screenshot at {width} px")
        finally:
            browser.close()


def open_in(browser, path: Path, width: int, height: int, screenshot: Path) -> dict:
    """Open ``path`` in a new page of that size; return what happened and take a full-page screenshot."""
    page = browser.new_page(viewport={"width": width, "height": height})
    seen = {"problems": [], "requests": []}
    page.on("console", lambda m: seen["problems"].append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: seen["problems"].append(str(error)))
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.goto(path.as_uri())
    seen["images"] = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    seen["overflow"] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=screenshot, full_page=True)
    page.close()
    return seen
