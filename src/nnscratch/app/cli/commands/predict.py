"""``nnscratch predict``: a saved model's predictions for a file, as a CSV or Parquet.

A table model reads its source a chunk at a time (:mod:`nnscratch.models.streaming`),
so memory stays flat however large the file; the output is written whole or not at
all (a fault in the middle of the file leaves no half-written output)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import pandas as pd
from tqdm.auto import tqdm

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.scoring.cluster import dask_client, describe
from nnscratch.app.scoring.distributed import dask_predictions
from nnscratch.data.tables import CHUNK_ROWS
from nnscratch.errors import DataError
from nnscratch.files import atomic_write
from nnscratch.tasks.registry import load_model


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "predict",
        help="write a saved model's predictions for a CSV (or images)",
        description="Write id (when present) and predicted_<target> (for classes, with one "
        "probability per class) for every row that can be scored; report skipped rows. The "
        "CSV may lack the target; where it has it, the RMSE is printed too.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch predict --model runs/first/model.npz --data new.csv --out pred.csv
            nnscratch predict --model runs/first/model.npz --data 'parts/*.parquet' --out s.parquet
            nnscratch predict --model runs/first/model.npz --data big.csv --out scores/ \\
                --scheduler tcp://HOST:8786
        """),
    )
    parser.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    parser.add_argument(
        "--data",
        required=True,
        help="CSV of tracks to score; for a digits model, an MNIST folder (its test images, "
        "one row each: index,label,p0..p9) or a folder of PNG digits (white on black; other "
        "sizes are resized, dark-on-light ones inverted)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="where to write the predictions: CSV, Parquet for a name ending .parquet, or a "
        "folder of Parquet parts for a name ending /",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        help="rows read, cleaned and scored at a time: memory stays flat however large the "
        "file (a table model; CSV or Parquet, a file, a folder or a glob of parts)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="score on this Dask cluster (tcp://host:8786; start it with `dask scheduler` "
        "and `dask worker ADDRESS`): the input in partitions, the model sent once to each "
        "worker, the same rows as on one machine",
    )
    where.add_argument(
        "--local-workers",
        type=int,
        metavar="N",
        help="score on a Dask cluster of N local worker processes",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.chunk_rows < 1:
        raise DataError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    if args.local_workers is not None and args.local_workers < 1:
        raise DataError(f"--local-workers must be at least 1, got {args.local_workers}")
    model = load_model(args.model)
    if isinstance(model, PredictsInChunks) and (args.scheduler or args.local_workers):
        with dask_client(args.scheduler, args.local_workers) as client:
            say(describe(client, args.scheduler))
            predictions: Any = dask_predictions(client, model, args.model, args.data)
            written = write_frames(args.out, progress(predictions))
        report = predictions.format_note
    elif isinstance(model, PredictsInChunks):
        predictions = model.predict_chunks(args.data, args.chunk_rows)
        written = write_frames(args.out, progress(predictions))
        report = predictions.format_note
    else:
        whole = model.predict_file(args.data)
        report, predictions = whole.report, whole
        written = write_frames(args.out, [whole.frame])
    for line in report:
        say(line)
    say(f"predicted {written:,} of {predictions.read:,} {predictions.unit} → {args.out}")
    for line in predictions.notes:
        say(line)
    return 0


@runtime_checkable
class PredictsInChunks(Protocol):
    """A model that predicts a source a chunk at a time (the table models)."""

    def predict_chunks(self, source: str, chunk_rows: int) -> Any: ...


def progress(chunks: Any) -> Iterator[pd.DataFrame]:
    """The chunks, with a progress bar of the rows read (on a terminal only)."""
    with tqdm(unit=" rows", unit_scale=True, desc="scoring", disable=None, leave=False) as bar:
        before = 0
        for frame in chunks:
            bar.update(chunks.read - before)
            before = chunks.read
            yield frame


def write_frames(path: str, frames: Iterable[pd.DataFrame]) -> int:
    """Write ``frames`` as one table, CSV (one header) or Parquet by ``path``'s suffix, or a
    folder of Parquet parts for a path ending in ``/``, atomically: the whole table or, on
    any error on the way, nothing. The rows written."""
    if path.endswith(("/", os.sep)):
        return write_parts(Path(path), frames)
    parquet = path.lower().endswith((".parquet", ".pq"))
    rows = 0

    def write(fh: BinaryIO) -> None:
        nonlocal rows
        writer = None
        for frame in frames:
            if parquet:
                writer = writer or parquet_writer(fh, frame, path)
                writer.write_table(pa_table(frame))
            else:
                fh.write(frame.to_csv(index=False, header=rows == 0).encode("utf-8"))
            rows += len(frame)
        if writer is not None:
            writer.close()

    atomic_write(path, write)
    return rows


def write_parts(folder: Path, frames: Iterable[pd.DataFrame]) -> int:
    """``frames`` as ``part-00000.parquet``, ``part-00001.parquet``, … in ``folder``, made
    beside it and moved into place at the end (an earlier folder is replaced whole)."""
    parent = folder.parent if str(folder.parent) else Path(".")
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    rows = 0
    try:
        for k, frame in enumerate(frames):
            with (stage / f"part-{k:05d}.parquet").open("wb") as fh:
                writer = parquet_writer(fh, frame, str(folder))
                writer.write_table(pa_table(frame))
                writer.close()
            rows += len(frame)
        if folder.exists():
            old = stage.with_name(stage.name + ".old")
            folder.rename(old)
            stage.rename(folder)
            shutil.rmtree(old)
        else:
            stage.rename(folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return rows


def parquet_writer(fh: BinaryIO, first: pd.DataFrame, path: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: writing Parquet needs pyarrow: pip install 'nnscratch[parquet]'"
        ) from None
    return pq.ParquetWriter(fh, pa_table(first).schema)


def pa_table(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)
