"""Stage 1 for training on a source of any size: read it once, keep only compact numbers.

A source (a CSV or Parquet file, a folder or a glob of parts) is read a chunk at a
time, and training keeps only what it needs — never the raw frame, never its text
columns, never the encoded table:

    read_cleaned(chunks, ...)   the first pass: each chunk cleaned as a whole file is
                                (:func:`~nnscratch.data.chunk_cleaning.clean_chunk`), the
                                reports merged (:class:`SourceReport`), every usable row's
                                numbers appended to a temporary file (float64: the values
                                cleaning gives), categorical values and class labels as
                                codes: a :class:`CleanedRows`
    prepare_cleaned(rows, ...)  :func:`~nnscratch.data.preprocessing.prepare` on those rows:
                                the same seeded split (a permutation of the usable rows,
                                which does not depend on how the source was cut), scalers
                                and encodings fit on the training split, and the scaled
                                float32 splits written a chunk at a time into arrays in
                                memory, or into memory-mapped files (``out_of_core``)

The split, the scalers and every scaled number are those of reading the file whole
and calling :func:`prepare`, to the bit, whatever the chunk size (cleaning and scaling
are row by row; minima and maxima do not depend on the order). The temporary files
are unlinked as they are made: whatever happens, nothing is left behind.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler
from tqdm.auto import tqdm

from nnscratch.data.chunk_cleaning import SourceReport, clean_chunk
from nnscratch.data.cleaning import CleaningReport
from nnscratch.data.encoders import CategoryEncoding
from nnscratch.data.numbers import is_missing
from nnscratch.data.preprocessing import (
    IDENTIFIER_SHARE,
    PreparedData,
    Preprocessing,
    check_classes,
    split_indices,
)
from nnscratch.data.tracks import TracksFile
from nnscratch.errors import DataError

#: Rows read, cleaned and scaled at a time while preparing training data: a chunk's raw
#: rows (text columns and all) take about 30 MB in pandas.
TRAIN_CHUNK_ROWS = 20_000

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """``"256MB"``, ``"2GB"``, ``"1.5G"``, ``"512MiB"`` or a number of bytes, as bytes
    (units of 1024); :class:`DataError` naming the text otherwise."""
    match = _SIZE.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        raise DataError(f"{text!r} is not a memory size; write e.g. 256MB or 2GB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(size: float) -> str:
    """``1,234 MB`` or ``2.5 GB``."""
    if size >= 10 * 2**30:
        return f"{size / 2**30:.0f} GB"
    if size >= 2**30:
        return f"{size / 2**30:.1f} GB"
    return f"{size / 2**20:,.0f} MB"


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where it cannot be told)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def resident_memory() -> int:
    """This process's resident memory now, in bytes (0 where it cannot be told)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


#: glibc's ``mallopt`` parameters (``malloc.h``).
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8
#: Allocations from this size up are mapped on their own, and unmapped when freed.
MMAP_THRESHOLD = 2**20


def retain_less_freed_memory() -> None:
    """Have glibc's allocator keep less freed memory resident, for the rest of the process:
    blocks of :data:`MMAP_THRESHOLD` and up mapped on their own and handed back when freed
    (by default glibc raises that threshold to the largest block freed so far, up to 32 MB,
    and keeps such blocks in its heaps once freed), and one heap for every thread (by
    default up to eight a core, each keeping the blocks its threads freed). A setting of
    the whole process, for a command that owns it (``nnscratch train``); where the C library
    is not glibc, a no-op."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(_M_ARENA_MAX, 1)


def release_freed_memory() -> None:
    """Collect garbage and hand the memory already freed back to the system: glibc's
    ``malloc_trim`` (freed chunks in its heaps stay resident until then: a first pass's
    frames and text leave tens of MB there), and pyarrow's pool where Parquet was read.
    Nothing changes but the process's resident memory; where neither exists, a no-op."""
    gc.collect()
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()


