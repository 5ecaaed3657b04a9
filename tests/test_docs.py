"""docs/ stays true: every python block in it runs, and every link to the code points at the function it names.

A link such as [`Dense.backward`](../src/digitnet/layers.py#L44) must land on the line that defines
``Dense.backward``. When code moves, ``python tests/test_docs.py --fix`` rewrites the line numbers.
"""

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("**/*.md"))
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
CODE_LINK = re.compile(r"\[`([A-Za-z_][\w.]*)`\]\(([^)#\s]+\.py)#L(\d+)\)")
ANY_LINK = re.compile(r"\]\(([^)\s]+)\)")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, source)`` of each fenced python block, in order."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


def run_page(path: Path, text: str | None = None) -> None:
    """Run a page's python blocks in order in one namespace, as a reader would paste them; raise on the first error."""
    text = path.read_text() if text is None else text
    namespace: dict = {"__name__": f"docs.{path.stem}"}
    for line, source in python_blocks(text):
        # Blank lines first, so that a traceback's line numbers are the page's own.
        exec(compile("\n" * (line - 1) + source, str(path), "exec"), namespace)


def definition_line(path: Path, qualified: str) -> int | None:
    """The line of ``def``/``class`` for ``Name`` or ``Class.method`` in a Python file (None if there is none)."""
    body = ast.parse(path.read_text()).body
    node = None
    for part in qualified.split("."):
        node = next(
            (
                n
                for n in body
                if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef) and n.name == part
            ),
            None,
        )
        if node is None:
            return None
        body = node.body
    return node.lineno


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_pages():
    assert len(PAGES) >= 12  # one per part of the core


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a block that writes a file writes it here
    run_page(page)


def test_a_broken_block_fails(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("# A page\n\n```python\nx = 1\n```\n\ntext\n\n```python\nassert x == 2, 'stale'\n```\n")
    assert [line for line, _ in python_blocks(page.read_text())] == [4, 10]
    with pytest.raises(AssertionError, match="stale") as caught:
        run_page(page)
    assert caught.traceback[-1].lineno + 1 == 10  # pytest counts from 0; the page's own line


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_code_links_point_at_what_they_name(page):
    text = page.read_text()
    links = CODE_LINK.findall(text)
    if page.name != "README.md":
        assert links, f"{page_id(page)} links to no function; each page links to the code it explains"
    for name, target, line in links:
        path = (page.parent / target).resolve()
        assert path.is_file(), f"{page_id(page)}: {target} does not exist"
        found = definition_line(path, name)
        assert found is not None, f"{page_id(page)}: {target} defines no {name}"
        assert int(line) == found, (
            f"{page_id(page)}: {name} is at line {found} of {target}, not {line}; run python tests/test_docs.py --fix"
        )


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=page_id)
def test_relative_links_resolve(page):
    for target in ANY_LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:|#", target):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page_id(page)} links to {target}, which does not exist"


def fix(pages=PAGES) -> None:
    """Rewrite every code link's line number to where its function is defined now."""
    for page in pages:
        text = page.read_text()

        def renumber(m, page=page):
            name, target, line = m.groups()
            found = definition_line((page.parent / target).resolve(), name)
            return f"[`{name}`]({target}#L{found or line})"

        fixed = CODE_LINK.sub(renumber, text)
        if fixed != text:
            page.write_text(fixed)
            print(f"fixed {page_id(page)}")


if __name__ == "__main__" and "--fix" in sys.argv:
    fix()
