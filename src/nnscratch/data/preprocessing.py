"""Stage 1 — what is fitted on the training split and saved with a model.

    prepare(df, ...)             clean, seeded train/val/test split, Min-Max
                                 scaling fit on the training split only
    Preprocessing                the fitted stage a model needs at predict
                                 time: features, scalers, encoding, target
                                 range; raw rows in, popularity points out

Arrays here are in the user layout ``(n_samples, n_features)``; the network's
entrance (:func:`nnscratch.core.network.to_network_layout`) transposes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from nnscratch.data.cleaning import VALUE_RANGES, CleaningReport, clean
from nnscratch.data.encoders import (
    CategoryEncoding,
    PiecewiseLinearEncoding,
    min_max_scaler_from_dict,
    min_max_scaler_to_dict,
)
from nnscratch.data.features import DEFAULT_FEATURES, Columns
from nnscratch.data.schemas import TARGET
from nnscratch.errors import DataError


@dataclass
class Preprocessing:
    """The fitted feature stage a model needs at predict time.

    Which columns feed the network (``features``, raw or derived), the
    Min-Max scalers for X and y (``y_scaler`` is ``None`` for a classifier,
    whose labels are not scaled), optionally a piecewise-linear ``encoder``,
    and the training split's mean target (the simplest baseline), all fit on
    the training split. Stored in the model file as JSON (:meth:`to_dict`),
    so predicting on a raw CSV reproduces exactly the inputs the model was
    trained on. :meth:`to_points` is the one place where network outputs
    become target units.
    """

    features: list[str]
    target: str
    x_scaler: MinMaxScaler
    y_scaler: MinMaxScaler | None
    encoder: PiecewiseLinearEncoding | None = None
    target_mean: float | None = None
    categories: list[CategoryEncoding] = field(default_factory=list)
    #: the target as the user named it (the file's own column name); ``target`` is the
    #: package's name for it, what a cleaned frame calls the column
    target_name: str | None = None

    @property
    def label(self) -> str:
        """How outputs name the target: as the user did (``predicted_<label>``)."""
        return self.target_name or self.target

    @property
    def categorical_columns(self) -> list[str]:
        return [c.column for c in self.categories]

    def scale(self, cleaned: pd.DataFrame, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """Scaled features from a cleaned frame: the Min-Max scaled numeric columns,
        then each categorical column's one-hot block, ``(n_samples, n_columns)``."""
        X = cleaned[self.features].to_numpy(dtype=np.float64)
        categorical = {c.column: cleaned[c.column].to_numpy() for c in self.categories}
        return self.scale_arrays(X, categorical, dtype)

    def scale_arrays(
        self, X: np.ndarray, categorical: Columns, dtype: np.dtype | type = np.float64
    ) -> np.ndarray:
        """:meth:`scale` on arrays: the numeric features ``X`` ``(n, len(features))``
        (float64, cleaned) and each categorical column's raw values by name. A file's
        rows and a request's rows meet this one function."""
        if len(X) == 0:
            width = len(self.features) + sum(len(c.levels_) + 1 for c in self.categories)
            return np.empty((0, width), dtype=dtype)
        scaler = self.x_scaler  # MinMaxScaler.transform's arithmetic, without its checks
        scaled = (X * scaler.scale_ + scaler.min_).astype(dtype, copy=False)
        if not self.categories:
            return scaled
        blocks = [c.transform(categorical[c.column], dtype) for c in self.categories]
        return np.hstack([scaled, *blocks])

    def encode(self, X_scaled: np.ndarray) -> np.ndarray:
        """The network's inputs from scaled features: the encoder's output for the
        numeric columns (if there is an encoder), the one-hot columns as they are."""
        if self.encoder is None:
            return X_scaled
        n = len(self.features)
        numeric = self.encoder.transform(X_scaled[:, :n])
        return numeric if X_scaled.shape[1] == n else np.hstack([numeric, X_scaled[:, n:]])

    @property
    def expansion(self) -> Encoded | None:
        """The encoding computed a batch at a time (:class:`Encoded`) where the network's
        inputs differ from the scaled rows (an encoder), else None: what the estimators'
        ``fit`` takes as ``expand``."""
        return None if self.encoder is None else Encoded(self)

    @property
    def n_inputs(self) -> int:
        numeric = len(self.features) if self.encoder is None else self.encoder.n_features_out_
        return numeric + sum(len(c.levels_) + 1 for c in self.categories)

    def transform(self, cleaned: pd.DataFrame, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """The network's inputs ``(n_samples, n_inputs)`` from a cleaned frame."""
        return self.encode(self.scale(cleaned, dtype))

    def inverse_transform_y(self, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled targets (any shape) → original units (popularity points), float64."""
        y = np.asarray(y_scaled, dtype=np.float64)
        scaler = self._regression_target()  # MinMaxScaler.inverse_transform's arithmetic
        return (y - scaler.min_[0]) / scaler.scale_[0]

    @property
    def target_bounds(self) -> tuple[float, float]:
        """The range predictions are clipped to (popularity is 0–100; open for others)."""
        low, high = VALUE_RANGES.get(self.target, (None, None))
        return (
            -np.inf if low is None else float(low),
            np.inf if high is None else float(high),
        )

    def to_points(self, y_scaled: np.ndarray) -> np.ndarray:
        """Network outputs → target units, clipped to :attr:`target_bounds` (float64)."""
        return np.clip(self.inverse_transform_y(y_scaled), *self.target_bounds)

    @property
    def target_range(self) -> float:
        """Width of the training target range: scaled RMSE × this = RMSE in target units."""
        return float(self._regression_target().data_range_[0])

    def _regression_target(self) -> MinMaxScaler:
        if self.y_scaler is None:
            raise ValueError(f"the target {self.target!r} holds class labels; it has no scale")
        return self.y_scaler

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "target": self.target,
            "x_scaler": min_max_scaler_to_dict(self.x_scaler),
            "y_scaler": None if self.y_scaler is None else min_max_scaler_to_dict(self.y_scaler),
            "encoding": None if self.encoder is None else self.encoder.to_dict(),
            "target_mean": self.target_mean,
            "categories": [c.to_dict() for c in self.categories],
            "target_name": self.label,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessing:
        """Rebuild from :meth:`to_dict`; raises ``ValueError`` on malformed state."""
        try:
            features = [str(f) for f in state["features"]]
            x_scaler = min_max_scaler_from_dict(state["x_scaler"])
            y_state = state["y_scaler"]
            y_scaler = None if y_state is None else min_max_scaler_from_dict(y_state)
            target = str(state["target"])
            encoding = state.get("encoding")
            encoder = None if encoding is None else PiecewiseLinearEncoding.from_dict(encoding)
            mean = state.get("target_mean")
            target_mean = None if mean is None else float(mean)
            categories = [CategoryEncoding.from_dict(c) for c in state.get("categories") or []]
            target_name = str(state.get("target_name") or target)  # files before it: the same
        except (KeyError, TypeError) as exc:
            raise ValueError(f"preprocessing state is incomplete ({exc})") from exc
        if encoder is not None and len(encoder.edges_) != len(features):
            raise ValueError("preprocessing state: the encoding does not match the features")
        if x_scaler.n_features_in_ != len(features):
            raise ValueError(
                f"preprocessing state: {len(features)} features but the scaler has "
                f"{x_scaler.n_features_in_}"
            )
        return cls(
            features, target, x_scaler, y_scaler, encoder, target_mean, categories, target_name
        )


class Encoded:
    """:meth:`Preprocessing.encode` as the training loop's expansion
    (:class:`~nnscratch.core.network.InputExpansion`): ``encoded(X_scaled, out)`` writes a
    batch's network inputs ``(m, width)`` into ``out``, so that the encoded table is never
    held whole. The same numbers as :meth:`Preprocessing.encode`."""

    def __init__(self, pre: Preprocessing) -> None:
        self.pre = pre
        self.width = pre.n_inputs

    def __call__(self, X_scaled: np.ndarray, out: np.ndarray) -> None:
        pre, n = self.pre, len(self.pre.features)
        if pre.encoder is None:
            out[...] = X_scaled
            return
        width = pre.encoder.n_features_out_
        pre.encoder.transform(X_scaled[:, :n], out=out[:, :width])
        out[:, width:] = X_scaled[:, n:]


@dataclass
class PreparedData:
    """Scaled train / validation / test splits, ``(n_samples, n_columns)``.

    The columns are the Min-Max scaled ``feature_names`` first, then one
    one-hot block per entry of ``categories`` (see :attr:`column_names`).
    ``x_scaler``, ``y_scaler`` and ``categories`` were fit on the training
    split only. ``*_index`` are row positions in the cleaned frame. For
    classification ``y_scaler`` is ``None`` and ``y_*`` hold the labels as
    they were in the file.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target: str
    x_scaler: MinMaxScaler
    y_scaler: MinMaxScaler | None
    report: CleaningReport
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray
    categories: list[CategoryEncoding] = field(default_factory=list)
    #: the target as the user named it (see :class:`Preprocessing`)
    target_name: str | None = None
    #: categorical columns left out as identifiers (one distinct value per row)
    identifiers: list[str] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        """The name of every column of ``X_*``."""
        return [*self.feature_names, *(n for c in self.categories for n in c.column_names)]

    @property
    def categorical_blocks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` column range of each one-hot block in ``X_*``."""
        blocks, start = [], len(self.feature_names)
        for category in self.categories:
            blocks.append((start, start + len(category.levels_) + 1))
            start = blocks[-1][1]
        return blocks

    @property
    def preprocessing(self) -> Preprocessing:
        """The fitted feature stage, to save with a model (a new object each time)."""
        pre = Preprocessing(
            list(self.feature_names),
            self.target,
            self.x_scaler,
            self.y_scaler,
            categories=list(self.categories),
            target_name=self.target_name,
        )
        if self.y_scaler is not None:
            pre.target_mean = float(np.mean(pre.inverse_transform_y(self.y_train)))
        return pre

    @property
    def task(self) -> str:
        """``"regression"`` or ``"classification"`` (labels, no target scaler)."""
        return "regression" if self.y_scaler is not None else "classification"

    def inverse_transform_y(self, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled targets (any shape) → original units (popularity points), float64."""
        return Preprocessing(
            self.feature_names, self.target, self.x_scaler, self.y_scaler
        ).inverse_transform_y(y_scaled)

    @property
    def target_range(self) -> float:
        """Width of the training target range: scaled RMSE × this = RMSE in target units."""
        return Preprocessing(
            self.feature_names, self.target, self.x_scaler, self.y_scaler
        ).target_range

    def split_sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}


def split_indices(
    n: int,
    test_size: float,
    val_size: float,
    rng: np.random.Generator,
    source: str = "data",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train / validation / test row positions from one seeded permutation.

    ``test_size`` and ``val_size`` are fractions of all ``n`` rows; each
    non-zero split gets at least one row and the training split keeps at
    least one.
    """
    if not (0 <= test_size < 1 and 0 <= val_size < 1 and test_size + val_size < 1):
        raise ValueError(
            f"test_size={test_size} and val_size={val_size} must be in [0, 1) with sum < 1"
        )
    n_test = round(n * test_size) if test_size else 0
    n_val = round(n * val_size) if val_size else 0
    n_test = max(n_test, 1) if test_size else 0
    n_val = max(n_val, 1) if val_size else 0
    if n - n_test - n_val < 1:
        raise DataError(
            f"{source}: only {n} usable row(s), too few for a training split "
            f"with test_size={test_size} and val_size={val_size}"
        )
    order = rng.permutation(n)
    test = np.sort(order[:n_test])
    val = np.sort(order[n_test : n_test + n_val])
    train = np.sort(order[n_test + n_val :])
    return train, val, test


def prepare(
    df: pd.DataFrame,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str = TARGET,
    *,
    test_size: float = 0.2,
    val_size: float = 0.1,
    seed: int = 0,
    dtype: np.dtype | type = np.float32,
    max_rows: int | None = None,
    categoricals: Sequence[str] = (),
    task: str = "regression",
    target_name: str | None = None,
) -> PreparedData:
    """Clean, split and scale a tracks frame for training.

    1. :func:`clean` drops unusable rows (reported in ``.report``).
    2. With ``max_rows``, a seeded random subset of that many rows is kept.
    3. A seeded permutation splits rows into train / validation / test.
    4. Min-Max scalers for X and y are fit on the **training split only** and
       applied to all three (validation and test may fall outside [0, 1]).
    5. Each column in ``categoricals`` gets a :class:`CategoryEncoding`,
       fit on the training split; its one-hot block follows the features. A
       column whose training values are (almost) all distinct is an
       identifier, not a category: it is left out (``identifiers``).

    With ``task="classification"`` the target holds class labels: they are
    kept as they are (no y scaler), and every class of the validation and
    test splits must occur in the training split.

    Same ``seed`` → same rows in the same splits, same bits out.
    """
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
    labels, features = task == "classification", list(features)
    cleaned, report = clean(df, features, target, labels=labels)
    rng = np.random.default_rng(seed)
    if max_rows is not None and len(cleaned) > max_rows:
        rows = np.sort(rng.choice(len(cleaned), size=max_rows, replace=False))
        cleaned = cleaned.iloc[rows].reset_index(drop=True)
    train, val, test = split_indices(len(cleaned), test_size, val_size, rng, report.source)
    x_scaler = MinMaxScaler().fit(cleaned[features].to_numpy(dtype=np.float64)[train])
    if labels:
        y_all = cleaned[target].to_numpy()
        check_classes(y_all, train, {"validation": val, "test": test}, target, report.source)
        y_scaler = None
    else:
        y_all = cleaned[[target]].to_numpy(dtype=np.float64)
        y_scaler = MinMaxScaler().fit(y_all[train])
    present = [c for c in categoricals if c in cleaned]
    identifiers = [c for c in present if is_identifier(cleaned[c].iloc[train])]
    categories = [
        CategoryEncoding(c).fit(cleaned[c].iloc[train]) for c in present if c not in identifiers
    ]
    fitted = Preprocessing(features, target, x_scaler, y_scaler, categories=categories)
    splits = [_scaled(fitted, cleaned, y_all, rows, dtype) for rows in (train, val, test)]
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = splits
    return PreparedData(
        X_tr,
        y_tr,
        X_va,
        y_va,
        X_te,
        y_te,
        features,
        target,
        x_scaler,
        y_scaler,
        report,
        train,
        val,
        test,
        categories,
        target_name,
        identifiers,
    )


#: A categorical column whose training values are at least this share distinct is an
#: identifier (ids, names used as ids): one-hot levels would each be seen once.
IDENTIFIER_SHARE = 0.95


def is_identifier(values: pd.Series) -> bool:
    """(Almost) one distinct value per row, on at least 20 rows."""
    return len(values) >= 20 and values.nunique(dropna=True) >= IDENTIFIER_SHARE * len(values)


def _scaled(
    fitted: Preprocessing,
    cleaned: pd.DataFrame,
    y_all: np.ndarray,
    rows: np.ndarray,
    dtype: np.dtype | type,
) -> tuple[np.ndarray, np.ndarray]:
    """One split's scaled features (the transform predict applies) and its targets: scaled
    numbers, or labels as they are."""
    X = fitted.scale(cleaned.iloc[rows], dtype)
    if fitted.y_scaler is None:
        return X, y_all[rows]
    if len(rows) == 0:
        return X, np.empty(0, dtype=dtype)
    return X, fitted.y_scaler.transform(y_all[rows]).ravel().astype(dtype)


def check_classes(
    y: np.ndarray,
    train: np.ndarray,
    others: dict[str, np.ndarray],
    target: str,
    source: str,
) -> None:
    """Every label of the other splits must occur in the training split, and it must hold two."""
    seen = set(pd.unique(y[train]).tolist())
    if len(seen) < 2:
        raise DataError(
            f"{source}: the target {target!r} has {len(seen)} class in the training split "
            f"({sorted(map(str, seen))}); a classifier needs at least 2"
        )
    for split, rows in others.items():
        unseen = sorted(map(str, set(pd.unique(y[rows]).tolist()) - seen))
        if unseen:
            raise DataError(
                f"{source}: class(es) {', '.join(unseen[:5])} of the target {target!r} occur in "
                f"the {split} split but not in the training split; merge or drop rare classes"
            )
