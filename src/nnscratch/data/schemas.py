"""Stage 1 — the public Spotify CSV shapes the loader recognises, by exact column names.

Each :class:`Schema` says how a file is recognised (columns it must have) and
how its columns are renamed to the package's vocabulary (that of the Kaggle
600k ``tracks.csv``). No fuzzy matching: a file is one schema, or ``custom``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from nnscratch.errors import DataError

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

    ``families`` are sets of columns (package names) that describe the same
    thing: when the target is one of a family, the others would give it away
    and are never inputs (the playlist export's genre is its subgenre's first
    word, and its playlist's name says it too).
    """

    name: str
    title: str
    identified_by: frozenset[str]
    renames: dict[str, str] = field(default_factory=dict)
    drops: tuple[str, ...] = ()
    families: tuple[frozenset[str], ...] = ()

    def package_name(self, column: str) -> str:
        """The package's name for one of the file's columns (the same where not renamed)."""
        return self.renames.get(column, column)

    def family_of(self, column: str) -> frozenset[str]:
        """The other columns that describe the same thing as ``column`` (package names)."""
        for family in self.families:
            if column in family:
                return family - {column}
        return frozenset()


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
        families=(frozenset({"genre"}),),
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
        families=(frozenset({"genre", "subgenre", "playlist_name", "playlist_id"}),),
    ),
)

#: A file that matches no schema.
CUSTOM = Schema("custom", "a custom CSV", frozenset())


def detect_schema(columns: Sequence[str]) -> str:
    """The name of the first :data:`SCHEMAS` entry the columns match, or ``"custom"``."""
    return schema_of(columns).name


def schema_of(columns: Sequence[str]) -> Schema:
    """The first :data:`SCHEMAS` entry the columns match, or :data:`CUSTOM`."""
    cols = set(columns)
    return next((schema for schema in SCHEMAS if schema.identified_by <= cols), CUSTOM)


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
