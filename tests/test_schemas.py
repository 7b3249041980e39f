"""Every public Spotify schema trains with the default recipe, and predicts.

Fixtures come from ``tests/schemas.py``: synthetic rows reshaped into each
schema's columns and formats.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from schemas import SCHEMA_FIXTURES, TARGET_COLUMN, data_csv, playlist, spotify_tracks, write_all
from test_cli import assert_clean_failure, run, run_predict

from nnscratch.data.cleaning import clean
from nnscratch.data.encoders import CategoryEncoding
from nnscratch.data.features import DEFAULT_FEATURES, OPTIONAL_FEATURES, RECIPE_FEATURES
from nnscratch.data.preprocessing import prepare
from nnscratch.data.schemas import SCHEMAS, detect_schema
from nnscratch.data.tracks import TracksFile, load_tracks, tracks_from_frame
from nnscratch.errors import DataError

#: What the default recipe leaves out on each schema, as the data report says it.
LEFT_OUT = {
    "tracks": [],
    "data": ["left out: time_signature (not in this file)"],
    "spotify-tracks": [
        "left out: year, release_precision, release_month (release_date not in this file)"
    ],
    "playlist": [
        "left out: explicit (not in this file)",
        "left out: time_signature (not in this file)",
    ],
}
CATEGORICAL = {
    "tracks": [],
    "data": [],
    "spotify-tracks": ["genre"],
    "playlist": ["genre", "subgenre"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("schemas"), n=1200, seed=0)


@pytest.fixture(scope="module")
def trained(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``nnscratch train --data FILE`` with no other flags, once per schema."""
    runs = {}
    for name, path in files.items():
        out = tmp_path_factory.mktemp("runs") / name
        result = run("train", "--data", str(path), "--out", str(out), "--quiet")
        assert result.returncode == 0, f"{name}: {result.stderr}"
        (out / "stdout.txt").write_text(result.stdout)
        runs[name] = out
    return runs


def test_each_fixture_is_recognised(files: dict[str, Path]) -> None:
    for name, path in files.items():
        assert detect_schema(pd.read_csv(path, nrows=1).columns) == name


@pytest.mark.parametrize("name", sorted(SCHEMA_FIXTURES))
def test_default_recipe_trains_and_reports_what_it_left_out(
    name: str, trained: dict[str, Path]
) -> None:
    stdout = (trained[name] / "stdout.txt").read_text()
    reported = [line.strip() for line in stdout.splitlines() if "left out:" in line]
    assert reported == LEFT_OUT[name]
    metrics = json.loads((trained[name] / "metrics.json").read_text())
    used = metrics["features"]["used"]
    assert metrics["features"]["categorical"] == CATEGORICAL[name]
    assert set(used) <= set(RECIPE_FEATURES)
    assert set(RECIPE_FEATURES) - set(used) <= set(OPTIONAL_FEATURES)
    assert (trained[name] / "model.npz").is_file()


@pytest.mark.parametrize("name", sorted(SCHEMA_FIXTURES))
def test_predict_on_the_same_file_without_its_target(
    name: str, files: dict[str, Path], trained: dict[str, Path], tmp_path: Path
) -> None:
    frame = pd.read_csv(files[name])
    unlabelled = tmp_path / f"{name}-unlabelled.csv"
    frame.drop(columns=[TARGET_COLUMN[name]]).to_csv(unlabelled, index=False)
    out = tmp_path / "pred.csv"
    result = run_predict(trained[name] / "model.npz", unlabelled, out)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(out)
    assert len(predictions) > 0.99 * len(frame)
    assert predictions["predicted_popularity"].between(0, 100).all()


def test_data_csv_schema_beats_linear_regression(trained: dict[str, Path]) -> None:
    results = json.loads((trained["data"] / "metrics.json").read_text())["results"]
    mlp = next(v for k, v in results.items() if k.startswith("nnscratch MLP"))
    assert mlp["test"]["rmse"] < results["LinearRegression"]["test"]["rmse"] - 0.5


def test_a_model_refuses_a_file_lacking_a_feature_it_was_trained_on(
    files: dict[str, Path], trained: dict[str, Path], tmp_path: Path
) -> None:
    """Trained on tracks.csv (with time_signature), asked about a data.csv file."""
    out = tmp_path / "pred.csv"
    result = run_predict(trained["tracks"] / "model.npz", files["data"], out)
    assert_clean_failure(result, "data.csv", "missing required column(s): time_signature")
    assert not out.exists()


