"""A user's own file and target: the names they know, no leakage, what the model uses.

Fixtures are the synthetic rows of ``tests/schemas.py`` in each public schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from schemas import playlist, spotify_tracks, tracks, write_all
from test_cli import assert_clean_failure, check_png, run, run_predict

from nnscratch.data.leakage import find_leaks
from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import TracksFile
from nnscratch.models.table_classifier import TabularClassifier
from nnscratch.tasks.importance import Scorer, permutation_importance

#: A quick recipe: the default's inputs, one plain network, a few epochs.
QUICK = ("--k", "1", "--epochs", "3", "--quiet")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("targets"), n=800, seed=2)


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k != "metadata"}


def train(data: Path, out: Path, *args: str) -> tuple[str, dict]:
    result = run("train", "--data", str(data), "--out", str(out), *QUICK, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads((out / "metrics.json").read_text())


#: For each schema: (the target by the file's own name, by the package's name, the task).
NAMES = {
    "tracks": ("popularity", "popularity", "regression"),
    "data": ("popularity", "popularity", "regression"),
    "spotify-tracks": ("track_genre", "genre", "classification"),
    "playlist": ("track_popularity", "popularity", "regression"),
}


@pytest.mark.parametrize("schema", sorted(NAMES))
def test_the_files_name_and_the_packages_name_give_the_same_model_named_as_typed(
    schema: str, files: dict[str, Path], tmp_path: Path
) -> None:
    own, package, task = NAMES[schema]
    models = {}
    for name in (own, package):
        out = tmp_path / name
        stdout, _ = train(files[schema], out, "--task", task, "--target", name)
        models[name] = arrays(out / "model.npz")
        pred = tmp_path / f"{name}.csv"
        assert (
            run(
                "predict",
                "--model",
                str(out / "model.npz"),
                "--data",
                str(files[schema]),
                "--out",
                str(pred),
            ).returncode
            == 0
        )
        assert f"predicted_{name}" in pd.read_csv(pred).columns
        if task == "regression":
            assert f"results in {name} points" in stdout
        else:
            assert f"{name} on {files[schema]}" in stdout
    assert models[own].keys() == models[package].keys()
    for key, value in models[own].items():
        np.testing.assert_array_equal(value, models[package][key])


def test_a_playlist_genre_model_leaves_out_the_columns_that_describe_the_genre(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """``playlist_subgenre`` names its genre ("rock hits"): as an input it would give the
    answer. It, the playlist's name and id are left out and said so; accuracy stays
    near what the audio features allow, and a file without playlist columns is scored."""
    out = tmp_path / "genre"
    stdout, metrics = train(
        files["playlist"], out, "--task", "classification", "--target", "playlist_genre"
    )
    assert (
        "left out: playlist_name, playlist_id, subgenre (they describe the target playlist_genre)"
    ) in stdout
    assert metrics["features"]["categorical"] == []
    mlp = next(v for k, v in metrics["results"].items() if k.startswith("nnscratch MLP"))
    majority = next(v for k, v in metrics["results"].items() if k.startswith("majority"))
    assert mlp["test"]["accuracy"] < 0.6  # the genres of the fixture are random draws
    assert mlp["test"]["accuracy"] < majority["test"]["accuracy"] + 0.15
    frame = pd.read_csv(files["playlist"])
    bare = tmp_path / "no-playlist.csv"
    frame.drop(columns=[c for c in frame if c.startswith("playlist_")]).to_csv(bare, index=False)
    pred = tmp_path / "pred.csv"
    result = run(
        "predict", "--model", str(out / "model.npz"), "--data", str(bare), "--out", str(pred)
    )
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(pred)
    assert len(predictions) > 0.98 * len(frame)  # the fixture's junk rows are skipped
    assert set(predictions["predicted_playlist_genre"]) <= set(frame["playlist_genre"])


def test_a_feature_computed_from_the_target_is_left_out(files: dict[str, Path]) -> None:
    """``log_duration`` is ``log(duration_ms)``: predicting the duration, it would be it."""
    from nnscratch.data.features import RECIPE_FEATURES

    read = TracksFile.from_frame(tracks(50, seed=0), features=RECIPE_FEATURES, target="duration_ms")
    assert "log_duration" not in read.features and "duration_ms" not in read.features
    assert read.left_out["log_duration (computed from the target)"] == ["log_duration"]


def leaky_tracks(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Synthetic tracks whose ``valence`` is popularity / 100 (a copy under another name),
    ``energy`` a noisy copy (R² ≈ 0.995 alone), ``danceability`` a strong but honest input
    (R² ≈ 0.9 alone)."""
    rng = np.random.default_rng(seed)
    frame = make_tracks(n, seed=seed, junk_fraction=0.0)
    share = frame["popularity"].to_numpy() / 100
    spread = share.std()
    frame["valence"] = share
    frame["energy"] = np.clip(share + rng.normal(0, 0.07 * spread, n), 0, 1)
    frame["danceability"] = np.clip(share + rng.normal(0, 0.33 * spread, n), 0, 1)
    return frame


