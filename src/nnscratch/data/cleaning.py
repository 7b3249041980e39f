"""Stage 1 — cleaning: coerce to numbers, drop the rows that cannot be used, say why.

    clean(df, features, target)  coerce to numbers, drop unusable rows, report

Nothing here is fitted: the same file always cleans the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.numbers import to_numbers
from nnscratch.data.schemas import TARGET
from nnscratch.errors import DataError

#: Plausible value ranges. A value outside its range is reported and its row
#: dropped, never silently kept. ``None`` leaves that side open.
VALUE_RANGES: dict[str, tuple[float | None, float | None]] = {
    "popularity": (0, 100),
    "acousticness": (0, 1),
    "danceability": (0, 1),
    "energy": (0, 1),
    "instrumentalness": (0, 1),
    "liveness": (0, 1),
    "speechiness": (0, 1),
    "valence": (0, 1),
    "tempo": (0, None),
    "loudness": (-100, 20),
    "key": (-1, 11),
    "mode": (0, 1),
    "explicit": (0, 1),
    "year": (1800, 2100),
    "duration_ms": (0, None),
    "time_signature": (0, 12),
}


@dataclass
class CleaningReport:
    """What :func:`clean` did: rows read, why rows were dropped, rows kept.

    ``missing`` counts, per column, the rows whose value was absent or not a
    finite number; ``out_of_range`` the rows whose value lay outside
    :data:`VALUE_RANGES`. A row can be counted under several columns;
    ``rows_dropped`` counts each row once.
    """

    source: str
    rows_read: int
    rows_kept: int
    missing: dict[str, int] = field(default_factory=dict)
    out_of_range: dict[str, int] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return self.rows_read - self.rows_kept

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_dropped": self.rows_dropped,
            "rows_kept": self.rows_kept,
            "missing": dict(self.missing),
            "out_of_range": dict(self.out_of_range),
        }

    def merge(self, other: CleaningReport, columns: Sequence[str] = ()) -> CleaningReport:
        """This report and ``other`` (the next chunk of the same file) as one: counts added,
        the columns in ``columns``' order (then any other), as one pass would list them."""
        order = {c: i for i, c in enumerate(columns)}

        def added(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            total = {c: a.get(c, 0) + b.get(c, 0) for c in {**a, **b}}
            return dict(sorted(total.items(), key=lambda item: order.get(item[0], len(order))))

        return CleaningReport(
            self.source,
            self.rows_read + other.rows_read,
            self.rows_kept + other.rows_kept,
            added(self.missing, other.missing),
            added(self.out_of_range, other.out_of_range),
        )

    def reasons(self) -> str:
        """One line: the per-column drop counts."""
        parts = [f"{c} {n:,} missing or not a number" for c, n in self.missing.items()]
        parts += [f"{c} {n:,} out of range" for c, n in self.out_of_range.items()]
        return "; ".join(parts) or "nothing dropped"

    def __str__(self) -> str:
        lines = [
            f"data: {self.source}",
            f"  rows read {self.rows_read:,}, dropped {self.rows_dropped:,}, "
            f"kept {self.rows_kept:,}",
        ]
        for label, counts in (
            ("missing or not a number", self.missing),
            ("out of range", self.out_of_range),
        ):
            if counts:
                detail = ", ".join(f"{c} {n:,}" for c, n in counts.items())
                lines.append(f"  dropped, {label}: {detail}")
        return "\n".join(lines)


def to_number(column: pd.Series) -> pd.Series:
    """``pd.to_numeric(errors="coerce")``, also reading ``True``/``False`` as 1/0
    (:func:`nnscratch.data.numbers.to_numbers` on a Series)."""
    return pd.Series(to_numbers(column.to_numpy()), index=column.index, name=column.name)


def _is_blank(value: object) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    return str(value).strip() == ""


def clean(
    df: pd.DataFrame,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    *,
    labels: bool = False,
    whole: bool = True,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Coerce ``features`` and ``target`` to numbers; drop rows that cannot be used.

    A value that is absent, not a number, or infinite makes its row unusable;
    so does a value outside :data:`VALUE_RANGES`. With ``labels`` the target
    is a class label: kept as it is (any type), and only a row whose label
    is absent or blank is dropped. Returns the kept rows (index reset, the
    selected columns as float64, other columns untouched) and a
    :class:`CleaningReport`. Raises :class:`DataError` when no row is left, or a column
    holds no number at all; with ``whole=False`` (one chunk of a file, whose reports
    :meth:`CleaningReport.merge` adds up) neither: a chunk may have no usable row.
    """
    source = str(df.attrs.get("source", "<DataFrame>"))
    columns = [*features, *([target] if target else [])]
    missing_cols = [c for c in columns if c not in df.columns]
    if missing_cols:
        raise DataError(f"{source}: missing required column(s): {', '.join(missing_cols)}")
    out = df.copy()
    keep = np.ones(len(out), dtype=bool)
    missing: dict[str, int] = {}
    out_of_range: dict[str, int] = {}
    if labels and target:
        columns.remove(target)
        blank = out[target].map(_is_blank).to_numpy(dtype=bool)
        if blank.all() and whole:
            raise DataError(f"{source}: the target column {target!r} has no labels (all empty)")
        if blank.any():
            missing[target] = int(blank.sum())
        keep &= ~blank
    for col in columns:
        values = to_number(out[col])
        if len(values) and values.isna().all() and whole:
            raise no_numbers_error(df, col, source)
        out[col] = values
        numbers = values.to_numpy()
        absent = np.isnan(numbers)
        if absent.any():
            missing[col] = int(absent.sum())
        outside = outside_range(col, numbers)
        if outside.any():
            out_of_range[col] = int(outside.sum())
        keep &= ~absent & ~outside
    kept = out.loc[keep].reset_index(drop=True)
    kept.attrs = dict(df.attrs)
    report = CleaningReport(source, len(df), len(kept), missing, out_of_range)
    if len(kept) == 0 and whole:
        raise DataError(
            f"{source}: no usable rows left after cleaning {len(df):,} row(s) ({report.reasons()})"
        )
    return kept, report


def range_bounds(columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest valid value of each column (:data:`VALUE_RANGES`;
    ``-inf`` and ``inf`` where open): for checking a matrix of them at once."""
    bounds = [VALUE_RANGES.get(c, (None, None)) for c in columns]
    low = np.array([-np.inf if b[0] is None else b[0] for b in bounds], dtype=np.float64)
    high = np.array([np.inf if b[1] is None else b[1] for b in bounds], dtype=np.float64)
    return low, high


def outside_range(column: str, numbers: np.ndarray) -> np.ndarray:
    """Where ``numbers`` of ``column`` lie outside :data:`VALUE_RANGES` (NaN is not)."""
    low, high = VALUE_RANGES.get(column, (None, None))
    outside = np.zeros(len(numbers), dtype=bool)
    with np.errstate(invalid="ignore"):
        if low is not None:
            outside |= numbers < low
        if high is not None:
            outside |= numbers > high
    return outside


@dataclass(frozen=True)
class NoNumbers:
    """A column without one usable number in some rows (a whole file, or a chunk of one):
    what the whole file's error says of it, an example of its values (None: all empty)
    and whether they came from ``release_date`` (``year``)."""

    column: str
    example: str | None
    derived: bool = False

    def error(self, source: str) -> DataError:
        what = f"e.g. {self.example!r}" if self.example is not None else "all empty"
        origin = " (from release_date)" if self.derived else ""
        return DataError(f"{source}: column {self.column!r}{origin} has no usable numbers ({what})")


def no_numbers(df: pd.DataFrame, column: str) -> NoNumbers:
    """:class:`NoNumbers` for a column of ``df``, with its first non-blank value."""
    derived = column == "year" and "release_date" in df and df[column].isna().all()
    raw = df["release_date"] if derived else df[column]
    example = next((v for v in raw if not _is_blank(v)), None)
    return NoNumbers(column, None if example is None else str(example)[:40], derived)


def no_numbers_error(df: pd.DataFrame, column: str, source: str) -> DataError:
    """The error for a column without one usable number, with an example of its values."""
    return no_numbers(df, column).error(source)
