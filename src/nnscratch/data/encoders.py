"""Stage 1 — encodings fitted on the training split and saved with a model as JSON.

    PiecewiseLinearEncoding      per-feature piecewise-linear encoding
    CategoryEncoding             one-hot columns for a categorical column
                                 (genre), rare and unseen levels as "other"
    min_max_scaler_to_dict/from_dict   a fitted MinMaxScaler as JSON and back

Arrays are in the user layout ``(n_samples, n_features)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.preprocessing import MinMaxScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from nnscratch.data.numbers import is_missing


class PiecewiseLinearEncoding:
    """Piecewise-linear encoding of numerical features (Gorishniy et al., 2022).

    For a feature with bin edges ``b_0 < b_1 < … < b_T``, a value ``x``
    becomes ``T`` numbers::

        e_t(x) = clip((x - b_{t-1}) / (b_t - b_{t-1}), 0, 1),   t = 1..T

    1 for every bin wholly below ``x``, the fraction of the bin that holds
    ``x``, 0 above. The first layer can then give each range of a feature
    its own slope, which a single input weight cannot. A feature with at most
    ``n_bins + 1`` distinct training values uses those values as edges (a
    thermometer code). ``include_input`` appends the value itself.

    ``bins`` says where the edges go: ``"quantile"`` puts them at quantiles of
    the training rows (``fit(X)``); ``"tree"`` (the paper's target-aware
    variant) at the split points of a decision tree with at most ``n_bins``
    leaves of at least ``min_samples_leaf`` rows, grown on that one feature
    to predict the target (``fit(X, y)``: a regression tree for numbers, a
    classification tree for labels; on at most :attr:`TREE_ROWS` rows), so
    the bins are narrow where the target changes and wide where it does not.

    Shapes: ``(n_samples, n_features)`` → ``(n_samples, n_features_out_)``.
    Fitted on the training split only, like every fitted part of the data
    stage, and saved with the model as JSON (:meth:`to_dict`).
    """

    #: Rows the target-aware trees are grown on, at most: a seeded subsample of
    #: larger training sets (a split point needs no more; 415k rows took 18 s).
    TREE_ROWS = 50_000

    def __init__(
        self,
        n_bins: int = 16,
        include_input: bool = True,
        *,
        bins: str = "quantile",
        min_samples_leaf: int = 256,
    ) -> None:
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}")
        if bins not in ("quantile", "tree"):
            raise ValueError(f"bins must be 'quantile' or 'tree', got {bins!r}")
        if min_samples_leaf < 1:
            raise ValueError(f"min_samples_leaf must be >= 1, got {min_samples_leaf}")
        self.n_bins = n_bins
        self.include_input = include_input
        self.bins = bins
        self.min_samples_leaf = min_samples_leaf
        self.edges_: list[np.ndarray] = []

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> PiecewiseLinearEncoding:
        """Edges for each column of ``X`` ``(n_samples, n_features)``; ``y`` ``(n_samples,)``
        is the target, needed with ``bins="tree"``."""
        X = np.asarray(X)  # a column at a time as float64, never the whole table
        if X.ndim != 2:
            raise ValueError(f"expected X of shape (n_samples, n_features), got {X.shape}")
        rows: slice | np.ndarray = slice(None)
        if self.bins == "tree":
            if y is None:
                raise ValueError("bins='tree' places the edges by the target: fit(X, y)")
            y = np.asarray(y).ravel()
            if len(y) != len(X):
                raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
            if len(X) > self.TREE_ROWS:  # the trees see a seeded subsample
                draw = np.random.default_rng(0).choice(len(X), self.TREE_ROWS, replace=False)
                rows = np.sort(draw)
        self.edges_ = []
        for j in range(X.shape[1]):
            column = np.asarray(X[:, j], dtype=np.float64)
            distinct = np.unique(column)
            if len(distinct) <= self.n_bins + 1:
                edges = distinct
            elif self.bins == "tree":
                splits = self._tree_splits(column[rows], y[rows])
                edges = np.unique(np.concatenate([[column.min(), column.max()], splits]))
            else:
                edges = np.unique(np.quantile(column, np.linspace(0, 1, self.n_bins + 1)))
            self.edges_.append(edges)
        return self

    def _tree_splits(self, column: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The split points of a tree that predicts ``y`` from this one column."""
        is_label = not np.issubdtype(y.dtype, np.number) or y.dtype == bool
        tree_class = DecisionTreeClassifier if is_label else DecisionTreeRegressor
        tree = tree_class(
            max_leaf_nodes=max(self.n_bins, 2),
            min_samples_leaf=self.min_samples_leaf,
            random_state=0,
        ).fit(column[:, None], y)
        return tree.tree_.threshold[tree.tree_.feature >= 0]

    @property
    def n_features_out_(self) -> int:
        bins = sum(max(len(e) - 1, 0) for e in self.edges_)
        return bins + (len(self.edges_) if self.include_input else 0)

    def transform(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``(n_samples, n_features)`` → ``(n_samples, n_features_out_)``, in ``X``'s float
        dtype (float64 for others); written into ``out`` where given (a batch's buffer in
        the training loop: nothing allocated), else into a new array."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.edges_):
            raise ValueError(f"expected X with {len(self.edges_)} columns, got shape {X.shape}")
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        if out is None:
            out = np.empty((len(X), self.n_features_out_), dtype=dtype)
        elif out.shape != (len(X), self.n_features_out_):
            raise ValueError(
                f"out has shape {out.shape}, expected {(len(X), self.n_features_out_)}"
            )
        elif out.dtype != dtype:
            raise ValueError(f"out is {out.dtype}, X is {dtype}")
        column, low, width = self.bin_table(dtype)
        bins = out[:, : len(column)]
        np.take(X, column, axis=1, out=bins)  # each bin's feature value
        bins -= low
        # A bin narrower than the dtype's smallest normal number (edges distinct in
        # float64, all but equal in float32) would give 0/0; at the smallest normal
        # width the quotient is 0 at the lower edge and overflows to ±inf, which the
        # clip maps to 1 or 0, beyond it: the step the bin has become.
        with np.errstate(over="ignore"):
            bins /= width
        np.clip(bins, 0, 1, out=bins)
        if self.include_input:
            out[:, len(column) :] = X
        return out

    def bin_table(self, dtype: np.dtype | type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every bin of every feature at once (what :meth:`transform` and the ONNX graph
        compute with): its feature's column, its lower edge and its width (at least the
        dtype's smallest normal number), in ``dtype``; kept until ``edges_`` is another
        list (a fit, a load) or the dtype changes. The kept tuple holds the list itself,
        so its identity cannot be reused by a new one."""
        kept = getattr(self, "_kept_bins", None)
        if kept is not None and kept[0] is self.edges_ and kept[1] == np.dtype(dtype):
            return kept[2]
        column, low, width = [], [], []
        for j, edges in enumerate(self.edges_):
            if len(edges) >= 2:
                column += [j] * (len(edges) - 1)
                low.append(edges[:-1].astype(dtype))
                width.append(np.maximum(np.diff(edges).astype(dtype), np.finfo(dtype).tiny))
        arrays = (
            np.asarray(column, dtype=np.intp),
            np.concatenate(low) if low else np.empty(0, dtype),
            np.concatenate(width) if width else np.empty(0, dtype),
        )
        self._kept_bins = (self.edges_, np.dtype(dtype), arrays)
        return arrays

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        return self.fit(X, y).transform(X)

    def to_dict(self) -> dict[str, object]:
        return {
            "n_bins": self.n_bins,
            "include_input": self.include_input,
            "bins": self.bins,
            "min_samples_leaf": self.min_samples_leaf,
            "edges": [e.tolist() for e in self.edges_],
        }

    @classmethod
    def from_dict(cls, state: dict[str, object]) -> PiecewiseLinearEncoding:
        encoder = cls(
            int(state["n_bins"]),  # type: ignore[call-overload]
            bool(state["include_input"]),
            bins=str(state.get("bins", "quantile")),  # files before target-aware bins
            min_samples_leaf=int(state.get("min_samples_leaf", 256)),  # type: ignore[call-overload]
        )
        encoder.edges_ = [np.asarray(e, dtype=np.float64) for e in state["edges"]]  # type: ignore[union-attr]
        if any(e.ndim != 1 or np.any(np.diff(e) <= 0) for e in encoder.edges_):
            raise ValueError("encoding state: edges must be increasing lists")
        return encoder


class CategoryEncoding:
    """One-hot columns for a categorical column, fit on the training split.

    The levels seen at least ``min_count`` times in the training rows, at
    most ``max_levels`` of them (most frequent first), each get a column;
    one more column, ``other``, takes rare levels, levels never seen in
    training and missing values, so any value at predict time has a place.

    Shapes: ``(n_samples,)`` values → ``(n_samples, len(levels_) + 1)``.
    A one-hot block rather than a learned embedding: genre and subgenre have
    a few dozen levels, so the block is small, and it needs nothing in the
    network but its inputs.
    """

    def __init__(self, column: str, min_count: int = 10, max_levels: int = 64) -> None:
        self.column = column
        self.min_count = min_count
        self.max_levels = max_levels
        self.levels_: list[str] = []

    def fit(self, values: Any) -> CategoryEncoding:
        items, _ = self._distinct_text(values)
        distinct = Counter(items)
        return self.fit_counts(list(distinct), list(distinct.values()))

    def fit_counts(self, values: Any, counts: Any) -> CategoryEncoding:
        """:meth:`fit` from each distinct raw value and the number of rows that hold it
        (a source read a chunk at a time counts them as it goes)."""
        items, text = self._distinct_text(values)
        by_level: Counter[str] = Counter()
        for value, n in zip(items, counts, strict=True):
            if text(value) is not None and n:
                by_level[text(value)] += int(n)
        counts = by_level
        kept = [(level, n) for level, n in counts.items() if n >= self.min_count]
        ordered = sorted(kept, key=lambda item: (-item[1], item[0]))
        self.levels_ = [str(level) for level, _ in ordered[: self.max_levels]]
        return self

    @staticmethod
    def _distinct_text(values: Any) -> tuple[list[Any], Callable[[Any], str | None]]:
        """The values as a list, and each value's text (stripped, lower-cased; None where
        missing), worked out once per distinct value: a column has few."""
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)

        def as_text(v: Any) -> str | None:
            return None if is_missing(v) else str(v).strip().lower()

        try:
            known = {v: as_text(v) for v in dict.fromkeys(items)}
        except TypeError:  # an unhashable value (a list sent in JSON): one by one
            return items, as_text
        return items, known.__getitem__

    def codes(self, values: Any) -> np.ndarray:
        """Level index of each value; ``len(levels_)`` for other (rare, unseen, missing)."""
        index = {level: i for i, level in enumerate(self.levels_)}
        other = len(self.levels_)
        items, text = self._distinct_text(values)
        try:
            code = {v: index.get(text(v), other) for v in dict.fromkeys(items)}
        except TypeError:
            return np.fromiter((index.get(text(v), other) for v in items), np.int64, len(items))
        return np.fromiter(map(code.__getitem__, items), dtype=np.int64, count=len(items))

    def transform(self, values: Any, dtype: np.dtype | type = np.float64) -> np.ndarray:
        codes = self.codes(values)
        out = np.zeros((len(codes), len(self.levels_) + 1), dtype=dtype)
        out[np.arange(len(codes)), codes] = 1
        return out

    @property
    def column_names(self) -> list[str]:
        return [f"{self.column}={level}" for level in self.levels_] + [f"{self.column}=(other)"]

    def to_dict(self) -> dict[str, object]:
        return {"column": self.column, "levels": list(self.levels_)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> CategoryEncoding:
        encoding = cls(str(state["column"]))
        encoding.levels_ = [str(level) for level in state["levels"]]
        return encoding


def min_max_scaler_to_dict(scaler: MinMaxScaler) -> dict[str, Any]:
    """The fitted state of a ``MinMaxScaler`` as plain JSON-ready lists."""
    return {
        "feature_range": list(scaler.feature_range),
        "data_min": scaler.data_min_.tolist(),
        "data_max": scaler.data_max_.tolist(),
    }


def min_max_scaler_from_dict(state: dict[str, Any]) -> MinMaxScaler:
    """Rebuild a fitted ``MinMaxScaler`` from :func:`min_max_scaler_to_dict`."""
    data_min = np.asarray(state["data_min"], dtype=np.float64)
    data_max = np.asarray(state["data_max"], dtype=np.float64)
    if data_min.shape != data_max.shape or data_min.ndim != 1:
        raise ValueError("scaler state: data_min and data_max must be equal-length lists")
    scaler = MinMaxScaler(feature_range=tuple(state["feature_range"]))
    # Fitting on the two extreme rows reproduces every fitted attribute exactly.
    scaler.fit(np.vstack([data_min, data_max]))
    return scaler