def _glibc(name: str) -> Any:
    """glibc's function ``name`` (``malloc_trim``, ``mallopt``), or None (another C library,
    or none to be loaded)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


@dataclass(frozen=True)
class MemoryBudget:
    """How much memory training may take (``limit``, bytes), where that figure comes from
    (``origin``, said in the output), and the folder for the files of a table trained out
    of core (None: the system's temporary folder)."""

    limit: int
    origin: str
    folder: Path | None = None

    #: Share of the machine's memory the default budget is.
    DEFAULT_SHARE = 4

    @classmethod
    def default(cls, folder: Path | None = None) -> MemoryBudget:
        """A quarter of this machine's memory (2 GB where it cannot be told)."""
        total = machine_memory()
        if total is None:
            return cls(2 * 2**30, "the default, this machine's memory unknown", folder)
        share = total // cls.DEFAULT_SHARE
        return cls(share, f"a quarter of this machine's {format_size(total)}", folder)

    @classmethod
    def given(cls, text: str, folder: Path | None = None) -> MemoryBudget:
        return cls(parse_size(text), f"--memory-budget {text}", folder)

    def __str__(self) -> str:
        return f"{format_size(self.limit)} ({self.origin})"


@dataclass
class CleanedRows:
    """The first pass's result: every usable row of a source as float64 numbers in an
    unlinked temporary file, one row of ``width`` a row: the ``numeric`` columns (the
    features, and a number target), then one code a row for the class label (with
    ``labels``) and for each categorical column (``-1``: missing; the values in
    ``values``). ``report``: the merged cleaning report; ``tracks``: what the reader
    learned of the file (its rows dropped)."""

    file: IO[bytes]
    n: int
    numeric: list[str]
    coded: list[str]
    values: dict[str, list[Any]]
    report: CleaningReport
    tracks: TracksFile

    @property
    def width(self) -> int:
        return len(self.numeric) + len(self.coded)

    def blocks(self, chunk_rows: int = TRAIN_CHUNK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, rows)`` for every ``chunk_rows`` rows, in order, read from the file."""
        self.file.seek(0)
        for start in range(0, self.n, chunk_rows):
            count = min(chunk_rows, self.n - start)
            block = np.empty((count, self.width), dtype=np.float64)
            if self.file.readinto(memoryview(block).cast("B")) != block.nbytes:  # type: ignore[attr-defined]
                raise OSError("the temporary file of cleaned rows was cut short")
            yield start, block

    def column(self, name: str, block: np.ndarray) -> np.ndarray:
        """The ``name`` column of a block: numbers, or the column's values by code."""
        if name in self.numeric:
            return block[:, self.numeric.index(name)]
        codes = block[:, len(self.numeric) + self.coded.index(name)].astype(np.int64)
        values = np.asarray([*self.values[name], None], dtype=object)
        return values[codes]  # code -1: the None at the end

    def close(self) -> None:
        self.file.close()


class _Codes:
    """Raw values → codes, in order of first appearance (missing: -1)."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}

    def encode(self, values: np.ndarray) -> np.ndarray:
        codes = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values.tolist()):
            if is_missing(value):
                codes[i] = -1
            else:
                codes[i] = self.index.setdefault(value, len(self.index))
        return codes

    @property
    def values(self) -> list[Any]:
        return list(self.index)


def read_cleaned(
    chunks: Iterable[TracksFile],
    source: str,
    *,
    labels: bool = False,
    folder: Path | None = None,
    progress: bool = False,
) -> CleanedRows:
    """The first pass over a source's chunks (each a :class:`TracksFile` of its rows and
    its target, as :func:`~nnscratch.data.tracks.read_tracks_chunks` gives them): each
    cleaned as a whole
    file is, its usable rows appended to an unlinked temporary file in ``folder``; the
    whole-file errors raised once it is read. ``progress``: a bar of the rows read, with
    rows/s."""
    file = tempfile.TemporaryFile(dir=folder, prefix=".nnscratch-rows-")  # noqa: SIM115 (outlives this call)
    bar = tqdm(  # on a terminal only, as predict's
        desc="reading", unit=" rows", unit_scale=True, disable=None if progress else True
    )
    try:
        with bar:
            first, whole, codes, n, target = None, None, {}, 0, ""
            for tracks in chunks:
                if first is None:
                    first, target = tracks, str(tracks.target)
                    whole = SourceReport(source, [*tracks.features, target])
                    coded = ([target] if labels else []) + list(tracks.categoricals)
                    codes = {name: _Codes() for name in coded}
                assert whole is not None
                cleaned, report = clean_chunk(tracks, first.features, target, labels=labels)
                whole.add(report)
                bar.update(report.report.rows_read)
                if len(cleaned):
                    file.write(_numbers(cleaned, first, target, labels, codes).tobytes())
                    n += len(cleaned)
            if first is None or whole is None:
                raise DataError(f"{source}: has a header but no data rows")
            merged = whole.check()
        numeric = [*first.features, *([] if labels else [target])]
        values = {name: c.values for name, c in codes.items()}
        kept = replace(first, frame=first.frame.iloc[:0])
        return CleanedRows(file, n, numeric, list(codes), values, merged, kept)
    except BaseException:
        file.close()
        raise


def _numbers(
    cleaned: pd.DataFrame,
    tracks: TracksFile,
    target: str,
    labels: bool,
    codes: dict[str, _Codes],
) -> np.ndarray:
    """A cleaned chunk as the file's rows: its numbers, then the codes."""
    numeric = [*tracks.features, *([] if labels else [target])]
    columns = [cleaned[numeric].to_numpy(dtype=np.float64)]
    columns += [codes[name].encode(cleaned[name].to_numpy())[:, None] for name in codes]
    return np.ascontiguousarray(np.hstack(columns))


