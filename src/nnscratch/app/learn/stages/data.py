"""Stage 1 — from a CSV to numbers: a release year, Min-Max scaling, the one transpose."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nnscratch.app.learn.checking import Answer, LearnerRaised, compare, describe_raised
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.network import to_network_layout as package_layout
from nnscratch.data.tracks import year_from_release_date

#: Dates the year check tries, with why each is there.
DATES = (
    "1999-05-01",  # a full date
    "2003",  # a year alone
    "1987-11",  # year and month
    " 2004 ",  # spaces around it
    "",  # empty
    "not a date",  # garbage
    "2001-13-01",  # a month 13
    "1921-01-01",
)


def check_release_year(answer: Answer) -> str | None:
    expected = year_from_release_date(pd.Series(DATES, dtype=object)).to_numpy(dtype=float)
    for date, want in zip(DATES, expected, strict=True):
        try:
            got = answer(date)
        except LearnerRaised as raised:
            return (
                f"release_year({date!r}) raised an error: a date without a year gives "
                f"float('nan'), never an error\n{describe_raised(raised)}"
            )
        problem = _year_problem(date, got, want)
        if problem:
            return problem
    return None


def _year_problem(date: str, got: object, want: float) -> str | None:
    if isinstance(got, str):
        return f"release_year({date!r}) returned the text {got!r}: return a number, float(...)"
    if not isinstance(got, int | float | np.integer | np.floating) or isinstance(got, bool):
        return f"release_year({date!r}) returned {got!r}; expected a float"
    got = float(got)
    if got == want or (math.isnan(got) and math.isnan(want)):
        return None
    if math.isnan(want) and got == 0:
        return (
            f"release_year({date!r}) gave 0.0: a date without a year is missing — "
            "float('nan'), never 0 (a 0 would be read as the year 0)"
        )
    if math.isnan(want) and date == "2001-13-01":
        return (
            "release_year('2001-13-01') gave a year, but there is no month 13: "
            "an impossible date is not a date (nan)"
        )
    if math.isnan(want):
        return f"release_year({date!r}) gave {got}; expected nan (there is no year in it)"
    if math.isnan(got) and date != date.strip():
        return (
            f"release_year({date!r}) gave nan: the text has spaces around the year — "
            ".strip() it first"
        )
    return f"release_year({date!r}) gave {got}; expected {want}"


def check_minmax(answer: Answer) -> str | None:
    rng = np.random.default_rng(11)
    train = rng.normal(5, 2, (60, 4)) * [1, 10, 0.1, 3]
    other = rng.normal(6, 3, (15, 4)) * [1, 10, 0.1, 3]
    low, width = train.min(axis=0), np.ptp(train, axis=0)
    result = answer(train, other)
    if not isinstance(result, tuple | list) or len(result) != 2:
        return "return both scaled arrays: (train_scaled, other_scaled)"
    got_train, got_other = result
    both = np.vstack([train, other])
    mistakes = [
        (
            "you scaled each row (one sample's features); scale each column (one feature "
            "over the samples): min and max over axis=0",
            (train - train.min(axis=1, keepdims=True)) / np.ptp(train, axis=1, keepdims=True),
        ),
        (
            "that is standardisation, (x − mean) / std; Min-Max is (x − min) / (max − min)",
            (train - train.mean(axis=0)) / train.std(axis=0),
        ),
        (
            "x / max: subtract the minimum first — (x − min) / (max − min)",
            train / train.max(axis=0),
        ),
        (
            "the min and max came from the training and the other rows together: fit on "
            "the training rows only (the model must not peek at validation data)",
            (train - both.min(axis=0)) / np.ptp(both, axis=0),
        ),
    ]
    problem = compare(
        "the scaled training rows",
        got_train,
        (train - low) / width,
        mistakes=mistakes,
        formula="(x − min) / (max − min), per column",
    )
    if problem:
        return problem
    return compare(
        "the scaled other rows",
        got_other,
        (other - low) / width,
        mistakes=[
            (
                "the other rows were scaled with their own min and max: scale them with "
                "the training rows' (so they may fall outside [0, 1], which is right)",
                (other - other.min(axis=0)) / np.ptp(other, axis=0),
            ),
            (
                "the min and max came from the training and the other rows together: fit on "
                "the training rows only (the model must not peek at validation data)",
                (other - both.min(axis=0)) / np.ptp(both, axis=0),
            ),
        ],
        formula="the training rows' min and max",
    )


def check_layout(answer: Answer) -> str | None:
    X = np.random.default_rng(12).normal(size=(7, 3))  # m = 7 samples, n = 3 features
    got = answer(X)
    expected = package_layout(X, np.float64)
    problem = compare(
        "the network-layout array",
        got,
        expected,
        mistakes=[
            (
                "reshape keeps the numbers in memory order and refolds them, so samples get "
                "mixed: transpose instead (X.T)",
                X.reshape(3, 7),
            ),
            ("that is X as it was, (m, n): transpose it to (n, m)", X),
        ],
    )
    if problem:
        return problem
    if answer.shares_memory(got):
        return (
            "that is a view of X (X.T shares X's memory): a later write to one changes the "
            "other; make a new array with np.ascontiguousarray(X.T)"
        )
    if not got.flags["C_CONTIGUOUS"]:
        return (
            "the values are right but the array is not C-contiguous (each row one feature "
            "over consecutive samples): np.ascontiguousarray(X.T)"
        )
    return None


STAGE = Stage(
    number=1,
    name="data",
    title="from a CSV to numbers",
    intro="""Stage 1 — from a CSV to numbers the network can read.

A Spotify CSV holds text and numbers, some of them broken. This stage turns them into
matrices: `release_date` becomes a year, every feature is scaled to [0, 1] with the
minimum and maximum of the training rows only (validation and test rows must not leak
into anything the model learns), and at the network's door the one transpose turns
the user's layout, a row per sample, into the network's, a column per sample.""",
    imports=("import numpy as np",),
    exercises=(
        Exercise(
            "1.1",
            "release_year",
            "release_date → year",
            "(date: str) -> float",
            """The year a track came out, from its ``release_date`` text.

"1999-05-01", "1999-05" and "1999" give 1999.0 (spaces around the text do not
matter); anything else — empty, garbage, a month 13 — gives float("nan"): a missing
year, never 0 and never an error.""",
            check_release_year,
        ),
        Exercise(
            "1.2",
            "minmax_scale",
            "Min-Max fitted on the training rows only",
            "(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]",
            """Scale every column to [0, 1] with the training rows' minimum and maximum.

train: (n_train, n_features) and other: (n_other, n_features), a row per sample.
Column j becomes (x − min_j) / (max_j − min_j), min_j and max_j taken over **train
only**; `other` (validation or test rows) is scaled with the same numbers, so it may
fall outside [0, 1] — that is right: the model must not peek at it.
Returns (train_scaled, other_scaled), new arrays.""",
            check_minmax,
            shapes="train (n_train, n_features), other (n_other, n_features)",
        ),
        Exercise(
            "1.3",
            "to_network_layout",
            "the one transpose",
            "(X: np.ndarray) -> np.ndarray",
            """The one transpose, at the network's door.

X: (m, n), the user's layout (a row per sample, as pandas and scikit-learn hold data)
→ (n, m), the network's (a column per sample), as a new C-contiguous array: each row
is then one feature over consecutive samples, and X itself is not shared.""",
            check_layout,
            shapes="X (m, n) → (n, m)",
        ),
    ),
    docs="1-data.md",
)
