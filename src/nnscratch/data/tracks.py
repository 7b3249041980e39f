"""Stage 1 — a tracks file as the package reads it: schema, ``year``, derived features.

    read_tracks(path)            read any schema in SCHEMAS, derive ``year``: a TracksFile
    TracksFile.from_frame(df)    the same for a frame already read
    load_tracks(path)            just the rows, as a DataFrame

Values are left raw here; :mod:`nnscratch.data.cleaning` coerces and filters them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.features import DEFAULT_FEATURES, DERIVED_FEATURES, add_derived_features, text
from nnscratch.data.numbers import to_numbers
from nnscratch.data.reading import read_delimited
from nnscratch.data.schemas import SCHEMAS, TARGET, apply_schema, schema_of
from nnscratch.data.tables import CHUNK_ROWS, Chunk, read_table_chunks
from nnscratch.errors import DataError


def year_from_release_date(release_date: pd.Series) -> pd.Series:
    """Release year from ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` strings.

    Formats may be mixed in one column; anything else (garbage, empty,
    impossible months or days) becomes NaN, never an exception.

    >>> year_from_release_date(pd.Series(["1999", "2001-07", "2010-12-31", "soon"])).tolist()
    [1999.0, 2001.0, 2010.0, nan]
    """
    years = years_from_dates(release_date.to_numpy())
    return pd.Series(years, index=release_date.index, name=release_date.name)


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def years_from_dates(values: np.ndarray) -> np.ndarray:
    """:func:`year_from_release_date` on an array (a file's column or a request's rows):
    whole numbers are years; text is ``YYYY[-MM[-DD]]`` with a possible month and day."""
    array = np.asarray(values)
    if array.dtype.kind in "iufb":
        years = to_numbers(array)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(years) & (years == np.floor(years)), years, np.nan)
    items = array.ravel().tolist()
    if any(type(v) is int or type(v) is float for v in items):  # a request's JSON numbers
        return np.fromiter((_year_of(v) for v in items), dtype=np.float64, count=array.size)
    return np.fromiter((_year(v) for v in text(array)), dtype=np.float64, count=array.size)


def _year_of(value: object) -> float:
    """One value's year: a whole number is one (``1999`` or ``1999.0``), text is a date."""
    if type(value) is int or type(value) is float:
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float64
            return math.nan
        return number if math.isfinite(number) and number == math.floor(number) else math.nan
    return _year(text(np.array([value], dtype=object))[0])


def _year(value: str) -> float:
    match = _DATE.match(value.strip())
    if match is None:
        return math.nan
    month, day = match.group(2), match.group(3)
    if (month is not None and not 1 <= int(month) <= 12) or (
        day is not None and not 1 <= int(day) <= 31
    ):
        return math.nan
    return float(match.group(1))


def _sources(feature: str) -> tuple[str, ...]:
    """The raw columns a feature is computed from (itself, for a raw column)."""
    if feature in DERIVED_FEATURES:
        return DERIVED_FEATURES[feature].sources
    if feature == "year":
        return ("release_date",)  # where the file has no year column of its own
    return (feature,)


def input_columns(features: Sequence[str]) -> list[str]:
    """The raw columns a row needs for ``features`` (each once, in order of first use):
    a raw feature itself, a derived one's sources; ``year`` from ``release_date`` when
    another feature needs the date anyway."""
    sources = [s for f in features for s in _sources(f) if f != "year"]
    if "year" in features:
        sources.append("release_date" if "release_date" in sources else "year")
    return list(dict.fromkeys(sources))


def _missing_input(feature: str, columns: set[str]) -> str | None:
    """The first raw column ``feature`` needs that ``columns`` lacks, or None."""
    if feature in columns:
        return None
    for source in _sources(feature):
        if source not in columns:
            return source
    return None


@dataclass
class TracksFile:
    """A tracks file as the package reads it: its rows, and what the loader learned.

    ``frame`` holds the rows with the package's column names (a recognised
    schema renamed), ``year`` and the derived features added; values are
    still raw (:func:`~nnscratch.data.cleaning.clean` coerces them).
    ``features`` are those of the requested ones the file can give, in order;
    ``left_out`` maps each missing input to the features it took with it;
    ``categoricals`` are the requested categorical columns present.
    """

    frame: pd.DataFrame
    source: str
    schema: str = "custom"
    #: the target column, by the package's name (the file's own may differ), and as given
    target: str | None = None
    target_name: str | None = None
    features: list[str] = field(default_factory=list)
    left_out: dict[str, list[str]] = field(default_factory=dict)
    categoricals: list[str] = field(default_factory=list)
    delimiter: str = ","
    decimal: str = "."

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        source: str = "<DataFrame>",
        features: Sequence[str] = DEFAULT_FEATURES,
        target: str | None = TARGET,
        optional: Collection[str] = (),
        categoricals: Sequence[str] = (),
    ) -> TracksFile:
        """Check and complete a raw tracks frame (already read from ``source``).

        Renames a recognised schema's columns (:data:`SCHEMAS`), adds ``year``
        from ``release_date`` where the frame has no ``year`` (where both exist
        ``year`` is kept), and adds the derived features ``features`` asks for.

        Every column ``features`` needs must be there (a missing one is an error
        listing them all), except for the features in ``optional``: one of those
        whose input is missing is left out (:attr:`left_out`). ``target`` (the
        file's own column name, or the package's name for it) must be there, or
        the error lists the columns found. No input may give the target away: a
        feature computed from it, and the columns the schema declares to describe
        the same thing (its family), are left out and said so. ``categoricals``
        are kept where present.
        """
        df = df.copy()
        df.columns = [str(c).strip() for c in df.columns]
        schema = schema_of(df.columns)
        df = apply_schema(df, source)
        target_name = target
        target = None if target is None else schema.package_name(target)
        if target is not None and target not in df.columns and target != TARGET:
            found = ", ".join(map(str, df.columns))
            raise DataError(f"{source}: no target column {target_name!r} (columns found: {found})")
        if "year" not in df.columns and "release_date" in df.columns:
            df["year"] = year_from_release_date(df["release_date"])
        family = [c for c in df.columns if target is not None and c in schema.family_of(target)]
        features = [f for f in features if f not in family]
        kept, left_out = _features_present(df, source, features, target, optional)
        if family:
            left_out[f"{', '.join(family)} (they describe the target {target_name})"] = family
        df = add_derived_features(df, [f for f in kept if f in DERIVED_FEATURES])
        df.attrs = {"source": source}  # what clean() names in its messages
        present = [c for c in categoricals if c in df.columns and c != target and c not in family]
        return cls(df, source, schema.name, target, target_name, kept, left_out, present)

    @property
    def schema_title(self) -> str | None:
        """The recognised schema's title, or None for a custom file."""
        return next((s.title for s in SCHEMAS if s.name == self.schema), None)

    def format_note(self) -> list[str]:
        """``note: FILE read as semicolon-separated`` where the file is not plain
        comma-separated (one line, or none)."""
        if self.delimiter == ",":
            return []
        name = {";": "semicolon", "\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        comma = " with decimal commas" if self.decimal == "," else ""
        return [f"note: {self.source} read as {name}-separated{comma}"]

    def notes(self) -> list[str]:
        """What the data report says about the file beside the cleaning report: its
        schema and each input left out."""
        lines = []
        if self.schema_title:
            lines.append(f"  schema: {self.schema_title}")
        lines += [f"  {line}" for line in describe_left_out(self.left_out)]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """For ``metrics.json``: the features used, left out, categorical, the schema."""
        return {
            "used": list(self.features),
            "categorical": list(self.categoricals),
            "left_out": self.left_out,
            "schema": self.schema,
        }


def _features_present(
    df: pd.DataFrame,
    source: str,
    features: Sequence[str],
    target: str | None,
    optional: Collection[str],
) -> tuple[list[str], dict[str, list[str]]]:
    """The features the frame can give, and the inputs missing for the optional rest;
    :class:`DataError` listing every required column (and a missing target) otherwise."""
    available = set(df.columns)
    kept: list[str] = []
    left_out: dict[str, list[str]] = {}
    required_missing: list[str] = []
    for feature in features:
        if feature == target:
            left_out.setdefault(f"{feature} (it is the target)", []).append(feature)
            continue
        if target is not None and target in _sources(feature):
            left_out.setdefault(f"{feature} (computed from the target)", []).append(feature)
            continue
        missing = _missing_input(feature, available)
        if missing is None:
            kept.append(feature)
        elif feature in optional:
            left_out.setdefault(missing, []).append(feature)
        else:
            name = "year (or release_date)" if feature == "year" else missing
            if name not in required_missing:
                required_missing.append(name)
    found = ""
    if target is not None and target not in available:
        required_missing.append(target)
        names = list(map(str, df.columns))
        found = f"; columns found: {', '.join(names[:40])}{', …' if len(names) > 40 else ''}"
        found += " (name the column to predict with --target COLUMN)"
    if required_missing:
        raise DataError(
            f"{source}: missing required column(s): {', '.join(required_missing)}{found}"
        )
    return kept, left_out


def describe_left_out(left_out: dict[str, list[str]]) -> list[str]:
    """One report line per missing input: ``left out: a, b (c not in this file)``."""
    lines = []
    for missing, features in left_out.items():
        if features == [missing]:
            lines.append(f"left out: {missing} (not in this file)")
        elif missing.endswith(")"):  # a reason given: the target, a family
            lines.append(f"left out: {missing}")
        else:
            lines.append(f"left out: {', '.join(features)} ({missing} not in this file)")
    return lines


def read_tracks(
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> TracksFile:
    """Read a Spotify CSV (plain or ``.csv.gz``) of any schema in :data:`SCHEMAS`.

    The schema is detected from the column names. ``target=None`` accepts
    files without a target column, e.g. tracks to predict. Features in
    ``optional`` are left out where the file cannot provide them (see
    :meth:`TracksFile.from_frame`). Values are left raw here;
    :func:`~nnscratch.data.cleaning.clean` coerces and filters them.
    """
    frame, delimiter, decimal = read_delimited(path)
    tracks = TracksFile.from_frame(
        frame,
        source=str(path),
        features=features,
        target=target,
        optional=optional,
        categoricals=categoricals,
    )
    tracks.delimiter, tracks.decimal = delimiter, decimal
    return tracks


def load_tracks(
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows of :func:`read_tracks` as a DataFrame (``attrs["source"]`` names the file)."""
    return read_tracks(
        path, features=features, target=target, optional=optional, categoricals=categoricals
    ).frame


def tracks_from_frame(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows of :meth:`TracksFile.from_frame` as a DataFrame."""
    return TracksFile.from_frame(
        df,
        source=source,
        features=features,
        target=target,
        optional=optional,
        categoricals=categoricals,
    ).frame


def read_tracks_chunks(
    source: str | os.PathLike[str],
    chunk_rows: int = CHUNK_ROWS,
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> Iterator[TracksFile]:
    """:func:`read_tracks` a chunk at a time, for a source larger than memory: a file, a
    folder or a glob of CSV or Parquet parts (:mod:`nnscratch.data.tables`). Each chunk is a
    :class:`TracksFile` of its rows, checked, renamed and completed as a whole file is
    (every step is row by row, so a row comes out as it does from the whole file)."""
    for chunk in read_table_chunks(source, chunk_rows):
        yield tracks_chunk(
            chunk,
            str(source),
            features=features,
            target=target,
            optional=optional,
            categoricals=categoricals,
        )


def tracks_chunk(
    chunk: Chunk,
    source: str,
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> TracksFile:
    """One chunk (or block) of ``source``'s raw rows as a :class:`TracksFile`, checked,
    renamed and completed as a whole file is (:meth:`TracksFile.from_frame`), with its
    part's separator and decimal mark."""
    tracks = TracksFile.from_frame(
        chunk.frame,
        source=source,
        features=features,
        target=target,
        optional=optional,
        categoricals=categoricals,
    )
    tracks.delimiter, tracks.decimal = chunk.delimiter, chunk.decimal
    return tracks
