"""The course's workspace, as a learner drives it from the command line: start, check,
status, the git history, and the reference answers that mirror a fresh workspace."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from nnscratch.app.cli.main import main
from nnscratch.app.learn import course, history
from nnscratch.app.learn.exercises import STAGES
from nnscratch.app.learn.workspace import Workspace, start

ANSWERS = Path(__file__).resolve().parents[1] / "notebooks" / "answers"
needs_git = pytest.mark.skipif(not history.available(), reason="git is not installed")


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["learn", *map(str, args)])
    return code, capsys.readouterr().out


def fill(workspace: Path, *stages: str) -> None:
    """Copy the reference answers of ``stages`` (default: all) over the stubs."""
    for stage in stages or list(STAGES):
        shutil.copy(ANSWERS / f"{stage}.py", workspace / f"{stage}.py")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (git's own included) by path, as a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def definitions(path: Path) -> dict[str, str]:
    """Each top-level function of ``path`` and its signature, as the source writes it."""
    tree = ast.parse(path.read_text())
    return {
        node.name: ast.unparse(node.args) + " -> " + ast.unparse(node.returns or ast.Constant(None))
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def test_the_reference_answers_mirror_a_fresh_workspace(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    start(fresh)
    stubs = sorted(p.name for p in fresh.glob("*.py"))
    assert (
        sorted(p.name for p in ANSWERS.glob("*.py"))
        == stubs
        == sorted(s.file for s in STAGES.values())
    )
    for name in stubs:
        answer, stub = ANSWERS / name, fresh / name
        assert definitions(answer) == definitions(stub), name  # same functions, same signatures
        assert ast.get_docstring(ast.parse(answer.read_text())) == ast.get_docstring(
            ast.parse(stub.read_text())
        )
        assert "NotImplementedError" not in answer.read_text()


@needs_git
def test_the_answers_pass_every_stage_and_the_history_has_a_commit_a_stage(
    tmp_path: Path, capsys
) -> None:
    workspace = tmp_path / "mynet"
    code, out = run_cli("start", workspace, capsys=capsys)
    assert code == 0 and "started its git history" in out
    code, out = run_cli("check", "-w", workspace, capsys=capsys)
    assert code == 1
    assert "✗ stage 1, data (from a CSV to numbers): data.py" in out
    assert "✗ Exercise 1.1 (release_date → year): not written yet: replace the `raise " in out
    assert history.log(workspace) == [history.log(workspace)[0]]  # only the start: nothing passed
    fill(workspace)
    code, out = run_cli("check", "-w", workspace, capsys=capsys)
    assert code == 0, out
    assert out.count("✓ stage") == len(STAGES) and f"{len(STAGES)} of {len(STAGES)}" in out
    subjects = history.log(workspace)
    assert subjects[0].startswith("Start the course")
    assert subjects[1:] == [history.message(s) for s in STAGES.values()]  # one each, in order
    code, again = run_cli("check", "-w", workspace, capsys=capsys)
    assert code == 0 and "committed" not in again
    assert history.log(workspace) == subjects  # passing again commits nothing
    code, status = run_cli("status", "-w", workspace, capsys=capsys)
    assert status.splitlines()[0].startswith("✓  1 data") and "not started" not in status


@needs_git
def test_a_failing_stage_is_never_committed_and_the_learners_commits_stay(
    tmp_path: Path, capsys
) -> None:
    workspace = tmp_path / "mynet"
    start(workspace)
    history.begin(workspace)
    fill(workspace, "data", "init")
    text = (workspace / "activations.py").read_text()
    (workspace / "activations.py").write_text(
        text.replace(
            "def relu(Z: np.ndarray) -> np.ndarray:",
            "def relu(Z: np.ndarray) -> np.ndarray:\n    return np.abs(Z)",
        )
    )
    (workspace / "notes.md").write_text("my notes\n")
    subprocess.run(["git", "-C", workspace, "add", "notes.md"], check=True)
    me = ["-c", "user.name=me", "-c", "user.email=me@x"]
    subprocess.run(["git", "-C", workspace, *me, "commit", "-qm", "my notes"], check=True)
    code, out = run_cli("check", "-w", workspace, capsys=capsys)
    assert code == 1 and "✗ Exercise 3.1 (ReLU): negative z came out positive" in out
    subjects = history.log(workspace)
    assert subjects[1:] == [
        "my notes",
        "Stage 1: data — from a CSV to numbers",
        "Stage 2: init — initialisation",
    ]
    changed = subprocess.run(
        ["git", "-C", workspace, "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    assert "activations.py" in changed  # the failing stage is left uncommitted, as it was
    code, status = run_cli("status", "-w", workspace, capsys=capsys)
    assert "✗  3 activations  failing" in status and "negative z came out positive" in status
    assert "·  4 forward      not started" in status


def test_start_on_an_existing_workspace_changes_no_byte(tmp_path: Path, capsys) -> None:
    workspace = tmp_path / "mynet"
    run_cli("start", workspace, capsys=capsys)
    (workspace / "data.py").write_text("# my work\n")
    before = snapshot(workspace)
    code, out = run_cli("start", workspace, capsys=capsys)
    assert code == 0 and "nothing was changed" in out
    assert snapshot(workspace) == before
    (workspace / "tabm.py").unlink()
    code, out = run_cli("start", workspace, capsys=capsys)
    assert "added only the missing tabm.py" in out
    assert (workspace / "data.py").read_text() == "# my work\n"


def test_start_refuses_a_folder_that_is_not_a_workspace(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "forward.py").write_text("mine\n")
    assert main(["learn", "start", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "already holds files (e.g. forward.py) and is not a course workspace" in err
    assert sorted(p.name for p in folder.iterdir()) == ["forward.py"]


def test_one_stage_and_a_file_that_does_not_load(tmp_path: Path, capsys) -> None:
    workspace = tmp_path / "mynet"
    start(workspace)
    fill(workspace, "activations")
    code, out = run_cli("check", "activations", "-w", workspace, capsys=capsys)
    assert code == 0 and out.startswith("✓ stage 3, activations")
    (workspace / "forward.py").write_text("import numpy as np\n\ndef forward(:\n    pass\n")
    code, out = run_cli("check", "4", "-w", workspace, capsys=capsys)
    assert code == 1 and "forward.py:3 is not valid Python" in out and "def forward(:" in out
    assert main(["learn", "check", "nope", "-w", str(workspace)]) == 2
    assert "unknown stage 'nope'" in capsys.readouterr().err


def test_a_broken_check_is_reported_as_the_checkers(tmp_path: Path, monkeypatch) -> None:
    workspace = tmp_path / "mynet"
    start(workspace)
    fill(workspace, "data")

    def broken(answer):
        answer("1999")  # the learner's code runs, then the check breaks on its own
        raise IndexError("the checker's own mistake")

    real = course.run
    monkeypatch.setattr(
        course, "run", lambda ex, fn: real(dataclasses.replace(ex, check=broken), fn)
    )
    report = course.check(workspace, [STAGES["data"]])
    assert report.exit_code == 3
    text = report.render()
    assert "! Exercise 1.1" in text and "a bug in nnscratch, not in your code" in text
    assert "IndexError: the checker's own mistake" in text
    assert "The checker failed, not your code" in text


def test_check_needs_a_workspace(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["learn", "check"]) == 2
    assert "mynet is not a course workspace: start one with nnscratch learn start" in (
        capsys.readouterr().err
    )


def test_modules_load_afresh_and_leave_nothing_behind(tmp_path: Path) -> None:
    import sys

    workspace = tmp_path / "mynet"
    start(workspace)
    fill(workspace, "activations")
    ws = Workspace(workspace)
    with ws.importable():
        assert ws.function(STAGES["activations"], "relu")(-1.0) == 0.0
    path = workspace / "activations.py"
    path.write_text(path.read_text().replace("np.maximum(Z, 0)", "np.maximum(Z, 0) + 1"))
    with ws.importable():  # the same second, the same size ± 4: still the new source
        assert ws.function(STAGES["activations"], "relu")(-1.0) == 1.0
    assert "activations" not in sys.modules and str(workspace.resolve()) not in sys.path
