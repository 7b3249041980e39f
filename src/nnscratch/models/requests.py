"""What a served model reads from a request (``nnscratch serve``), checked.

A table model takes rows in JSON or a CSV body; a digits model pixels in JSON
(or a PNG, read by :func:`~nnscratch.data.images.png_pixels`). Every problem is
a :class:`~nnscratch.errors.RequestError`: a 4xx naming the row, column or value.

JSON rows are checked strictly: one unusable row refuses the request with a
422 that names it, the column and the value. A CSV body is a file, read as
``nnscratch predict`` reads one: rows that cannot be scored are skipped and
listed with the reason. Either way the rows that remain are cleaned exactly
as a file's rows are (:func:`~nnscratch.data.cleaning.clean`).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.cleaning import VALUE_RANGES, clean, to_number
from nnscratch.data.features import DERIVED_FEATURES
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.data.reading import read_csv
from nnscratch.data.tracks import TracksFile, input_columns
from nnscratch.errors import DataError, RequestError

#: The column that keeps each request row's position through cleaning.
ROW = "__row__"


def rows_from_json(pre: Preprocessing, payload: Any, max_rows: int) -> pd.DataFrame:
    """The cleaned rows of ``{"rows": [{column: value, …}, …]}``; the first unusable
    row refuses the request (422), naming it."""
    if not isinstance(payload, dict):
        raise RequestError(422, f"the body must be a JSON object, got {type(payload).__name__}")
    rows = payload.get("rows")
    if rows is None:
        raise RequestError(422, 'missing field "rows": send {"rows": [{column: value, …}]}')
    if not isinstance(rows, list) or not rows:
        raise RequestError(422, '"rows" must be a non-empty list of objects')
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows):,} rows; the limit is {max_rows:,} per request")
    required = input_columns(pre.features)
    for r, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(422, f"row {r} must be an object of column: value")
        missing = [c for c in required if c not in row]
        if missing:
            raise RequestError(422, f"row {r}: missing {', '.join(map(repr, missing))}")
    frame = pd.DataFrame(rows)
    tracks = _tracks(pre, frame)
    cleaned = _cleaned(pre, tracks)
    if len(cleaned) < len(tracks):
        kept = set(cleaned[ROW].tolist())
        r = next(r for r in range(len(tracks)) if r not in kept)
        problem = row_problem(pre, tracks, r, set(frame.columns))
        raise RequestError(422, f"row {r}: {problem or 'cannot be scored'}")
    return cleaned


def rows_from_csv(
    pre: Preprocessing, body: bytes, max_rows: int
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The cleaned rows of a CSV body, and ``{"row", "reason"}`` for each row skipped;
    422 when no row can be scored."""
    with tempfile.TemporaryDirectory(prefix="nnscratch-serve-") as folder:
        path = Path(folder) / "body.csv"
        path.write_bytes(body)
        try:
            frame = read_csv(path)
        except DataError as exc:
            raise RequestError(422, str(exc).replace(str(path), "the CSV body")) from None
    if len(frame) > max_rows:
        raise RequestError(413, f"{len(frame):,} rows; the limit is {max_rows:,} per request")
    tracks = _tracks(pre, frame)
    cleaned = _cleaned(pre, tracks)
    kept = set(cleaned[ROW].tolist())
    given = set(frame.columns)
    skipped = [
        {"row": r, "reason": row_problem(pre, tracks, r, given)}
        for r in range(len(tracks))
        if r not in kept
    ]
    if cleaned.empty:
        first = skipped[0]
        raise RequestError(
            422, f"no row of the CSV can be scored (row {first['row']}: {first['reason']})"
        )
    return cleaned, skipped


def _tracks(pre: Preprocessing, frame: pd.DataFrame) -> pd.DataFrame:
    """The request's rows completed as a file's are (schema, year, derived features)."""
    frame = frame.copy()
    frame[ROW] = np.arange(len(frame))
    try:
        return TracksFile.from_frame(
            frame,
            source="request",
            features=pre.features,
            target=None,
            categoricals=pre.categorical_columns,
        ).frame
    except DataError as exc:
        raise RequestError(422, str(exc).removeprefix("request: ")) from None


