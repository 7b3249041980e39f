"""Stage 1 — from a CSV to numbers the network can read.

A Spotify CSV holds text and numbers, some of them broken. This stage turns them into
matrices: `release_date` becomes a year, every feature is scaled to [0, 1] with the
minimum and maximum of the training rows only (validation and test rows must not leak
into anything the model learns), and at the network's door the one transpose turns
the user's layout, a row per sample, into the network's, a column per sample.

Docs: docs/1-data.md · notebook: notebooks/01_data.py
Check: nnscratch learn check data (or nnscratch learn watch)
"""

import numpy as np


def release_year(date: str) -> float:
    """Exercise 1.1 — release_date → year.

    The year a track came out, from its ``release_date`` text.

    "1999-05-01", "1999-05" and "1999" give 1999.0 (spaces around the text do not
    matter); anything else — empty, garbage, a month 13 — gives float("nan"): a missing
    year, never 0 and never an error.
    """
    parts = date.strip().split("-")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return float("nan")
    if len(parts[0]) != 4 or any(not 1 <= len(p) <= 2 for p in parts[1:]):
        return float("nan")
    if len(parts) > 1 and not 1 <= int(parts[1]) <= 12:
        return float("nan")
    if len(parts) > 2 and not 1 <= int(parts[2]) <= 31:
        return float("nan")
    return float(parts[0])


def minmax_scale(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exercise 1.2 — Min-Max fitted on the training rows only.

    Scale every column to [0, 1] with the training rows' minimum and maximum.

    train: (n_train, n_features) and other: (n_other, n_features), a row per sample.
    Column j becomes (x − min_j) / (max_j − min_j), min_j and max_j taken over **train
    only**; `other` (validation or test rows) is scaled with the same numbers, so it may
    fall outside [0, 1] — that is right: the model must not peek at it.
    Returns (train_scaled, other_scaled), new arrays.
    """
    low, high = train.min(axis=0), train.max(axis=0)
    width = np.where(high > low, high - low, 1.0)  # a constant column stays at 0
    return (train - low) / width, (other - low) / width


def to_network_layout(X: np.ndarray) -> np.ndarray:
    """Exercise 1.3 — the one transpose.

    The one transpose, at the network's door.

    X: (m, n), the user's layout (a row per sample, as pandas and scikit-learn hold data)
    → (n, m), the network's (a column per sample), as a new C-contiguous array: each row
    is then one feature over consecutive samples, and X itself is not shared.
    """
    return np.ascontiguousarray(X.T)
