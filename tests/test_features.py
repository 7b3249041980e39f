"""The feature stage: derived features and piecewise-linear encoding."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnscratch.data.cleaning import clean
from nnscratch.data.encoders import PiecewiseLinearEncoding
from nnscratch.data.features import DERIVED_FEATURES, RECIPE_FEATURES, add_derived_features
from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import load_tracks, tracks_from_frame
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.recipes import DEFAULT_RECIPE


def test_derived_features_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "duration_ms": [999.0, 239_000.0],
            "release_date": ["1999", "2001-07-15"],
            "artists": ["['Solo']", "['A', 'B', 'D']"],
            "name": ["Yesterday - Remastered 2009", "Ça va (feat. X) Chapter 12"],
        }
    )
    out = add_derived_features(frame, list(DERIVED_FEATURES))
    np.testing.assert_allclose(out["log_duration"], np.log1p([0.999, 239.0]))
    assert out["release_precision"].tolist() == [0, 2]
    assert out["release_month"].tolist() == [0, 7]
    assert out["n_artists"].tolist() == [1, 3]
    assert out["name_length"].tolist() == [27, 26]
    assert out["name_words"].tolist() == [4, 6]
    assert out["name_digits"].tolist() == [4, 2]
    assert out["name_non_ascii"].iloc[1] == pytest.approx(1 / 26)
    assert out["name_remaster"].tolist() == [1, 0]
    assert out["name_feat"].tolist() == [0, 1]
    assert out["name_chapter"].tolist() == [0, 1]
    assert out["name_live"].tolist() == [0, 0]
    with pytest.raises(KeyError, match="unknown derived"):
        add_derived_features(frame, ["tempo_squared"])


def test_recipe_features_load_from_the_raw_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    make_tracks(200, seed=3).to_csv(path, index=False)
    frame = load_tracks(path, features=RECIPE_FEATURES)
    kept, _ = clean(frame, RECIPE_FEATURES)
    assert np.isfinite(kept[list(RECIPE_FEATURES)].to_numpy(dtype=float)).all()


def test_ple_by_hand() -> None:
    encoder = PiecewiseLinearEncoding(n_bins=4, include_input=False).fit(
        np.arange(9.0).reshape(-1, 1)  # quantile edges 0, 2, 4, 6, 8
    )
    np.testing.assert_array_equal(encoder.edges_[0], [0, 2, 4, 6, 8])
    out = encoder.transform(np.array([[-1.0], [0.0], [3.0], [8.0], [20.0]]))
    np.testing.assert_allclose(
        out, [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0.5, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]]
    )


def test_ple_binary_feature_is_a_thermometer() -> None:
    encoder = PiecewiseLinearEncoding(n_bins=16).fit(np.array([[0.0], [1.0], [1.0]]))
    assert encoder.n_features_out_ == 2  # one bin, plus the value itself
    np.testing.assert_array_equal(encoder.transform(np.array([[0.0], [1.0]])), [[0, 0], [1, 1]])


@given(
    X=arrays(np.float64, (50, 3), elements=st.floats(-5, 5)),
    n_bins=st.integers(1, 12),
)
@settings(max_examples=40, deadline=None)
def test_ple_properties(X: np.ndarray, n_bins: int) -> None:
    encoder = PiecewiseLinearEncoding(n_bins).fit(X)
    out = encoder.transform(X)
    assert out.shape == (50, encoder.n_features_out_)
    assert np.all((out[:, :-3] >= 0) & (out[:, :-3] <= 1))
    np.testing.assert_array_equal(out[:, -3:], X)  # the input itself, appended
    order = np.argsort(X[:, 0])
    first = out[order, : len(encoder.edges_[0]) - 1].sum(axis=1)
    assert np.all(np.diff(first) >= -1e-12)  # monotone in the feature
    again = PiecewiseLinearEncoding.from_dict(encoder.to_dict())
    np.testing.assert_array_equal(again.transform(X), out)


def test_tree_bins_put_an_edge_where_the_target_steps() -> None:
    """Target-aware edges: a step in y at x = 0.3 gets an edge there; quantiles miss it."""
    rng = np.random.default_rng(0)
    x = rng.random(4000)
    y = np.where(x > 0.3, 1.0, 0.0) + 0.05 * rng.normal(size=4000)
    tree = PiecewiseLinearEncoding(4, bins="tree", min_samples_leaf=100).fit(x[:, None], y)
    assert np.min(np.abs(tree.edges_[0] - 0.3)) < 0.005
    quantile = PiecewiseLinearEncoding(4).fit(x[:, None])
    assert np.min(np.abs(quantile.edges_[0] - 0.3)) > 0.03
    assert tree.edges_[0][0] == x.min() and tree.edges_[0][-1] == x.max()


@given(
    X=arrays(np.float64, (300, 2), elements=st.floats(-5, 5)),
    n_bins=st.integers(2, 12),
    min_leaf=st.integers(1, 80),
    labels=st.booleans(),
)
@settings(max_examples=30, deadline=None)
def test_tree_bins_properties(X: np.ndarray, n_bins: int, min_leaf: int, labels: bool) -> None:
    """At most ``n_bins`` bins, increasing edges spanning the training range, each bin holding
    at least ``min_samples_leaf`` rows; numbers or class labels; a JSON round trip."""
    y = np.sin(X[:, 0]) + X[:, 1]
    target = np.where(y > 0, "up", "down") if labels else y
    encoder = PiecewiseLinearEncoding(n_bins, bins="tree", min_samples_leaf=min_leaf)
    encoder.fit(X, target)
    for column, edges in zip(X.T, encoder.edges_, strict=True):
        assert np.all(np.diff(edges) > 0) and edges[0] == column.min() and edges[-1] == column.max()
        if len(np.unique(column)) > n_bins + 1:  # else the distinct values are the edges
            assert len(edges) - 1 <= n_bins
            inner = np.digitize(column, edges[1:-1], right=True)  # bin of each row
            assert np.bincount(inner).min() >= min_leaf
    again = PiecewiseLinearEncoding.from_dict(encoder.to_dict())
    assert again.bins == "tree" and again.min_samples_leaf == min_leaf
    np.testing.assert_array_equal(again.transform(X), encoder.transform(X))


def test_tree_bins_of_large_data_come_from_a_seeded_subsample(monkeypatch) -> None:
    monkeypatch.setattr(PiecewiseLinearEncoding, "TREE_ROWS", 200)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5000, 2))
    y = np.where(X[:, 0] > 0.5, 3.0, 0.0) + rng.normal(size=5000)
    first = PiecewiseLinearEncoding(4, bins="tree", min_samples_leaf=20).fit(X, y)
    second = PiecewiseLinearEncoding(4, bins="tree", min_samples_leaf=20).fit(X, y)
    for a, b, column in zip(first.edges_, second.edges_, X.T, strict=True):
        np.testing.assert_array_equal(a, b)  # the same subsample every time
        assert a[0] == column.min() and a[-1] == column.max()  # the range of every row
    assert np.min(np.abs(first.edges_[0] - 0.5)) < 0.2  # the step, seen in 200 rows


def test_a_recipe_places_tree_bins_by_the_training_target_only() -> None:
    frame = tracks_from_frame(make_tracks(1500, seed=5), features=RECIPE_FEATURES)
    data = prepare(frame, RECIPE_FEATURES, seed=0)
    recipe = replace(DEFAULT_RECIPE, encoding="ple", bins="tree", bin_min_samples=50)
    edges = [e.copy() for e in recipe.preprocessing(data).encoder.edges_]
    assert recipe.preprocessing(data).encoder.bins == "tree"
    other = replace(data, y_val=data.y_val[::-1].copy(), y_test=np.zeros_like(data.y_test))
    for a, b in zip(edges, recipe.preprocessing(other).encoder.edges_, strict=True):
        np.testing.assert_array_equal(a, b)  # validation and test targets play no part
    shuffled = replace(data, y_train=np.random.default_rng(0).permutation(data.y_train))
    moved = recipe.preprocessing(shuffled).encoder.edges_
    assert any(len(a) != len(b) or np.any(a != b) for a, b in zip(edges, moved, strict=True))


def test_tree_bins_need_the_target_and_old_files_read_as_quantile() -> None:
    X = np.arange(40.0).reshape(-1, 1)
    with pytest.raises(ValueError, match=r"fit\(X, y\)"):
        PiecewiseLinearEncoding(4, bins="tree").fit(X)
    with pytest.raises(ValueError, match="bins must be"):
        PiecewiseLinearEncoding(4, bins="kmeans")
    state = PiecewiseLinearEncoding(4).fit(X).to_dict()
    del state["bins"], state["min_samples_leaf"]  # a model file written before tree bins
    assert PiecewiseLinearEncoding.from_dict(state).bins == "quantile"


def test_ple_bin_too_narrow_for_float32_is_a_step_not_nan() -> None:
    encoder = PiecewiseLinearEncoding(n_bins=4).fit(np.array([[0.0], [1e-50], [1.0]]))
    X = np.array([[0.0], [0.5], [-1.0]], dtype=np.float32)  # the first bin is 0 wide in float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = encoder.transform(X)
    np.testing.assert_array_equal(out[:, :2], [[0, 0], [1, 0.5], [0, 0]])


def test_feature_stage_fit_on_training_rows_only_and_saved_with_the_model(tmp_path: Path) -> None:
    frame = tracks_from_frame(make_tracks(1500, seed=5), features=RECIPE_FEATURES)
    probe = prepare(frame, RECIPE_FEATURES, seed=1)
    spiked = frame.copy()
    rows = clean(frame, RECIPE_FEATURES)[0].index[probe.test_index]
    # Extreme test-row values must change neither the scaler nor the bin edges.
    kept, _ = clean(spiked, RECIPE_FEATURES)
    kept.loc[rows, "tempo"] = 10_000.0
    data = prepare(kept, RECIPE_FEATURES, seed=1)
    recipe = DEFAULT_RECIPE.with_overrides(epochs=3, n_members=2)
    pre = recipe.preprocessing(data)
    pre_probe = recipe.preprocessing(probe)
    col = list(RECIPE_FEATURES).index("tempo")
    np.testing.assert_array_equal(pre.encoder.edges_[col], pre_probe.encoder.edges_[col])
    assert pre.x_scaler.data_max_[col] == probe.x_scaler.data_max_[col]

    model = recipe.fit(data, seed=0, preprocessing=pre)
    path = model.save(tmp_path / "model.npz")
    loaded = PopularityModel.load(path)
    assert loaded.n_members == 2
    in_process = data.inverse_transform_y(model.predict_scaled(data.X_test))
    test_rows = kept.iloc[data.test_index]  # raw rows again, as predict would read them
    from_raw = loaded.predict_points(test_rows)
    np.testing.assert_allclose(from_raw, np.clip(in_process, 0, 100), rtol=1e-6, atol=1e-6)
