"""The notebooks' sources: eight, two exercises each, every one checked by the package, and
valid notebooks once jupytext writes them (they are run by ``make test`` under nbmake)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nnscratch.app.learn.exercises import EXERCISES

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.py"))


def test_eight_notebooks_with_two_checked_exercises_each() -> None:
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"0{k}" for k in range(1, 9)]
    for k, path in enumerate(NOTEBOOKS, start=1):
        text = path.read_text()
        headings = re.findall(r"^# ### Exercise (\d\.\d)$", text, flags=re.MULTILINE)
        checked = re.findall(r'^check\("(\d\.\d)", \w+\)$', text, flags=re.MULTILINE)
        assert headings == checked == [f"{k}.1", f"{k}.2"], path.name
        assert all(number in EXERCISES for number in checked)
        assert "assert" in text, f"{path.name}: no from-scratch cell compared with the package"
        assert "](../docs/" in text, f"{path.name}: no link to its docs page"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_jupytext_writes_a_valid_notebook(path: Path) -> None:
    jupytext = pytest.importorskip("jupytext", reason="the learn extra is not installed")
    nbformat = pytest.importorskip("nbformat", reason="the learn extra is not installed")
    notebook = jupytext.read(path)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert not any(cell.get("outputs") for cell in notebook.cells)  # no outputs committed
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"}
