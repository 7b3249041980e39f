"""Stage 1 — from a Spotify CSV to network-ready arrays.

The pipeline, one function per step::

    load_tracks(path)            read either Kaggle schema, derive ``year``
    clean(df, features, target)  coerce to numbers, drop unusable rows, report
    prepare(df, ...)             seeded train/val/test split, Min-Max scaling
                                 fit on the training split only
    to_network_layout(X)         (n_samples, n_features) -> (n_features, n_samples)

Users hand data around as ``(n_samples, n_features)`` like every scikit-learn
model; the network works on ``(n_features, n_samples)``. The transpose happens
in :func:`to_network_layout` and nowhere else.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from nnscratch.errors import DataError
from nnscratch.features import (
    DEFAULT_FEATURES,
    DERIVED_FEATURES,
    PiecewiseLinearEncoding,
    add_derived_features,
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


def detect_schema(columns: Sequence[str]) -> str:
    """Name the Kaggle schema a set of columns belongs to.

    Returns ``"tracks"`` (600k ``tracks.csv``), ``"data"`` (170k
    ``data.csv``) or ``"custom"`` for anything else.
    """
    cols = set(columns)
    if set(DATA_COLUMNS) <= cols:
        return "data"
    if set(TRACKS_COLUMNS) <= cols:
        return "tracks"
    return "custom"


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


def _required_raw_columns(features: Sequence[str], target: str | None) -> list[str]:
    """Raw CSV columns needed to build ``features`` (and ``target``)."""
    needed: list[str] = []
    for name in [*features, *([target] if target else [])]:
        sources = DERIVED_FEATURES[name].sources if name in DERIVED_FEATURES else (name,)
        needed.extend(s for s in sources if s not in needed)
    return needed


def tracks_from_frame(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
) -> pd.DataFrame:
    """Check and complete a raw tracks frame (already read from ``source``).

    Adds ``year`` from ``release_date`` where the frame has no ``year`` (where
    both exist ``year`` is kept), adds the derived features that ``features``
    asks for, and checks every column needed for ``features`` and ``target``
    is there, listing the missing ones. The result carries
    ``attrs["source"]`` and ``attrs["schema"]``.
    """
    attrs = dict(df.attrs)
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    schema = detect_schema(df.columns)
    if "year" not in df.columns and "release_date" in df.columns:
        df["year"] = year_from_release_date(df["release_date"])
    available = set(df.columns)
    missing = [c for c in _required_raw_columns(features, target) if c not in available]
    if "year" in missing and "release_date" not in available:
        missing[missing.index("year")] = "year (or release_date)"
    if missing:
        raise DataError(f"{source}: missing required column(s): {', '.join(missing)}")
    df = add_derived_features(df, [f for f in features if f in DERIVED_FEATURES])
    df.attrs.update(attrs)
    df.attrs["source"] = source
    df.attrs["schema"] = schema
    return df


def load_tracks(
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    target: str | None = TARGET,
) -> pd.DataFrame:
    """Read a Spotify CSV of either Kaggle schema (plain or ``.csv.gz``).

    The schema is detected from the columns (``tracks.csv`` has
    ``release_date`` and no ``year``; ``data.csv`` has both). ``target=None``
    accepts files without a ``popularity`` column, e.g. tracks to predict.
    Values are left raw here; :func:`clean` coerces and filters them.
    """
    return tracks_from_frame(read_csv(path), source=str(path), features=features, target=target)


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


def _to_number(column: pd.Series) -> pd.Series:
    """``pd.to_numeric(errors="coerce")``, also reading ``True``/``False`` as 1/0."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    if not pd.api.types.is_numeric_dtype(column):
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
) -> tuple[pd.DataFrame, CleaningReport]:
    """Coerce ``features`` and ``target`` to numbers; drop rows that cannot be used.

    A value that is absent, not a number, or infinite makes its row unusable;
    so does a value outside :data:`VALUE_RANGES`. Returns the kept rows (index
    reset, the selected columns as float64, other columns untouched) and a
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
    for col in columns:
        values = _to_number(out[col])
        if len(values) and values.isna().all():
            derived = col == "year" and "release_date" in df and df[col].isna().all()
            raw = df["release_date"] if derived else df[col]
            example = next((v for v in raw if not _is_blank(v)), None)
            what = f"e.g. {str(example)[:40]!r}" if example is not None else "all empty"
            origin = " (from release_date)" if derived else ""
            raise DataError(f"{source}: column {col!r}{origin} has no usable numbers ({what})")
        out[col] = values
        absent = values.isna().to_numpy()
        if absent.any():
            missing[col] = int(absent.sum())
        low, high = VALUE_RANGES.get(col, (None, None))
        outside = np.zeros(len(out), dtype=bool)
        if low is not None:
            outside |= (values < low).to_numpy()
        if high is not None:
            outside |= (values > high).to_numpy()
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


# --------------------------------------------------------------------------- splitting


def to_network_layout(
    X: np.ndarray, dtype: np.dtype | type = np.float32, *, out: np.ndarray | None = None
) -> np.ndarray:
    """The one transpose: ``(n_samples, n_features)`` → ``(n_features, n_samples)``.

    Returns a new C-contiguous array of ``dtype`` (never a view of ``X``),
    so every row the network reads is one feature over consecutive samples;
    or fills ``out`` (shape ``(n_features, n_samples)``) and returns it. The
    network's prediction buffers passed as ``out`` keep each row contiguous
    but space the rows a cache line wider (see ``network.batch_rows``).
    """
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array (n_samples, n_features), got shape {X.shape}")
    if out is None:
        out = np.empty((X.shape[1], X.shape[0]), dtype=dtype)
    elif out.shape != (X.shape[1], X.shape[0]):
        raise ValueError(f"out has shape {out.shape}, expected {(X.shape[1], X.shape[0])}")
    out[...] = X.T
    return out


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


@dataclass
class Preprocessing:
    """The fitted feature stage a model needs at predict time.

    Which columns feed the network (``features``, raw or derived), the
    Min-Max scalers for X and y, and optionally a piecewise-linear
    ``encoder``, all fit on the training split. Stored in the model file as
    JSON (:meth:`to_dict`), so predicting on a raw CSV reproduces exactly the
    inputs the model was trained on.
    """

    features: list[str]
    target: str
    x_scaler: MinMaxScaler
    y_scaler: MinMaxScaler
    encoder: PiecewiseLinearEncoding | None = None

    def scale(self, cleaned: pd.DataFrame, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """Min-Max scaled features ``(n_samples, n_features)`` from a cleaned frame."""
        X = cleaned[self.features].to_numpy(dtype=np.float64)
        if len(X) == 0:
            return np.empty((0, len(self.features)), dtype=dtype)
        return self.x_scaler.transform(X).astype(dtype, copy=False)

    def encode(self, X_scaled: np.ndarray) -> np.ndarray:
        """The network's inputs from scaled features (the encoder's output, if any)."""
        return X_scaled if self.encoder is None else self.encoder.transform(X_scaled)

    @property
    def n_inputs(self) -> int:
        return len(self.features) if self.encoder is None else self.encoder.n_features_out_

    def transform(self, cleaned: pd.DataFrame, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """The network's inputs ``(n_samples, n_inputs)`` from a cleaned frame."""
        return self.encode(self.scale(cleaned, dtype))

    def inverse_transform_y(self, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled targets (any shape) → original units (popularity points), float64."""
        y = np.asarray(y_scaled, dtype=np.float64)
        if y.size == 0:
            return y.copy()
        return self.y_scaler.inverse_transform(y.reshape(-1, 1)).reshape(y.shape)

    @property
    def target_range(self) -> float:
        """Width of the training target range: scaled RMSE × this = RMSE in target units."""
        return float(self.y_scaler.data_range_[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "target": self.target,
            "x_scaler": min_max_scaler_to_dict(self.x_scaler),
            "y_scaler": min_max_scaler_to_dict(self.y_scaler),
            "encoding": None if self.encoder is None else self.encoder.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessing:
        """Rebuild from :meth:`to_dict`; raises ``ValueError`` on malformed state."""
        try:
            features = [str(f) for f in state["features"]]
            x_scaler = min_max_scaler_from_dict(state["x_scaler"])
            y_scaler = min_max_scaler_from_dict(state["y_scaler"])
            target = str(state["target"])
            encoding = state.get("encoding")
            encoder = None if encoding is None else PiecewiseLinearEncoding.from_dict(encoding)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"preprocessing state is incomplete ({exc})") from exc
        if encoder is not None and len(encoder.edges_) != len(features):
            raise ValueError("preprocessing state: the encoding does not match the features")
        if x_scaler.n_features_in_ != len(features):
            raise ValueError(
                f"preprocessing state: {len(features)} features but the scaler has "
                f"{x_scaler.n_features_in_}"
            )
        return cls(features, target, x_scaler, y_scaler, encoder)


@dataclass
class PreparedData:
    """Scaled train / validation / test splits, ``(n_samples, n_features)``.

    ``x_scaler`` and ``y_scaler`` were fit on the training split only.
    ``*_index`` are row positions in the cleaned frame.
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
    y_scaler: MinMaxScaler
    report: CleaningReport
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray

    @property
    def preprocessing(self) -> Preprocessing:
        """The fitted feature stage, to save with a model."""
        return Preprocessing(list(self.feature_names), self.target, self.x_scaler, self.y_scaler)

    def inverse_transform_y(self, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled targets (any shape) → original units (popularity points), float64."""
        return self.preprocessing.inverse_transform_y(y_scaled)

    @property
    def target_range(self) -> float:
        """Width of the training target range: scaled RMSE × this = RMSE in target units."""
        return self.preprocessing.target_range

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
) -> PreparedData:
    """Clean, split and scale a tracks frame for training.

    1. :func:`clean` drops unusable rows (reported in ``.report``).
    2. With ``max_rows``, a seeded random subset of that many rows is kept.
    3. A seeded permutation splits rows into train / validation / test.
    4. Min-Max scalers for X and y are fit on the **training split only** and
       applied to all three (validation and test may fall outside [0, 1]).

    Same ``seed`` → same rows in the same splits, same bits out.
    """
    features = list(features)
    cleaned, report = clean(df, features, target)
    rng = np.random.default_rng(seed)
    if max_rows is not None and len(cleaned) > max_rows:
        rows = np.sort(rng.choice(len(cleaned), size=max_rows, replace=False))
        cleaned = cleaned.iloc[rows].reset_index(drop=True)
    train, val, test = split_indices(len(cleaned), test_size, val_size, rng, report.source)
    X_all = cleaned[features].to_numpy(dtype=np.float64)
    y_all = cleaned[[target]].to_numpy(dtype=np.float64)
    x_scaler = MinMaxScaler().fit(X_all[train])
    y_scaler = MinMaxScaler().fit(y_all[train])

    def scaled(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(rows) == 0:
            return np.empty((0, len(features)), dtype=dtype), np.empty(0, dtype=dtype)
        X = x_scaler.transform(X_all[rows]).astype(dtype)
        y = y_scaler.transform(y_all[rows]).ravel().astype(dtype)
        return X, y

    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = scaled(train), scaled(val), scaled(test)
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
    )