def test_a_genre_model_refuses_a_file_without_genre(
    files: dict[str, Path], trained: dict[str, Path], tmp_path: Path
) -> None:
    frame = pd.read_csv(files["playlist"]).drop(columns=["playlist_genre"])
    path = tmp_path / "no-genre.csv"
    frame.to_csv(path, index=False)
    result = run_predict(trained["playlist"] / "model.npz", path, tmp_path / "pred.csv")
    assert_clean_failure(result, "no-genre.csv", "missing required column(s): genre")


def test_unseen_genres_are_predicted_not_crashed_on(
    files: dict[str, Path], trained: dict[str, Path], tmp_path: Path
) -> None:
    frame = pd.read_csv(files["playlist"])
    frame["playlist_genre"] = "never seen"
    frame.loc[::2, "playlist_subgenre"] = np.nan
    path = tmp_path / "new-genres.csv"
    frame.to_csv(path, index=False)
    result = run_predict(trained["playlist"] / "model.npz", path, tmp_path / "pred.csv")
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "pred.csv")) > 0.99 * len(frame)


def test_seed_preset_still_requires_its_13_features(files: dict[str, Path], tmp_path: Path) -> None:
    result = run(
        "train",
        "--data",
        str(files["spotify-tracks"]),
        "--preset",
        "seed",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "out"),
    )
    assert_clean_failure(result, "missing required column(s): year (or release_date)")


def test_target_override_and_unknown_target(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "energy"
    result = run(
        "train",
        "--data",
        str(files["tracks"]),
        "--target",
        "energy",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "left out: energy (it is the target)" in result.stdout
    assert "results in energy points" in result.stdout
    result = run("train", "--data", str(files["tracks"]), "--target", "plays", "--epochs", "2")
    assert_clean_failure(result, "no target column 'plays'", "columns found: id, name, popularity")


def test_a_file_without_popularity_lists_its_columns(tmp_path: Path) -> None:
    frame = data_csv(50, seed=1).drop(columns=["popularity"])
    path = tmp_path / "nopop.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing required column\(s\): popularity; columns found"):
        load_tracks(path)


def test_ambiguous_alias_is_refused() -> None:
    frame = playlist(20, seed=0)
    frame["popularity"] = 1  # both track_popularity and popularity
    with pytest.raises(DataError, match="ambiguous"):
        tracks_from_frame(frame, source="both.csv")


def test_spotify_tracks_explicit_text_is_read_as_numbers() -> None:
    """``True``/``False`` text: coercing it naively to numbers would drop every row."""
    read = TracksFile.from_frame(
        spotify_tracks(200, seed=3), optional=OPTIONAL_FEATURES, features=RECIPE_FEATURES
    )
    frame = read.frame
    cleaned, report = clean(frame, read.features)
    assert report.rows_kept > 190
    assert set(cleaned["explicit"].unique()) <= {0.0, 1.0} and cleaned["explicit"].sum() > 0
    assert cleaned["n_artists"].max() == 2  # "A;Guest B"
    assert "Unnamed: 0" not in frame.columns


def test_category_encoding_caps_rare_levels_and_takes_unseen() -> None:
    train = pd.Series(["pop"] * 30 + ["rock"] * 12 + ["polka"] * 2)
    encoding = CategoryEncoding("genre", min_count=10).fit(train)
    assert encoding.levels_ == ["pop", "rock"]
    out = encoding.transform(pd.Series(["Pop", "polka", "never seen", None, "rock"]))
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 0]])
    assert CategoryEncoding.from_dict(encoding.to_dict()).levels_ == encoding.levels_


def test_prepare_one_hot_blocks_follow_the_features() -> None:
    features = [f for f in DEFAULT_FEATURES if f != "explicit"]  # playlists have no flag
    frame = tracks_from_frame(
        playlist(600, seed=4), features=features, categoricals=["genre", "subgenre"]
    )
    data = prepare(frame, features, categoricals=["genre", "subgenre"], seed=0)
    blocks = data.categorical_blocks
    assert blocks[0][0] == len(features) and blocks[-1][1] == data.X_train.shape[1]
    for start, stop in blocks:
        np.testing.assert_array_equal(data.X_test[:, start:stop].sum(axis=1), 1)
    assert len(data.column_names) == data.X_train.shape[1]
    pre = data.preprocessing
    cleaned, _ = clean(frame, features)
    np.testing.assert_allclose(
        pre.scale(cleaned.iloc[data.test_index]), data.X_test, rtol=1e-6, atol=1e-6
    )


def test_the_schema_table_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for schema in SCHEMAS:
        assert schema.title in readme