def test_the_guard_leaves_out_inputs_that_alone_predict_the_target(tmp_path: Path) -> None:
    data = tmp_path / "leaky.csv"
    leaky_tracks().to_csv(data, index=False)
    stdout, metrics = train(data, tmp_path / "guarded")
    warned = [line.strip() for line in stdout.splitlines() if line.strip().startswith("warning")]
    assert sorted(w.split(":")[1] for w in warned) == [" left out energy", " left out valence"]
    valence = next(w for w in warned if "left out valence" in w)
    assert "--keep-input valence" in valence
    scores = {leak["column"]: leak["score"] for leak in metrics["features"]["leaks"]}
    assert scores["valence"] > 0.999  # a copy: only the 64 bins' width keeps it from 1
    energy = next(leak for leak in metrics["features"]["leaks"] if leak["column"] == "energy")
    assert 0.99 <= energy["score"] < 1.0
    used = metrics["features"]["used"]
    assert "danceability" in used and "valence" not in used and "energy" not in used
    _, kept = train(data, tmp_path / "kept", "--keep-input", "valence")
    assert "valence" in kept["features"]["used"] and "energy" not in kept["features"]["used"]
    assert [leak["column"] for leak in kept["features"]["leaks"]] == ["energy"]


def test_the_guard_on_classes_a_copy_and_a_995_percent_copy() -> None:
    """``explicit`` (8 % positive): ``mode`` a copy, ``key`` right on 99.5 % of rows;
    ``speechiness`` a strong but honest input."""
    rng = np.random.default_rng(0)
    frame = make_tracks(4000, seed=5, junk_fraction=0.0)
    explicit = frame["explicit"].to_numpy()
    frame["mode"] = explicit
    flip = rng.random(len(frame)) < 0.005
    frame["key"] = np.where(flip, 1 - explicit, explicit) * 7
    frame["speechiness"] = np.clip(0.1 + 0.3 * explicit + rng.normal(0, 0.15, len(frame)), 0, 1)
    read = TracksFile.from_frame(frame, target="explicit")
    prepared = prepare(read.frame, read.features, "explicit", task="classification")
    leaks = {leak.column: leak for leak in find_leaks(prepared)}
    assert set(leaks) == {"mode", "key"}
    assert leaks["mode"].score == 1.0 and 0.99 <= leaks["key"].score < 1.0
    assert leaks["key"].metric == "accuracy"
    assert find_leaks(prepared, keep=("mode", "key")) == []


