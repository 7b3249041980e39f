"""The analysis lab: every experiment runs (quickly, on the synthetic sample) and reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from test_cli import run

from nnscratch.app.lab.experiments import EXPERIMENTS, run_experiment
from nnscratch.errors import DataError

EXPECTED_ROWS = {
    "init": 3,
    "activation": 4,
    "lr": 4,
    "l2": 4,
    "batch": 4,
    "optimizer": 3,
    "augmentation": 4,
}
#: every experiment but those that need images
TABLE_EXPERIMENTS = sorted(set(EXPERIMENTS) - {"augmentation"})


@pytest.mark.parametrize("name", TABLE_EXPERIMENTS)
def test_experiment_writes_figure_and_table(name: str, tmp_path: Path, capsys) -> None:
    out = run_experiment(name, data_path=None, seed=0, out=tmp_path / name, max_rows=1500, epochs=2)
    image = imread(out / f"{name}.png")
    assert image.shape[0] > 300 and image.std() > 0.05
    results = json.loads((out / "results.json").read_text())
    assert len(results["rows"]) == EXPECTED_ROWS[name]
    assert len(results["curves"]) == EXPECTED_ROWS[name]
    table = (out / "results.md").read_text()
    assert table.count("\n|") == EXPECTED_ROWS[name] + 2  # header, separator, one line a row
    assert f"outputs in {out}" in capsys.readouterr().out


def test_learning_rate_divergence_is_a_result(tmp_path: Path) -> None:
    out = run_experiment("lr", data_path=None, seed=0, out=tmp_path / "lr", max_rows=1500, epochs=3)
    rows = {r["learning rate"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert set(rows) == {"η = 1", "η = 0.1", "η = 0.01", "η = 0.001"}
    assert rows["η = 0.001"]["diverged at epoch"] is None


def test_init_signal_claim(tmp_path: Path) -> None:
    out = run_experiment(
        "init", data_path=None, seed=0, out=tmp_path / "init", max_rows=1500, epochs=1
    )
    rows = json.loads((out / "results.json").read_text())["rows"]
    he, small = rows[0]["step-0 RMS of A[1..4]"], rows[2]["step-0 RMS of A[1..4]"]
    assert np.all(np.array(he) > 0.1)  # He keeps the signal alive through all four layers
    assert small[-1] < 1e-3 * he[-1]  # 0.01·N(0,1) collapses it


def test_experiment_command_line(tmp_path: Path) -> None:
    result = run(
        "experiment", "batch", "--max-rows", "800", "--epochs", "1", "--out", str(tmp_path / "b")
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b" / "batch.png").is_file()
    assert "per-sample SGD" in result.stdout


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_runs_on_the_bundled_digits(name: str, tmp_path: Path) -> None:
    out = run_experiment(name, data_path="digits", seed=0, out=tmp_path / name, epochs=2)
    results = json.loads((out / "results.json").read_text())
    assert len(results["rows"]) == EXPECTED_ROWS[name]
    assert "digits" in results["data"]
    columns = " ".join(results["rows"][0])
    assert "accuracy" in columns or name == "lr" or "loss" in columns
    image = imread(out / f"{name}.png")
    assert image.shape[0] > 300 and image.std() > 0.05


def test_augment_experiment_needs_images(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="experiment augmentation needs images"):
        run_experiment("augmentation", data_path=None, seed=0, out=tmp_path / "a", epochs=1)
    assert not (tmp_path / "a").exists()


def test_augment_experiment_compares_each_augmentation_and_shows_the_digits(
    tmp_path: Path,
) -> None:
    out = tmp_path / "a"
    result = run(
        "experiment", "augmentation", "--data", "digits", "--epochs", "4", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "elastic" in result.stdout and (out / "augmentation.png").is_file()
    results = json.loads((out / "results.json").read_text())
    rows = {r["augmentation"]: r for r in results["rows"]}
    assert list(rows) == ["none", "shift", "affine", "elastic"]
    assert all(r["seconds per epoch"] > 0 for r in rows.values())
    assert all(0.5 < r["best val accuracy"] <= 1 for r in rows.values())
    for curve in results["curves"].values():
        assert len(curve["val_accuracy"]) == 4
    # distorted batches are harder to fit: the plain network's training loss is the lowest
    assert rows["none"]["final train loss"] < min(
        rows[name]["final train loss"] for name in ("affine", "elastic")
    )
    assert "784" not in results["setup"] and "64-512-256-10" in results["setup"]


def test_activation_experiment_records_every_layer_gradient(tmp_path: Path) -> None:
    out = run_experiment("activation", data_path="digits", seed=0, out=tmp_path / "a", epochs=3)
    rows = {
        r["hidden activation"]: r for r in json.loads((out / "results.json").read_text())["rows"]
    }
    assert set(rows) == {"relu", "sigmoid", "tanh", "leaky_relu"}
    assert all(r["val accuracy"] > 0.1 for r in rows.values())
    # sigmoid's gradient fades towards the input: its first layer gets far less than ReLU's
    ratio = "‖dW[1]‖ / ‖dW[L]‖ at the end"
    assert rows["sigmoid"][ratio] < rows["relu"][ratio]
