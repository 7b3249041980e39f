"""Metrics in the target's own units, and the results table every command prints.

All numbers a user sees are in the target's own units (popularity 0–100, or
labels as they were in the file), never in the scaled units the network trains
on. A :class:`Results` is one table: a row per model (the network and its
baselines), a column group per split, one column per :class:`Metric`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from nnscratch.data.preprocessing import PreparedData
from nnscratch.models.classifier import most_probable

Scores = dict[str, float]


@dataclass(frozen=True)
class Metric:
    """One score: its key in a scores dict, its column heading and width, how many
    decimals it prints with (as a percentage with ``percent``), and its direction."""

    key: str
    heading: str
    higher_is_better: bool
    digits: int = 2
    width: int = 8
    percent: bool = False

    def cell(self, value: float) -> str:
        if self.percent:
            return f"{value * 100:>{self.width - 1}.{self.digits}f}%"
        return f"{value:>{self.width}.{self.digits}f}"

    def shown(self, value: float) -> str:
        """The value as a sentence shows it (``10.503``, ``98.65%``)."""
        return f"{value * 100:.2f}%" if self.percent else f"{value:.3f}"


RMSE = Metric("rmse", "RMSE", higher_is_better=False)
REGRESSION_METRICS = (RMSE, Metric("mae", "MAE", False), Metric("r2", "R²", True, digits=3))
ACCURACY = Metric("accuracy", "accuracy", True, digits=2, width=10, percent=True)
CLASSIFICATION_METRICS = (
    ACCURACY,
    Metric("macro_f1", "macro-F1", True, digits=4, width=10),
    Metric("log_loss", "log-loss", False, digits=4, width=10),
)


@dataclass
class Results:
    """A results table: ``rows`` maps a model's name to its scores per split
    (``"validation"``, ``"test"``), each scores dict holding every metric's key."""

    title: str
    metrics: tuple[Metric, ...]
    rows: dict[str, dict[str, Scores]]
    #: lines said under the table (what the model uses)
    notes: list[str] = field(default_factory=list)
    #: more for ``metrics.json``, by key (``"importance"``)
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """Plain text: the title, a column group per split, one row per model."""
        splits = [s for s in ("validation", "test") if any(s in r for r in self.rows.values())]
        group = sum(m.width for m in self.metrics)
        width = max(len(name) for name in self.rows) + 2
        head1 = " " * width + "".join(f"{s:^{group}}" for s in splits)
        head2 = f"{'model':<{width}}" + "".join(
            "".join(f"{m.heading:>{m.width}}" for m in self.metrics) for _ in splits
        )
        lines = [self.title, head1.rstrip(), head2, "-" * len(head2)]
        for name, result in self.rows.items():
            cells = ""
            for split in splits:
                scores = result.get(split)
                if scores is None:
                    cells += " " * group
                else:
                    cells += "".join(m.cell(scores[m.key]) for m in self.metrics)
            lines.append(f"{name:<{width}}{cells}")
        return "\n".join(lines)


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


@dataclass
class RegressionSums:
    """Running sums from which RMSE, MAE and R² come out without keeping the values
    (scoring a file a chunk at a time): ``n``, ``Σy``, ``Σy²``, ``Σ(y−ŷ)²``, ``Σ|y−ŷ|``.
    :meth:`scores` equals :func:`regression_metrics` on all the values within float64
    rounding (R² as ``1 − SSE / (Σy² − (Σy)²/n)``)."""

    n: int = 0
    sum_y: float = 0.0
    sum_y2: float = 0.0
    sse: float = 0.0
    sae: float = 0.0

    def add(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        y = np.asarray(y_true, dtype=np.float64).ravel()
        error = y - np.asarray(y_pred, dtype=np.float64).ravel()
        self.n += len(y)
        self.sum_y += float(y.sum())
        self.sum_y2 += float(y @ y)
        self.sse += float(error @ error)
        self.sae += float(np.abs(error).sum())

    def merge(self, other: RegressionSums) -> None:
        """Add ``other``'s sums (another chunk of the same rows) to these."""
        self.n += other.n
        self.sum_y += other.sum_y
        self.sum_y2 += other.sum_y2
        self.sse += other.sse
        self.sae += other.sae

    def scores(self) -> Scores:
        if self.n == 0:
            return {"rmse": float("nan"), "mae": float("nan"), "r2": float("nan"), "n": 0}
        spread = self.sum_y2 - self.sum_y * self.sum_y / self.n
        r2 = 1 - self.sse / spread if self.n > 1 and spread > 0 else float("nan")
        return {
            "rmse": math.sqrt(self.sse / self.n),
            "mae": self.sae / self.n,
            "r2": r2,
            "n": self.n,
        }


def split_metrics(
    data: PreparedData, predict: Callable[[np.ndarray], np.ndarray]
) -> dict[str, Scores]:
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


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float | None = None
) -> Scores:
    """Accuracy, macro-F1 and log-loss of class probabilities ``(n, K)`` (columns:
    ``classes``); the labels are the most probable classes, or ``threshold``'s (two classes)."""
    predicted = most_probable(proba, classes, threshold)
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)  # float32 rows sum to 1 within 1e-7
    return {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "macro_f1": float(
            f1_score(y_true, predicted, average="macro", labels=classes, zero_division=0)
        ),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "n": len(y_true),
    }


def scores_by_split(
    splits: Mapping[str, tuple[Any, np.ndarray]],
    probabilities: Mapping[str, np.ndarray],
    classes: np.ndarray,
    threshold: float | None = None,
) -> dict[str, Scores]:
    """Classification metrics of ``probabilities[split]`` against each split's labels."""
    return {
        split: classification_metrics(y, probabilities[split], classes, threshold)
        for split, (_, y) in splits.items()
    }
