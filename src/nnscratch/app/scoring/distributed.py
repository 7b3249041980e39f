"""``nnscratch predict --scheduler ADDRESS`` (or ``--local-workers N``): scoring a table on a
Dask cluster, the same rows as streaming it on one machine.

The input is partitioned with ``dask.dataframe`` (CSV blocks, every value read as text
as the streamed path reads a mixed column; Parquet row groups), the model file is sent
once to every worker (``Client.scatter(broadcast=True)``, loaded once per worker
process), and each partition is scored by :func:`score_partition` — the read, the
cleaning and the prediction a streamed chunk gets. The client takes the partitions'
answers in input order, writes them and adds up their cleaning reports. A worker that
dies mid-run loses nothing: the scheduler runs its partitions again elsewhere, and a
partition's answer is taken once, so no row is missing or doubled. Starting the
scheduler and the workers is the user's (``dask scheduler``, ``dask worker ADDRESS``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from nnscratch.data.cleaning import CleaningReport, clean
from nnscratch.data.reading import sniff_delimited
from nnscratch.data.tables import PARQUET_SUFFIXES, table_parts
from nnscratch.data.tracks import TracksFile
from nnscratch.errors import DataError
from nnscratch.tasks.registry import load_model

#: Bytes of CSV a partition holds.
BLOCK_BYTES = 64 * 1024 * 1024

#: Each worker process's loaded models, by the model file's hash.
_LOADED: dict[str, Any] = {}


def score_partition(raw: pd.DataFrame, model_file: bytes, source: str) -> tuple[Any, Any]:
    """One partition's predictions (None if it has no usable row) and its cleaning report:
    what a Dask worker runs, as a streamed chunk is scored."""
    model = _model(model_file)
    pre = model.preprocessing
    tracks = TracksFile.from_frame(
        raw, source=source, features=pre.features + pre.categorical_columns, target=None
    )
    cleaned, report = clean(tracks.frame, pre.features, None, labels=model.labels, whole=False)
    return (model.predictions(cleaned) if len(cleaned) else None), report


def _model(model_file: bytes) -> Any:
    key = hashlib.sha256(model_file).hexdigest()
    if key not in _LOADED:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.npz"
            path.write_bytes(model_file)
            _LOADED[key] = load_model(path)
    return _LOADED[key]


def partitions(source: str, block_bytes: int = BLOCK_BYTES) -> list[Any]:
    """The source's partitions, as delayed raw frames in input order."""
    import dask.dataframe as dd

    parts = table_parts(source)
    if all(p.name.lower().endswith(PARQUET_SUFFIXES) for p in parts):
        return list(dd.read_parquet([str(p) for p in parts]).to_delayed())
    delayed = []
    for part in parts:
        sep, decimal = sniff_delimited(part)
        compressed = part.suffix == ".gz"
        frame = dd.read_csv(
            str(part),
            sep=sep,
            decimal=decimal,
            encoding="utf-8-sig",
            encoding_errors="replace",
            dtype=object,
            keep_default_na=True,
            blocksize=None if compressed else block_bytes,
        )
        delayed += list(frame.to_delayed())
    return delayed


class DaskPredictions:
    """As :class:`~nnscratch.models.streaming.StreamedPredictions`, on a Dask cluster:
    iterate for each partition's predictions in input order; afterwards ``read``,
    ``report`` and ``notes`` describe the whole source. ``on_part(i)`` is told as each
    partition's answer is taken (tests kill a worker there)."""

    unit = "rows"

    def __init__(
        self,
        client: Any,
        model_path: str,
        source: str,
        *,
        on_part: Callable[[int], None] | None = None,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        self.client, self.model_path, self.source = client, model_path, source
        self.on_part, self.block_bytes = on_part, block_bytes
        self.partitions = 0
        self.report: CleaningReport | None = None
        self.format_note: list[str] = []

    @property
    def read(self) -> int:
        return 0 if self.report is None else self.report.rows_read

    def __iter__(self) -> Iterator[pd.DataFrame]:
        import dask

        model_file = Path(self.model_path).read_bytes()
        [shipped] = self.client.scatter([model_file], broadcast=True, hash=False)
        tasks = [
            dask.delayed(score_partition)(part, shipped, self.source)
            for part in partitions(self.source, self.block_bytes)
        ]
        self.partitions = len(tasks)
        futures = self.client.compute(tasks)
        order = load_model(self.model_path).preprocessing.features
        for i, future in enumerate(futures):
            frame, report = future.result()
            self.report = report if self.report is None else self.report.merge(report, order)
            if self.on_part is not None:
                self.on_part(i)
            if frame is not None:
                yield frame
        if self.report is None or self.report.rows_kept == 0:
            raise DataError(f"{self.source}: no usable rows to score")

    @property
    def notes(self) -> list[str]:
        report = self.report
        if report is None or not report.rows_dropped:
            return []
        return [f"skipped {report.rows_dropped:,} row(s) that cannot be scored: {report.reasons()}"]


def dask_client(scheduler: str | None, local_workers: int | None) -> Any:
    """A client of the cluster at ``scheduler``, or of a local cluster of ``local_workers``
    processes (one thread each); ``DataError`` where Dask is missing."""
    try:
        import distributed
    except ImportError:
        raise DataError(
            "scoring on Dask needs dask[distributed]: pip install 'nnscratch[cluster]'"
        ) from None
    if scheduler:
        return distributed.Client(scheduler, set_as_default=False)
    cluster = distributed.LocalCluster(
        n_workers=local_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return distributed.Client(cluster, set_as_default=False)
