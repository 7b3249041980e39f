"""``nnscratch learn train``: the learner's own network beside the engine, from the same
weights, on digits and on tracks (the shared Spotify sample is run by docs/learn.md's
session, tests/test_learn_docs.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nnscratch.app.cli.main import main
from nnscratch.app.learn import milestones
from nnscratch.app.learn.workspace import Workspace, start

ANSWERS = Path(__file__).resolve().parents[1] / "notebooks" / "answers"


@pytest.fixture(scope="module")
def answered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the reference answers."""
    folder = tmp_path_factory.mktemp("learn") / "mynet"
    start(folder)
    for path in ANSWERS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    return folder


def test_digits_your_network_reaches_97_percent_as_the_engine_does(
    answered: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "digits"
    assert main(["learn", "train", "-w", str(answered), "--data", "digits", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["yours_test_accuracy"] >= 0.97
    assert metrics["yours_test_accuracy"] == metrics["engine_test_accuracy"]
    assert metrics["max_relative_difference"] <= 1e-8
    assert metrics["layer_sizes"] == [64, 64, 32, 16, 10]
    assert f"test accuracy: yours {metrics['yours_test_accuracy']:.2%}" in said
    assert "per-epoch training losses differ by at most" in said
    losses = np.loadtxt(out / "losses.csv", delimiter=",", skiprows=1)
    assert losses.shape == (60, 3) and (out / "losses.png").stat().st_size > 10_000


def test_tracks_on_the_built_in_sample_with_its_flags(answered: Path, tmp_path: Path) -> None:
    out = tmp_path / "tracks"
    args = ["--epochs", "30", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "256"]
    assert main(["learn", "train", "-w", str(answered), "--out", str(out), *args]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "tracks" and "synthetic" in metrics["data"]
    assert metrics["settings"]["batch_size"] == 256 and metrics["settings"]["epochs"] == 30
    assert {"yours_test_rmse", "engine_test_rmse", "max_relative_difference"} <= set(metrics)
    # Adam: the package folds its bias correction into the step (Kingma and Ba's efficient
    # form), so the two runs agree to the ε's place, not to the last bit
    assert metrics["max_relative_difference"] <= 1e-4
    assert abs(metrics["yours_test_rmse"] - metrics["engine_test_rmse"]) < 0.05


def test_train_needs_the_stages_it_runs(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mynet"
    start(folder)
    for stage in ("data", "init", "activations", "forward", "loss"):
        shutil.copy(ANSWERS / f"{stage}.py", folder / f"{stage}.py")
    code = main(["learn", "train", "-w", str(folder), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2 and not (tmp_path / "out").exists()
    assert "✗ stage 6, backprop" in captured.out
    assert "needs stages 1 to 8 to pass first; stage 6, backprop" in captured.err


def test_a_learners_loop_that_drifts_shows_in_the_difference(answered: Path) -> None:
    """The measure can fail: a learning rate off by 1 % on one side is seen at once."""
    split = milestones.load("digits", seed=0)
    settings = milestones.settings_for("digits", epochs=5)
    workspace = Workspace(answered)
    with workspace.importable():
        mine, first = milestones.yours(workspace, split, settings)
    theirs = milestones.engine(split, milestones.settings_for("digits", epochs=5), first)
    assert milestones.max_relative_difference(mine.losses, theirs.losses) < 1e-12
    drifted = milestones.engine(
        split, milestones.settings_for("digits", epochs=5, learning_rate=0.0202), first
    )
    assert milestones.max_relative_difference(mine.losses, drifted.losses) > 1e-6


def test_an_error_in_the_learners_loop_shows_their_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mynet"
    start(folder)
    for path in ANSWERS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    training = folder / "training.py"
    text = training.read_text().replace(
        "    rng = np.random.default_rng(seed)\n",
        "    rng = np.random.default_rng(seed)\n    assert X.shape[1] < 1000, 'too much data'\n",
        1,
    )
    training.write_text(text)  # passes the check (60 samples), fails on the digits (1,437)
    code = main(
        ["learn", "train", "-w", str(folder), "--data", "digits", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "your train failed: your code raised AssertionError at training.py:" in err
    assert "assert X.shape[1] < 1000" in err and not (tmp_path / "o").exists()
