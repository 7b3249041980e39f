"""Features derived from the raw CSV columns (part of stage 1).

Each derived feature is a pure, row-wise function of raw columns: it needs no
fitting, so computing it on a new CSV at predict time gives exactly what the
model saw in training. The only fitted part of the feature stage is the
Min-Max scaler in :mod:`nnscratch.data`, fit on the training split.

================== ============== ==========================================
name               from           value
================== ============== ==========================================
log_duration       duration_ms    ``log(duration_ms / 1000 + 1)``
release_precision  release_date   0 year only, 1 year-month, 2 full date
release_month      release_date   1–12, 0 where the date has no month
n_artists          artists        number of names in the artists list
name_length        name           characters in the track name
name_words         name           words in the track name
name_non_ascii     name           share of non-ASCII characters
name_digits        name           digits in the track name
name_remaster      name           1 if it says remaster(ed)
name_live          name           1 if it says live / en vivo
name_feat          name           1 if it credits a featured artist
name_chapter       name           1 if it is an audiobook part (chapter, Kapitel, …)
================== ============== ==========================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The seed's 13 input features (raw columns; ``year`` comes from ``release_date``
#: where a file has no ``year``).
DEFAULT_FEATURES: tuple[str, ...] = (
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "liveness",
    "loudness",
    "speechiness",
    "tempo",
    "valence",
    "key",
    "mode",
    "explicit",
    "year",
)


@dataclass(frozen=True)
class DerivedFeature:
    """A feature computed row by row from raw ``sources`` columns."""

    sources: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column].astype("string").fillna("")


def _date_parts(df: pd.DataFrame) -> pd.DataFrame:
    return (
        _text(df, "release_date")
        .str.strip()
        .str.extract(r"^\d{4}(?:-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?)?$")
    )


def _release_precision(df: pd.DataFrame) -> pd.Series:
    parts = _date_parts(df)
    return parts["month"].notna().astype("float64") + parts["day"].notna().astype("float64")


def _release_month(df: pd.DataFrame) -> pd.Series:
    month = pd.to_numeric(_date_parts(df)["month"], errors="coerce").astype("float64")
    return month.where(month.between(1, 12), 0.0).fillna(0.0)


def _n_artists(df: pd.DataFrame) -> pd.Series:
    # "['A', 'B']" → 2; quotes around names come in pairs.
    text = _text(df, "artists")
    quotes = text.str.count("'") + text.str.count('"')
    return (quotes // 2).clip(lower=1).astype("float64")


def _name_flag(pattern: str) -> Callable[[pd.DataFrame], pd.Series]:
    def flag(df: pd.DataFrame) -> pd.Series:
        return _text(df, "name").str.contains(pattern, case=False, regex=True).astype("float64")

    return flag


def _non_ascii_share(df: pd.DataFrame) -> pd.Series:
    name = _text(df, "name")
    length = name.str.len().astype("float64")
    non_ascii = name.str.count(r"[^\x00-\x7f]").astype("float64")
    return (non_ascii / length.where(length > 0, 1.0)).astype("float64")


DERIVED_FEATURES: dict[str, DerivedFeature] = {
    "log_duration": DerivedFeature(
        ("duration_ms",),
        lambda df: np.log1p(pd.to_numeric(df["duration_ms"], errors="coerce") / 1000.0),
    ),
    "release_precision": DerivedFeature(("release_date",), _release_precision),
    "release_month": DerivedFeature(("release_date",), _release_month),
    "n_artists": DerivedFeature(("artists",), _n_artists),
    "name_length": DerivedFeature(
        ("name",), lambda df: _text(df, "name").str.len().astype("float64")
    ),
    "name_words": DerivedFeature(
        ("name",), lambda df: _text(df, "name").str.split().str.len().fillna(0).astype("float64")
    ),
    "name_non_ascii": DerivedFeature(("name",), _non_ascii_share),
    "name_digits": DerivedFeature(
        ("name",), lambda df: _text(df, "name").str.count(r"\d").astype("float64")
    ),
    "name_remaster": DerivedFeature(("name",), _name_flag(r"remaster")),
    "name_live": DerivedFeature(("name",), _name_flag(r"\blive\b|en vivo|\bin concert\b")),
    "name_feat": DerivedFeature(("name",), _name_flag(r"\bfeat\.?\b|\bft\.|\(with ")),
    "name_chapter": DerivedFeature(
        ("name",), _name_flag(r"chapter|kapitel|capítulo|часть|teil \d|part \d")
    ),
}

#: The default recipe's inputs: the seed's 13 features, the two raw columns it
#: left out, and every derived feature above.
RECIPE_FEATURES: tuple[str, ...] = (
    *DEFAULT_FEATURES,
    "duration_ms",
    "time_signature",
    *DERIVED_FEATURES,
)


def add_derived_features(df: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Return ``df`` with the derived feature columns ``names`` added (or replaced)."""
    unknown = [n for n in names if n not in DERIVED_FEATURES]
    if unknown:
        raise KeyError(f"unknown derived feature(s): {', '.join(unknown)}")
    if not names:
        return df
    out = df.copy()
    for name in names:
        out[name] = DERIVED_FEATURES[name].compute(df).astype("float64").to_numpy()
    return out


