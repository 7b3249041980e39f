"""Stage 1 — values to numbers, one rule for a file's columns and a request's rows.

``to_numbers`` is ``pd.to_numeric(errors="coerce")`` as the package needs it,
on any array: numbers stay (infinite ones become NaN), ``True``/``False``
(booleans or text, any case) become 1/0, text that is a plain decimal number
is read as one, and anything else (garbage, empty, missing) becomes NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def to_numbers(values: Any) -> np.ndarray:
    """A float64 copy of ``values`` (``(n,)``) with every value read as a number or NaN."""
    array = np.asarray(values)
    if array.dtype.kind == "b":
        return array.astype(np.float64)
    if array.dtype.kind in "iuf":
        out = array.astype(np.float64, copy=True)
        out[~np.isfinite(out)] = np.nan
        return out
    items = array.ravel().tolist()
    if all(type(v) is float or type(v) is int for v in items):  # JSON numbers: at once
        try:
            return to_numbers(np.array(items, dtype=np.float64))
        except OverflowError:  # an int beyond float64: one at a time, as NaN
            pass
    return np.fromiter((_number(v) for v in items), dtype=np.float64, count=len(items))


_WORDS = {"true": 1.0, "false": 0.0}


def _number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float64
            return math.nan
        return number if math.isfinite(number) else math.nan
    if value is None or not isinstance(value, str):
        text = "" if value is None else str(value)
        if text in ("", "<NA>", "nan", "None"):
            return math.nan
    else:
        text = value
    text = text.strip().lower()
    if text in _WORDS:
        return _WORDS[text]
    if not text or not text.isascii() or "_" in text:  # float() reads "1_000" and "١٢"
        return math.nan
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA: a value that is not there."""
    if value is None or type(value).__name__ == "NAType":
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)
