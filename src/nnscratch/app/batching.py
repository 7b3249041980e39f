"""Adaptive micro-batching: concurrent requests' rows through the network in one call.

A request's rows are checked and encoded on their own (a few hundred
microseconds), but a network call has a fixed cost whatever its width, and
one call per request queues requests behind each other. So every request
hands its network inputs to one :class:`MicroBatcher`, which runs them in
batches::

    take the first waiting request
    add every request already waiting; while other requests are still being
    read and checked, wait for them up to max_wait_s, until max_rows rows
    one network call on all their rows (in a worker thread, off the event loop)
    hand each request its own rows' outputs

Nothing waits when nothing else is coming (a lone request pays no delay), and
under load the batches fill by themselves while the previous one runs. A row's
output does not depend on its batch: the fitted model runs its networks on
fixed-width blocks (:data:`nnscratch.models.base.PREDICT_BLOCK`), so every row
meets the same BLAS kernels alone, in a batch, or in a file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Default batching limits: the longest a request waits for others, the most rows a call.
MAX_WAIT_MS = 2.0
MAX_BATCH_ROWS = 512


class MicroBatcher:
    """Runs ``network(X) -> outputs`` on the rows of many requests at once."""

    def __init__(
        self,
        network: Callable[[np.ndarray], np.ndarray],
        *,
        max_rows: int = MAX_BATCH_ROWS,
        max_wait_s: float = MAX_WAIT_MS / 1000,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.network = network
        self.max_rows = max(1, max_rows)
        self.max_wait_s = max(0.0, max_wait_s)
        self.on_batch = on_batch  # (requests, rows) of every call
        self.arriving = 0  # requests being read and checked, about to be submitted
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="nnscratch-batch")

    @contextlib.contextmanager
    def arrival(self) -> Iterator[None]:
        """Around a request's reading and checking: the batcher may wait for it."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    async def outputs(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs for ``X``'s rows, computed in some batch."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done() or loop is not self._loop:
            # the first request, or a new event loop (a test client may run one a request)
            self._loop, self._queue = loop, asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue))
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._queue.put_nowait((X, future))
        return await future

    async def _run(
        self, queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            rows = len(batch[0][0])
            deadline = loop.time() + self.max_wait_s
            while rows < self.max_rows:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    rows += len(batch[-1][0])
                    continue
                left = deadline - loop.time()
                if self.arriving == 0 or left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
                rows += len(batch[-1][0])
            await self._call(loop, batch, rows)

    async def _call(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[np.ndarray, asyncio.Future[np.ndarray]]],
        rows: int,
    ) -> None:
        X = np.concatenate([inputs for inputs, _ in batch]) if len(batch) > 1 else batch[0][0]
        try:
            outputs = await loop.run_in_executor(self._executor, self.network, X)
        except Exception as exc:  # every request of the batch gets the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        if self.on_batch is not None:
            self.on_batch(len(batch), rows)
        start = 0
        for inputs, future in batch:
            if not future.done():  # a client that went away cancels its future
                future.set_result(outputs[start : start + len(inputs)])
            start += len(inputs)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
