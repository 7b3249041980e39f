"""Stage 1: reading, cleaning, splitting, scaling and the one transpose."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnscratch.core.network import to_network_layout
from nnscratch.data.cleaning import clean
from nnscratch.data.encoders import min_max_scaler_from_dict, min_max_scaler_to_dict
from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.preprocessing import prepare
from nnscratch.data.schemas import DATA_COLUMNS, TRACKS_COLUMNS, detect_schema
from nnscratch.data.synthetic import SYNTHETIC_LABEL, make_tracks
from nnscratch.data.tracks import (
    load_tracks,
    read_tracks,
    tracks_from_frame,
    year_from_release_date,
)
from nnscratch.errors import DataError


def as_data_csv_schema(tracks: pd.DataFrame) -> pd.DataFrame:
    """The same rows in the 170k ``data.csv`` layout, ``year`` given explicitly."""
    df = tracks.copy()
    df["year"] = 1999  # deliberately different from release_date, to see which wins
    return df[list(DATA_COLUMNS)]


# ----------------------------------------------------------------- schemas and reading


def test_tracks_schema_derives_year(synthetic_csv: Path) -> None:
    read = read_tracks(synthetic_csv)
    df = read.frame
    assert read.schema == "tracks" and read.source == str(synthetic_csv)
    assert df.attrs["source"] == str(synthetic_csv)  # what clean() names in its messages
    assert load_tracks(synthetic_csv).equals(df)
    raw = pd.read_csv(synthetic_csv)
    expected = pd.to_numeric(raw["release_date"].str[:4], errors="coerce")
    good = raw["release_date"] != "unknown"
    np.testing.assert_array_equal(df["year"][good], expected[good])
    assert df["year"][~good].isna().all()


def test_data_csv_schema_keeps_its_year(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    path = tmp_path / "data.csv"
    as_data_csv_schema(synthetic_frame).to_csv(path, index=False)
    read = read_tracks(path)
    assert read.schema == "data" and read.schema_title == "Kaggle 170k data.csv (1921-2020)"
    assert (read.frame["year"] == 1999).all()


def test_gzip_input(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    path = tmp_path / "tracks.csv.gz"
    synthetic_frame.to_csv(path, index=False, compression="gzip")
    df = load_tracks(path)
    assert len(df) == len(synthetic_frame)


def test_detect_schema() -> None:
    assert detect_schema(TRACKS_COLUMNS) == "tracks"
    assert detect_schema(DATA_COLUMNS) == "data"
    assert detect_schema(["a", "b"]) == "custom"


def test_release_date_formats_and_junk() -> None:
    dates = pd.Series(["1999", "2001-07", "2010-12-31", "", "soon", "2010-13-01", None, "19999"])
    years = year_from_release_date(dates)
    np.testing.assert_array_equal(years[:3], [1999, 2001, 2010])
    assert years[3:].isna().all()


def test_release_date_read_as_numbers() -> None:
    years = year_from_release_date(pd.Series([1950, 1960.0, np.nan, 1970.5]))
    np.testing.assert_array_equal(years[:2], [1950, 1960])
    assert years[2:].isna().all()


# ----------------------------------------------------------------- cleaning


def test_coercion_and_drop_counts(synthetic_frame: pd.DataFrame) -> None:
    df = synthetic_frame.head(10).copy()
    for col in ("tempo", "explicit", "popularity", "loudness"):
        df[col] = df[col].astype(object)
    df.loc[0, "tempo"] = "fast"
    df.loc[1, "energy"] = None
    df.loc[2, "release_date"] = "yesterday"
    df.loc[3, "explicit"] = "True"
    df.loc[4, "popularity"] = 140
    df.loc[5, "loudness"] = np.inf
    for row in range(6, 10):
        df.loc[row, "release_date"] = "2000"
        df.loc[row, "tempo"] = 100.0
        df.loc[row, "energy"] = 0.5
    kept, report = clean(tracks_from_frame(df, source="frame"))
    assert report.rows_read == 10
    assert report.rows_kept == 5
    assert report.rows_dropped == 5
    assert report.missing == {"tempo": 1, "energy": 1, "year": 1, "loudness": 1}
    assert report.out_of_range == {"popularity": 1}
    assert kept.loc[0, "explicit"] == 1.0  # "True" read as 1
    assert kept[list(DEFAULT_FEATURES)].dtypes.eq("float64").all()
    text = str(report)
    assert "rows read 10, dropped 5, kept 5" in text
    assert "tempo 1" in text and "popularity 1" in text


def test_clean_report_on_synthetic_junk(synthetic_frame: pd.DataFrame) -> None:
    kept, report = clean(tracks_from_frame(synthetic_frame))
    junk = (
        (synthetic_frame["release_date"] == "unknown")
        | (synthetic_frame["tempo"] == "n/a")
        | synthetic_frame["energy"].isna()
    )
    assert report.rows_dropped == junk.sum() > 0
    assert len(kept) == report.rows_kept == len(synthetic_frame) - junk.sum()


# ----------------------------------------------------------------- splitting and scaling


@pytest.fixture
def tracks(synthetic_frame: pd.DataFrame) -> pd.DataFrame:
    return tracks_from_frame(synthetic_frame, source=SYNTHETIC_LABEL)


def test_split_sizes_disjoint_and_complete(tracks: pd.DataFrame) -> None:
    data = prepare(tracks, test_size=0.2, val_size=0.1, seed=3)
    n = data.report.rows_kept
    idx = [data.train_index, data.val_index, data.test_index]
    assert sum(len(i) for i in idx) == n
    assert len(np.unique(np.concatenate(idx))) == n
    assert len(data.test_index) == round(0.2 * n)
    assert len(data.val_index) == round(0.1 * n)
    assert data.X_train.shape == (len(data.train_index), len(DEFAULT_FEATURES))
    assert data.y_train.shape == (len(data.train_index),)


@pytest.mark.portable
def test_split_is_reproducible_and_seed_dependent(tracks: pd.DataFrame) -> None:
    a, b = prepare(tracks, seed=5), prepare(tracks, seed=5)
    c = prepare(tracks, seed=6)
    for name in ("X_train", "y_train", "X_val", "X_test", "test_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test_index, c.test_index)


def test_scalers_fit_on_training_split_only(tracks: pd.DataFrame) -> None:
    # Put extreme values into rows that land in the test split: a scaler fit on
    # all rows would squash the training data; one fit on train only does not.
    probe = prepare(tracks, seed=11)
    spiked = tracks.copy()
    spiked["tempo"] = pd.to_numeric(spiked["tempo"], errors="coerce")
    kept, _ = clean(spiked)
    kept.loc[probe.test_index, "tempo"] = 10_000.0
    data = prepare(kept, seed=11)
    np.testing.assert_array_equal(data.test_index, probe.test_index)
    col = DEFAULT_FEATURES.index("tempo")
    assert data.X_train[:, col].min() == pytest.approx(0.0)
    assert data.X_train[:, col].max() == pytest.approx(1.0)
    assert data.X_test[:, col].max() > 1.0
    train_tempo = kept.loc[data.train_index, "tempo"]
    assert data.x_scaler.data_max_[col] == train_tempo.max()
    assert data.y_scaler.data_max_[0] == kept.loc[data.train_index, "popularity"].max()


def test_inverse_transform_round_trip(tracks: pd.DataFrame) -> None:
    data = prepare(tracks, seed=1, dtype=np.float64)
    kept, _ = clean(tracks)
    original = kept.loc[data.test_index, "popularity"].to_numpy()
    np.testing.assert_allclose(data.inverse_transform_y(data.y_test), original, atol=1e-9)
    assert data.target_range == pytest.approx(np.ptp(kept.loc[data.train_index, "popularity"]))


def test_dtype_and_row_cap(tracks: pd.DataFrame) -> None:
    data = prepare(tracks, dtype=np.float32, max_rows=200, seed=2)
    assert sum(data.split_sizes().values()) == 200
    for arr in (data.X_train, data.y_train, data.X_val, data.y_val, data.X_test, data.y_test):
        assert arr.dtype == np.float32


def test_no_validation_split(tracks: pd.DataFrame) -> None:
    data = prepare(tracks, val_size=0.0)
    assert data.X_val.shape == (0, len(DEFAULT_FEATURES))


def test_bad_split_fractions(tracks: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="test_size"):
        prepare(tracks, test_size=0.6, val_size=0.5)


def test_scaler_state_round_trip(tracks: pd.DataFrame) -> None:
    data = prepare(tracks)
    rebuilt = min_max_scaler_from_dict(min_max_scaler_to_dict(data.x_scaler))
    raw = clean(tracks)[0][list(DEFAULT_FEATURES)].to_numpy()
    np.testing.assert_array_equal(rebuilt.transform(raw), data.x_scaler.transform(raw))


# ----------------------------------------------------------------- the one transpose


@given(
    n_samples=st.integers(1, 40),
    n_features=st.integers(1, 15),
    dtype=st.sampled_from([np.float32, np.float64]),
)
@settings(max_examples=40, deadline=None)
def test_to_network_layout(n_samples: int, n_features: int, dtype: type) -> None:
    rng = np.random.default_rng(n_samples * 100 + n_features)
    X = rng.random((n_samples, n_features))
    out = to_network_layout(X, dtype)
    assert out.shape == (n_features, n_samples)
    assert out.flags.c_contiguous
    assert out.dtype == dtype
    assert not np.shares_memory(out, X)
    np.testing.assert_array_equal(out, X.T.astype(dtype))


def test_to_network_layout_from_dataframe_and_1d() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    np.testing.assert_array_equal(to_network_layout(frame), [[1, 2], [3, 4]])
    assert to_network_layout(np.arange(3.0)).shape == (1, 3)
    with pytest.raises(ValueError, match="2-D"):
        to_network_layout(np.zeros((2, 2, 2)))


# ----------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_tracks(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        load_tracks(path)


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(",".join(TRACKS_COLUMNS) + "\n")
    with pytest.raises(DataError, match=r"header\.csv: has a header but no data rows"):
        load_tracks(path)


def test_missing_columns_are_listed(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    path = tmp_path / "partial.csv"
    synthetic_frame.drop(columns=["popularity", "energy"]).to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"partial\.csv: missing required column\(s\): energy, "
        r"popularity",
    ):
        load_tracks(path)


def test_missing_year_and_release_date(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    path = tmp_path / "nodate.csv"
    synthetic_frame.drop(columns=["release_date"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"year \(or release_date\)"):
        load_tracks(path)


def test_column_without_numbers(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    path = tmp_path / "junk.csv"
    df = synthetic_frame.head(5).copy()
    df["energy"] = "loud"
    df.to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"junk\.csv: column 'energy' has no usable numbers "
        r"\(e\.g\. 'loud'\)",
    ):
        prepare(load_tracks(path))


def test_no_rows_left(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    path = tmp_path / "junk.csv"
    df = synthetic_frame.head(2).copy()
    for col in ("energy", "tempo"):
        df[col] = df[col].astype(object)
    df.loc[0, "energy"] = "loud"
    df.loc[1, "tempo"] = "fast"
    df.to_csv(path, index=False)
    expected = r"junk\.csv: no usable rows left after cleaning 2 row\(s\) \(energy 1 missing"
    with pytest.raises(DataError, match=expected):
        prepare(load_tracks(path))


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DataError, match=r"image\.csv: looks like a binary file"):
        load_tracks(path)


def test_truncated_gzip(tmp_path: Path, synthetic_frame: pd.DataFrame) -> None:
    full = gzip.compress(synthetic_frame.to_csv(index=False).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: cannot read the file"):
        load_tracks(path)


# ----------------------------------------------------------------- synthetic sample


@pytest.mark.portable
def test_synthetic_is_deterministic_and_has_the_schema() -> None:
    a, b, c = make_tracks(300, seed=1), make_tracks(300, seed=1), make_tracks(300, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert tuple(a.columns) == TRACKS_COLUMNS
    assert a["id"].is_unique
    assert a.attrs["source"] == SYNTHETIC_LABEL
    dates = a["release_date"].astype(str)
    for pattern in (r"^\d{4}$", r"^\d{4}-\d{2}$", r"^\d{4}-\d{2}-\d{2}$"):
        assert dates.str.match(pattern).any(), pattern
    kept, report = clean(tracks_from_frame(a))
    assert kept["popularity"].between(0, 100).all()
    assert 0 < report.rows_dropped < 0.05 * len(a)


def test_synthetic_target_is_learnable() -> None:
    from sklearn.linear_model import LinearRegression

    data = prepare(tracks_from_frame(make_tracks(3000, seed=0)), seed=0)
    r2 = LinearRegression().fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    assert r2 > 0.5


# ----------------------------------------------------------------- the real shared sample


def test_real_tracks_counts(real_tracks_path: Path) -> None:
    read = read_tracks(real_tracks_path)
    df = read.frame
    assert read.schema == "tracks"
    assert len(df) == 29_599
    assert df["year"].min() == 1922 and df["year"].max() == 2021
    data = prepare(df)
    assert data.report.rows_read == 29_599
    assert data.report.rows_kept == 29_599
    assert data.split_sizes() == {"train": 20_719, "validation": 2_960, "test": 5_920}
