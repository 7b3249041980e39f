"""The estimators' ``partial_fit`` on a Dask cluster through ``dask_ml.wrappers.Incremental``:
each block of a Dask Array or DataFrame is one more epoch, the estimator handed from
worker to worker between blocks (pickled) — the same weights, to the bit, as calling
``partial_fit`` on the same blocks in order in this process (docs/cluster.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnscratch import MLPClassifier, MLPRegressor

distributed = pytest.importorskip("distributed", reason="dask[distributed] not installed")
wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml not installed")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

BLOCK = 200
ROWS = 3 * BLOCK


@pytest.fixture(scope="module")
def client():
    """Two worker processes: the blocks' partial fits run on either, so the estimator
    crosses processes between blocks."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, 5)).astype(np.float32)
    y = (X @ rng.normal(size=5) + 0.1 * rng.normal(size=ROWS)).astype(np.float32)
    return X, y


def in_order(estimator, X, y, **kwargs):
    """``partial_fit`` on each block in turn, here."""
    for start in range(0, len(y), BLOCK):
        estimator.partial_fit(X[start : start + BLOCK], y[start : start + BLOCK], **kwargs)
    return estimator


def same_weights(a, b) -> None:
    assert len(a.networks_) == len(b.networks_)
    for net_a, net_b in zip(a.networks_, b.networks_, strict=True):
        np.testing.assert_array_equal(net_a.params.flat, net_b.params.flat)


def regressor() -> MLPRegressor:
    """TabM's two networks of two members each: every member's stream is carried along."""
    return MLPRegressor(hidden_layer_sizes=(16, 8), k=2, n_members=2, batch_size=32, random_state=3)


def test_incremental_on_a_dask_array_fits_the_blocks_in_order(client, rows) -> None:
    X, y = rows
    X_dask = da.from_array(X, chunks=(BLOCK, X.shape[1]))
    y_dask = da.from_array(y, chunks=BLOCK)
    with client.as_current():
        fitted = wrappers.Incremental(regressor(), shuffle_blocks=False).fit(X_dask, y_dask)
    same_weights(fitted.estimator_, in_order(regressor(), X, y))
    assert fitted.estimator_.n_features_in_ == 5
    np.testing.assert_array_equal(
        np.asarray(fitted.predict(X_dask)), in_order(regressor(), X, y).predict(X)
    )


def test_incremental_on_a_dask_dataframe_keeps_the_column_names(client, rows) -> None:
    """A classifier (``classes`` passed to every block's ``partial_fit``, as Incremental
    does) on a DataFrame's partitions: the names of the columns are kept and checked."""
    X, y = rows
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.where(y > 0, "up", "down"), name="label")
    parts = dd.from_pandas(frame.assign(label=labels), npartitions=ROWS // BLOCK)
    classifier = MLPClassifier(hidden_layer_sizes=(8,), batch_size=32, random_state=1)
    with client.as_current():
        fitted = wrappers.Incremental(classifier, shuffle_blocks=False).fit(
            parts[list(frame.columns)], parts["label"], classes=["down", "up"]
        )
    expected = in_order(
        MLPClassifier(hidden_layer_sizes=(8,), batch_size=32, random_state=1),
        frame,
        labels,
        classes=["down", "up"],
    )
    same_weights(fitted.estimator_, expected)
    assert list(fitted.estimator_.feature_names_in_) == list(frame.columns)
    assert list(fitted.estimator_.classes_) == ["down", "up"]
