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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnscratch.data.numbers import is_missing, to_numbers

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


#: A table's columns by name, one array each (object arrays for raw text): what derived
#: features are computed from, for a file's frame and a request's rows alike.
Columns = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class DerivedFeature:
    """A feature computed row by row from raw ``sources`` columns: ``compute(columns)``
    returns one float64 per row."""

    sources: tuple[str, ...]
    compute: Callable[[Columns], np.ndarray]


def text(values: np.ndarray) -> list[str]:
    """Each value as text; missing (None, NaN, pandas' NA) as ``""``."""
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if all(type(v) is str for v in items):  # a request's rows, a file without gaps
        return items
    return ["" if is_missing(v) else str(v) for v in items]


def _per_row(values: list[str], function: Callable[[str], float]) -> np.ndarray:
    return np.fromiter((function(v) for v in values), dtype=np.float64, count=len(values))


_DATE = re.compile(r"^\d{4}(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def _date_parts(columns: Columns) -> list[tuple[str | None, str | None]]:
    """``(month, day)`` text of each ``YYYY[-MM[-DD]]`` date (None where absent or no date)."""
    parts = []
    for value in text(columns["release_date"]):
        match = _DATE.match(value.strip())
        parts.append((match.group(1), match.group(2)) if match else (None, None))
    return parts


def _release_precision(columns: Columns) -> np.ndarray:
    return np.array(
        [(month is not None) + (day is not None) for month, day in _date_parts(columns)],
        dtype=np.float64,
    )


def _release_month(columns: Columns) -> np.ndarray:
    months = [int(month) if month is not None else 0 for month, _ in _date_parts(columns)]
    return np.array([m if 1 <= m <= 12 else 0 for m in months], dtype=np.float64)


def _artists(value: str) -> float:
    # "['A', 'B']" → 2 (quotes around names come in pairs); "A;B" → 2; "A" → 1.
    quotes = value.count("'") + value.count('"')
    return float(max(quotes // 2 if quotes >= 2 else value.count(";") + 1, 1))


def _name_flag(pattern: str) -> Callable[[Columns], np.ndarray]:
    expression = re.compile(pattern, re.IGNORECASE)

    def flag(columns: Columns) -> np.ndarray:
        return _per_row(text(columns["name"]), lambda v: 1.0 if expression.search(v) else 0.0)

    return flag


_DIGIT = re.compile(r"\d")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _non_ascii_share(value: str) -> float:
    return len(_NON_ASCII.findall(value)) / (len(value) or 1)


def _log_duration(columns: Columns) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # a negative duration: NaN, as it should be
        return np.log1p(to_numbers(columns["duration_ms"]) / 1000.0)


def _from_name(function: Callable[[str], float]) -> Callable[[Columns], np.ndarray]:
    return lambda columns: _per_row(text(columns["name"]), function)


DERIVED_FEATURES: dict[str, DerivedFeature] = {
    "log_duration": DerivedFeature(("duration_ms",), _log_duration),
    "release_precision": DerivedFeature(("release_date",), _release_precision),
    "release_month": DerivedFeature(("release_date",), _release_month),
    "n_artists": DerivedFeature(
        ("artists",), lambda columns: _per_row(text(columns["artists"]), _artists)
    ),
    "name_length": DerivedFeature(("name",), _from_name(len)),
    "name_words": DerivedFeature(("name",), _from_name(lambda v: len(v.split()))),
    "name_non_ascii": DerivedFeature(("name",), _from_name(_non_ascii_share)),
    "name_digits": DerivedFeature(("name",), _from_name(lambda v: len(_DIGIT.findall(v)))),
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


def derived_columns(columns: Columns, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The derived features ``names`` of ``columns``, float64 arrays by name."""
    unknown = [n for n in names if n not in DERIVED_FEATURES]
    if unknown:
        raise KeyError(f"unknown derived feature(s): {', '.join(unknown)}")
    return {name: DERIVED_FEATURES[name].compute(columns) for name in names}


def add_derived_features(df: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Return ``df`` with the derived feature columns ``names`` added (or replaced)."""
    if not names:
        return df
    sources = (
        {s for name in names for s in DERIVED_FEATURES[name].sources}
        if all(name in DERIVED_FEATURES for name in names)
        else set()
    )
    derived = derived_columns({c: df[c].to_numpy() for c in sources}, names)
    out = df.copy()
    for name, values in derived.items():
        out[name] = values
    return out
