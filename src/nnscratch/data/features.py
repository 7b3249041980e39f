"""Features derived from the raw CSV columns (part of stage 1).

Each derived feature is a pure, row-wise function of raw columns: it needs no
fitting, so computing it on a new CSV at predict time gives exactly what the
model saw in training. Everything fitted (scalers, the piecewise-linear
encoding) lives in :mod:`nnscratch.data.encoders`, fit on the training split.

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
    # "['A', 'B']" → 2 (quotes around names come in pairs); "A;B" → 2; "A" → 1.
    text = _text(df, "artists")
    quotes = text.str.count("'") + text.str.count('"')
    separated = text.str.count(";") + 1
    return (quotes // 2).where(quotes >= 2, separated).clip(lower=1).astype("float64")


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

#: The audio features every public Spotify schema has (see ``nnscratch.data.schemas.SCHEMAS``):
#: a file without one of them is refused, not trained on without it.
AUDIO_FEATURES: tuple[str, ...] = tuple(
    f for f in DEFAULT_FEATURES if f not in ("explicit", "year")
)

#: The default recipe's inputs that a file may lack (release date, explicit flag,
#: time signature, duration, name, artists): each is left out where it is missing.
OPTIONAL_FEATURES: tuple[str, ...] = tuple(f for f in RECIPE_FEATURES if f not in AUDIO_FEATURES)


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
