"""Every ``python`` block in docs/ runs, in order, page by page: the docs cannot rot.

A figure a page quotes is computed, not written: a ``python`` block followed by an
``output`` block must print exactly that output (a number may differ by one unit in
its last printed digit, for the last bits a BLAS kernel may change), so a page whose
quoted figure drifts from what its code computes fails here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: A python block, and the output block right after it, if any.
BLOCK_AND_OUTPUT = re.compile(
    r"^```python\n(?P<code>.*?)^```\n(?:\s*^```output\n(?P<output>.*?)^```)?",
    re.DOTALL | re.MULTILINE,
)
PAGES = sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text()))
#: A number as printed: 3,521 · -0.25 · 1.17e-19 · 99.7
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def test_pages_with_code_exist() -> None:
    names = {p.name for p in PAGES}
    assert {"1-data.md", "2-init.md", "5-loss-backprop.md", "6-training.md"} <= names


#: ``<!-- needs: MODULE -->`` at the top of a page: its code needs an optional extra.
NEEDS = re.compile(r"^<!-- needs: ([\w.]+) -->")


def same_figure(quoted: str, printed: str) -> bool:
    """Whether ``printed`` is the number ``quoted``, to one unit of its last digit."""
    if quoted == printed:
        return True
    digits = quoted.split("e")[0].lstrip("-").replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    exponent = int(quoted.split("e")[1]) if "e" in quoted else 0
    unit = 10.0 ** (exponent - decimals)
    a, b = (float(x.replace(",", "")) for x in (quoted, printed))
    return abs(a - b) <= unit * 1.0000001


def check_output(where: str, quoted: str, printed: str) -> None:
    """``printed`` is what the page quotes: the same words, the same figures."""
    words = [NUMBER.sub("#", line.rstrip()) for line in quoted.strip().splitlines()]
    said = [NUMBER.sub("#", line.rstrip()) for line in printed.strip().splitlines()]
    assert said == words, f"{where}: the page quotes\n{quoted}\nthe code prints\n{printed}"
    for q, p in zip(NUMBER.findall(quoted), NUMBER.findall(printed), strict=True):
        assert same_figure(q, p), f"{where}: the page quotes {q}, the code prints {p}"


def run_page(text: str, name: str, namespace: dict[str, object]) -> None:
    """Run ``text``'s python blocks in order; each one followed by an output block must
    print that output."""
    for number, match in enumerate(BLOCK_AND_OUTPUT.finditer(text), start=1):
        where = f"{name} block {number}"
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(match["code"], where, "exec"), namespace)
        if match["output"] is not None:
            check_output(where, match["output"], printed.getvalue())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    needs = NEEDS.match(page.read_text())
    if needs:
        pytest.importorskip(needs.group(1), reason=f"{page.name} needs {needs.group(1)}")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_page(page.read_text(), page.name, namespace)
    finally:
        os.chdir(cwd)


def test_a_figure_that_differs_from_what_its_code_prints_fails() -> None:
    """A page that quotes a wrong figure (the old 'about 1e-33' beside a snippet that
    computes 1.17e-19), a wrong word, or a figure off by more than its last digit fails;
    the right ones, and one unit of a last digit (a kernel's rounding), pass."""
    code = 'print(f"small: E[a²] {1.17e-19:.3g}, weights {3408:,}, ratio {0.7071:.2f}")'

    def page(output: str) -> str:
        return f"```python\n{code}\n```\n\n```output\n{output}\n```\n"

    run_page(page("small: E[a²] 1.17e-19, weights 3,408, ratio 0.71"), "right", {})
    run_page(page("small: E[a²] 1.16e-19, weights 3,408, ratio 0.71"), "last digit", {})
    for wrong in (
        "small: E[a²] 1e-33, weights 3,408, ratio 0.71",
        "small: E[a²] 1.17e-19, weights 3,392, ratio 0.71",
        "small: E[a²] 1.17e-19, weights 3,408, ratio 0.50",
        "small: E[a²] 1.17e-19, weights 3,408, halves",
    ):
        with pytest.raises(AssertionError, match="the page quotes"):
            run_page(page(wrong), "wrong", {})


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    """The README's Python examples, run as written on a synthetic tracks.csv."""
    from nnscratch.data.synthetic import make_tracks

    make_tracks(1500, seed=4).to_csv(tmp_path / "tracks.csv", index=False)
    blocks = BLOCK.findall((DOCS.parent / "README.md").read_text())
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "readme"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for number, code in enumerate(blocks, start=1):
            exec(compile(code, f"README.md block {number}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    points = namespace["points"]
    assert len(points) > 100 and points.min() >= 0 and points.max() <= 100  # type: ignore[attr-defined]
    assert (tmp_path / "model.npz").is_file() and (tmp_path / "popularity.npz").is_file()


def test_docs_link_to_files_that_exist() -> None:
    root = DOCS.parent
    for page in [*DOCS.glob("*.md"), root / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