@dataclass
class _Fitted:
    """What the training split gives: the per-column range and the target's, or the
    categorical columns' counts."""

    low: np.ndarray
    high: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)


def prepare_cleaned(
    rows: CleanedRows,
    *,
    test_size: float = 0.2,
    val_size: float = 0.1,
    seed: int = 0,
    dtype: np.dtype | type = np.float32,
    max_rows: int | None = None,
    task: str = "regression",
    target_name: str | None = None,
    out_of_core: bool = False,
    folder: Path | None = None,
) -> PreparedData:
    """:func:`~nnscratch.data.preprocessing.prepare` on the cleaned rows of a first pass:
    the same seeded subset and split, the same scalers and encodings fit on the training
    split, the same scaled splits to the bit. The splits are written a chunk at a time
    into arrays in memory or, ``out_of_core``, into memory-mapped files in ``folder``
    (unlinked: they last as long as the arrays)."""
    labels = task == "classification"
    tracks, features = rows.tracks, list(rows.tracks.features)
    target = str(tracks.target)
    rng = np.random.default_rng(seed)
    kept = None  # every row: the positions of a split are its own indices, not copied
    if max_rows is not None and rows.n > max_rows:
        kept = np.sort(rng.choice(rows.n, size=max_rows, replace=False))
    n = rows.n if kept is None else len(kept)
    train, val, test = split_indices(n, test_size, val_size, rng, rows.report.source)
    splits = {"train": train, "val": val, "test": test}
    positions = {name: split if kept is None else kept[split] for name, split in splits.items()}
    categoricals = list(tracks.categoricals)
    fitted = _fit_on_training(rows, positions["train"], features, target, categoricals)
    x_scaler = _scaler(fitted.low[: len(features)], fitted.high[: len(features)])
    y_scaler = None if labels else _scaler(fitted.low[-1:], fitted.high[-1:])
    label_values = _label_values(rows.values[target]) if labels else None
    identifiers = [c for c in categoricals if _is_identifier(fitted.counts[c], len(train))]
    categories = []
    for c in categoricals:
        if c not in identifiers:
            categories.append(CategoryEncoding(c).fit_counts(rows.values[c], fitted.counts[c]))
    pre = Preprocessing(features, target, x_scaler, y_scaler, categories=categories)
    scaled = _Splits(pre, positions, dtype, label_values, out_of_core, folder)
    for start, block in rows.blocks():
        scaled.add(rows, start, block)
    if labels:
        y_all = np.empty(n, dtype=scaled.y["train"].dtype)
        for name, split in splits.items():
            y_all[split] = scaled.y[name]
        others = {"validation": val, "test": test}
        check_classes(y_all, train, others, target, rows.report.source)
    return PreparedData(
        scaled.X["train"],
        scaled.y["train"],
        scaled.X["val"],
        scaled.y["val"],
        scaled.X["test"],
        scaled.y["test"],
        features,
        target,
        x_scaler,
        y_scaler,
        rows.report,
        train,
        val,
        test,
        categories,
        target_name,
        identifiers,
    )


