"""A built-in, clearly labelled **synthetic** sample in the ``tracks.csv`` schema.

It lets a new user run the whole pipeline offline. Nothing in it is real:
audio features are drawn from plausible ranges, and ``popularity`` is a noisy,
non-linear function of year and audio features, so there is something to
learn. A few junk values (unparsable dates, text in number columns, missing
values) give the cleaning step work to do, as real exports do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnscratch.data.schemas import TRACKS_COLUMNS

#: The label every output shows when it ran on this sample.
SYNTHETIC_LABEL = "built-in synthetic sample (not real Spotify data)"

_WORDS = (
    "love night heart baby dance fire summer blue dream light time rain home road "
    "girl boy song star moon sky gold city wild young forever remaster live feat chapter"
).split()
_ID_ALPHABET_BYTES = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 22-character base-62 ids, as Spotify's."""
    codes = np.frombuffer(_ID_ALPHABET_BYTES, dtype=np.uint8)[rng.integers(0, 62, size=(n, 22))]
    return np.ascontiguousarray(codes).view("S22").ravel().astype(str)


def _release_dates(rng: np.random.Generator, year: np.ndarray) -> pd.Series:
    """Mixed ``YYYY`` / ``YYYY-MM`` / ``YYYY-MM-DD`` strings, as in the real file."""
    n = len(year)
    month = pd.Series(rng.integers(1, 13, size=n)).astype(str).str.zfill(2)
    day = pd.Series(rng.integers(1, 29, size=n)).astype(str).str.zfill(2)
    fmt = rng.choice(3, size=n, p=[0.3, 0.05, 0.65])
    dates = pd.Series(year).astype(str)
    dates = dates.where(fmt == 0, dates + "-" + month)
    return dates.where(fmt < 2, dates + "-" + day)


def _names(rng: np.random.Generator, n: int) -> pd.Series:
    """One to five random words per track, title-cased."""
    words = np.asarray(_WORDS)[rng.integers(0, len(_WORDS), size=(n, 5))]
    count = rng.integers(1, 6, size=n)
    columns = [pd.Series(np.where(count > i, words[:, i], "")) for i in range(5)]
    joined = columns[0].str.cat(columns[1:], sep=" ")
    return joined.str.strip().str.replace(r"\s+", " ", regex=True).str.title()


def _popularity(rng: np.random.Generator, year: np.ndarray, f: dict[str, np.ndarray]) -> np.ndarray:
    """A noisy, non-linear popularity in 0–100 (integers)."""
    recency = 1.0 / (1.0 + np.exp(-(year - 1985) / 9.0))  # old tracks are rarely played
    score = (
        8
        + 45 * recency
        + 12 * f["danceability"] * f["energy"]
        + 0.6 * (f["loudness"] + 10)
        - 10 * f["instrumentalness"] ** 2
        - 8 * np.abs(f["speechiness"] - 0.08)
        + 6 * f["explicit"]
        - 5 * f["acousticness"] * recency
        + 3 * np.sin(f["valence"] * np.pi)
    )
    noisy = score + rng.normal(0, 6, size=len(year))
    return np.clip(np.round(noisy), 0, 100).astype(int)


def make_tracks(n: int = 5000, seed: int = 0, *, junk_fraction: float = 0.01) -> pd.DataFrame:
    """Generate ``n`` synthetic tracks with exactly the ``tracks.csv`` columns.

    Deterministic for ``seed``. About ``junk_fraction`` of the rows get one
    junk value each (a garbage ``release_date``, text in ``tempo``, or a
    missing ``energy``), which :func:`nnscratch.data.cleaning.clean` drops.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    year = rng.integers(1925, 2022, size=n)
    f = _audio_features(rng, n)
    popularity = _popularity(rng, year, f)
    names = _names(rng, n)
    artist_ids = pd.Series(rng.integers(0, max(n // 4, 1), size=n)).astype(str)
    artists = "['Artist " + artist_ids + "']"
    df = pd.DataFrame(
        {
            "id": _ids(rng, n),
            "name": names.to_numpy(),
            "popularity": popularity,
            "duration_ms": rng.integers(90_000, 420_000, size=n),
            "explicit": f["explicit"],
            "artists": artists.to_numpy(),
            "id_artists": ("['id" + artist_ids + "']").to_numpy(),
            "release_date": _release_dates(rng, year).to_numpy(),
            "danceability": f["danceability"].round(3),
            "energy": f["energy"].round(3),
            "key": rng.integers(0, 12, size=n),
            "loudness": f["loudness"].round(3),
            "mode": rng.integers(0, 2, size=n),
            "speechiness": f["speechiness"].round(4),
            "acousticness": f["acousticness"].round(4),
            "instrumentalness": f["instrumentalness"].round(6),
            "liveness": f["liveness"].round(4),
            "valence": f["valence"].round(3),
            "tempo": f["tempo"].round(3),
            "time_signature": rng.choice([3, 4, 5], size=n, p=[0.1, 0.85, 0.05]),
        },
        columns=list(TRACKS_COLUMNS),
    )
    _add_junk(df, rng, junk_fraction)
    df.attrs["source"] = SYNTHETIC_LABEL
    return df


def _audio_features(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The audio features (and ``explicit``), drawn in this order from ``rng``."""
    return {
        "acousticness": rng.beta(0.8, 1.2, n),
        "danceability": rng.beta(5, 4, n),
        "energy": rng.beta(2.5, 2, n),
        "instrumentalness": np.where(rng.random(n) < 0.75, rng.random(n) * 0.01, rng.random(n)),
        "liveness": rng.beta(1.5, 6, n),
        "loudness": np.clip(rng.normal(-10, 5, n), -60, 1.5),
        "speechiness": rng.beta(1.1, 12, n),
        "valence": rng.beta(2.2, 2.2, n),
        "tempo": np.clip(rng.normal(118, 30, n), 40, 240),
        "explicit": (rng.random(n) < 0.08).astype(int),
    }


def _add_junk(df: pd.DataFrame, rng: np.random.Generator, fraction: float) -> None:
    """One junk value in about ``fraction`` of the rows: a garbage ``release_date``, text
    in ``tempo``, or a missing ``energy``."""
    junk = np.flatnonzero(rng.random(len(df)) < fraction)
    kinds = rng.integers(0, 3, size=len(junk))
    df.loc[junk[kinds == 0], "release_date"] = "unknown"
    tempo = df["tempo"].to_numpy(dtype=object)
    tempo[junk[kinds == 1]] = "n/a"
    df["tempo"] = tempo
    energy = df["energy"].to_numpy(dtype=object)
    energy[junk[kinds == 2]] = np.nan
    df["energy"] = energy
