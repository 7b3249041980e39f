"""``nnscratch predict --scheduler ADDRESS`` (or ``--local-workers N``): a table scored on a
Dask cluster, through the scorer that streaming on one machine uses.

The source is cut into blocks (:func:`~nnscratch.data.tables.table_blocks`: 64 MB of CSV,
a Parquet row group), and each block is one task, :func:`score_partition`: the block read
with the parser a streamed chunk is read with, then
:func:`~nnscratch.models.streaming.score_chunk`, the function every streamed chunk goes
through (the ``map_partitions`` of the design, one task a partition). :class:`DaskChunks`
hands the scored partitions, in input order, to
:class:`~nnscratch.models.streaming.StreamedPredictions`, the scorer streaming uses: the
reports merge, the running scores add up and the whole-file errors are raised there, so
both paths write and say the same.

The client keeps a bounded window of partitions in flight, takes their answers in input
order, releases each partition's future as soon as its answer is taken (memory on the
client holds one partition's predictions), and cancels the rest on any error. The model
file travels as the result of a task (:func:`model_file`), not as scattered data: a
worker that dies takes its copy with it, and the scheduler runs that task again for
whoever needs it next, as it runs a lost partition again, so a worker killed mid-run
loses no row and doubles none. The workers must see the data at the same path as the
client (:class:`~nnscratch.data.tables.TablePart` opens a part by its absolute path).
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nnscratch.data.tables import BLOCK_BYTES, Block, read_block, table_blocks
from nnscratch.data.tracks import tracks_chunk
from nnscratch.errors import ClusterError
from nnscratch.models.streaming import (
    ScoredChunk,
    StreamedPredictions,
    read_columns,
    score_chunk,
)
from nnscratch.tasks.registry import load_model

#: Each worker process's loaded models, by the model file's hash.
_LOADED: dict[str, Any] = {}
_LOADING = threading.Lock()


def model_file(data: bytes) -> bytes:
    """The model file's bytes as a task's result: what a partition's task depends on."""
    return data


def score_partition(block: Block, data: bytes, source: str) -> ScoredChunk:
    """One block of ``source`` read, cleaned and scored: what a Dask worker runs."""
    model = _model(data)
    raw = read_block(block)
    return score_chunk(model, tracks_chunk(raw, source, features=read_columns(model), target=None))


def _model(data: bytes) -> Any:
    """The model in a model file's bytes, loaded once per worker process."""
    key = hashlib.sha256(data).hexdigest()
    with _LOADING:
        if key not in _LOADED:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.npz"
                path.write_bytes(data)
                _LOADED[key] = load_model(path)
        return _LOADED[key]


class DaskChunks:
    """The source's partitions scored on the cluster of ``client``, as
    :class:`~nnscratch.models.streaming.ScoredChunk` objects in input order. At most
    ``window`` partitions are in flight (default: twice the cluster's threads);
    ``on_part(i)`` is told as partition ``i``'s answer is taken (tests kill a worker
    there)."""

    def __init__(
        self,
        client: Any,
        model_path: str,
        source: str,
        *,
        block_bytes: int = BLOCK_BYTES,
        window: int | None = None,
        on_part: Callable[[int], None] | None = None,
    ) -> None:
        self.client, self.model_path, self.source = client, model_path, source
        self.block_bytes, self.window, self.on_part = block_bytes, window, on_part
        self.partitions = 0

    def __iter__(self) -> Iterator[ScoredChunk]:
        blocks = table_blocks(self.source, self.block_bytes)
        self.partitions = len(blocks)
        data = Path(self.model_path).read_bytes()
        model = self.client.submit(model_file, data, pure=False)
        window = self.window or max(2, 2 * sum(self.client.nthreads().values()))
        upcoming = (
            self.client.submit(score_partition, block, model, self.source, pure=False)
            for block in blocks
        )
        in_flight = deque(itertools.islice(upcoming, window))
        try:
            for i in range(len(blocks)):  # one taken, one more sent, while any is left
                chunk = taken(in_flight.popleft(), i, self.source)
                in_flight.extend(itertools.islice(upcoming, 1))
                if self.on_part is not None:
                    self.on_part(i)
                yield chunk
        finally:  # an error, or the consumer stopped (a closed client has let all go)
            if self.client.status == "running":
                self.client.cancel([*in_flight, model])


def taken(future: Any, i: int, source: str) -> ScoredChunk:
    """A partition's answer, its future released; the task's own error as it is (a
    ``DataError`` naming the file), or :class:`ClusterError` where the cluster lost the
    partition."""
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    try:
        return future.result()
    except (KilledWorker, FutureCancelledError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ClusterError(f"{source}: the Dask cluster lost partition {i} ({reason})") from None
    finally:
        future.release()  # now, not when the last reference to it goes


def dask_predictions(
    client: Any, model: Any, model_path: str, source: str, **options: Any
) -> StreamedPredictions:
    """``model``'s predictions for ``source`` (the model saved at ``model_path``) scored on
    the cluster of ``client``: :class:`StreamedPredictions` fed by :class:`DaskChunks`
    (``options``: its ``block_bytes``, ``window``, ``on_part``)."""
    chunks = DaskChunks(client, model_path, source, **options)
    return StreamedPredictions(model, source, chunks=chunks)
