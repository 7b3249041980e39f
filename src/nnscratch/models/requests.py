"""What a served model reads from a request (``nnscratch serve``), checked.

A table model takes rows in JSON or a CSV body; a digits model pixels in JSON
(or a PNG, read by :func:`~nnscratch.data.images.png_pixels`). Every problem is
a :class:`~nnscratch.errors.RequestError`: a 4xx naming the row, column or value.

JSON rows never touch pandas: they become one array per column and go through
the same functions as a file's columns — the schema's names, ``year`` from the
release date, the derived features, the reading of numbers, the value ranges,
the scaling and encoding (:meth:`~nnscratch.data.preprocessing.Preprocessing.scale_arrays`)
— so a row gets the numbers it would get in a file. They are checked strictly:
one unusable row refuses the request with a 422 that names it, the column and
the value. A CSV body is a file, read as ``nnscratch predict`` reads one (with
pandas): rows that cannot be scored are skipped and listed with the reason.
"""

from __future__ import annotations

import functools
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnscratch.data.cleaning import VALUE_RANGES, clean, outside_range, range_bounds
from nnscratch.data.features import DERIVED_FEATURES, Columns, derived_columns
from nnscratch.data.numbers import is_missing, to_numbers
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.data.reading import read_csv
from nnscratch.data.schemas import schema_of
from nnscratch.data.tracks import TracksFile, input_columns, years_from_dates
from nnscratch.errors import DataError, RequestError

#: The column that keeps each request row's position through cleaning.
ROW = "__row__"
#: The most columns a CSV body may have (a header of 50,000 names is refused at once).
MAX_CSV_COLUMNS = 1000
#: Columns whose values are whole numbers (a slider steps by 1).
_WHOLE = {"key", "mode", "explicit", "time_signature", "year", "duration_ms"}
#: What a text input starts with on the served page.
_TEXT_DEFAULTS = {"release_date": "2015-06-01", "name": "Untitled", "artists": "['Unknown']"}
#: How far outside its training range a request's value may lie, in widths of that range
#: (its Min-Max scaled value within ``[-FAR_OUTSIDE_TRAINING, 1 + FAR_OUTSIDE_TRAINING]``):
#: the network has learned nothing out there, and further out its float32 products
#: overflow (a ``tempo`` of 1e300 gave no finite prediction, and the server a 500).
FAR_OUTSIDE_TRAINING = 1e6


@dataclass
class TableRows:
    """A request's usable rows: the scaled features (``X_scaled``, the network's inputs
    before the encoding), their positions in the request, their ids where given."""

    X_scaled: np.ndarray
    positions: list[int]
    ids: list[str] | None
    skipped: list[dict[str, Any]]


def row_inputs(pre: Preprocessing) -> list[dict[str, Any]]:
    """What a request's row needs (``GET /model``, the page's inputs): one entry per raw
    column; for a number its training range and a typical value (about the training median
    where the model has the piecewise-linear encoding's quantile edges, else the middle of
    the range)."""
    out: list[dict[str, Any]] = []
    for column in input_columns(pre.features):
        if column in pre.features and column not in DERIVED_FEATURES:
            out.append(_number_input(pre, column))
        else:
            out.append({"name": column, "kind": "text", "default": _TEXT_DEFAULTS.get(column, "")})
    for category in pre.categories:
        out.append(
            {
                "name": category.column,
                "kind": "category",
                "levels": [str(level) for level in category.levels_],
                "default": str(category.levels_[0]) if len(category.levels_) else "",
            }
        )
    return out