def _cleaned(pre: Preprocessing, tracks: pd.DataFrame) -> pd.DataFrame:
    try:
        return clean(tracks, pre.features, None)[0]
    except DataError:  # no usable row at all
        return tracks.iloc[:0]


def row_problem(pre: Preprocessing, tracks: pd.DataFrame, r: int, given: set[str]) -> str:
    """What makes row ``r`` unusable ("" if nothing): the column, its value and why.
    ``given`` are the request's own columns (a derived feature names its source)."""
    for column in pre.features:
        value = _plain(tracks[column].iloc[r])
        number = to_number(pd.Series([value])).iloc[0]
        origin = _origin(column) if column not in given else None
        if origin is not None and origin in tracks:
            source = _plain(tracks[origin].iloc[r])
            if pd.isna(number):
                return f"{origin!r} = {source!r} gives no {column!r}"
            shown = f"{origin!r} = {source!r} gives {column!r} = {number:g}, which"
        else:
            shown = f"{column!r} = {value!r}"
            if isinstance(value, float) and math.isinf(value):
                return f"{shown} is not finite"
            if pd.isna(number):
                blank = _is_blank(value) and not isinstance(value, float)
                return f"{shown} {'is empty' if blank else 'is not a number'}"
        low, high = VALUE_RANGES.get(column, (None, None))
        if (low is not None and number < low) or (high is not None and number > high):
            lo = "-∞" if low is None else f"{low:g}"
            hi = "∞" if high is None else f"{high:g}"
            return f"{shown} is outside the valid range ({lo} to {hi})"
    return ""


def _plain(value: Any) -> Any:
    """A cell as a message shows it: a NumPy scalar as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


def _origin(column: str) -> str | None:
    """The raw column a derived feature comes from, for messages (None for raw ones)."""
    if column in DERIVED_FEATURES:
        return DERIVED_FEATURES[column].sources[0]
    return "release_date" if column == "year" else None


def _is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def json_values(values: np.ndarray) -> list[Any]:
    """NumPy values as JSON's (a numpy int64 or bool becomes a Python one)."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def pixels_from_json(payload: Any, image_shape: tuple[int, int], max_rows: int) -> np.ndarray:
    """``(n, rows·cols)`` pixels from ``{"pixels": [...]}`` or ``{"images": [[...], …]}``."""
    rows, cols = image_shape
    if not isinstance(payload, dict):
        raise RequestError(422, f"the body must be a JSON object, got {type(payload).__name__}")
    if "pixels" in payload:
        images, single = [payload["pixels"]], True
    elif "images" in payload:
        images, single = payload["images"], False
        if not isinstance(images, list) or not images:
            raise RequestError(422, '"images" must be a non-empty list of pixel lists')
    else:
        raise RequestError(
            422,
            f'missing field "pixels": send {{"pixels": [{rows * cols} values in 0..1]}} '
            '(or "images": a list of them), or a PNG body',
        )
    if len(images) > max_rows:
        raise RequestError(413, f"{len(images):,} images; the limit is {max_rows:,}")
    X = np.empty((len(images), rows * cols), dtype=np.float64)
    for k, image in enumerate(images):
        X[k] = _pixel_values(image, image_shape, "pixels" if single else f"images[{k}]")
    return X


def _pixel_values(image: Any, image_shape: tuple[int, int], where: str) -> np.ndarray:
    rows, cols = image_shape
    n = rows * cols
    if not isinstance(image, list):
        raise RequestError(422, f"{where} must be a list of {n} numbers")
    if len(image) != n:
        raise RequestError(
            422, f"{where} has {len(image)} values; the model reads {rows}×{cols} = {n}"
        )
    for i, v in enumerate(image):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise RequestError(422, f"{where}[{i}] is {v!r}, not a number")
        if not math.isfinite(v):
            raise RequestError(422, f"{where}[{i}] is {v}, not a finite number")
        if not 0 <= v <= 1:
            raise RequestError(422, f"{where}[{i}] is {v}, outside [0, 1]")
    return np.asarray(image, dtype=np.float64)
