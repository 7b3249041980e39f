"""An ensemble saved by ``tune`` is a model like any other: it predicts the weighted mean
of its members' outputs, and loads, predicts, evaluates, serves and exports as they do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_cli import run

from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import ModelFileError, NNScratchError
from nnscratch.models.ensemble import (
    ClassifierEnsemble,
    DigitEnsemble,
    PopularityEnsemble,
    ensemble_of,
)
from nnscratch.models.fitted import ExportableModel, FittedModel, ServableModel
from nnscratch.models.persistence import peek_metadata
from nnscratch.models.recipes import DEFAULT_RECIPE, DIGITS_FAST_RECIPE
from nnscratch.tasks.classification import TableClassification
from nnscratch.tasks.digits import Digits
from nnscratch.tasks.registry import load_model
from nnscratch.tasks.regression import TableRegression

QUICK = DEFAULT_RECIPE.with_overrides(epochs=3, patience=2)
#: Members that read the same rows their own ways: target-aware and quantile bins, TabM
#: and a plain network.
RECIPES = (QUICK, QUICK.with_overrides(n_bins=8, bins="quantile", k=1, n_members=1))
WEIGHTS = (0.25, 0.75)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ensemble") / "tracks.csv"
    make_tracks(600, seed=5).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def regression(tracks: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    task = TableRegression()
    data = task.load(str(tracks), QUICK, seed=0)
    members = [task.fit(data, recipe, seed) for seed, recipe in enumerate(RECIPES)]
    path = tmp_path_factory.mktemp("saved") / "ensemble.npz"
    ensemble_of(members, WEIGHTS).save(path)
    return {"task": task, "data": data, "members": members, "path": path}


def test_it_predicts_the_weighted_mean_of_its_members(regression: dict[str, Any]) -> None:
    members, prepared = regression["members"], regression["data"].prepared
    model = load_model(regression["path"])
    assert isinstance(model, PopularityEnsemble) and model.weights.tolist() == list(WEIGHTS)
    assert members[0].preprocessing.encoder is not None  # the members encode their own way
    X = prepared.X_test
    expected = sum(w * m.predict_scaled(X) for w, m in zip(WEIGHTS, members, strict=True))
    np.testing.assert_allclose(model.predict_scaled(X), expected, rtol=0, atol=1e-12)
    outputs = sum(
        w * m.network_outputs(m.preprocessing.encode(X))
        for w, m in zip(WEIGHTS, members, strict=True)
    )
    np.testing.assert_allclose(model.network_outputs(X), outputs, rtol=0, atol=1e-12)
    # a number's mean is taken before the clip to its range
    points = model.preprocessing.to_points(outputs[:, 0])
    truth = model.preprocessing.inverse_transform_y(prepared.y_test)
    rmse = float(np.sqrt(np.mean((points - truth) ** 2)))
    assert regression["task"].test_score(model, regression["data"]) == pytest.approx(rmse)


def test_it_loads_predicts_and_evaluates_like_any_model(
    regression: dict[str, Any], tracks: Path, tmp_path: Path
) -> None:
    path = regression["path"]
    model = load_model(path)
    assert isinstance(model, FittedModel | ServableModel | ExportableModel)
    assert isinstance(model, ServableModel) and isinstance(model, ExportableModel)
    assert peek_metadata(path)["task"] == "regression"
    assert model.n_members == sum(m.n_members for m in regression["members"])
    described = model.describe()
    assert [m["weight"] for m in described["ensemble"]["members"]] == list(WEIGHTS)
    out = tmp_path / "pred.csv"
    result = run("predict", "--model", str(path), "--data", str(tracks), "--out", str(out))
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(out)
    cleaned, _, _ = model.read_rows(str(tracks), with_target=False)
    members = regression["members"]
    mean = sum(
        w * m.network_outputs(m.preprocessing.transform(cleaned, np.float32))[:, 0]
        for w, m in zip(WEIGHTS, members, strict=True)
    )
    expected = np.round(model.preprocessing.to_points(mean), 2)
    np.testing.assert_allclose(predicted["predicted_popularity"], expected, atol=0.0051)
    evaluated = run("evaluate", "--model", str(path), "--data", str(tracks))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "RMSE" in evaluated.stdout and "model (" in evaluated.stdout


def test_it_serves_as_the_command_line_predicts(regression: dict[str, Any], tracks: Path) -> None:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    pytest.importorskip("httpx", reason="the web-tests extra is not installed")
    from fastapi.testclient import TestClient

    from nnscratch.app.serve.server import create_app

    model = load_model(regression["path"])
    api = TestClient(create_app(regression["path"]))
    answer = api.post(
        "/predict", content=tracks.read_bytes(), headers={"content-type": "text/csv"}
    ).json()
    frame = model.predict_file(str(tracks)).frame
    assert answer["ids"] == frame["id"].tolist()
    assert answer["predictions"] == frame["predicted_popularity"].tolist()
    assert api.get("/model").json()["ensemble"]["members"][1]["weight"] == WEIGHTS[1]


def test_it_exports_one_graph_that_onnx_runtime_runs(
    regression: dict[str, Any], tracks: Path, tmp_path: Path
) -> None:
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    model = load_model(regression["path"])
    result = run("export", "--model", str(regression["path"]), "--out", str(tmp_path / "m.onnx"))
    assert result.returncode == 0, result.stderr
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    cleaned, _, _ = model.read_rows(str(tracks), with_target=False)
    feeds = model.members[0].export.onnx_feeds(cleaned)
    (onnx_points,) = session.run(["predictions"], feeds)
    np.testing.assert_allclose(onnx_points, model.predict_points(cleaned), rtol=1e-5, atol=1e-4)


def test_a_classifier_ensemble_averages_probabilities(tracks: Path, tmp_path: Path) -> None:
    task = TableClassification(target="mode")
    data = task.load(str(tracks), QUICK, seed=0)
    members = [task.fit(data, recipe, seed) for seed, recipe in enumerate(RECIPES)]
    ensemble_of(members, WEIGHTS).save(tmp_path / "c.npz")
    model = load_model(tmp_path / "c.npz")
    assert isinstance(model, ClassifierEnsemble)
    X = data.prepared.X_test
    expected = sum(w * m.predict_proba_scaled(X) for w, m in zip(WEIGHTS, members, strict=True))
    np.testing.assert_allclose(model.predict_proba_scaled(X), expected, rtol=0, atol=1e-12)
    cleaned, _, _ = model.read_rows(str(tracks), with_target=False)
    assert np.allclose(model.predict_proba(cleaned).sum(axis=1), 1)


def test_a_digits_ensemble_keeps_each_members_test_time_augmentation(tmp_path: Path) -> None:
    task = Digits()
    recipe = DIGITS_FAST_RECIPE.with_overrides(epochs=2, hidden=(32,))
    data = task.load("digits", recipe, seed=0)
    plain = task.fit(data, recipe, 0)
    shifted = replace(task.fit(data, recipe, 1), tta=True)
    ensemble_of([plain, shifted], [0.5, 0.5]).save(tmp_path / "d.npz")
    model = load_model(tmp_path / "d.npz")
    assert isinstance(model, DigitEnsemble) and [m.tta for m in model.members] == [False, True]
    images = data.images.X_test[:20]
    expected = 0.5 * plain.predict_proba(images) + 0.5 * shifted.predict_proba(images)
    np.testing.assert_allclose(model.predict_proba(images), expected, rtol=0, atol=1e-12)
    with pytest.raises(NNScratchError, match="test-time augmentation"):
        model.export.to_onnx()


def test_bad_ensembles_are_refused(regression: dict[str, Any], tmp_path: Path) -> None:
    members = regression["members"]
    with pytest.raises(ValueError, match="sum to 1"):
        ensemble_of(members, [0.5, 0.6])
    with pytest.raises(ValueError, match="as many weights"):
        ensemble_of(members, [1.0])
    other = TableRegression().load(None, QUICK, seed=1)  # other rows: other scalers
    stranger = TableRegression().fit(other, QUICK, 0)
    with pytest.raises(ValueError, match="reads its rows otherwise"):
        ensemble_of([members[0], stranger], [0.5, 0.5])
    broken = tmp_path / "broken.npz"
    ensemble_of(members, WEIGHTS).save(broken)
    arrays = dict(np.load(broken))
    del arrays["member1.W1"]
    np.savez(broken, **arrays)
    with pytest.raises(ModelFileError, match="missing array"):
        load_model(broken)
