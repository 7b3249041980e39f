"""The leakage guard: an input that alone predicts the target almost perfectly.

A column that is a copy of the target under another name (or the target
disguised: a code, a rank, a near copy) makes a model that looks perfect and
is useless where the column is missing. Before training, each input is scored
alone on the **training split only** with a binned lookup::

    half A of the training rows (seeded)   bin the input (≤ 64 quantile bins, or
                                           its levels), the target's mean (or most
                                           frequent class) per bin
    half B                                 predict by the bin, score: R² for a
                                           number, accuracy for classes

An input is a leak when that score is almost perfect: R² ≥ 0.99, or accuracy
≥ 0.99 with at most a quarter of the errors of always answering the majority
class (so a 97 %-majority target needs ≥ 99.25 %). A legitimately strong input
(R² ≈ 0.9) is far from it. Scoring on a held-out half keeps a column with many
distinct values from looking perfect by memorising rows. A training split of more
than ``MAX_ROWS`` rows is scored on a seeded sample of that many.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nnscratch.data.preprocessing import PreparedData

#: Quantile bins of a numeric input (its distinct values where it has fewer).
BINS = 64
#: The R² (numbers) or accuracy (classes) from which an input alone is a leak.
NEAR_PERFECT = 0.99
#: A leak of classes also makes at most this share of the majority class's errors.
ERROR_SHARE = 0.25
#: Training rows an input is scored on, at most: a seeded sample of a larger split (each
#: input's bins and lookup take a few arrays of every row scored, 120 MB on 3.5 million;
#: half a million rows tell a near-perfect input from a strong one as surely).
MAX_ROWS = 500_000


@dataclass(frozen=True)
class Leak:
    """An input that alone predicts the target: its name, its score, the score's name."""

    column: str
    score: float
    metric: str

    def line(self, target: str) -> str:
        return (
            f"warning: left out {self.column}: alone it predicts {target} almost perfectly "
            f"({self.metric} {self.score:.4f} on half the training split); keep it with "
            f"--keep-input {self.column}"
        )


def find_leaks(data: PreparedData, keep: tuple[str, ...] = (), seed: int = 0) -> list[Leak]:
    """Every input of ``data`` (a feature, or a categorical column) not in ``keep`` that
    alone predicts the training split's target almost perfectly (see the module doc)."""
    y = data.y_train
    if len(y) < 20:
        return []
    rng = np.random.default_rng(seed)
    rows: slice | np.ndarray = slice(None)
    if len(y) > MAX_ROWS:  # the columns are read a sample at a time, never copied whole
        rows = np.sort(rng.choice(len(y), size=MAX_ROWS, replace=False))
        y = y[rows]
    order = rng.permutation(len(y))
    half_a, half_b = order[: len(y) // 2], order[len(y) // 2 :]
    classes = data.y_scaler is None
    leaks = []
    for name, column in _inputs(data, rows, keep):
        codes = _bins(column, half_a)
        score = _score_alone(codes, y, half_a, half_b, classes)
        if _near_perfect(score, y, classes):
            leaks.append(Leak(name, score, "accuracy" if classes else "R²"))
    return leaks


def _inputs(
    data: PreparedData, rows: slice | np.ndarray, keep: tuple[str, ...]
) -> Iterator[tuple[str, np.ndarray]]:
    """Each input not in ``keep`` over the training rows ``rows``, one at a time: a
    feature's column, or a categorical column's level codes."""
    X = data.X_train
    for j, name in enumerate(data.feature_names):
        if name not in keep:
            yield name, X[rows, j]
    for category, (start, stop) in zip(data.categories, data.categorical_blocks, strict=True):
        if category.column not in keep:
            yield category.column, np.argmax(X[rows, start:stop], axis=1).astype(np.float64)


def _bins(column: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """Each row's bin: quantile edges of ``fit_rows`` (or its distinct values)."""
    values = column[fit_rows]
    distinct = np.unique(values)
    if len(distinct) <= BINS:
        edges = (distinct[1:] + distinct[:-1]) / 2
    else:
        edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
    return np.searchsorted(edges, column)


def _score_alone(
    codes: np.ndarray, y: np.ndarray, half_a: np.ndarray, half_b: np.ndarray, classes: bool
) -> float:
    """R² (numbers) or accuracy (classes) on ``half_b`` of the per-bin lookup fit on
    ``half_a``; a bin unseen in ``half_a`` answers the overall mean or majority."""
    n_bins = int(codes.max()) + 1
    if classes:
        labels, y_codes = np.unique(y, return_inverse=True)
        counts = np.zeros((n_bins, len(labels)))
        np.add.at(counts, (codes[half_a], y_codes[half_a]), 1)
        overall = np.argmax(np.bincount(y_codes[half_a], minlength=len(labels)))
        best = np.where(counts.sum(axis=1) > 0, np.argmax(counts, axis=1), overall)
        return float(np.mean(best[codes[half_b]] == y_codes[half_b]))
    target = y.astype(np.float64)
    sums = np.bincount(codes[half_a], weights=target[half_a], minlength=n_bins)
    counts = np.bincount(codes[half_a], minlength=n_bins)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), target[half_a].mean())
    residual = target[half_b] - means[codes[half_b]]
    spread = target[half_b] - target[half_b].mean()
    total = float(np.dot(spread, spread))
    return 1.0 - float(np.dot(residual, residual)) / total if total > 0 else 0.0


def _near_perfect(score: float, y: np.ndarray, classes: bool) -> bool:
    if not classes:
        return score >= NEAR_PERFECT
    _, counts = np.unique(y, return_counts=True)
    majority_errors = 1.0 - counts.max() / counts.sum()
    return score >= NEAR_PERFECT and (1.0 - score) <= ERROR_SHARE * majority_errors
