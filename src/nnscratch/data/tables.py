"""Stage 1 for files larger than memory: a table's parts, and their rows a chunk at a time.

A source is one file (CSV, ``.csv.gz`` or Parquet), a folder of part files, or a
glob of them (``parts/*.parquet``), read as one table in the parts' sorted
order. Finding the parts and how each is written is apart from reading rows:

    table_parts(source)        the files, by name (hidden and ``_``-prefixed files such
                               as ``_SUCCESS`` skipped; a mix of formats refused)
    sniff_table(source)        each part's format (:class:`TablePart`), from its name and
                               first bytes, before any row is read
    read_table_chunks(source)  every part's rows, ``chunk_rows`` at a time (one machine)
    table_blocks(source)       the parts cut into blocks (:class:`Block`), each read on
    read_block(block)          its own by whoever holds it (a Dask worker)

CSV is read through :mod:`nnscratch.data.reading` (the same checks, separator,
decimal mark and parser as reading it whole), Parquet through pyarrow (an
optional extra: ``pip install 'nnscratch[parquet]'``). Memory holds one chunk
(or one block) at a time.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nnscratch.data.reading import (
    parse_delimited_chunks,
    read_delimited_bytes,
    sniff_delimited,
)
from nnscratch.errors import DataError

#: Rows a chunk holds by default: about 150 MB of raw tracks rows in pandas.
CHUNK_ROWS = 100_000
#: Bytes of CSV a block holds by default (about 450,000 tracks rows).
BLOCK_BYTES = 64 * 1024 * 1024
#: What each part's name says it is.
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")


@dataclass(frozen=True)
class TablePart:
    """One file of a table and how it is written: ``kind`` (``"csv"`` or ``"parquet"``,
    from its name), and a CSV's separator and decimal mark (from its first bytes).
    ``path`` is the file as the source names it (what messages say), ``location`` where
    it is opened (absolute: another process, a Dask worker, may read it)."""

    path: Path
    kind: str = "csv"
    delimiter: str = ","
    decimal: str = "."
    location: Path | None = None

    @property
    def opened(self) -> Path:
        return self.path if self.location is None else self.location


@dataclass(frozen=True)
class Chunk:
    """Raw rows of one part of a table, and how that part is written."""

    frame: pd.DataFrame
    part: TablePart

    @property
    def delimiter(self) -> str:
        return self.part.delimiter

    @property
    def decimal(self) -> str:
        return self.part.decimal


@dataclass(frozen=True)
class Block:
    """A piece of a part that is read on its own: for a CSV, the lines that start in bytes
    ``[start, stop)`` (``stop=None``: to the end), read after the part's header; for
    Parquet, row group ``start``."""

    part: TablePart
    start: int = 0
    stop: int | None = None

    @property
    def whole_part(self) -> bool:
        return self.start == 0 and self.stop is None


def kind_of(path: Path) -> str:
    """``"parquet"`` for a name ending ``.parquet`` or ``.pq``, else ``"csv"``."""
    return "parquet" if path.name.lower().endswith(PARQUET_SUFFIXES) else "csv"


def _listed(path: Path) -> bool:
    """Whether a folder's or a glob's file is a part: not hidden, not ``_``-prefixed (the
    ``_SUCCESS`` and ``_metadata`` files that Spark and Dask write beside their parts)."""
    return path.is_file() and not path.name.startswith((".", "_"))


def table_parts(source: str | os.PathLike[str]) -> list[Path]:
    """The files a source names, in order: itself; a folder's Parquet parts (else its CSV
    parts), sorted by name; or a glob's matches, sorted. Hidden and ``_``-prefixed files
    are not parts. :class:`DataError` when there is none, or when the parts' names mix
    Parquet and CSV (one table is written one way)."""
    text = str(source)
    if glob.has_magic(text):
        parts = sorted(p for p in map(Path, glob.glob(text)) if _listed(p))
        if not parts:
            raise DataError(f"{text}: no file matches")
        return _one_format(text, parts)
    path = Path(text)
    if path.is_dir():
        listed = sorted(p for p in path.iterdir() if _listed(p))
        parts = [p for p in listed if p.name.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES)]
        if not parts:
            raise DataError(f"{path}: a folder with no .parquet or .csv part files")
        return _one_format(text, parts)
    return [path]


def is_table_folder(path: Path) -> bool:
    """Whether a folder holds a table's parts (a ``.parquet`` or ``.csv`` file that is
    not hidden): what a folder of images (MNIST's IDX files, PNGs) does not."""
    return any(
        _listed(p) and p.name.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES)
        for p in path.iterdir()
    )


def _one_format(source: str, parts: list[Path]) -> list[Path]:
    kinds: dict[str, Path] = {}
    for part in parts:
        kinds.setdefault(kind_of(part), part)
    if len(kinds) > 1:
        raise DataError(
            f"{source}: mixes Parquet and CSV parts ({kinds['parquet'].name}, "
            f"{kinds['csv'].name}); name the parts of one format"
        )
    return parts


