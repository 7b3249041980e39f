"""Classifying a table's rows: ``nnscratch train --task classification --target COLUMN``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_failure, check_png, run, run_predict

from nnscratch import MLPClassifier
from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import tracks_from_frame
from nnscratch.errors import DataError
from nnscratch.models.recipes import DEFAULT_RECIPE
from nnscratch.models.table_classifier import TabularClassifier

FEATURES = ["danceability", "energy", "valence", "loudness", "tempo", "year"]


def mood_tracks(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Synthetic tracks with a string label that the features decide: three moods."""
    frame = make_tracks(n, seed=seed, junk_fraction=0.0)
    valence = pd.to_numeric(frame["valence"], errors="coerce")
    energy = pd.to_numeric(frame["energy"], errors="coerce")
    frame["mood"] = np.where(valence > 0.6, "happy", np.where(energy > 0.5, "angry", "calm"))
    return frame


def mood_frame(n: int = 300) -> pd.DataFrame:
    """:func:`mood_tracks` checked and completed (``year``) as a file would be."""
    return tracks_from_frame(mood_tracks(n), features=FEATURES, target="mood")


@pytest.fixture(scope="module")
def mood_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mood") / "moods.csv"
    mood_tracks().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def mood_run(mood_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mood"
    result = run(
        "train",
        "--data",
        str(mood_csv),
        "--task",
        "classification",
        "--target",
        "mood",
        "--epochs",
        "40",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    return out


def test_prepare_keeps_labels_as_they_are() -> None:
    data = prepare(mood_frame(300), FEATURES, "mood", task="classification", seed=1)
    assert data.task == "classification" and data.y_scaler is None
    assert set(data.y_train) == {"happy", "angry", "calm"}
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 300
    assert data.preprocessing.target_mean is None
    with pytest.raises(ValueError, match="holds class labels; it has no scale"):
        data.target_range  # noqa: B018


def test_a_class_missing_from_training_is_named() -> None:
    frame = mood_frame(300)
    frame.loc[0, "mood"] = "sleepy"  # one row: it lands in one split only
    for seed in range(20):
        data_or_error: object
        try:
            data_or_error = prepare(frame, FEATURES, "mood", task="classification", seed=seed)
        except DataError as exc:
            data_or_error = exc
        if isinstance(data_or_error, DataError):
            assert "class(es) sleepy of the target 'mood'" in str(data_or_error)
            assert "but not in the training split" in str(data_or_error)
            return
    pytest.fail("no seed put the single 'sleepy' row outside the training split")


def test_blank_labels_are_dropped_and_counted() -> None:
    frame = mood_frame(300)
    frame.loc[:9, "mood"] = ["", " ", None, np.nan, "", "", "", "", "", ""]
    data = prepare(frame, FEATURES, "mood", task="classification")
    assert data.report.missing["mood"] == 10
    assert data.split_sizes()["train"] + data.split_sizes()["validation"] + data.split_sizes()[
        "test"
    ] == 300 - 10 - sum(v for k, v in data.report.missing.items() if k != "mood")


def test_recipe_fits_a_table_classifier_that_round_trips(tmp_path: Path) -> None:
    data = prepare(mood_frame(800), FEATURES, "mood", task="classification")
    recipe = DEFAULT_RECIPE.with_overrides(n_members=2, epochs=30)
    model = recipe.fit(data, seed=0)
    assert isinstance(model, TabularClassifier)
    assert model.classes_.tolist() == ["angry", "calm", "happy"]
    proba = model.predict_proba_scaled(data.X_test)
    assert proba.shape == (len(data.y_test), 3)
    accuracy = np.mean(model.classes_[proba.argmax(axis=1)] == data.y_test)
    assert accuracy > 0.8  # the label is a function of two features
    loaded = TabularClassifier.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.predict_proba_scaled(data.X_test), proba)
    assert isinstance(MLPClassifier.load(tmp_path / "m.npz"), MLPClassifier)


def test_cli_trains_evaluates_and_predicts_string_labels(
    mood_run: Path, mood_csv: Path, tmp_path: Path
) -> None:
    metrics = json.loads((mood_run / "metrics.json").read_text())
    assert metrics["task"] == "classification"
    results = metrics["results"]
    model_name = next(name for name in results if name.startswith("nnscratch MLP"))
    assert "LogisticRegression" in results and any(n.startswith("majority") for n in results)
    test = results[model_name]["test"]
    assert test["accuracy"] > 0.8 and 0 < test["log_loss"] < 0.6
    majority = next(v for n, v in results.items() if n.startswith("majority"))["test"]
    assert test["accuracy"] > majority["accuracy"] + 0.2
    for name in ("curves.png", "confusion_matrix.png"):
        check_png(mood_run / name)

    evaluated = run("evaluate", "--model", str(mood_run / "model.npz"), "--data", str(mood_csv))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "accuracy" in evaluated.stdout and "macro-F1" in evaluated.stdout

    out = tmp_path / "pred.csv"
    predicted = run_predict(mood_run / "model.npz", mood_csv, out)
    assert predicted.returncode == 0, predicted.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "predicted_mood", "p_angry", "p_calm", "p_happy"]
    assert set(table["predicted_mood"]) <= {"angry", "calm", "happy"}
    np.testing.assert_allclose(table[["p_angry", "p_calm", "p_happy"]].sum(axis=1), 1, atol=1e-5)
    truth = pd.read_csv(mood_csv).set_index("id").loc[table["id"], "mood"].to_numpy()
    assert np.mean(table["predicted_mood"].to_numpy() == truth) > 0.8


def test_cli_refuses_classification_without_a_target_and_accuracy_for_regression(
    tmp_path: Path,
) -> None:
    result = run("train", "--task", "classification", "--out", str(tmp_path / "a"))
    assert_clean_failure(result, "--task classification needs --target COLUMN")
    result = run("train", "--scoring", "accuracy", "--epochs", "1", "--out", str(tmp_path / "b"))
    assert_clean_failure(result, "--scoring accuracy needs a classification task")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_classifies_the_builtin_samples_binary_column(tmp_path: Path) -> None:
    out = tmp_path / "explicit"
    result = run(
        "train",
        "--task",
        "classification",
        "--target",
        "explicit",
        "--scoring",
        "accuracy",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "output sigmoid" in result.stdout and "left out: explicit (it is the target)" in (
        result.stdout
    )
    recipe = json.loads((out / "metrics.json").read_text())["recipe"]
    assert recipe["scoring"] == "accuracy"
    assert TabularClassifier.load(out / "model.npz").classes_.tolist() == [0, 1]


def test_real_explicit_column(real_tracks_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "real"
    result = run(
        "train",
        "--data",
        str(real_tracks_path),
        "--task",
        "classification",
        "--target",
        "explicit",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "metrics.json").read_text())["results"]
    model = next(v for n, v in results.items() if n.startswith("nnscratch MLP"))["test"]
    logistic = results["LogisticRegression"]["test"]
    assert model["log_loss"] < logistic["log_loss"] and model["macro_f1"] > logistic["macro_f1"]
