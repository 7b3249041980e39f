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
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

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
    del X_train
    boosting = HistGradientBoostingRegressor(
        random_state=seed,
        categorical_features=[False] * len(data.feature_names) + [True] * len(data.categories),
    )
    # Gradient boosting computes in float64: the rows converted once, here, in the order of
    # its early-stopping split, rather than by each fit (the same numbers; tens of MB less)
    order, n_fit = early_stopping_split(boosting, len(y_train))
    positions = order if sample is None else sample[order]
    X_boost = float64_rows(data.X_train, positions, as_codes)
    y_boost = data.y_train[positions]
    hgb_all = fit_on_split(boosting, X_boost, y_boost, n_fit)
    results = {
        "training mean": split_metrics(data, lambda X: np.full(len(X), mean)),
        "LinearRegression": split_metrics(data, in_blocks(linear.predict)),
        "HistGradientBoosting": split_metrics(
            data, in_blocks(lambda X: hgb_all.predict(as_codes(X)))
        ),
    }
    if seed_feature_columns is not None:
        cols = list(seed_feature_columns)
        X_seed = X_boost[:, cols]
        del X_boost
        # the same random_state, so the same split and the same order
        hgb = fit_on_split(HistGradientBoostingRegressor(random_state=seed), X_seed, y_boost, n_fit)
        results["HistGradientBoosting (seed's 13 features)"] = split_metrics(
            data, in_blocks(lambda X: hgb.predict(X[:, cols]))
        )
    return results


def float64_rows(
    X: np.ndarray, positions: np.ndarray, convert: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``convert(X[positions])`` as float64 ``(len(positions), n_columns)``, gathered and
    converted :data:`PREDICT_ROWS` rows at a time, so that no whole float32 copy of the
    rows is held beside it (a float32 number converts to float64 exactly)."""
    n_columns = convert(X[positions[:1]]).shape[1]
    rows = np.empty((len(positions), n_columns), dtype=np.float64)
    for start in range(0, len(positions), PREDICT_ROWS):
        block = positions[start : start + PREDICT_ROWS]
        rows[start : start + len(block)] = convert(X[block])
    return rows


def early_stopping_split(model: HistGradientBoostingRegressor, n: int) -> tuple[np.ndarray, int]:
    """The order of ``n`` rows that puts ``model.fit``'s own early-stopping split training
    part first, and the size of that part (``n``: no split).

    Gradient boosting stops early on its own split where ``early_stopping="auto"`` and
    there are more than 10,000 rows: ``fit`` draws it with ``train_test_split`` (a
    ``validation_fraction`` of the rows, with the seed that ``random_state`` gives
    first) and copies the rows into both parts, so they are held twice. Drawn here the
    same way, the caller can lay its rows out in this order once and give the two parts
    to :func:`fit_on_split` as views: the same rows, bins and trees (a test compares the
    predictions with ``fit(X, y)``'s bit for bit), one copy of the rows fewer (43 MB for
    200,000 rows of 27 float64 columns)."""
    if not (model.early_stopping == "auto" and n > 10_000 and model.validation_fraction):
        return np.arange(n), n
    random_seed = check_random_state(model.random_state).randint(
        np.iinfo(np.uint32).max, dtype="u8"
    )
    train, held_out = train_test_split(
        np.arange(n), test_size=model.validation_fraction, random_state=random_seed
    )
    return np.concatenate([train, held_out]), len(train)


def fit_on_split(
    model: HistGradientBoostingRegressor, X: np.ndarray, y: np.ndarray, n_train: int
) -> HistGradientBoostingRegressor:
    """``model`` fit on the first ``n_train`` rows, stopping early on the rest (in the order
    :func:`early_stopping_split` gives); on all of them where ``n_train`` is every row."""
    if n_train == len(X):
        return model.fit(X, y)
    return model.fit(X[:n_train], y[:n_train], X_val=X[n_train:], y_val=y[n_train:])


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