def sniff_part(path: Path) -> TablePart:
    """How a part is written, from its name and its first bytes (no row parsed): a CSV's
    separator and decimal mark, after the checks that need no parsing (missing, empty,
    binary, duplicated column names); a Parquet part is there and pyarrow is installed."""
    if kind_of(path) == "parquet":
        _pyarrow_parquet(path)
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        return TablePart(path, "parquet", location=path.absolute())
    delimiter, decimal = sniff_delimited(path)
    return TablePart(path, "csv", delimiter, decimal, path.absolute())


def sniff_table(source: str | os.PathLike[str]) -> list[TablePart]:
    """Every part of a source with its format (:func:`table_parts`, :func:`sniff_part`):
    a part that cannot be read is refused before any row is."""
    return [sniff_part(path) for path in table_parts(source)]


def read_table_chunks(
    source: str | os.PathLike[str], chunk_rows: int = CHUNK_ROWS
) -> Iterator[Chunk]:
    """Every part's rows, ``chunk_rows`` at a time (a part's last chunk may be shorter)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    for part in sniff_table(source):
        if part.kind == "parquet":
            for frame in _parquet_chunks(part, chunk_rows):
                yield Chunk(frame, part)
        else:
            for frame in parse_delimited_chunks(
                part.path, chunk_rows, part.delimiter, part.decimal
            ):
                yield Chunk(frame, part)


def _pyarrow_parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow: pip install 'nnscratch[parquet]'"
        ) from None
    return pq


def _parquet_file(part: TablePart) -> Any:
    pq = _pyarrow_parquet(part.path)
    try:
        return pq.ParquetFile(part.opened)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{part.path}: not a readable Parquet file ({exc})") from exc


def _parquet_chunks(part: TablePart, chunk_rows: int) -> Iterator[pd.DataFrame]:
    parquet = _parquet_file(part)
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    except (OSError, ValueError) as exc:
        raise DataError(f"{part.path}: not a readable Parquet file ({exc})") from exc


# --------------------------------------------------------------------------- blocks


def table_blocks(source: str | os.PathLike[str], block_bytes: int = BLOCK_BYTES) -> list[Block]:
    """A source cut into blocks that are read independently, in input order: each CSV
    part in ``block_bytes`` pieces (a compressed one whole: gzip cannot seek), each
    Parquet part by row group. Every row is in exactly one block."""
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be at least 1, got {block_bytes}")
    blocks: list[Block] = []
    for part in sniff_table(source):
        if part.kind == "parquet":
            groups = _parquet_file(part).num_row_groups
            blocks += [Block(part, group, group + 1) for group in range(groups)]
            continue
        size = part.opened.stat().st_size
        if part.path.suffix == ".gz" or size <= block_bytes:
            blocks.append(Block(part))
            continue
        starts = range(0, size, block_bytes)
        blocks += [Block(part, start, start + block_bytes) for start in starts[:-1]]
        blocks.append(Block(part, starts[-1]))
    return blocks


def read_block(block: Block) -> Chunk:
    """A block's raw rows, read as :func:`read_table_chunks` reads a chunk of its part
    (the same parser and options); :class:`DataError` naming the part."""
    path = block.part.path
    if block.part.kind == "parquet":
        parquet = _parquet_file(block.part)
        try:
            frame = parquet.read_row_group(block.start).to_pandas()
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
        return Chunk(frame, block.part)
    data = _csv_block_bytes(block)
    frame = read_delimited_bytes(data, path, block.part.delimiter, block.part.decimal)
    if len(frame) == 0 and block.whole_part:
        raise DataError(f"{path}: has a header but no data rows")
    return Chunk(frame, block.part)


def _csv_block_bytes(block: Block) -> bytes:
    """The part's header line and the lines that start in ``[start, stop)``: a line that
    starts before ``stop`` is read to its end, one that starts at ``stop`` is the next
    block's."""
    path = block.part.opened
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        with path.open("rb") as fh:
            header = fh.readline()
            if block.start == 0:
                return header + _lines_to(fh, block.stop)
            fh.seek(block.start - 1)
            fh.readline()  # the end of the line that started before this block
            return header + _lines_to(fh, block.stop)
    except (OSError, EOFError) as exc:
        raise DataError(
            f"{block.part.path}: cannot read the file, it may be truncated ({exc})"
        ) from exc


def _lines_to(fh: io.BufferedReader, stop: int | None) -> bytes:
    """From the file's position, the lines that start before ``stop`` (all where None)."""
    if stop is None:
        return fh.read()
    here = fh.tell()
    if here >= stop:
        return b""
    data = fh.read(stop - here)
    if data and not data.endswith(b"\n"):
        data += fh.readline()
    return data
