"""The baselines every results table puts beside the network, fit on the same rows.

Regression: the training mean, ``LinearRegression`` and gradient boosting;
classification: the majority class and ``LogisticRegression``. Each is scored
on the same validation and test splits as the network, in the same units.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import ParamSpec, TypeVar

import numpy as np
import threadpoolctl
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression

from nnscratch.data.preprocessing import PreparedData
from nnscratch.models.metrics import Scores, scores_by_split, split_metrics

#: Training rows the regression baselines are fit on, at most: a larger training split
#: gives them a seeded sample of this many (gradient boosting copies its rows as float64
#: twice over; on millions of rows that would be most of training's memory).
BASELINE_ROWS = 200_000
#: Rows a baseline predicts at a time (each call makes a float64 copy of its rows).
PREDICT_ROWS = 50_000


P = ParamSpec("P")
R = TypeVar("R")


def on_one_openmp_thread(fit: Callable[P, R]) -> Callable[P, R]:
    """``fit`` run with OpenMP (gradient boosting's threads) held to one thread.

    A baseline is fit once a run, on at most :data:`BASELINE_ROWS` rows, and OpenMP's
    threads wait by spinning: with another process busy on one of two cores, its two
    threads took 20 times one thread's time. ``HistGradientBoostingRegressor`` fits
    (27 columns, best of 3, one other process busy), one thread against two: 2,000 rows
    0.37 s against 7.7 s; 20,000 rows 0.77 s against 2.3 s; 200,000 rows 3.4 s against
    14.0 s. Alone, 1,400 rows took 0.28 s against 0.27 s. Its numbers do not depend on the
    threads (each feature's histogram is summed by one thread)."""

    @functools.wraps(fit)
    def on_one_thread(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            return fit(*args, **kwargs)

    return on_one_thread


def baseline_rows(n_train: int, seed: int, limit: int = BASELINE_ROWS) -> np.ndarray | None:
    """Positions of the training rows the baselines are fit on: None (all of them) up to
    ``limit``, else a sorted seeded sample of ``limit``."""
    if n_train <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_train, size=limit, replace=False))


def in_blocks(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``predict`` applied :data:`PREDICT_ROWS` rows at a time: a baseline predicts each
    row on its own, so the numbers are one call's (a linear model's products may round
    differently in the last bits)."""

    def blocks(X: np.ndarray) -> np.ndarray:
        if len(X) <= PREDICT_ROWS:
            return predict(X)
        return np.concatenate(
            [predict(X[start : start + PREDICT_ROWS]) for start in range(0, len(X), PREDICT_ROWS)]
        )

    return blocks


@on_one_openmp_thread
def regression_baselines(
    data: PreparedData,
    *,
    seed: int = 0,
    seed_feature_columns: Sequence[int] | None = None,
) -> dict[str, dict[str, Scores]]:
    """Baselines fitted on the same training split as the model (on a seeded sample of
    :data:`BASELINE_ROWS` of it where it is larger: see :func:`baseline_rows`), scored on
    every validation and test row.

    * the training mean, predicted for every track;
    * ``LinearRegression`` on the model's features;
    * ``HistGradientBoostingRegressor`` (defaults) on the model's features,
      with each categorical column given natively (its level codes, marked
      as categorical) rather than as its one-hot block;
    * with ``seed_feature_columns`` (positions of the seed's 13 features when
      the model uses more), gradient boosting on those alone.
    """
    mean = float(np.mean(data.y_train))
    sample = baseline_rows(len(data.y_train), seed, BASELINE_ROWS)
    X_train = data.X_train if sample is None else data.X_train[sample]
    y_train = data.y_train if sample is None else data.y_train[sample]
    as_codes = categorical_codes(data)
    linear = LinearRegression().fit(X_train, y_train)
    # Gradient boosting computes in float64: the rows converted once, here, rather than by
    # each fit beside this float32 sample, which goes (the same numbers; tens of MB less)
    X_boost = np.asarray(as_codes(X_train), dtype=np.float64)
    del X_train
    hgb_all = HistGradientBoostingRegressor(
        random_state=seed,
        categorical_features=[False] * len(data.feature_names) + [True] * len(data.categories),
    ).fit(X_boost, y_train)
    results = {
        "training mean": split_metrics(data, lambda X: np.full(len(X), mean)),
        "LinearRegression": split_metrics(data, in_blocks(linear.predict)),
        "HistGradientBoosting": split_metrics(
            data, in_blocks(lambda X: hgb_all.predict(as_codes(X)))
        ),
    }
    if seed_feature_columns is not None:
        cols = list(seed_feature_columns)
        hgb = HistGradientBoostingRegressor(random_state=seed).fit(X_boost[:, cols], y_train)
        results["HistGradientBoosting (seed's 13 features)"] = split_metrics(
            data, in_blocks(lambda X: hgb.predict(X[:, cols]))
        )
    return results


def categorical_codes(data: PreparedData) -> Callable[[np.ndarray], np.ndarray]:
    """``X → X'``: the numeric columns, then one column of level codes per one-hot block."""
    n, blocks = len(data.feature_names), data.categorical_blocks

    def convert(X: np.ndarray) -> np.ndarray:
        if not blocks:
            return X
        codes = [np.argmax(X[:, start:stop], axis=1) for start, stop in blocks]
        return np.column_stack([X[:, :n], *codes])

    return convert


def classification_baselines(
    training: tuple[np.ndarray, np.ndarray],
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    classes: np.ndarray,
    seed: int,
) -> dict[str, dict[str, Scores]]:
    """The majority class and scikit-learn's LogisticRegression, fit on ``training``
    ``(X, y)`` and scored on each of ``splits`` (name → ``(X, y)``)."""
    X_train, y_train = training
    dummy = DummyClassifier(strategy="prior").fit(X_train, y_train)  # predicts the majority
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        logistic = LogisticRegression(max_iter=100, random_state=seed).fit(X_train, y_train)
    rows = {}
    for name, fitted in (
        (f"majority class ({dummy.predict(X_train[:1])[0]})", dummy),
        ("LogisticRegression", logistic),
    ):
        probabilities = {s: fitted.predict_proba(X) for s, (X, _) in splits.items()}
        rows[name] = scores_by_split(splits, probabilities, classes)
    return rows