def test_the_guard_scores_a_large_split_on_a_seeded_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above ``MAX_ROWS`` training rows each input is scored on a seeded sample of that
    many: the same leaks found, the same scores for the same seed, another seed another
    sample."""
    from nnscratch.data import leakage

    read = TracksFile.from_frame(leaky_tracks(4000))
    prepared = prepare(read.frame, read.features)
    whole = find_leaks(prepared)
    monkeypatch.setattr(leakage, "MAX_ROWS", 1_500)
    sampled = find_leaks(prepared)
    assert {leak.column for leak in sampled} == {leak.column for leak in whole}
    assert {leak.column for leak in sampled} == {"valence", "energy"}
    assert [leak.score for leak in sampled] != [leak.score for leak in whole]
    assert find_leaks(prepared) == sampled
    assert find_leaks(prepared, seed=1) != sampled


def test_identifier_like_columns_never_become_categories(tmp_path: Path) -> None:
    frame = spotify_tracks(300, seed=1)
    frame["track_genre"] = [f"genre {i}" for i in range(len(frame))]
    data = tmp_path / "ids.csv"
    frame.to_csv(data, index=False)
    stdout, metrics = train(data, tmp_path / "ids")
    assert "left out: genre (an identifier: one distinct value per row, not a category)" in stdout
    assert metrics["features"]["identifiers"] == ["genre"]
    assert not any("genre=" in name for name in metrics["results"])


def test_what_the_model_uses_is_said_recorded_and_drawn(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    stdout, metrics = train(files["playlist"], out)
    assert "what the model uses (validation RMSE lost when an input is shuffled):" in stdout
    importance = metrics["importance"]
    inputs = [item["input"] for item in importance["inputs"]]
    assert importance["score"] == "RMSE" and importance["repeats"] == 5
    assert set(inputs) == set(metrics["features"]["used"]) | {"genre", "subgenre"}
    means = [item["mean"] for item in importance["inputs"]]
    assert means == sorted(means, reverse=True)
    assert inputs[0] in ("year", "genre", "acousticness", "energy", "loudness")
    check_png(out / "importance.png")


def test_classification_baselines_include_gradient_boosting_and_class_weights_apply(
    tmp_path: Path,
) -> None:
    data = tmp_path / "tracks.csv"
    make_tracks(1200, seed=4).to_csv(data, index=False)
    out = tmp_path / "explicit"
    args = ("--task", "classification", "--target", "explicit", "--class-weight", "balanced")
    stdout, metrics = train(data, out, *args)
    assert "HistGradientBoosting" in metrics["results"] and "HistGradientBoosting" in stdout
    assert metrics["recipe"]["class_weight"] == "balanced"
    assert metrics["importance"]["score"] == "log-loss"
    meta = json.loads(str(np.load(out / "model.npz", allow_pickle=False)["metadata"]))
    assert meta["hyperparameters"]["class_weight"] == "balanced"
    result = run("train", "--data", str(data), "--class-weight", "balanced", *QUICK)
    assert_clean_failure(result, "--class-weight needs a classification task")
    result = run("train", "--data", str(data), "--threshold", "tuned", *QUICK)
    assert_clean_failure(result, "--threshold needs a classification task")
    result = run("train", "--data", str(data), *args, "--threshold", "1.2", *QUICK)
    assert_clean_failure(result, "--threshold must be 'tuned' or a number in (0, 1), got '1.2'")


def test_a_tuned_threshold_is_trained_reported_and_used_by_predict(tmp_path: Path) -> None:
    data = tmp_path / "tracks.csv"
    make_tracks(1200, seed=4).to_csv(data, index=False)
    out = tmp_path / "explicit"
    args = ("--task", "classification", "--target", "explicit", "--class-weight", "balanced")
    stdout, metrics = train(data, out, *args, "--threshold", "tuned")
    model = TabularClassifier.load(out / "model.npz")
    assert metrics["recipe"]["threshold"] == "tuned" and model.threshold is not None
    assert f"(threshold {model.threshold:.2f})" in stdout
    assert model.describe()["threshold"] == model.threshold  # GET /model says it
    predictions = tmp_path / "pred.csv"
    assert run_predict(out / "model.npz", data, predictions).returncode == 0
    frame = pd.read_csv(predictions)
    expected = np.where(frame["p_1"] >= model.threshold, 1, 0)
    close = np.abs(frame["p_1"] - model.threshold) < 1e-6  # the CSV rounds to 6 decimals
    assert (frame["predicted_explicit"].to_numpy()[~close] == expected[~close]).all()


def test_an_unknown_target_is_named_as_typed(files: dict[str, Path]) -> None:
    result = run("train", "--data", str(files["playlist"]), "--target", "playlist_mood", *QUICK)
    assert_clean_failure(result, "no target column 'playlist_mood'")
    assert playlist  # the fixture module's playlist schema is the one under test


def test_permutation_importance_scores_a_seeded_subsample_of_large_splits() -> None:
    """Only column 0 carries the target: it alone loses score when shuffled; with more rows
    than ``max_rows`` the score sees exactly the subsample's rows, the same each time; a
    group's repeats are predicted as one stack."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(900, 3))
    truth = 3 * X[:, 0]
    predicted: list[int] = []
    scored: list[int] = []

    def predict(X_rows: np.ndarray) -> np.ndarray:
        predicted.append(len(X_rows))
        return 3 * X_rows[:, 0]

    def rmse(outputs: np.ndarray, rows: np.ndarray) -> float:
        scored.append(len(rows))
        return float(np.sqrt(np.mean((outputs - truth[rows]) ** 2)))

    scorer = Scorer(predict, rmse, "RMSE", higher_is_better=False)
    groups = {"a": [0], "b": [1], "c": [2]}
    full = permutation_importance(scorer, X, groups, max_rows=1000)
    assert predicted == [900] + [5 * 900] * 3 and set(scored) == {900}
    assert full[0].input == "a" and full[0].mean > 3 and all(i.mean == 0 for i in full[1:])
    predicted.clear()
    scored.clear()
    sub = permutation_importance(scorer, X, groups, max_rows=300)
    assert predicted == [300] + [5 * 300] * 3 and set(scored) == {300}
    assert sub[0].input == "a" and sub[0].mean > 3
    assert permutation_importance(scorer, X, groups, max_rows=300) == sub
