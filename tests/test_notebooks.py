"""The notebooks' sources: one a stage of the course, whose exercises are exactly the
stage's in the one registry (same numbers, same functions, same parameters), and valid
notebooks once jupytext writes them (``make test`` runs them under nbmake)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from nnscratch.app.learn.exercises import STAGES

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.py"))


def test_a_notebook_per_stage_then_your_network() -> None:
    names = [p.stem for p in NOTEBOOKS]
    assert names[:-1] == [f"{s.number:02d}_{s.name}" for s in STAGES.values()]
    assert names[-1] == f"{len(STAGES) + 1}_your_network"


@pytest.mark.parametrize("stage", list(STAGES.values()), ids=lambda s: s.name)
def test_a_stages_notebook_holds_its_exercises_as_the_registry_has_them(stage) -> None:
    path = NOTEBOOKS[stage.number - 1]
    text = path.read_text()
    headings = re.findall(r"^# ### Exercise (\d+\.\d+)$", text, flags=re.MULTILINE)
    checked = re.findall(r'^check\("(\d+\.\d+)", (\w+)\)$', text, flags=re.MULTILINE)
    numbers = [e.number for e in stage.exercises]
    assert headings == numbers and [n for n, _ in checked] == numbers, path.name
    assert [name for _, name in checked] == [e.name for e in stage.exercises], path.name
    defined = {
        node.name: [a.arg for a in (*node.args.args, *node.args.kwonlyargs)]
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef)
    }
    for exercise in stage.exercises:
        expected = list(inspect.signature(_stub(exercise)).parameters)
        assert defined.get(exercise.name) == expected, (path.name, exercise.name)
    assert "](../docs/" in text, f"{path.name}: no link to its docs page"


def _stub(exercise):
    namespace: dict[str, object] = {"np": __import__("numpy"), "mse_cost": 0, "mse_gradient": 0}
    exec(f"def {exercise.name}{exercise.signature}: pass", namespace)
    return namespace[exercise.name]


def test_every_notebook_compares_with_the_package() -> None:
    for path in NOTEBOOKS:
        assert "assert" in path.read_text(), f"{path.name}: no cell compared with the package"


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
