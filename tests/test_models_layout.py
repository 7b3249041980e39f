"""``models/`` split by role: fitted models stay small, and the code that trains members and
reads and writes an estimator's file works on typed state, not on another class's privates.

Read from the source (``ast``), as ``tests/test_layout.py`` reads the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "src" / "nnscratch" / "models"
#: The most methods a fitted model's class may define (every def in its body).
MAX_METHODS = 15
#: The modules that work on an estimator's members and file through typed state only.
TYPED_STATE_MODULES = ("members.py", "model_schema.py")


def classes(folder: Path) -> dict[str, ast.ClassDef]:
    """Every class defined at the top of a module in ``folder``, by name."""
    found = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found[node.name] = node
    return found


def base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}


def fitted_model_classes(found: dict[str, ast.ClassDef]) -> set[str]:
    """``WrapsEstimator`` (what every fitted model around an estimator shares) and every
    class that derives from it, however deep."""
    fitted = {"WrapsEstimator"}
    grew = True
    while grew:
        more = {name for name, node in found.items() if base_names(node) & fitted} - fitted
        fitted |= more
        grew = bool(more)
    return fitted


def method_count(node: ast.ClassDef) -> int:
    """Every def in a class's body: methods, properties, class and static methods."""
    return sum(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in node.body)


def test_no_fitted_model_class_has_more_than_15_methods() -> None:
    found = classes(MODELS)
    fitted = fitted_model_classes(found)
    assert {"TableModel", "PopularityModel", "TabularClassifier", "DigitModel"} <= fitted
    counts = {name: method_count(found[name]) for name in sorted(fitted & set(found))}
    assert all(n <= MAX_METHODS for n in counts.values()), counts


def test_the_method_count_sees_every_def() -> None:
    node = ast.parse(
        "class A(WrapsEstimator):\n"
        "    x = 1\n"
        "    def a(self): ...\n"
        "    @property\n"
        "    def b(self): ...\n"
        "    @classmethod\n"
        "    def c(cls): ...\n"
        "class B(A):\n"
        "    pass\n"
    )
    found = {n.name: n for n in node.body if isinstance(n, ast.ClassDef)}
    assert fitted_model_classes(found) == {"WrapsEstimator", "A", "B"}
    assert method_count(found["A"]) == 3


def own_names(tree: ast.Module) -> set[str]:
    """What the classes of a module define: their methods, class attributes, and the
    attributes their methods set on ``self``."""
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in ast.walk(node):
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item in node.body:
                names.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                names.add(item.target.id)
            elif isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name):
                        names.add(target.id)
                    elif is_self_attribute(target):
                        names.add(target.attr)
    return names


def is_self_attribute(node: ast.expr) -> bool:
    """``self.name``."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def foreign_private_attributes(source: str) -> list[str]:
    """``obj._name`` uses in ``source`` whose ``_name`` no class of the module defines: an
    attribute private to another class."""
    tree = ast.parse(source)
    own = own_names(tree)
    return [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in own
    ]


@pytest.mark.parametrize("module", TYPED_STATE_MODULES)
def test_members_and_model_files_use_no_private_attribute_of_another_class(module: str) -> None:
    source = (MODELS / module).read_text()
    assert foreign_private_attributes(source) == []
    aliases = [  # e.g. ``MLPBase = Any``: a class named but not typed
        node.targets[0].id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Any"
        and isinstance(node.targets[0], ast.Name)
    ]
    assert aliases == []


def test_the_private_attribute_check_catches_a_reach_into_another_class() -> None:
    source = (
        "class Own:\n"
        "    def _mine(self):\n"
        "        self._kept = 1\n"
        "        return self._kept\n"
        "def train(est):\n"
        "    est._optimizers[0]\n"
        "    Own()._mine()\n"
    )
    assert foreign_private_attributes(source) == ["line 6: ._optimizers"]
