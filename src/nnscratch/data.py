"""Stage 1 (part 1) — reading and cleaning a Spotify CSV.

The pipeline, one function per step::

    load_tracks(path)            read any schema in SCHEMAS, derive ``year``
    clean(df, features, target)  coerce to numbers, drop unusable rows, report

What is then fitted on the training split (the seeded split, the scalers,
the encoding) and saved with a model lives in :mod:`nnscratch.preprocessing`.
Nothing here is fitted: the same file always reads the same way.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.errors import DataError
from nnscratch.features import DEFAULT_FEATURES, DERIVED_FEATURES, add_derived_features

#: Spotify's audio-feature columns, in the order every public export lists them.
AUDIO_COLUMNS: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
)

#: Columns of the Kaggle 600k ``tracks.csv`` file, in file order.
TRACKS_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "popularity",
    "duration_ms",
    "explicit",
    "artists",
    "id_artists",
    "release_date",
    *AUDIO_COLUMNS,
    "time_signature",
)

#: Columns of the Kaggle 170k ``data.csv`` file, in file order.
DATA_COLUMNS: tuple[str, ...] = (
    "valence",
    "year",
    "acousticness",
    "artists",
    "danceability",
    "duration_ms",
    "energy",
    "explicit",
    "id",
    "instrumentalness",
    "key",
    "liveness",
    "loudness",
    "mode",
    "name",
    "popularity",
    "release_date",
    "speechiness",
    "tempo",
)

TARGET = "popularity"

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

_SNIFF_BYTES = 64 * 1024


# --------------------------------------------------------------------------- reading


def _check_readable(path: Path) -> None:
    """Refuse paths that cannot hold a CSV, before pandas sees them."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")


