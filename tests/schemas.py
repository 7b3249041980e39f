"""Synthetic files in each public Spotify schema the loader recognises.

Every frame starts from the package's synthetic generator
(:func:`nnscratch.data.synthetic.make_tracks`) and is reshaped into another
schema's columns, names and value formats: shapes and value ranges only,
never rows from a real file. ``python tests/schemas.py DIR`` writes one CSV
per schema into DIR.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nnscratch.data.schemas import AUDIO_COLUMNS, DATA_COLUMNS, PLAYLIST_COLUMNS
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import year_from_release_date

AUDIO = list(AUDIO_COLUMNS)
#: Genres with a popularity offset each, so genre carries information; the last
#: ones are rare (fewer rows than the encoding's minimum count).
GENRES = {
    "pop": 8,
    "rock": 0,
    "rap": 5,
    "latin": 3,
    "edm": -2,
    "r&b": 2,
    "jazz": -9,
    "classical": -12,
    "sleep": -15,
    "k-pop": 6,
}
GENRE_SHARE = np.array([0.25, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.04, 0.02, 0.01])


def _genres(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(list(GENRES), size=n, p=GENRE_SHARE / GENRE_SHARE.sum())


def _with_genre_effect(popularity: pd.Series, genres: np.ndarray) -> np.ndarray:
    offset = np.array([GENRES[g] for g in genres])
    return np.clip(pd.to_numeric(popularity).to_numpy() + offset, 0, 100).astype(int)


def tracks(n: int, seed: int) -> pd.DataFrame:
    """The Kaggle 600k ``tracks.csv`` schema (the generator's own)."""
    return make_tracks(n, seed=seed)


def data_csv(n: int, seed: int) -> pd.DataFrame:
    """The Kaggle 170k ``data.csv`` schema: ``year`` and ``release_date``, no time signature,
    artists as a list, alphabetical columns."""
    frame = make_tracks(n, seed=seed)
    frame["year"] = year_from_release_date(frame["release_date"]).fillna(1999).astype(int)
    return frame[list(DATA_COLUMNS)]


def spotify_tracks(n: int, seed: int) -> pd.DataFrame:
    """The Kaggle 114k "Spotify Tracks Dataset": an unnamed index column, ``True``/``False``
    text in ``explicit``, artists joined by ``;``, a genre, no release date."""
    rng = np.random.default_rng(seed + 1)
    base = make_tracks(n, seed=seed)
    genres = _genres(n, rng)
    artists = base["artists"].str.strip("[]'")
    duo = rng.random(n) < 0.2
    guests = ";Guest " + pd.Series(rng.integers(0, 50, n)).astype(str)
    artists = artists.where(~duo, artists + guests)
    frame = pd.DataFrame(
        {
            "track_id": base["id"],
            "artists": artists,
            "album_name": base["name"].str.split().str[0] + " Album",
            "track_name": base["name"],
            "popularity": _with_genre_effect(base["popularity"], genres),
            "duration_ms": base["duration_ms"],
            "explicit": np.where(base["explicit"].astype(int) == 1, "True", "False"),
            **{column: base[column] for column in AUDIO},
            "time_signature": base["time_signature"],
            "track_genre": genres,
        }
    )
    frame.index.name = None
    return frame.reset_index().rename(columns={"index": ""})  # the unnamed index column


def playlist(n: int, seed: int) -> pd.DataFrame:
    """A Spotify Web API playlist export (``spotify_songs.csv``): ``track_*`` and
    ``playlist_*`` columns, genre and subgenre, no explicit flag, no time signature."""
    rng = np.random.default_rng(seed + 2)
    base = make_tracks(n, seed=seed)
    genres = _genres(n, rng)
    subgenres = np.char.add(genres.astype(str), np.where(rng.random(n) < 0.5, " hits", " deep"))
    frame = pd.DataFrame(
        {
            "track_id": base["id"],
            "track_name": base["name"],
            "track_artist": base["artists"].str.strip("[]'"),
            "track_popularity": _with_genre_effect(base["popularity"], genres),
            "track_album_id": base["id"].str[::-1],
            "track_album_name": base["name"] + " (Deluxe)",
            "track_album_release_date": base["release_date"],
            "playlist_name": np.char.add("Best of ", genres.astype(str)),
            "playlist_id": np.char.add("pl", rng.integers(0, 40, n).astype(str)),
            "playlist_genre": genres,
            "playlist_subgenre": subgenres,
            **{column: base[column] for column in AUDIO},
            "duration_ms": base["duration_ms"],
        }
    )
    return frame[list(PLAYLIST_COLUMNS)]


SCHEMA_FIXTURES = {
    "tracks": tracks,
    "data": data_csv,
    "spotify-tracks": spotify_tracks,
    "playlist": playlist,
}

#: The target column of each schema's file, before aliasing.
TARGET_COLUMN = {
    "tracks": "popularity",
    "data": "popularity",
    "spotify-tracks": "popularity",
    "playlist": "track_popularity",
}


def write_all(folder: Path, n: int = 1500, seed: int = 0) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in SCHEMA_FIXTURES.items():
        paths[name] = folder / f"{name}.csv"
        make(n, seed).to_csv(paths[name], index=False)
    return paths


if __name__ == "__main__":
    for name, path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")).items():
        print(f"{name}: {path}")
