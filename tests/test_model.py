"""The estimator: scikit-learn compatibility, determinism, save and load."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nnscratch.data.preprocessing import prepare
from nnscratch.data.tracks import load_tracks
from nnscratch.errors import ModelFileError
from nnscratch.models.members import member_jobs
from nnscratch.models.persistence import write_npz
from nnscratch.models.regressor import MLPRegressor

FLOAT32_BLAS_ROUNDING = (
    "float32 BLAS kernels round differently for different batch widths (about 1e-7 "
    "relative), which exceeds this check's rtol=1e-7; the float64 instance passes it"
)


STOCHASTIC_WEIGHTS = (
    "shuffled mini-batches and held-out early-stopping rows differ between a row given "
    "twice and a row of weight 2; the full-batch float64 instance passes it"
)


def float32_rounding_failures(estimator) -> dict[str, str]:
    """The scikit-learn checks an instance is expected to fail, and why."""
    failures = {}
    if estimator.batch_size is not None or estimator.early_stopping:
        failures["check_sample_weight_equivalence_on_dense_data"] = STOCHASTIC_WEIGHTS
    if estimator.dtype == "float32":
        failures["check_methods_sample_order_invariance"] = FLOAT32_BLAS_ROUNDING
        failures["check_methods_subset_invariance"] = FLOAT32_BLAS_ROUNDING
    return failures


#: Full-batch Adam in float64 with no held-out rows: what makes a weight of 2
#: the same fit as the row twice (scikit-learn's sample-weight equivalence check).
FULL_BATCH = {"batch_size": None, "early_stopping": False, "dtype": "float64"}


@parametrize_with_checks(
    [
        MLPRegressor(epochs=30, dtype="float64"),
        MLPRegressor(epochs=30, dtype="float32"),
        MLPRegressor(epochs=300, learning_rate=1e-2, **FULL_BATCH),
    ],
    expected_failed_checks=float32_rounding_failures,
)
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)


def friedman(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 5)) * 10
    y = 10 * np.sin(X[:, 0] * X[:, 1] / 10) + (X[:, 2] - 5) ** 2 / 2 + 3 * X[:, 3]
    y += rng.normal(0, 1, n)
    return X, y


def test_pipeline_cross_val_and_grid_search() -> None:
    X, y = friedman()
    model = MLPRegressor(epochs=60, learning_rate=0.01, early_stopping=False, random_state=0)
    pipe = make_pipeline(MinMaxScaler(), model)
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.6
    grid = GridSearchCV(pipe, {"mlpregressor__l2": [0.0, 0.1]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["mlpregressor__l2"] in (0.0, 0.1)
    assert grid.score(X, y) > 0.6


def test_dataframe_input_records_feature_names() -> None:
    X, y = friedman(100)
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = MLPRegressor(epochs=5, random_state=0).fit(frame, y)
    assert list(model.feature_names_in_) == list("abcde")
    assert model.n_features_in_ == 5
    assert [w.shape for w in model.weights_] == [(64, 5), (32, 64), (16, 32), (1, 16)]
    assert model.predict(frame).shape == (100,)


def test_early_stopping_and_curves() -> None:
    X, y = friedman()
    model = MLPRegressor(
        epochs=300, early_stopping=True, patience=5, learning_rate=0.01, random_state=0
    ).fit(X / 10, y / 10)
    assert model.n_epochs_ < 300
    assert len(model.loss_curve_) == len(model.validation_loss_curve_) == model.n_epochs_
    assert model.validation_loss_curve_[model.best_epoch_] == min(model.validation_loss_curve_)


@pytest.mark.parametrize(
    ("n", "batch_size", "max_steps", "epochs", "planned"),
    [
        (1000, 100, None, 50, 50),  # no limit
        (1000, 100, 25, 50, 3),  # 10 steps an epoch: 25 steps fill 3 epochs
        (1000, 100, 10_000, 50, 50),  # the limit is above the epochs' steps
        (1000, 3000, 4, 50, 4),  # a batch larger than the data is the whole data
        (1000, None, 7, 50, 7),  # full batch: one step an epoch
        (100_000, 256, 100, 50, 1),  # at least one epoch
    ],
)
def test_max_steps_plans_whole_epochs(n, batch_size, max_steps, epochs, planned) -> None:
    model = MLPRegressor(batch_size=batch_size, max_steps=max_steps, epochs=epochs)
    assert model.planned_epochs(n) == planned


def test_max_steps_limits_a_fit_and_its_schedule() -> None:
    X, y = friedman(400)
    model = MLPRegressor(
        batch_size=50,
        max_steps=20,
        epochs=100,
        early_stopping=False,
        lr_schedule="cosine",
        learning_rate=0.01,
        random_state=0,
    ).fit(X / 10, y / 10)
    assert model.n_epochs_ == 3  # 8 steps an epoch
    rates = model.history_.learning_rate
    assert rates[0] == pytest.approx(0.01) and rates[1] == pytest.approx(0.0075)  # cosine over 3
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        MLPRegressor(max_steps=0).fit(X, y)


def test_partial_fit_continues() -> None:
    X, y = friedman(200)
    model = MLPRegressor(random_state=0, learning_rate=0.01)
    for _ in range(3):
        model.partial_fit(X / 10, y / 10)
    assert model.n_epochs_ == 3
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_multi_output() -> None:
    X, y = friedman(200)
    Y = np.column_stack([y, -y]) / 10
    model = MLPRegressor(epochs=20, random_state=0).fit(X / 10, Y)
    assert model.predict(X / 10).shape == (200, 2)


def test_bad_hyperparameters() -> None:
    X, y = friedman(20)
    for kwargs, pattern in [
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
        ({"batch_size": 0}, "batch_size"),
        ({"dtype": "float16"}, "dtype"),
        ({"dtype": np.int32}, "dtype"),
        ({"dtype": "not a dtype"}, "dtype"),
        ({"optimizer": "lbfgs"}, "unknown optimizer"),
        ({"activation": "swish"}, "unknown activation"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            MLPRegressor(**kwargs).fit(X, y)


@pytest.mark.parametrize("name", ["float32", "float64"])
def test_dtype_in_any_numpy_spelling(name: str, tmp_path: Path) -> None:
    """``"float32"``, ``np.float32`` and ``np.dtype("float32")`` give the same model."""
    X, y = friedman(100)
    models = [
        MLPRegressor(epochs=3, random_state=0, dtype=spelling).fit(X / 10, y / 10)
        for spelling in (name, getattr(np, name), np.dtype(name))
    ]
    for model in models:
        assert model.network_.dtype == np.dtype(name)
        np.testing.assert_array_equal(model.predict(X / 10), models[0].predict(X / 10))
    loaded = MLPRegressor.load(models[1].save(tmp_path / "m.npz"))
    assert loaded.dtype == name and loaded.network_.dtype == np.dtype(name)


def test_top_level_exports() -> None:
    import nnscratch
    from nnscratch import MLPRegressor as Exported
    from nnscratch import PopularityModel, load_tracks, prepare

    assert Exported is MLPRegressor
    assert PopularityModel.__module__ == "nnscratch.models.popularity_model"
    assert callable(load_tracks) and callable(prepare)
    assert set(nnscratch.__all__) <= set(dir(nnscratch))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        nnscratch.nothing  # noqa: B018


# ------------------------------------------------------------------ determinism and files


def fitted(seed: int = 0, **kwargs) -> MLPRegressor:
    X, y = friedman(300)
    return MLPRegressor(epochs=10, random_state=seed, **kwargs).fit(X / 10, y / 10)


@pytest.mark.portable
def test_same_random_state_same_bits(tmp_path: Path) -> None:
    a, b, c = fitted(0), fitted(0), fitted(1)
    for wa, wb in zip(a.weights_ + a.biases_, b.weights_ + b.biases_, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.weights_[0], c.weights_[0])
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip(tmp_path: Path, dtype: str) -> None:
    model = fitted(dtype=dtype, early_stopping=True)
    path = model.save(tmp_path / "model.npz")
    loaded = MLPRegressor.load(path)
    X, _ = friedman(50, seed=5)
    np.testing.assert_array_equal(loaded.predict(X / 10), model.predict(X / 10))
    assert loaded.get_params() == model.get_params()
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded.best_epoch_ == model.best_epoch_
    assert loaded.network_.dtype == np.dtype(dtype)
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz, readable by NumPy
        assert sorted(archive.files) == ["W1", "W2", "W3", "W4", "b1", "b2", "b3", "b4", "metadata"]
        meta = json.loads(str(archive["metadata"]))
    assert meta["format_version"] == 1
    assert meta["architecture"]["layer_sizes"] == [5, 64, 32, 16, 1]


def rewrite(path: Path, out: Path, edit) -> Path:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["metadata"]))
    edit(arrays, meta)
    arrays["metadata"] = np.array(json.dumps(meta))
    with out.open("wb") as fh:
        write_npz(fh, arrays)
    return out


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return fitted().save(tmp_path / "good.npz")


def test_refuses_truncated(saved: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.npz"
    bad.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"cut\.npz: .*(damaged or truncated)"):
        MLPRegressor.load(bad)


def test_refuses_wrong_shape(saved: Path, tmp_path: Path) -> None:
    def edit(arrays, meta):
        arrays["W2"] = np.zeros((32, 63), dtype=arrays["W2"].dtype)

    with pytest.raises(
        ModelFileError, match=r"array W2 declares shape \(32, 63\).*needs shape \(32, 64\)"
    ):
        MLPRegressor.load(rewrite(saved, tmp_path / "shape.npz", edit))


def test_refuses_future_format(saved: Path, tmp_path: Path) -> None:
    def edit(arrays, meta):
        meta["format_version"] = 99

    with pytest.raises(ModelFileError, match="newer nnscratch \\(format version 99"):
        MLPRegressor.load(rewrite(saved, tmp_path / "future.npz", edit))


def test_refuses_pickled_objects(saved: Path, tmp_path: Path) -> None:
    with np.load(saved, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    evil = tmp_path / "evil.npz"
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(evil, "w") as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.save(member, array)
            zf.writestr(f"{name}.npy", member.getvalue())
        zf.writestr("payload.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match="'payload' holds a pickled object; refusing"):
        MLPRegressor.load(evil)


def test_refuses_nan_weights_and_extra_or_missing_arrays(saved: Path, tmp_path: Path) -> None:
    def nan(arrays, meta):
        arrays["W1"] = arrays["W1"].copy()
        arrays["W1"][0, 0] = np.nan

    def extra(arrays, meta):
        arrays["W9"] = arrays["W1"]

    def missing(arrays, meta):
        del arrays["b3"]

    for edit, pattern in [
        (nan, "W1 contains NaN"),
        (extra, "unexpected array.*W9"),
        (missing, "missing array.*b3"),
    ]:
        with pytest.raises(ModelFileError, match=pattern):
            MLPRegressor.load(rewrite(saved, tmp_path / "edited.npz", edit))


def test_refuses_non_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="model file not found"):
        MLPRegressor.load(tmp_path / "none.npz")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not an nnscratch model file"):
        MLPRegressor.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="no metadata"):
        MLPRegressor.load(plain)


def test_pickle_round_trip_keeps_parameter_views() -> None:
    model = fitted()
    clone = pickle.loads(pickle.dumps(model))
    X, _ = friedman(20, seed=3)
    np.testing.assert_array_equal(clone.predict(X / 10), model.predict(X / 10))
    clone.network_.params.flat[:] = 0
    assert not clone.weights_[0].any()  # views into the flat array again


# ------------------------------------------------------------------ the real shared sample


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_default_adam_beats_linear_regression_on_real_data(real_tracks_path: Path) -> None:
    data = prepare(load_tracks(real_tracks_path), seed=0)
    model = MLPRegressor(random_state=0).fit(  # defaults: Adam, batch 256, early stopping
        data.X_train, data.y_train, eval_set=(data.X_val, data.y_val)
    )
    y_test = data.inverse_transform_y(data.y_test)

    def rmse(pred):
        return float(np.sqrt(np.mean((data.inverse_transform_y(pred) - y_test) ** 2)))

    ours = rmse(model.predict(data.X_test))
    linear = rmse(LinearRegression().fit(data.X_train, data.y_train).predict(data.X_test))
    assert ours < linear - 0.1, (ours, linear)


def test_float32_fit_stays_float32_everywhere() -> None:
    X, y = friedman(300)
    model = MLPRegressor(epochs=3, random_state=0, l2=0.01, dtype="float32").fit(X / 10, y / 10)
    net = model.network_
    arrays = [net.params.flat, net.grads.flat, net.params.weight_mask]
    arrays += [b for m in model.members_ for buffers in m.optimizer._buffers for b in buffers]
    for cache in net._caches.values():
        arrays += [*cache.A1, *cache.A, *cache.dZ[1:], *cache.scratch[1:], *cache.zeros[1:]]
        arrays.append(cache.l2_scratch)
    assert len(arrays) > 20
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}
    assert all(w.dtype == np.float32 for w in model.weights_ + model.biases_)


def test_ensemble_round_trip(tmp_path: Path) -> None:
    X, y = friedman(300)
    model = MLPRegressor(epochs=5, n_members=3, random_state=0).fit(X / 10, y / 10)
    assert len(model.networks_) == len(model.histories_) == 3
    members = [net.predict_samples(X / 10).ravel() for net in model.networks_]
    np.testing.assert_allclose(model.predict(X / 10), np.mean(members, axis=0), rtol=1e-6)
    assert not np.array_equal(members[0], members[1])  # different seeds, different members
    loaded = MLPRegressor.load(model.save(tmp_path / "ensemble.npz"))
    np.testing.assert_array_equal(loaded.predict(X / 10), model.predict(X / 10))
    with np.load(tmp_path / "ensemble.npz", allow_pickle=False) as archive:
        assert {"W1", "m2.W1", "m3.b4"} <= set(archive.files)


@pytest.mark.portable
def test_members_trained_side_by_side_get_the_bits_of_a_sequential_fit() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((600, 70))
    y = X[:, :5].sum(axis=1) + 0.1 * rng.normal(size=600)
    kwargs = dict(n_members=3, epochs=6, batch_size=64, random_state=2)
    sequential = MLPRegressor(**kwargs).fit(X, y)
    side_by_side = MLPRegressor(**kwargs, n_jobs=-1).fit(X, y)
    assert member_jobs(side_by_side.n_jobs, 3) == min(3, os.cpu_count() or 1)
    for a, b in zip(sequential.networks_, side_by_side.networks_, strict=True):
        np.testing.assert_array_equal(a.params.flat, b.params.flat)
    for a, b in zip(sequential.histories_, side_by_side.histories_, strict=True):
        assert a.train_loss == b.train_loss and a.val_loss == b.val_loss
        assert a.best_epoch == b.best_epoch
    np.testing.assert_array_equal(sequential.predict(X), side_by_side.predict(X))
