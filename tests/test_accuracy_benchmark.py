"""The accuracy scoreboard runs end to end and rewrites only its own section of the results file."""

import importlib.util
import re
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"


@pytest.fixture(scope="module")
def accuracy():
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_scoreboard_replaces_only_its_section(accuracy, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    speed = "## Speed\n\nthe speed benchmark's table\n"
    results.write_text(f"# Results\n\n{speed}\n{accuracy.BEGIN}\nold numbers\n{accuracy.END}\n\n## After\n\nmore\n")
    argv = ["--quick", "--presets", "fast", "--out", str(tmp_path / "runs"), "--results", str(results)]
    assert accuracy.main(argv) == 0
    text = results.read_text()
    assert text.startswith(f"# Results\n\n{speed}\n{accuracy.BEGIN}\n## Accuracy")
    assert text.endswith(f"{accuracy.END}\n\n## After\n\nmore\n")
    assert "old numbers" not in text
    assert "| digitnet `fast` | [784, 800, 10] |" in text and "These are not results" in text
    assert (tmp_path / "runs" / "sample" / "fast" / "seed1" / "summary.json").is_file()

    capsys.readouterr()
    assert accuracy.main(argv) == 0  # a second time: the finished runs are read back, not trained again
    assert capsys.readouterr().out.count("done before") == 2


def test_a_file_without_the_section_gets_it_appended(accuracy, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Speed\n")
    accuracy.write_section(results, "## Accuracy\n")
    assert results.read_text() == f"# Results\n\n## Speed\n\n{accuracy.BEGIN}\n## Accuracy\n{accuracy.END}\n"


def test_the_convolutional_scoreboard_has_its_own_section_and_an_ensemble_column(accuracy, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\n{accuracy.BEGIN}\nthe fully connected rows\n{accuracy.END}\n")
    argv = ["--quick", "--presets", "cnn", "--out", str(tmp_path / "runs"), "--results", str(results)]
    assert accuracy.main(argv) == 0
    text = results.read_text()
    assert "the fully connected rows" in text  # untouched
    conv = text.split(accuracy.CONV_BEGIN)[1].split(accuracy.CONV_END)[0]
    row = next(line for line in conv.splitlines() if line.startswith("| digitnet `cnn`"))
    ensemble = float(row.rstrip(" |").rsplit("| ", 1)[1])  # the two seeds' models averaged
    assert 50 < ensemble <= 100


def test_rows_not_measured_now_are_kept_with_their_notes(accuracy, tmp_path):
    results = tmp_path / "RESULTS.md"
    mnist_begin, mnist_end = accuracy.data_markers("mnist", accuracy.BEGIN)
    sample_begin, sample_end = accuracy.data_markers("sample", accuracy.BEGIN)
    best = "| digitnet `best` | [784, 1024, 1024, 10] | measured on another machine |"
    best_note = "- `best`, seeds 0, 1, 2: measured 2026-11-28 elsewhere."
    fast = "| digitnet `fast` | [784, 800, 10] | measured yesterday |"
    fast_note = "- `fast`, seeds 0, 1: measured yesterday."
    old = (
        f"{accuracy.BEGIN}\n## old header\n\n{mnist_begin}\n### MNIST\n\n{best}\n\n{best_note}\n{mnist_end}\n\n"
        f"{sample_begin}\n### the package's sample\n\n{fast}\n\n{fast_note}\n{sample_end}\n{accuracy.END}\n"
    )
    results.write_text(f"# Results\n\n{old}")
    argv = ["--quick", "--presets", "seed", "--out", str(tmp_path / "runs"), "--results", str(results)]
    assert accuracy.main(argv) == 0
    section = results.read_text().split(accuracy.BEGIN)[1].split(accuracy.END)[0]
    assert "## old header" not in section  # the section's own text is written anew
    mnist = section.split(mnist_begin)[1].split(mnist_end)[0]
    assert best in mnist and best_note in mnist  # a data set not measured now keeps its rows and notes
    sample = section.split(sample_begin)[1].split(sample_end)[0].splitlines()
    rows = [line for line in sample if line.startswith("| digitnet")]
    assert rows[0].startswith("| digitnet `seed`") and rows[1] == fast  # the new row, and the other preset's kept
    notes = [line for line in sample if line.startswith("- `")]
    assert notes[0].startswith("- `seed`, seeds 0, 1: measured ") and notes[1] == fast_note


@pytest.mark.parametrize("preset", ["cnn-fashion", "cnn"])
def test_a_preset_in_also_read_has_its_models_read_so_by_seed(accuracy, tmp_path, preset):
    from digitnet.data import load
    from digitnet.ensemble import Ensemble
    from digitnet.io import load_model

    results = tmp_path / "RESULTS.md"
    runs = tmp_path / "runs"
    argv = ["--quick", "--presets", preset, "--out", str(runs), "--results", str(results)]
    assert accuracy.main(argv) == 0
    option, how, _ = accuracy.ALSO_READ[preset]
    note = next(line for line in results.read_text().splitlines() if line.startswith(f"- `{preset}` read {how}"))
    test = note.split("test **", 1)[1].split("** (", 1)[1].split(")", 1)[0]  # by seed, as written
    sample = load("sample")
    networks = [load_model(runs / "sample" / preset / f"seed{s}" / "model.safetensors")[0] for s in (0, 1)]
    expected = [Ensemble([n], **{option: True}).evaluate(sample.test.X, sample.test.y)[1] for n in networks]
    assert test == ", ".join(f"{100 * v:.2f}" for v in expected)


def test_a_mean_just_below_a_target_is_not_rounded_up_to_it(accuracy):
    # 29,894 of 30,000 digits over three seeds is 99.6467%: below 99.65%, which two decimals would show
    assert accuracy.percent((29_894 / 30_000, 0.000231)) == "99.647 ± 0.023"
    assert accuracy.percent(None) == "-"


def test_dev_only_runs_show_no_test_accuracy_until_finished_only_writes_them(accuracy, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n")
    argv = ["--quick", "--presets", "fast", "--seeds", "0", "--out", str(tmp_path / "runs"), "--results", str(results)]
    assert accuracy.main([*argv, "--dev-only"]) == 0
    out = capsys.readouterr().out
    assert "dev " in out and "test (hidden)" in out and not re.search(r"test \d", out)
    assert results.read_text() == "# Results\n"  # no scoreboard, which would show it
    assert accuracy.main([*argv, "--finished-only"]) == 0  # after the decision: the same run, now written
    assert "| digitnet `fast` |" in results.read_text()
