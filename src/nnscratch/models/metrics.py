"""Metrics in popularity points, baselines, and the results table.

All numbers a user sees are in the target's own units (popularity 0–100),
never in the scaled units the network trains on.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from nnscratch.data.preprocessing import PreparedData

Scores = dict[str, float]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Scores:
    """RMSE, MAE and R² of ``y_pred`` against ``y_true`` (1-D, same units)."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.size == 0:
        return {"rmse": float("nan"), "mae": float("nan"), "r2": float("nan"), "n": 0}
    r2 = r2_score(y_true, y_pred) if y_true.size > 1 else float("nan")
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2),
        "n": int(y_true.size),
    }


def split_metrics(data: PreparedData, predict: Any) -> dict[str, Scores]:
    """Validation and test metrics, in target units, of ``predict(X_scaled) -> y_scaled``."""
    out = {}
    pre = data.preprocessing
    for split, X, y in (("validation", data.X_val, data.y_val), ("test", data.X_test, data.y_test)):
        if len(y) == 0:
            continue
        out[split] = regression_metrics(pre.inverse_transform_y(y), pre.to_points(predict(X)))
    return out


def test_rmse(data: PreparedData, y_scaled_pred: np.ndarray) -> float:
    """Test RMSE in target units of scaled predictions for ``data.X_test``."""
    pre = data.preprocessing
    truth = pre.inverse_transform_y(data.y_test)
    return regression_metrics(truth, pre.to_points(y_scaled_pred))["rmse"]


def baseline_metrics(
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
    as_codes = _categorical_codes(data)
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


def _categorical_codes(data: PreparedData) -> Any:
    """``X → X'``: the numeric columns, then one column of level codes per one-hot block."""
    n, blocks = len(data.feature_names), data.categorical_blocks

    def convert(X: np.ndarray) -> np.ndarray:
        if not blocks:
            return X
        codes = [np.argmax(X[:, start:stop], axis=1) for start, stop in blocks]
        return np.column_stack([X[:, :n], *codes])

    return convert


def format_table(rows: Mapping[str, Mapping[str, Scores]], title: str) -> str:
    """A plain-text table: one row per model, RMSE / MAE / R² per split."""
    splits = [s for s in ("validation", "test") if any(s in r for r in rows.values())]
    width = max(len(name) for name in rows) + 2
    head1 = " " * width + "".join(f"{s:^24}" for s in splits)
    head2 = f"{'model':<{width}}" + "".join(f"{'RMSE':>8}{'MAE':>8}{'R²':>8}" for _ in splits)
    lines = [title, head1.rstrip(), head2, "-" * len(head2)]
    for name, result in rows.items():
        cells = ""
        for s in splits:
            m = result.get(s)
            cells += f"{m['rmse']:>8.2f}{m['mae']:>8.2f}{m['r2']:>8.3f}" if m else " " * 24
        lines.append(f"{name:<{width}}{cells}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- classification


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> Scores:
    """Accuracy, macro-F1 and log-loss of class probabilities ``(n, K)`` (columns: ``classes``)."""
    predicted = np.asarray(classes)[np.argmax(proba, axis=1)]
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)  # float32 rows sum to 1 within 1e-7
    return {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "macro_f1": float(f1_score(y_true, predicted, average="macro", labels=classes)),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "n": len(y_true),
    }


def format_classification_table(rows: Mapping[str, Mapping[str, Scores]], title: str) -> str:
    """A plain-text table: one row per model, accuracy / macro-F1 / log-loss per split."""
    splits = [s for s in ("validation", "test") if any(s in r for r in rows.values())]
    width = max(len(name) for name in rows) + 2
    head1 = " " * width + "".join(f"{s:^30}" for s in splits)
    head2 = f"{'model':<{width}}" + "".join(
        f"{'accuracy':>10}{'macro-F1':>10}{'log-loss':>10}" for _ in splits
    )
    lines = [title, head1.rstrip(), head2, "-" * len(head2)]
    for name, result in rows.items():
        cells = ""
        for s in splits:
            m = result.get(s)
            cells += (
                f"{m['accuracy'] * 100:>9.2f}%{m['macro_f1']:>10.4f}{m['log_loss']:>10.4f}"
                if m
                else " " * 30
            )
        lines.append(f"{name:<{width}}{cells}")
    return "\n".join(lines)


def classification_baselines(
    X_train: np.ndarray,
    y_train: np.ndarray,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    classes: np.ndarray,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """The majority class and scikit-learn's LogisticRegression, fit on ``(X_train,
    y_train)`` and scored on each of ``splits`` (name → ``(X, y)``)."""
    dummy = DummyClassifier(strategy="prior").fit(X_train, y_train)  # predicts the majority
    rows: dict[str, dict[str, Any]] = {
        f"majority class ({dummy.predict(X_train[:1])[0]})": {
            s: classification_metrics(y, dummy.predict_proba(X), classes)
            for s, (X, y) in splits.items()
        }
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        logistic = LogisticRegression(max_iter=100, random_state=seed).fit(X_train, y_train)
    rows["LogisticRegression"] = {
        s: classification_metrics(y, logistic.predict_proba(X), classes)
        for s, (X, y) in splits.items()
    }
    return rows


def classification_results(
    name: str,
    probabilities: Mapping[str, np.ndarray],
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    classes: np.ndarray,
    training: tuple[np.ndarray, np.ndarray],
    seed: int,
) -> dict[str, dict[str, Any]]:
    """The results table's rows: the model ``name`` scored from its ``probabilities`` on
    each of ``splits``, then :func:`classification_baselines` fit on ``training``."""
    rows: dict[str, dict[str, Any]] = {
        name: {
            split: classification_metrics(y, probabilities[split], classes)
            for split, (_, y) in splits.items()
        }
    }
    rows.update(classification_baselines(*training, dict(splits), classes, seed))
    return rows