def _fit_on_training(
    rows: CleanedRows,
    train: np.ndarray,
    features: list[str],
    target: str,
    categoricals: list[str],
) -> _Fitted:
    """The training rows' minimum and maximum of every number column (features, then a
    number target), and each categorical column's count of every code."""
    n_numeric = len(rows.numeric)
    low = np.full(n_numeric, np.inf)
    high = np.full(n_numeric, -np.inf)
    counts = {c: np.zeros(len(rows.values[c]), dtype=np.int64) for c in categoricals}
    for start, block in rows.blocks():
        local = _local(train, start, len(block))
        if not len(local):
            continue
        numbers = block[local, :n_numeric]
        np.minimum(low, numbers.min(axis=0), out=low)
        np.maximum(high, numbers.max(axis=0), out=high)
        for c in categoricals:
            codes = block[local, n_numeric + rows.coded.index(c)].astype(np.int64)
            counts[c] += np.bincount(codes[codes >= 0], minlength=len(counts[c]))
    return _Fitted(low, high, counts)


def _local(positions: np.ndarray, start: int, count: int) -> np.ndarray:
    """Of sorted ``positions``, those in ``[start, start + count)``, less ``start``."""
    a, b = np.searchsorted(positions, [start, start + count])
    return positions[a:b] - start


def _scaler(low: np.ndarray, high: np.ndarray) -> MinMaxScaler:
    """A ``MinMaxScaler`` fitted to these minima and maxima: fitted on the two extreme rows,
    it has every attribute a fit on all the rows gives, to the bit."""
    return MinMaxScaler().fit(np.vstack([low, high]))


def _is_identifier(counts: np.ndarray, n_train: int) -> bool:
    """:func:`~nnscratch.data.preprocessing.is_identifier` from the training rows' counts
    of each distinct value."""
    return n_train >= 20 and np.count_nonzero(counts) >= IDENTIFIER_SHARE * n_train


def _label_values(values: list[Any]) -> np.ndarray:
    """Class labels by code, as one array of the type pandas reads them as."""
    return pd.Series(values, dtype=object).infer_objects().to_numpy()


class _Splits:
    """The scaled splits, filled a chunk at a time in row order: ``X[name]``
    ``(rows, n_columns)`` and ``y[name]`` (scaled numbers, or class labels by code), in
    memory or memory-mapped."""

    def __init__(
        self,
        pre: Preprocessing,
        positions: dict[str, np.ndarray],
        dtype: np.dtype | type,
        labels: np.ndarray | None,
        out_of_core: bool,
        folder: Path | None,
    ) -> None:
        self.pre, self.positions, self.dtype = pre, positions, np.dtype(dtype)
        self.labels = labels
        width = len(pre.features) + sum(len(c.levels_) + 1 for c in pre.categories)
        y_dtype = self.dtype if labels is None else labels.dtype
        self.X, self.y = {}, {}
        for name, rows in positions.items():
            self.X[name] = _array((len(rows), width), self.dtype, out_of_core, folder)
            self.y[name] = np.empty(len(rows), dtype=y_dtype)
        self.filled = dict.fromkeys(positions, 0)

    def add(self, rows: CleanedRows, start: int, block: np.ndarray) -> None:
        """The rows of ``block`` (the cleaned rows from ``start``) that each split holds."""
        pre, n = self.pre, len(self.pre.features)
        for name, positions in self.positions.items():
            local = _local(positions, start, len(block))
            if not len(local):
                continue
            picked = block[local]
            categorical = {c.column: rows.column(c.column, picked) for c in pre.categories}
            a, b = self.filled[name], self.filled[name] + len(local)
            self.X[name][a:b] = pre.scale_arrays(picked[:, :n], categorical, self.dtype)
            if self.labels is None:
                y = pre._regression_target().transform(picked[:, n : n + 1]).ravel()
                self.y[name][a:b] = y.astype(self.dtype)
            else:
                self.y[name][a:b] = self.labels[picked[:, n].astype(np.int64)]
            self.filled[name] = b


def _array(
    shape: tuple[int, int], dtype: np.dtype, out_of_core: bool, folder: Path | None
) -> np.ndarray:
    """An empty array: in memory, or a memory-mapped unlinked file in ``folder``."""
    if not out_of_core or shape[0] == 0:
        return np.empty(shape, dtype=dtype)
    with tempfile.TemporaryFile(dir=folder, prefix=".nnscratch-split-") as fh:
        return np.memmap(fh, dtype=dtype, mode="w+", shape=shape)


def table_bytes(n_rows: int, n_columns: int, dtype: np.dtype | type = np.float32) -> int:
    """What ``n_rows`` scaled rows of ``n_columns`` take."""
    return int(n_rows) * int(n_columns) * np.dtype(dtype).itemsize
