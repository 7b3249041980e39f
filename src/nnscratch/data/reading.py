"""Stage 1 — reading a CSV file into raw values, refusing what is not one.

A missing, empty, binary, truncated or unparsable file is a
:class:`~nnscratch.errors.DataError` that names it; ``;``- and tab-separated
files (as spreadsheets export them) are read with their separator.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from nnscratch.errors import DataError

_SNIFF_BYTES = 64 * 1024


# --------------------------------------------------------------------------- reading


def _check_readable(path: Path) -> None:
    """Refuse paths that cannot hold a CSV, before pandas sees them."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")


def _peek_text(path: Path) -> bytes:
    """The first bytes of the (decompressed) file, to recognise binaries early."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read(_SNIFF_BYTES)
        with path.open("rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from exc


def _guess_delimiter(header: str) -> str:
    """``,`` unless the header line is clearly separated by ``;`` or a tab."""
    if "," in header:
        return ","
    for sep in (";", "\t"):
        if header.count(sep) >= 2:
            return sep
    return ","


def _guess_decimal(head: bytes, sep: str) -> str:
    """``,`` when a ';'-separated file writes its numbers as ``0,5`` (as some locales do)."""
    if sep != ";":
        return "."
    fields = head.decode("utf-8", errors="replace").replace("\n", ";").split(";")
    commas = sum(bool(re.fullmatch(r"-?\d+,\d+", f.strip())) for f in fields)
    points = sum(bool(re.fullmatch(r"-?\d+\.\d+", f.strip())) for f in fields)
    return "," if commas > points else "."


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV (plain or ``.gz``) into a DataFrame of raw values (see :func:`read_delimited`)."""
    return read_delimited(path)[0]


def read_delimited(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, str, str]:
    """A CSV (plain or ``.gz``) as ``(frame of raw values, separator, decimal mark)``.

    Raises :class:`DataError` naming ``path`` for a missing, empty, binary,
    truncated or unparsable file, for a header with no rows, and for
    duplicated column names. A file separated by ``;`` or tabs (as
    spreadsheets export) is read with that separator; undecodable bytes are
    replaced rather than fatal (text columns are not used as numbers).
    """
    path = Path(path)
    sep, decimal = sniff_delimited(path)
    with _parse_errors(path):
        df = pd.read_csv(path, **_csv_options(sep, decimal))
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise DataError(f"{path}: has a header but no data rows")
    return df, sep, decimal


def parse_delimited_chunks(
    path: Path, chunk_rows: int, sep: str, decimal: str
) -> Iterator[pd.DataFrame]:
    """:func:`read_delimited` ``chunk_rows`` rows at a time, for a CSV whose separator and
    decimal mark are known (:func:`sniff_delimited`): the same parser and options; a fault
    in the middle is a :class:`DataError` naming ``path`` when that chunk is reached, as
    is a header with no rows."""
    rows = 0
    with (
        _parse_errors(path),
        pd.read_csv(path, chunksize=chunk_rows, **_csv_options(sep, decimal)) as reader,
    ):
        for df in reader:
            df.columns = [str(c).strip() for c in df.columns]
            rows += len(df)
            yield df
    if rows == 0:
        raise DataError(f"{path}: has a header but no data rows")


def read_delimited_bytes(data: bytes, path: Path, sep: str, decimal: str) -> pd.DataFrame:
    """A piece of a CSV that has been read as bytes (its header line first, decompressed),
    parsed as :func:`parse_delimited_chunks` parses a chunk of ``path``: the same options,
    the same errors naming ``path``. It may hold no data row."""
    options = {**_csv_options(sep, decimal), "compression": None}
    with _parse_errors(path):
        df = pd.read_csv(io.BytesIO(data), **options)
    df.columns = [str(c).strip() for c in df.columns]
    return df


def sniff_delimited(path: Path) -> tuple[str, str]:
    """The separator and decimal mark of a CSV, from its first bytes, after the checks
    that need no parsing (missing, empty, binary, duplicated column names)."""
    _check_readable(path)
    head = _peek_text(path)
    if not head.strip():
        raise DataError(f"{path}: file is empty")
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file, not a CSV text file")
    first_line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    sep = _guess_delimiter(first_line)
    header = [c.strip().lstrip("\ufeff") for c in first_line.rstrip("\r").split(sep)]
    dupes = sorted({c for c in header if c and header.count(c) > 1})
    if dupes:
        raise DataError(f"{path}: duplicated column name(s): {', '.join(dupes)}")
    return sep, _guess_decimal(head, sep)


def _csv_options(sep: str, decimal: str) -> dict[str, Any]:
    return {
        "sep": sep,
        "compression": "infer",
        "encoding": "utf-8-sig",
        "encoding_errors": "replace",
        "decimal": decimal,
        "low_memory": False,
    }


@contextlib.contextmanager
def _parse_errors(path: Path) -> Iterator[None]:
    """pandas' and the decompressors' errors while reading ``path``, as DataErrors."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty") from exc
    except (pd.errors.ParserError, UnicodeError, ValueError) as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file, it may be truncated ({exc})") from exc
