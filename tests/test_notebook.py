"""notebooks/from-scratch: stored without outputs, its two forms the same, and it runs top to bottom on the sample.

The plain-text form (jupytext's percent format) is the one to edit; after editing, regenerate the notebook with
``jupytext --to ipynb notebooks/from-scratch.py``.
"""

import re
from pathlib import Path

import jupytext  # these four are in the dev extra: pip install -e ".[dev]"
import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "from-scratch.ipynb"
SCRIPT = NOTEBOOK.with_suffix(".py")


def cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_the_notebook_and_its_text_form_agree():
    stored = nbformat.read(NOTEBOOK, as_version=4)
    text = jupytext.read(SCRIPT)
    assert cells(stored) == cells(text), (
        "from-scratch.ipynb and .py differ; edit the .py, then jupytext --to ipynb notebooks/from-scratch.py"
    )


def test_the_notebook_is_stored_without_outputs():
    stored = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert NOTEBOOK.stat().st_size < 100_000


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run top to bottom in a fresh kernel, as Jupyter would, from its own folder."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with pytest.MonkeyPatch.context() as patch:  # the kernel inherits this environment
        patch.setenv("PYTHONPATH", str(ROOT / "src"))
        patch.setenv("OPENBLAS_NUM_THREADS", "1")
        client = nbclient.NotebookClient(
            notebook, timeout=150, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()
    return notebook


def text_of(notebook) -> str:
    """Everything the cells printed; a cell's output may come in several pieces, so they are joined as they came."""
    parts = []
    for cell in notebook.cells:
        pieces = [o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])]
        parts.append("".join(pieces))
    return "\n".join(parts)


def percent(text: str, pattern: str, after: str = "") -> float:
    match = re.search(pattern + r" (\d+\.\d)%" + after, text)
    assert match, f"no {pattern!r} in the notebook's output"
    return float(match.group(1)) / 100


def test_the_notebook_runs_and_shows_each_bug_and_its_fix(executed):
    out = text_of(executed)
    assert "weights unchanged after 20 updates: True" in out  # bug 1 visible
    assert "weights unchanged after 20 fixed updates: False" in out  # and fixed
    assert "db2 has shape () for 10 biases" in out  # bug 2
    assert "how far each output bias moved: [0. 0. 0. 0. 0. 0. 0. 0. 0. 0.]" in out
    assert "softmax of logits (1000, 0, -1000): [nan" in out  # bug 3
    assert "unscaled pixels are NaN: True" in out
    assert "fixed softmax of (1000, 0, -1000): [1. 0. 0.]" in out
    assert "logits of shape (10, 10) out" in out  # bug 4
    assert "gradients match central differences" in out


def test_the_notebook_trains_better_as_it_goes(executed):
    out = text_of(executed)
    recipe = percent(out, "dev accuracy")  # the first: the original recipe
    fixed = percent(out, "fixed recipe, rows as examples: dev accuracy")
    seed = percent(out, "digitnet, seed preset: dev accuracy")
    wide = percent(out, r"\[784, 800, 10\], \d+ epochs: dev accuracy")
    cnn = percent(out, "test accuracy:", r" for the CNN")
    assert 0.5 < recipe < fixed < seed < wide  # each step of the story helps
    assert percent(out, "test accuracy:") > 0.8
    assert cnn > percent(out, r"\[784, 800, 10\], \d+ epochs: dev accuracy \d+\.\d%, test")  # and the CNN most


def test_the_notebook_draws_its_figures(executed):
    images = [
        output for cell in executed.cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 6  # learning curves, weights, predictions, distortions, kernels, feature maps
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
