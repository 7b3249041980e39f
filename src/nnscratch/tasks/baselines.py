"""The baselines every results table puts beside the network, fit on the same rows.

Regression: the training mean, ``LinearRegression`` and gradient boosting;
classification: the majority class and ``LogisticRegression``. Each is scored
on the same validation and test splits as the network, in the same units.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression

from nnscratch.data.preprocessing import PreparedData
from nnscratch.models.metrics import Scores, scores_by_split, split_metrics


def regression_baselines(
    data: PreparedData,
    *,
    seed: int = 0,
    seed_feature_columns: Sequence[int] | None = None,
) -> dict[str, dict[str, Scores]]:
    """Baselines fitted on the same training split as the model.

    * the training mean, predicted for every track;
    * ``LinearRegression`` on the model's features;
    * ``HistGradientBoostingRegressor`` (defaults) on the model's features,
      with each categorical column given natively (its level codes, marked
      as categorical) rather than as its one-hot block;
    * with ``seed_feature_columns`` (positions of the seed's 13 features when
      the model uses more), gradient boosting on those alone.
    """
    mean = float(np.mean(data.y_train))
    as_codes = categorical_codes(data)
    hgb_all = HistGradientBoostingRegressor(
        random_state=seed,
        categorical_features=[False] * len(data.feature_names) + [True] * len(data.categories),
    ).fit(as_codes(data.X_train), data.y_train)
    results = {
        "training mean": split_metrics(data, lambda X: np.full(len(X), mean)),
        "LinearRegression": split_metrics(
            data, LinearRegression().fit(data.X_train, data.y_train).predict
        ),
        "HistGradientBoosting": split_metrics(data, lambda X: hgb_all.predict(as_codes(X))),
    }
    if seed_feature_columns is not None:
        cols = list(seed_feature_columns)
        hgb = HistGradientBoostingRegressor(random_state=seed).fit(
            data.X_train[:, cols], data.y_train
        )
        results["HistGradientBoosting (seed's 13 features)"] = split_metrics(
            data, lambda X: hgb.predict(X[:, cols])
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
