"""Stage 1 for files larger than memory: a table's parts, and their rows a chunk at a time.

A source is one file (CSV, ``.csv.gz`` or Parquet), a folder of part files, or a
glob of them (``parts/*.parquet``), read as one table in the parts' sorted
order. Which format a part is comes from its name (:func:`table_parts`); how it
is read is :func:`read_table_chunks`: CSV through
:func:`~nnscratch.data.reading.read_delimited_chunks` (the same checks,
separator and parser as reading it whole), Parquet through pyarrow's batches
(an optional extra: ``pip install 'nnscratch[parquet]'``). Memory holds one
chunk of ``chunk_rows`` rows at a time.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nnscratch.data.reading import read_delimited_chunks
from nnscratch.errors import DataError

#: Rows a chunk holds by default: about 150 MB of raw tracks rows in pandas.
CHUNK_ROWS = 100_000
#: What each part's name says it is.
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")


@dataclass(frozen=True)
class Chunk:
    """Raw rows of one part of a table, and how that part was written."""

    frame: pd.DataFrame
    part: Path
    delimiter: str = ","
    decimal: str = "."


def _kind(path: Path) -> str:
    name = path.name.lower()
    return "parquet" if name.endswith(PARQUET_SUFFIXES) else "csv"


def table_parts(source: str | os.PathLike[str]) -> list[Path]:
    """The files a source names, in order: itself; a folder's Parquet parts (else its CSV
    parts), sorted by name; or a glob's matches, sorted. :class:`DataError` when none."""
    text = str(source)
    if glob.has_magic(text):
        parts = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not parts:
            raise DataError(f"{text}: no file matches")
        return parts
    path = Path(text)
    if path.is_dir():
        for suffixes in (PARQUET_SUFFIXES, CSV_SUFFIXES):
            parts = sorted(p for p in path.iterdir() if p.name.lower().endswith(suffixes))
            if parts:
                return parts
        raise DataError(f"{path}: a folder with no .parquet or .csv part files")
    return [path]


def read_table_chunks(
    source: str | os.PathLike[str], chunk_rows: int = CHUNK_ROWS
) -> Iterator[Chunk]:
    """Every part's rows, ``chunk_rows`` at a time (a part's last chunk may be shorter)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    for part in table_parts(source):
        if _kind(part) == "parquet":
            for frame in _parquet_chunks(part, chunk_rows):
                yield Chunk(frame, part)
        else:
            for frame, sep, decimal in read_delimited_chunks(part, chunk_rows):
                yield Chunk(frame, part, sep, decimal)


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow: pip install 'nnscratch[parquet]'"
        ) from None
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
