"""The bad-input corpus (tests/data/bad/), through the API and the command line.

Each file either is refused with a one-line message naming the file and the
column or value at fault, or is cleaned and used, with what was dropped
reported. Nothing is ever half-written.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_failure, run

from nnscratch.data.preprocessing import prepare
from nnscratch.data.tracks import load_tracks, read_tracks
from nnscratch.errors import DataError

BAD = Path(__file__).resolve().parent / "data" / "bad"

#: file → message fragments; training on it must be refused with them.
REFUSED = {
    "empty.csv": ["empty.csv", "file is empty"],
    "header_only.csv": ["header_only.csv", "header but no data rows"],
    "missing_popularity.csv": ["missing_popularity.csv", "missing required column(s): popularity"],
    "missing_feature.csv": ["missing_feature.csv", "missing required column(s): liveness"],
    "nonnumeric_feature.csv": ["nonnumeric_feature.csv", "'danceability'", "'high'"],
    "release_date_garbage.csv": [
        "release_date_garbage.csv",
        "'year' (from release_date)",
        "'sometime'",
    ],
    "binary.csv": ["binary.csv", "binary file"],
    "duplicated_columns.csv": ["duplicated_columns.csv", "duplicated column", "energy"],
    "one_row.csv": ["one_row.csv", "only 1 usable row"],
    "truncated.csv.gz": ["truncated.csv.gz", "truncated"],
}

#: file → (rows kept of 40, fragments the report must show). Cleaned and used.
CLEANED = {
    "semicolon.csv": (40, []),
    "tab.csv": (40, []),
    "bom_crlf.csv": (40, []),
    "latin1.csv": (40, []),
    "embedded_newlines.csv": (40, []),
    "out_of_range.csv": (37, ["popularity 2 out of range", "tempo 1 out of range"]),
    "infinite_values.csv": (
        37,
        [
            "loudness 1 missing or not a number",
            "tempo 1 missing or not a number",
            "energy 1 missing or not a number",
        ],
    ),
}


def test_the_corpus_is_complete() -> None:
    files = {p.name for p in BAD.iterdir() if p.suffix in (".csv", ".gz")}
    assert files == set(REFUSED) | set(CLEANED)


@pytest.mark.parametrize(("name", "fragments"), REFUSED.items())
def test_refused_through_the_api(name: str, fragments: list[str]) -> None:
    with pytest.raises(DataError) as info:
        prepare(load_tracks(BAD / name))
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(("name", "fragments"), REFUSED.items())
def test_refused_through_the_cli(name: str, fragments: list[str], tmp_path: Path) -> None:
    out = tmp_path / "runs" / "out"
    result = run("train", "--data", str(BAD / name), "--out", str(out), "--epochs", "2")
    assert_clean_failure(result, *fragments)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("name", "expected"), CLEANED.items())
def test_cleaned_through_the_api(name: str, expected: tuple[int, list[str]]) -> None:
    kept, fragments = expected
    data = prepare(load_tracks(BAD / name))
    assert data.report.rows_read == 40
    assert data.report.rows_kept == kept
    assert np.isfinite(data.X_train).all() and np.isfinite(data.y_train).all()
    for fragment in fragments:
        assert fragment in data.report.reasons()


def test_latin1_names_are_kept_with_replacement_characters() -> None:
    frame = load_tracks(BAD / "latin1.csv")
    assert frame["name"].iloc[0] == "Caf\ufffd"


def test_separators_are_detected() -> None:
    read = read_tracks(BAD / "semicolon.csv")
    assert read.delimiter == ";" and read.decimal == ","
    assert read.format_note() == [
        f"note: {BAD / 'semicolon.csv'} read as semicolon-separated with decimal commas"
    ]
    semicolon = read.frame
    comma = load_tracks(BAD / "bom_crlf.csv")
    assert read_tracks(BAD / "bom_crlf.csv").format_note() == []
    pd.testing.assert_frame_equal(
        semicolon[["energy", "loudness", "tempo"]].astype(float),
        comma[["energy", "loudness", "tempo"]].astype(float),
    )
    assert read_tracks(BAD / "tab.csv").delimiter == "\t"


@pytest.fixture(scope="module")
def trained_model(tracks_model: Path) -> Path:
    return tracks_model


@pytest.mark.parametrize(("name", "expected"), CLEANED.items())
def test_cleaned_through_the_cli(
    name: str, expected: tuple[int, list[str]], trained_model: Path, tmp_path: Path
) -> None:
    kept, fragments = expected
    if name == "out_of_range.csv":
        kept += 2  # predict needs no popularity, so rows with it out of range are scored
    out = tmp_path / "pred.csv"
    result = run(
        "predict", "--model", str(trained_model), "--data", str(BAD / name), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert f"predicted {kept} of 40 rows" in result.stdout
    predictions = pd.read_csv(out)
    assert len(predictions) == kept
    assert predictions["predicted_popularity"].between(0, 100).all()
    for fragment in fragments:
        if "popularity" not in fragment:  # predict does not need popularity in range
            assert fragment in result.stdout
    if name == "semicolon.csv":
        assert "read as semicolon-separated with decimal commas" in result.stdout


def test_out_of_range_values_are_reported_when_training(tmp_path: Path) -> None:
    result = run(
        "train",
        "--data",
        str(BAD / "out_of_range.csv"),
        "--out",
        str(tmp_path / "o"),
        "--epochs",
        "2",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "dropped, out of range: tempo 1, popularity 2" in result.stdout


def test_predict_without_popularity_and_on_one_row(trained_model: Path, tmp_path: Path) -> None:
    for name, rows in (("missing_popularity.csv", 40), ("one_row.csv", 1)):
        out = tmp_path / f"{name}.pred.csv"
        result = run(
            "predict", "--model", str(trained_model), "--data", str(BAD / name), "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        assert len(pd.read_csv(out)) == rows


def test_no_traceback_for_a_directory(tmp_path: Path) -> None:
    result = run("train", "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert_clean_failure(result, "is a directory")


def test_subprocess_helper_is_real() -> None:
    assert isinstance(run("--version"), subprocess.CompletedProcess)
