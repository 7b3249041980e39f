"""The package's layers: imports only point down, no cycles, a NumPy-only math core.

The rules are those of ``docs/layout.md``. Every import statement in every
module under ``src/nnscratch`` counts, including those inside functions.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "nnscratch"

#: The layers, bottom up: a module's layer is its folder's (top-level modules are the
#: foundation, ``__main__`` belongs to the application).
FOLDERS: dict[str, int] = {"": 0, "core": 1, "data": 2, "models": 3, "tasks": 4, "app": 5}
#: Which layers each layer may import (besides its own).
MAY_IMPORT = {0: {0}, 1: {0, 1}, 2: {0, 2}, 3: {0, 1, 2, 3}, 4: {0, 1, 2, 3, 4}, 5: set(range(6))}
#: What the math core may import from outside the standard library.
CORE_THIRD_PARTY = {"numpy", "threadpoolctl", "tqdm"}
FORBIDDEN_IN_CORE = {"pandas", "sklearn", "matplotlib", "scipy", "torch", "jax"}


def module_name(path: Path) -> str:
    """``core.network`` for ``src/nnscratch/core/network.py``; a package is its folder."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "__init__"


def layer_of(module: str) -> int:
    if module == "__main__":
        return FOLDERS["app"]
    folder = module.split(".")[0] if "." in module or module in FOLDERS else ""
    return FOLDERS[folder]


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(nnscratch modules, other top-level packages) imported anywhere in ``path``."""
    known = modules()
    ours: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module.startswith("nnscratch"):  # from nnscratch.x import y: y may be a module
                names += [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name == "nnscratch" or name.startswith("nnscratch."):
                module = name.removeprefix("nnscratch").removeprefix(".") or "__init__"
                if module in known:
                    ours.add(module)
            else:
                others.add(name.split(".")[0])
    return ours, others


def graph() -> dict[str, set[str]]:
    return {name: imports_of(path)[0] - {name} for name, path in modules().items()}


def test_every_module_lives_in_a_layer_folder() -> None:
    folders = {p.parent.relative_to(PACKAGE).parts[:1] for p in PACKAGE.rglob("*.py")}
    assert {f[0] if f else "" for f in folders} <= set(FOLDERS), "a folder that is no layer"
    top_level = {m for m in modules() if "." not in m and m not in FOLDERS}
    assert top_level <= {"__init__", "__main__", "errors", "files", "registry"}, top_level


def test_imports_only_point_down() -> None:
    wrong = []
    for module, deps in graph().items():
        if module == "__init__":
            continue
        for dep in deps - {"__init__"}:
            if layer_of(dep) not in MAY_IMPORT[layer_of(module)]:
                wrong.append(
                    f"{module} (layer {layer_of(module)}) imports {dep} (layer {layer_of(dep)})"
                )
    assert not wrong, "\n".join(wrong)


def test_the_layer_of_a_module_is_its_folder() -> None:
    assert layer_of("core.network") == 1 and layer_of("data") == 2
    assert layer_of("errors") == 0 and layer_of("app.commands.train") == 5
    assert layer_of("__main__") == 5


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``edges`` as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles() -> None:
    edges = {m: d - {"__init__"} for m, d in graph().items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None


@pytest.mark.parametrize("module", sorted(m for m in modules() if layer_of(m) <= 1))
def test_math_core_imports_numpy_only(module: str) -> None:
    _, others = imports_of(modules()[module])
    third_party = others - set(sys.stdlib_module_names)
    assert not third_party & FORBIDDEN_IN_CORE
    assert third_party <= CORE_THIRD_PARTY, f"{module} imports {third_party - CORE_THIRD_PARTY}"


def test_math_core_trains_with_pandas_and_scikit_learn_unimportable() -> None:
    """Import the core with pandas, scikit-learn and matplotlib blocked, and train a network."""
    code = """
import sys
for name in ("pandas", "sklearn", "matplotlib", "scipy"):
    sys.modules[name] = None  # any import of these now raises ImportError
import numpy as np
from nnscratch.core.network import Network, to_network_layout
from nnscratch.core.optimizers import Adam
from nnscratch.core.training import TrainConfig, train
from nnscratch.core.gradcheck import check_gradients
rng = np.random.default_rng(0)
X = rng.random((64, 3)); y = X.sum(axis=1, keepdims=True)
net = Network([3, 8, 1], rng=0)
history = train(net, to_network_layout(X), to_network_layout(y), Adam(0.01),
                config=TrainConfig(epochs=5, batch_size=16))