def _peek_text(path: Path) -> bytes:
    """The first bytes of the (decompressed) file, to recognise binaries early."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read(_SNIFF_BYTES)
        with path.open("rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from exc


def _guess_delimiter(header: str) -> str:
    """``,`` unless the header line is clearly separated by ``;`` or a tab."""
    if "," in header:
        return ","
    for sep in (";", "\t"):
        if header.count(sep) >= 2:
            return sep
    return ","


def _guess_decimal(head: bytes, sep: str) -> str:
    """``,`` when a ';'-separated file writes its numbers as ``0,5`` (as some locales do)."""
    if sep != ";":
        return "."
    fields = head.decode("utf-8", errors="replace").replace("\n", ";").split(";")
    commas = sum(bool(re.fullmatch(r"-?\d+,\d+", f.strip())) for f in fields)
    points = sum(bool(re.fullmatch(r"-?\d+\.\d+", f.strip())) for f in fields)
    return "," if commas > points else "."


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV (plain or ``.gz``) into a DataFrame of raw values.

    Raises :class:`DataError` naming ``path`` for a missing, empty, binary,
    truncated or unparsable file, for a header with no rows, and for
    duplicated column names. A file separated by ``;`` or tabs (as
    spreadsheets export) is read with that separator; undecodable bytes are
    replaced rather than fatal (text columns are not used as numbers).
    """
    path = Path(path)
    _check_readable(path)
    head = _peek_text(path)
    if not head.strip():
        raise DataError(f"{path}: file is empty")
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file, not a CSV text file")
    first_line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    sep = _guess_delimiter(first_line)
    decimal = _guess_decimal(head, sep)
    header = [c.strip().lstrip("\ufeff") for c in first_line.rstrip("\r").split(sep)]
    dupes = sorted({c for c in header if c and header.count(c) > 1})
    if dupes:
        raise DataError(f"{path}: duplicated column name(s): {', '.join(dupes)}")
    try:
        df = pd.read_csv(
            path,
            sep=sep,
            compression="infer",
            encoding="utf-8-sig",
            encoding_errors="replace",
            decimal=decimal,
            low_memory=False,
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty") from exc
    except (pd.errors.ParserError, UnicodeError, ValueError) as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file, it may be truncated ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise DataError(f"{path}: has a header but no data rows")
    df.attrs["delimiter"] = sep
    df.attrs["decimal"] = decimal
    return df


# --------------------------------------------------------------------------- schema

#: Columns of the Kaggle 114k "Spotify Tracks Dataset" (``dataset.csv``), after
#: its unnamed index column; it has no release date.
SPOTIFY_TRACKS_COLUMNS: tuple[str, ...] = (
    "track_id",
    "artists",
    "album_name",
    "track_name",
    "popularity",
    "duration_ms",
    "explicit",
    *AUDIO_COLUMNS,
    "time_signature",
    "track_genre",
)

#: Columns of a Spotify Web API playlist export (the 30k ``spotify_songs.csv``).
PLAYLIST_COLUMNS: tuple[str, ...] = (
    "track_id",
    "track_name",
    "track_artist",
    "track_popularity",
    "track_album_id",
    "track_album_name",
    "track_album_release_date",
    "playlist_name",
    "playlist_id",
    "playlist_genre",
    "playlist_subgenre",
    *AUDIO_COLUMNS,
    "duration_ms",
)

#: Columns the feature stage may one-hot encode where a file has them.
CATEGORICAL_COLUMNS: tuple[str, ...] = ("genre", "subgenre")


@dataclass(frozen=True)
class Schema:
    """A public Spotify CSV shape, recognised by exact column names.

    A file is of this schema when it has every column in ``identified_by``
    (never the target, so a file of tracks to predict is recognised too).
    Its columns are then renamed to the package's names (those of the 600k
    ``tracks.csv``) by ``renames`` and the columns in ``drops`` are removed.
    """

    name: str
    title: str
    identified_by: frozenset[str]
    renames: dict[str, str] = field(default_factory=dict)
    drops: tuple[str, ...] = ()


#: The alias table, checked in this order; no fuzzy matching.
SCHEMAS: tuple[Schema, ...] = (
    Schema("data", "Kaggle 170k data.csv (1921-2020)", frozenset(DATA_COLUMNS)),
    Schema("tracks", "Kaggle 600k tracks.csv (1921-2020)", frozenset(TRACKS_COLUMNS)),
    Schema(
        "spotify-tracks",
        "Kaggle 114k Spotify Tracks Dataset (dataset.csv)",
        frozenset({"track_id", "track_name", "album_name", "track_genre"}),
        renames={"track_id": "id", "track_name": "name", "track_genre": "genre"},
        drops=("Unnamed: 0",),
    ),
    Schema(
        "playlist",
        "Spotify Web API playlist export (spotify_songs.csv)",
        frozenset({"track_name", "track_artist", "track_album_release_date"}),
        renames={
            "track_id": "id",
            "track_name": "name",
            "track_artist": "artists",
            "track_popularity": "popularity",
            "track_album_release_date": "release_date",
            "playlist_genre": "genre",
            "playlist_subgenre": "subgenre",
        },
    ),
)


def detect_schema(columns: Sequence[str]) -> str:
    """The name of the first :data:`SCHEMAS` entry the columns match, or ``"custom"``."""
    cols = set(columns)
    for schema in SCHEMAS:
        if schema.identified_by <= cols:
            return schema.name
    return "custom"


def apply_schema(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rename a recognised schema's columns to the package's names (a new frame)."""
    name = detect_schema(df.columns)
    schema = next((s for s in SCHEMAS if s.name == name), None)
    if schema is None:
        return df
    renames = {old: new for old, new in schema.renames.items() if old in df.columns}
    clashes = sorted(new for new in renames.values() if new in df.columns)
    if clashes:
        raise DataError(
            f"{source}: looks like a {schema.title} file but also has column(s) "
            f"{', '.join(clashes)}; ambiguous, rename one of them"
        )
    drops = [c for c in schema.drops if c in df.columns]
    return df.drop(columns=drops).rename(columns=renames)


def year_from_release_date(release_date: pd.Series) -> pd.Series:
    """Release year from ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` strings.

    Formats may be mixed in one column; anything else (garbage, empty,
    impossible months or days) becomes NaN, never an exception.

    >>> year_from_release_date(pd.Series(["1999", "2001-07", "2010-12-31", "soon"])).tolist()
    [1999.0, 2001.0, 2010.0, nan]
    """
    if pd.api.types.is_numeric_dtype(release_date):
        years = pd.to_numeric(release_date, errors="coerce").astype("float64")
        return years.where(np.isfinite(years) & (years == np.floor(years)))
    parts = (
        release_date.astype("string")
        .str.strip()
        .str.extract(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
    )
    year = pd.to_numeric(parts[0], errors="coerce").astype("float64")
    month = pd.to_numeric(parts[1], errors="coerce").astype("float64")
    day = pd.to_numeric(parts[2], errors="coerce").astype("float64")
    bad = (month.notna() & ~month.between(1, 12)) | (day.notna() & ~day.between(1, 31))
    return year.mask(bad)


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


def tracks_from_frame(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> pd.DataFrame:
    """Check and complete a raw tracks frame (already read from ``source``).

    Renames a recognised schema's columns (:data:`SCHEMAS`), adds ``year``
    from ``release_date`` where the frame has no ``year`` (where both exist
    ``year`` is kept), and adds the derived features ``features`` asks for.

    Every column ``features`` needs must be there (a missing one is an error
    listing them all), except for the features in ``optional``: one of those
    whose input is missing is left out, and ``attrs["left_out"]`` maps each
    missing input to the features it took with it. ``target`` must be there,
    or the error lists the columns found. ``categoricals`` are kept where
    present.

    The result carries ``attrs``: ``source``, ``schema``, ``features`` (those
    kept, in order), ``left_out`` and ``categoricals`` (those present).
    """
    attrs = dict(df.attrs)
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    schema = detect_schema(df.columns)
    df = apply_schema(df, source)
    if target is not None and target not in df.columns and target != TARGET:
        found = ", ".join(map(str, df.columns))
        raise DataError(f"{source}: no target column {target!r} (columns found: {found})")
    if "year" not in df.columns and "release_date" in df.columns:
        df["year"] = year_from_release_date(df["release_date"])
    available = set(df.columns)
    kept: list[str] = []
    left_out: dict[str, list[str]] = {}
    required_missing: list[str] = []
    for feature in features:
        if feature == target:
            left_out.setdefault(f"{feature} (it is the target)", []).append(feature)
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
    df = add_derived_features(df, [f for f in kept if f in DERIVED_FEATURES])
    present = [c for c in categoricals if c in df.columns and c != target]
    df.attrs.update(attrs)
    df.attrs["source"] = source
    df.attrs["schema"] = schema
    df.attrs["features"] = kept
    df.attrs["left_out"] = left_out
    df.attrs["categoricals"] = present
    return df


def describe_left_out(left_out: dict[str, list[str]]) -> list[str]:
    """One report line per missing input: ``left out: a, b (c not in this file)``."""
    lines = []
    for missing, features in left_out.items():
        if features == [missing]:
            lines.append(f"left out: {missing} (not in this file)")
        elif missing.endswith("(it is the target)"):
            lines.append(f"left out: {missing}")
        else:
            lines.append(f"left out: {', '.join(features)} ({missing} not in this file)")
    return lines


def load_tracks(
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
    optional: Collection[str] = (),
    categoricals: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a Spotify CSV (plain or ``.csv.gz``) of any schema in :data:`SCHEMAS`.

    The schema is detected from the column names. ``target=None`` accepts
    files without a target column, e.g. tracks to predict. Features in
    ``optional`` are left out where the file cannot provide them (see
    :func:`tracks_from_frame`).
    Values are left raw here; :func:`clean` coerces and filters them.
    """
    return tracks_from_frame(
        read_csv(path),
        source=str(path),
        features=features,
        target=target,
        optional=optional,
        categoricals=categoricals,
    )


# --------------------------------------------------------------------------- cleaning


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
    """``pd.to_numeric(errors="coerce")``, also reading ``True``/``False`` as 1/0."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    if pd.api.types.is_numeric_dtype(column):  # already numbers: only inf → NaN, in NumPy
        values = column.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        values[~np.isfinite(values)] = np.nan
        return pd.Series(values, index=column.index, name=column.name)
    lowered = column.astype("string").str.strip().str.lower()
    column = lowered.replace({"true": "1", "false": "0"})
    values = pd.to_numeric(column, errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


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
) -> tuple[pd.DataFrame, CleaningReport]:
    """Coerce ``features`` and ``target`` to numbers; drop rows that cannot be used.

    A value that is absent, not a number, or infinite makes its row unusable;
    so does a value outside :data:`VALUE_RANGES`. With ``labels`` the target
    is a class label: kept as it is (any type), and only a row whose label
    is absent or blank is dropped. Returns the kept rows (index reset, the
    selected columns as float64, other columns untouched) and a
    :class:`CleaningReport`. Raises :class:`DataError` when no row is left.
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
        if blank.all():
            raise DataError(f"{source}: the target column {target!r} has no labels (all empty)")
        if blank.any():
            missing[target] = int(blank.sum())
        keep &= ~blank
    for col in columns:
        values = to_number(out[col])
        if len(values) and values.isna().all():
            derived = col == "year" and "release_date" in df and df[col].isna().all()
            raw = df["release_date"] if derived else df[col]
            example = next((v for v in raw if not _is_blank(v)), None)
            what = f"e.g. {str(example)[:40]!r}" if example is not None else "all empty"
            origin = " (from release_date)" if derived else ""
            raise DataError(f"{source}: column {col!r}{origin} has no usable numbers ({what})")
        out[col] = values
        numbers = values.to_numpy()
        absent = np.isnan(numbers)
        if absent.any():
            missing[col] = int(absent.sum())
        low, high = VALUE_RANGES.get(col, (None, None))
        outside = np.zeros(len(out), dtype=bool)
        with np.errstate(invalid="ignore"):
            if low is not None:
                outside |= numbers < low
            if high is not None:
                outside |= numbers > high
        if outside.any():
            out_of_range[col] = int(outside.sum())
        keep &= ~absent & ~outside
    kept = out.loc[keep].reset_index(drop=True)
    kept.attrs = dict(df.attrs)
    report = CleaningReport(source, len(df), len(kept), missing, out_of_range)
    if len(kept) == 0:
        raise DataError(
            f"{source}: no usable rows left after cleaning {len(df):,} row(s) ({report.reasons()})"
        )
    return kept, report
