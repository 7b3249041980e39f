"""Layer 2, data: reading and cleaning files, and what is fitted on the training split.

    schemas        the public Spotify CSV shapes, recognised by exact column names
    reading        a CSV file into raw values (separators, compression, refusals)
    tracks         a tracks file as the package reads it: schema, year, derived features
    features       the derived columns, pure functions of a row
    cleaning       coerce to numbers, drop unusable rows, report why
    encoders       piecewise-linear and one-hot encodings, fitted Min-Max scalers as JSON
    preprocessing  the seeded split and everything fitted on the training split
    images         Part 2's data: IDX files (MNIST), PNG folders, the bundled 8×8 digits
    synthetic      the built-in synthetic sample, generated deterministically
    numbers        values to numbers: one rule for a file's columns and a request's rows
    tables         a table's parts (CSV, Parquet, folders, globs), a chunk at a time
    chunk_cleaning a source cleaned a chunk at a time: reports that merge, whole-file errors
    training_table a source read once into compact scaled splits, in memory or out of core
    leakage        the leakage guard: inputs that alone predict the target
    augment        image augmentation: seeded ``(rows, rng)`` transforms of a batch
    toys           small data sets to watch a network learn on (the playground)

No network code here. The functions a user calls most are importable from this
package directly (``from nnscratch.data import load_tracks, clean, prepare``).
"""

from nnscratch.data.cleaning import CleaningReport, clean, to_number
from nnscratch.data.preprocessing import PreparedData, Preprocessing, prepare
from nnscratch.data.reading import read_csv
from nnscratch.data.schemas import SCHEMAS, TARGET
from nnscratch.data.tracks import TracksFile, load_tracks, read_tracks, tracks_from_frame

__all__ = [
    "SCHEMAS",
    "TARGET",
    "CleaningReport",
    "PreparedData",
    "Preprocessing",
    "TracksFile",
    "clean",
    "load_tracks",
    "prepare",
    "read_csv",
    "read_tracks",
    "to_number",
    "tracks_from_frame",
]