assert history.train_loss[-1] < history.train_loss[0]
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


#: What the optional extras bring (and what comes only with them): the command line must
#: start without any of it, as after ``pip install nnscratch`` alone.
EXTRAS_ONLY = (
    "fastapi",
    "starlette",
    "sse_starlette",
    "anyio",
    "uvicorn",
    "prometheus_client",
    "httpx",
    "playwright",
    "dask",
    "distributed",
    "pyarrow",
    "onnx",
    "onnxruntime",
    "jupytext",
    "nbmake",
    "torch",
    "jax",
    "kagglehub",
)


def test_the_command_line_starts_without_the_optional_extras() -> None:
    """Every command's module is imported as the command line starts: none may import an
    extra's package at that point (a command that needs one imports it when it runs, and
    says what to install)."""
    code = f"""
import sys
class Absent:  # as if not installed (sys.modules[name] = None would mislead SciPy's checks)
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {EXTRAS_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Absent())
from nnscratch.app.cli.main import build_parser
assert "predict" in build_parser().format_help()
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_no_deferred_imports_of_our_own_modules() -> None:
    """Imports inside functions existed only to dodge cycles; none are left."""
    deferred = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                        "nnscratch"
                    ):
                        deferred.append(f"{path.name}:{inner.lineno} {inner.module}")
    assert not deferred, deferred


#: The application's feature folders: each imports the layers below and ``app.runs``,
#: never another feature; only the command line (``app.cli``) imports them.
FEATURES = {"serve", "playground", "lab", "learn", "tune", "scoring"}
APP_SHARED = {"app", "app.runs"}


def feature_of(module: str) -> str | None:
    """``serve`` for ``app.serve.api``; None outside the feature folders."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "app" and parts[1] in FEATURES else None


def test_app_folders_are_the_features_the_command_line_and_what_they_share() -> None:
    app = PACKAGE / "app"
    folders = {p.name for p in app.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == FEATURES | {"cli"}, folders
    top = {p.stem for p in app.glob("*.py")}
    assert top == {"__init__", "runs"}, top


def test_features_import_no_other_feature_and_not_the_command_line() -> None:
    wrong = []
    for module, deps in graph().items():
        if (own := feature_of(module)) is None and module not in APP_SHARED:
            continue
        for dep in deps:
            other = feature_of(dep)
            if (other is not None and other != own) or dep.startswith("app.cli"):
                wrong.append(f"{module} imports {dep}")
    assert not wrong, "\n".join(wrong)


def test_the_feature_rule_catches_a_feature_importing_another() -> None:
    assert feature_of("app.serve.api") == "serve" and feature_of("app.cli.main") is None
    assert feature_of("app.runs") is None and feature_of("core.network") is None


def docstring_of_folder(folder: Path) -> str:
    init = folder / "__init__.py"
    return ast.get_docstring(ast.parse(init.read_text())) or "" if init.exists() else ""


def test_every_module_is_named_by_its_folders_docstring() -> None:
    """A newcomer reads a folder's ``__init__`` and finds every module (and sub-folder) in
    it, each on a line of its own with what it is for (``    name   what it is for``)."""
    missing = []
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__" or not (folder / "__init__.py").exists():
            continue
        text = docstring_of_folder(folder)
        for path in folder.iterdir():
            if path.name.startswith("_") or path.name == "__pycache__":
                continue
            is_package = path.is_dir() and (path / "__init__.py").exists()
            if path.suffix == ".py" or is_package:
                name = path.stem if path.suffix == ".py" else path.name
                if not re.search(rf"^\s*{re.escape(name)}/?(\s|$)", text, re.MULTILINE):
                    missing.append(f"{folder.relative_to(PACKAGE.parent)}: {name}")
    assert not missing, "modules a folder's docstring does not name:\n" + "\n".join(missing)


def test_no_code_is_laid_out_by_hand_against_the_formatter() -> None:
    """Every Python file of the project is laid out by ``ruff format`` (``make lint``
    checks it): none opts a statement out of it to pack lines."""
    root = PACKAGE.parents[1]
    opt_outs = ("# fmt" + ": skip", "# fmt" + ": off", "# yapf" + ": disable")
    files = [
        path
        for folder in ("src", "tests", "benchmarks", "notebooks", "docs")
        for path in (root / folder).rglob("*.py")
    ]
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(opt_out in line for opt_out in opt_outs)
    ]
    assert len(files) > 100 and found == []