class PiecewiseLinearEncoding:
    """Piecewise-linear encoding of numerical features (Gorishniy et al., 2022).

    For a feature with bin edges ``b_0 < b_1 < … < b_T`` (quantiles of the
    training rows), a value ``x`` becomes ``T`` numbers::

        e_t(x) = clip((x - b_{t-1}) / (b_t - b_{t-1}), 0, 1),   t = 1..T

    1 for every bin wholly below ``x``, the fraction of the bin that holds
    ``x``, 0 above. The first layer can then give each range of a feature
    its own slope, which a single input weight cannot. A feature with at most
    ``n_bins + 1`` distinct training values uses those values as edges (a
    thermometer code). ``include_input`` appends the value itself.

    Shapes: ``(n_samples, n_features)`` → ``(n_samples, n_features_out_)``.
    Fitted on the training split only, like every fitted part of the data
    stage, and saved with the model as JSON (:meth:`to_dict`).
    """

    def __init__(self, n_bins: int = 16, include_input: bool = True) -> None:
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins}")
        self.n_bins = n_bins
        self.include_input = include_input
        self.edges_: list[np.ndarray] = []

    def fit(self, X: np.ndarray) -> PiecewiseLinearEncoding:
        X = np.asarray(X, dtype=np.float64)
        self.edges_ = []
        for column in X.T:
            distinct = np.unique(column)
            if len(distinct) <= self.n_bins + 1:
                edges = distinct
            else:
                edges = np.unique(np.quantile(column, np.linspace(0, 1, self.n_bins + 1)))
            self.edges_.append(edges)
        return self

    @property
    def n_features_out_(self) -> int:
        bins = sum(max(len(e) - 1, 0) for e in self.edges_)
        return bins + (len(self.edges_) if self.include_input else 0)

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.edges_):
            raise ValueError(f"expected X with {len(self.edges_)} columns, got shape {X.shape}")
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        out = np.empty((len(X), self.n_features_out_), dtype=dtype)
        start = 0
        for j, edges in enumerate(self.edges_):
            if len(edges) < 2:
                continue
            low, width = edges[:-1], np.diff(edges)
            stop = start + len(width)
            block = out[:, start:stop]
            np.subtract(X[:, j : j + 1], low.astype(dtype), out=block)
            # A bin narrower than the dtype's smallest normal number (edges distinct in
            # float64, all but equal in float32) would give 0/0; at the smallest normal
            # width the quotient is 0 at the lower edge and overflows to ±inf, which the
            # clip maps to 1 or 0, beyond it: the step the bin has become.
            with np.errstate(over="ignore"):
                block /= np.maximum(width.astype(dtype), np.finfo(dtype).tiny)
            np.clip(block, 0, 1, out=block)
            start = stop
        if self.include_input:
            out[:, start:] = X
        return out

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict[str, object]:
        return {
            "n_bins": self.n_bins,
            "include_input": self.include_input,
            "edges": [e.tolist() for e in self.edges_],
        }

    @classmethod
    def from_dict(cls, state: dict[str, object]) -> PiecewiseLinearEncoding:
        encoder = cls(int(state["n_bins"]), bool(state["include_input"]))  # type: ignore[call-overload]
        encoder.edges_ = [np.asarray(e, dtype=np.float64) for e in state["edges"]]  # type: ignore[union-attr]
        if any(e.ndim != 1 or np.any(np.diff(e) <= 0) for e in encoder.edges_):
            raise ValueError("encoding state: edges must be increasing lists")
        return encoder