def _number_input(pre: Preprocessing, column: str) -> dict[str, Any]:
    i = pre.features.index(column)
    low, high = float(pre.x_scaler.data_min_[i]), float(pre.x_scaler.data_max_[i])
    whole = column in _WHOLE
    middle = (low + high) / 2
    if pre.encoder is not None:  # the middle quantile edge: about the median
        edges = pre.encoder.edges_[i]
        middle = low + float(edges[(len(edges) - 1) // 2]) * (high - low)
    return {
        "name": column,
        "kind": "number",
        "min": low,
        "max": high,
        "step": 1 if whole else (high - low) / 100 or 1,
        "default": round(middle) if whole else middle,
    }


def rows_from_json(pre: Preprocessing, payload: Any, max_rows: int) -> TableRows:
    """The rows of ``{"rows": [{column: value, …}, …]}``, or of the list of records alone
    (what ``DataFrame.to_json(orient="records")`` writes), every one usable, or a 4xx
    naming the first that is not."""
    rows = _rows(payload, max_rows)
    names = _names(rows)
    renamed = _renaming(tuple(names))
    _refuse_missing(rows, names, renamed, input_columns(pre.features))
    original = {new: old for old, new in renamed.items()}
    plain = _plain_numbers(pre, rows, original)
    read, sources = _columns_read(tuple(pre.features), tuple(c.column for c in pre.categories))
    raw = {
        new: _column(rows, old)
        for new, old in original.items()
        if new in read and (new not in plain or new in sources)
    }
    columns = _completed(pre, raw)
    X = np.column_stack([plain[f] if f in plain else columns[f] for f in pre.features])
    X = to_numbers(X.ravel()).reshape(X.shape) if X.dtype != np.float64 else X
    X[~np.isfinite(X)] = np.nan
    r = _first_unusable(pre, X)
    if r is not None:  # the message shows the row's own values
        columns = {f: _column(rows, original[f]) for f in plain} | columns
        numbers = {f: X[:, j] for j, f in enumerate(pre.features)}
        problem = row_problem(pre, columns, numbers, r, set(original))
        raise RequestError(422, f"row {r}: {problem or 'cannot be scored'}")
    categorical = {c.column: columns.get(c.column, _nones(len(rows))) for c in pre.categories}
    ids = [str(v) for v in columns["id"]] if "id" in columns else None
    return TableRows(pre.scale_arrays(X, categorical), list(range(len(rows))), ids, [])


def rows_from_json_many(
    pre: Preprocessing, payloads: list[Any], max_rows: int
) -> list[TableRows | RequestError]:
    """:func:`rows_from_json` for many bodies at once (a server's waiting requests), each
    body's result or its own error, exactly as if it came alone.

    Bodies whose rows all give the same columns are read as one request: one pass of
    the checks, ``year`` and the derived features, the scaling — the per-request costs
    paid once (a body of 1–5 rows spends most of its time there). Every step works row
    by row, so each row gets the same bits. A group with any problem is read again
    body by body, so the error names the body's own row and only that body gets it."""
    results: list[TableRows | RequestError | None] = [None] * len(payloads)
    groups: dict[frozenset[Any], list[int]] = {}
    for b, payload in enumerate(payloads):
        key = _uniform_keys(payload, max_rows)
        if key is not None:
            groups.setdefault(key, []).append(b)
    for members in groups.values():
        if len(members) < 2:
            continue
        rows = [row for b in members for row in _records(payloads[b])]
        try:
            together = rows_from_json(pre, rows, len(rows))
        except RequestError:
            continue  # read body by body below: each gets its own answer
        start = 0
        for b in members:
            stop = start + len(_records(payloads[b]))
            ids = together.ids[start:stop] if together.ids is not None else None
            results[b] = TableRows(
                together.X_scaled[start:stop], list(range(stop - start)), ids, []
            )
            start = stop
    for b, payload in enumerate(payloads):
        if results[b] is None:
            try:
                results[b] = rows_from_json(pre, payload, max_rows)
            except RequestError as exc:
                results[b] = exc
    return results  # type: ignore[return-value]


def _uniform_keys(payload: Any, max_rows: int) -> frozenset[Any] | None:
    """The column names of a well-formed body whose rows all give the same ones, else
    None (a body read on its own)."""
    rows = _records(payload)
    if type(rows) is not list or not rows or len(rows) > max_rows or type(rows[0]) is not dict:
        return None
    keys = rows[0].keys()
    if all(type(r) is dict and r.keys() == keys for r in rows):
        return frozenset(keys)
    return None


def _names(rows: list[Any]) -> list[str]:
    """Every column name the rows give, in order of first appearance (422 for a row that
    is not an object)."""
    first = rows[0]
    if isinstance(first, dict) and all(type(r) is dict and r.keys() == first.keys() for r in rows):
        return [str(k).strip() for k in first]  # the usual request: every row alike
    for r, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(422, f"row {r} must be an object of column: value")
    return list(dict.fromkeys(str(k).strip() for row in rows for k in row))


@functools.lru_cache(maxsize=64)
def _renaming(names: tuple[str, ...]) -> dict[str, str]:
    """Each name renamed from a recognised schema's to the package's (422 where a row
    has both names of one column)."""
    schema = schema_of(names)
    renamed = {name: schema.package_name(name) for name in names}
    clashes = sorted(new for old, new in renamed.items() if old != new and new in names)
    if clashes:
        raise RequestError(
            422,
            f"the rows look like a {schema.title} file but also have column(s) "
            f"{', '.join(clashes)}; ambiguous, rename one of them",
        )
    return renamed


def _refuse_missing(
    rows: list[dict[str, Any]], names: list[str], renamed: dict[str, str], required: list[str]
) -> None:
    """A 422 naming the first row without a column the model reads."""
    present = {renamed[n] for n in names}
    if all(c in present for c in required) and all(len(row) == len(names) for row in rows):
        return  # every row gives every name (the keys were compared in _names)
    for r, row in enumerate(rows):
        given = {renamed[str(k).strip()] for k in row}
        missing = [c for c in required if c not in given]
        if missing:
            raise RequestError(422, f"row {r}: missing {', '.join(map(repr, missing))}")


@functools.lru_cache(maxsize=16)
def _columns_read(
    features: tuple[str, ...], categories: tuple[str, ...]
) -> tuple[frozenset[str], frozenset[str]]:
    """The request columns a model reads (its inputs, ``id``; the others are ignored),
    and those among them that other features are computed from."""
    sources = {s for f in features if f in DERIVED_FEATURES for s in DERIVED_FEATURES[f].sources}
    read = {*input_columns(features), *features, *categories, "year", "id"}
    return frozenset(read), frozenset({*sources, "release_date"})


def _column(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    values = np.empty(len(rows), dtype=object)
    values[:] = [row.get(name) for row in rows]
    return values


def _plain_numbers(
    pre: Preprocessing, rows: list[dict[str, Any]], original: dict[str, str]
) -> dict[str, np.ndarray]:
    """The raw features by name as float64 columns, read at once where every row gives
    a plain JSON number for every one of them (the usual request); else none."""
    wanted = [f for f in pre.features if f not in DERIVED_FEATURES and f in original]
    keys = [original[f] for f in wanted]
    values = [row.get(key) for row in rows for key in keys]
    if not all(type(v) is float or type(v) is int for v in values):
        return {}  # text, booleans, nulls: each column through to_numbers
    try:
        matrix = np.array(values, dtype=np.float64).reshape(len(rows), len(keys))
    except OverflowError:  # an integer beyond float64
        return {}
    return {f: matrix[:, j] for j, f in enumerate(wanted)}


def rows_from_features(
    pre: Preprocessing, X: np.ndarray, categorical: dict[str, np.ndarray], max_rows: int
) -> TableRows:
    """Rows given as the model's features ``X`` ``(n, len(features))`` (numbers, in the
    model's order) and each categorical column's values: checked as a file's rows are."""
    if X.ndim != 2 or X.shape[1] != len(pre.features):
        raise RequestError(
            400,
            f"features must be (rows, {len(pre.features)}): {', '.join(pre.features)}; "
            f"got shape {list(X.shape)}",
        )
    if len(X) > max_rows:
        raise RequestError(413, f"{len(X):,} rows; the limit is {max_rows:,} per request")
    numbers = {f: to_numbers(X[:, j]) for j, f in enumerate(pre.features)}
    matrix = np.column_stack([numbers[f] for f in pre.features])
    r = _first_unusable(pre, matrix)
    if r is not None:
        problem = row_problem(pre, numbers, numbers, r, set(pre.features))
        raise RequestError(422, f"row {r}: {problem or 'cannot be scored'}")
    categories = {c.column: categorical.get(c.column, _nones(len(X))) for c in pre.categories}
    return TableRows(pre.scale_arrays(matrix, categories), list(range(len(X))), None, [])


def value_bounds(pre: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value a request may give each feature (read-only float64
    arrays in the order of ``pre.features``): its valid range (:data:`VALUE_RANGES`),
    within :data:`FAR_OUTSIDE_TRAINING` widths of its training range. Computed once a
    model (every request asks)."""
    scaler = pre.x_scaler  # scaled = x · scale_ + min_, with scale_ > 0
    return _bounds(tuple(pre.features), scaler.min_.tobytes(), scaler.scale_.tobytes())


@functools.lru_cache(maxsize=16)
def _bounds(features: tuple[str, ...], offset: bytes, scale: bytes) -> tuple[np.ndarray, ...]:
    low, high = range_bounds(features)
    min_, scale_ = np.frombuffer(offset), np.frombuffer(scale)
    far_low = (-FAR_OUTSIDE_TRAINING - min_) / scale_
    far_high = (1 + FAR_OUTSIDE_TRAINING - min_) / scale_
    bounds = np.maximum(low, far_low), np.minimum(high, far_high)
    for array in bounds:
        array.flags.writeable = False
    return bounds


def _first_unusable(pre: Preprocessing, X: np.ndarray) -> int | None:
    """The first row of ``X`` (the features as numbers) with a missing, non-numeric or
    out-of-range value (:func:`value_bounds`), or None."""
    low, high = value_bounds(pre)
    with np.errstate(invalid="ignore"):
        unusable = (np.isnan(X) | (low > X) | (high < X)).any(axis=1)
    return int(np.argmax(unusable)) if unusable.any() else None


def _records(payload: Any) -> Any:
    """A body's list of records: the body itself, or its ``"rows"`` (None if neither)."""
    if type(payload) is list:
        return payload
    return payload.get("rows") if type(payload) is dict else None


def _rows(payload: Any, max_rows: int) -> list[Any]:
    if not isinstance(payload, dict | list):
        raise RequestError(
            422, f"the body must be a JSON object or list of records, got {type(payload).__name__}"
        )
    if isinstance(payload, list):
        rows = payload
        if not rows:
            raise RequestError(422, "the list of records is empty")
    else:
        rows = payload.get("rows")
        if rows is None:
            raise RequestError(
                422, 'missing field "rows": send {"rows": [{column: value, …}]} or the list alone'
            )
    if not isinstance(rows, list) or not rows:
        raise RequestError(422, '"rows" must be a non-empty list of objects')
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows):,} rows; the limit is {max_rows:,} per request")
    return rows


def _nones(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _completed(pre: Preprocessing, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``columns`` with ``year`` from ``release_date`` where needed, and every derived
    feature the model reads: what :class:`~nnscratch.data.tracks.TracksFile` adds to a file."""
    out = dict(columns)
    if "year" in pre.features and "year" not in out and "release_date" in out:
        out["year"] = years_from_dates(out["release_date"])
    out.update(derived_columns(out, [f for f in pre.features if f in DERIVED_FEATURES]))
    return out


def row_problem(
    pre: Preprocessing,
    columns: Columns,
    numbers: dict[str, np.ndarray],
    r: int,
    given: set[str],
) -> str:
    """What makes row ``r`` unusable ("" if nothing): the column, its value and why.
    ``numbers`` are the features read as numbers; ``given`` the request's own columns
    (a derived feature names its source)."""
    low, high = value_bounds(pre)
    for j, column in enumerate(pre.features):
        value, number = _plain(columns[column][r]), float(numbers[column][r])
        origin = _origin(column) if column not in given else None
        if origin is not None and origin in columns:
            source = _plain(columns[origin][r])
            if math.isnan(number):
                return f"{origin!r} = {source!r} gives no {column!r}"
            shown = f"{origin!r} = {source!r} gives {column!r} = {number:g}, which"
        else:
            shown = f"{column!r} = {value!r}"
            if isinstance(value, float) and math.isinf(value):
                return f"{shown} is not finite"
            if math.isnan(number):
                blank = _is_blank(value) and not isinstance(value, float)
                return f"{shown} {'is empty' if blank else 'is not a number'}"
        if outside_range(column, np.array([number]))[0]:
            low, high = VALUE_RANGES.get(column, (None, None))
            lo = "-∞" if low is None else f"{low:g}"
            hi = "∞" if high is None else f"{high:g}"
            return f"{shown} is outside the valid range ({lo} to {hi})"
        if not low[j] <= number <= high[j]:
            seen = f"{pre.x_scaler.data_min_[j]:g} to {pre.x_scaler.data_max_[j]:g}"
            return f"{shown} is too far outside the training range ({seen}) for the network"
    return ""


def rows_from_csv(pre: Preprocessing, body: bytes, max_rows: int) -> TableRows:
    """The usable rows of a CSV body, and ``{"row", "reason"}`` for each row skipped;
    422 when no row can be scored."""
    _check_header(body)
    with tempfile.TemporaryDirectory(prefix="nnscratch-serve-") as folder:
        path = Path(folder) / "body.csv"
        path.write_bytes(body)
        try:
            frame = read_csv(path)
        except DataError as exc:
            raise RequestError(422, str(exc).replace(str(path), "the CSV body")) from None
    if len(frame) > max_rows:
        raise RequestError(413, f"{len(frame):,} rows; the limit is {max_rows:,} per request")
    frame[ROW] = np.arange(len(frame))
    try:
        tracks = TracksFile.from_frame(
            frame,
            source="request",
            features=pre.features,
            target=None,
            categoricals=pre.categorical_columns,
        ).frame
    except DataError as exc:
        raise RequestError(422, str(exc).removeprefix("request: ")) from None
    try:
        cleaned = clean(tracks, pre.features, None)[0]
    except DataError:  # no usable row at all
        cleaned = tracks.iloc[:0]
    low, high = value_bounds(pre)
    values = cleaned[pre.features].to_numpy(dtype=np.float64)
    within = (low <= values) & (values <= high)  # VALUE_RANGES already; not too far out
    cleaned = cleaned[within.all(axis=1)]
    kept = set(cleaned[ROW].tolist())
    columns = {c: tracks[c].to_numpy() for c in tracks.columns}
    numbers = {f: to_numbers(columns[f]) for f in pre.features}
    skipped = [
        {"row": r, "reason": row_problem(pre, columns, numbers, r, set(frame.columns))}
        for r in range(len(tracks))
        if r not in kept
    ]
    if cleaned.empty:
        first = skipped[0]
        raise RequestError(
            422, f"no row of the CSV can be scored (row {first['row']}: {first['reason']})"
        )
    ids = cleaned["id"].astype("string").tolist() if "id" in cleaned else None
    return TableRows(pre.scale(cleaned), cleaned[ROW].tolist(), ids, skipped)


def _check_header(body: bytes) -> None:
    """A CSV body's header, counted before pandas reads it: at most
    :data:`MAX_CSV_COLUMNS` names (``,``, ``;`` or tab separated)."""
    header = body.split(b"\n", 1)[0]
    count = 1 + max(header.count(b","), header.count(b";"), header.count(b"\t"))
    if count > MAX_CSV_COLUMNS:
        raise RequestError(
            422, f"the CSV body has {count:,} columns; the limit is {MAX_CSV_COLUMNS:,}"
        )


def _plain(value: Any) -> Any:
    """A cell as a message shows it: a NumPy scalar as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


def _origin(column: str) -> str | None:
    """The raw column a derived feature comes from, for messages (None for raw ones)."""
    if column in DERIVED_FEATURES:
        return DERIVED_FEATURES[column].sources[0]
    return "release_date" if column == "year" else None


def _is_blank(value: object) -> bool:
    return is_missing(value) or (isinstance(value, str) and not value.strip())


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


def _shown(value: float) -> str:
    """``value`` for a message; an integer too long to print whole by its size instead."""
    if isinstance(value, int) and abs(value) >= 10**20:
        return f"an integer of about {int(abs(value).bit_length() * math.log10(2)) + 1:,} digits"
    return repr(value)


def _pixel_values(image: Any, image_shape: tuple[int, int], where: str) -> np.ndarray:
    rows, cols = image_shape
    n = rows * cols
    if not isinstance(image, list):
        raise RequestError(422, f"{where} must be a list of {n} numbers")
    if len(image) != n:
        raise RequestError(
            422, f"{where} has {len(image)} values; the model reads {rows}×{cols} = {n}"
        )
    if set(map(type, image)) <= {int, float}:  # the usual body: plain JSON numbers
        try:
            values = np.asarray(image, dtype=np.float64)
        except OverflowError:  # an integer beyond float64; the loop below names it
            values = None
        if values is not None and ((values >= 0) & (values <= 1)).all():
            return values  # NaN and ±inf fail the range test and take the loop below
    for i, v in enumerate(image):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise RequestError(422, f"{where}[{i}] is {v!r}, not a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise RequestError(422, f"{where}[{i}] is {v}, not a finite number")
        if not 0 <= v <= 1:
            raise RequestError(422, f"{where}[{i}] is {_shown(v)}, outside [0, 1]")
    return np.asarray(image, dtype=np.float64)
