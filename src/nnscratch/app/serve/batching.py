"""Adaptive micro-batching: many requests read, and run through the network, in one call.

A request of a few rows costs little arithmetic, but reading it (the checks,
the derived features, the scaling) has a fixed cost, and so has a network call
whatever its width; one of each per request queues requests behind each other.
So every request hands its *job* (its parsed body) to one :class:`MicroBatcher`,
which answers them in batches::

    take the first waiting job
    add every job already waiting, and those of requests that have already
    arrived (a few turns of the event loop); while other requests are still
    being read, wait for them; at most max_wait_s, at most max_rows rows
    (a small batch on the event loop, a large one in a worker thread, off it):
        prepare: the jobs become requests (JSON rows are read together, each
                 body with the result it would get alone: its request or its error)
        one network call on all their rows
        each request's answer from its own rows' outputs
    hand each job its answer (or its error)

Nothing waits when nothing else is coming (a lone request pays a few turns of
the event loop, microseconds), and under load the batches fill by themselves
while the previous one runs. A row's output does not depend on its batch: the
fitted model runs its networks on fixed-width blocks
(:data:`nnscratch.models.wraps_estimator.PREDICT_BLOCK`), so every row meets the same BLAS
kernels alone, in a batch, or in a file; and reading rows
together works row by row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from nnscratch.models.values import Request

#: Default batching limits: the longest a request waits for others, the most rows a call.
MAX_WAIT_MS = 2.0
MAX_BATCH_ROWS = 512
#: A batch of at most this many rows is answered on the event loop itself; a larger one
#: in the worker thread. Handing a batch to a thread costs more than a small batch's work:
#: the thread waits for the GIL while the loop reads requests (a median 0.9 ms to start,
#: then its reading and network call ran 1.5–2× slower than alone), while a batch of a
#: few requests is done in about 2 ms. A large batch (a CSV body, a crowd) would hold the
#: loop up for longer than that, so it goes to the thread.
INLINE_ROWS = 64
#: A batch closes once the event loop has taken this many turns without a new request (and
#: none is being read). A request whose bytes have already arrived reaches the queue two
#: turns after the loop next looks at its socket (one to parse it and start its task, one
#: for the task to read it), so three quiet turns take in every request already sent. Under
#: load the clients answered by one batch then come back together instead of in the
#: previous batches' cohorts (with 16 clients: 5 requests a batch became 16, and the
#: network's fixed cost a block is shared by three times as many requests).
SETTLE_TURNS = 3

#: ``prepare(jobs)``: each job's :class:`Request`, or the exception it gets, in order.
Prepare = Callable[[list[Any]], list[Request | Exception]]
Waiting = tuple[Any, int, "asyncio.Future[dict[str, Any]]"]  # a job, its rows, its answer


def ready(jobs: list[Any]) -> list[Request | Exception]:
    """The default ``prepare``: the jobs are requests already."""
    return list(jobs)


class MicroBatcher:
    """Answers jobs in batches: ``prepare`` makes them requests, ``network(X) -> outputs``
    runs all their rows at once, each request's ``answer`` takes its own outputs."""

    def __init__(
        self,
        network: Callable[[np.ndarray], np.ndarray],
        *,
        prepare: Prepare = ready,
        max_rows: int = MAX_BATCH_ROWS,
        max_wait_s: float = MAX_WAIT_MS / 1000,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.network, self.prepare = network, prepare
        self.max_rows = max(1, max_rows)
        self.max_wait_s = max(0.0, max_wait_s)
        self.on_batch = on_batch  # (requests, rows) of every network call
        self.arriving = 0  # requests being read, about to be submitted
        self._queue: asyncio.Queue[Waiting] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="nnscratch-batch")

    @contextlib.contextmanager
    def arrival(self) -> Iterator[None]:
        """Around a request's reading: the batcher may wait for it."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    async def answer(self, job: Any, rows: int = 1) -> dict[str, Any]:
        """The answer to ``job`` (``rows`` rows, for the row cap), computed in some batch;
        the exception its preparation or answer raised, raised here."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._task is None or self._task.done() or loop is not self._loop:
            # the first request, or a new event loop (a test client may run one a request)
            self._loop, self._queue = loop, asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue))
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._queue.put_nowait((job, max(1, rows), future))
        return await future

    async def _run(self, queue: asyncio.Queue[Waiting]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            rows = batch[0][1]
            deadline = loop.time() + self.max_wait_s
            quiet = 0
            while rows < self.max_rows:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    rows += batch[-1][1]
                    quiet = 0
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                if self.arriving == 0:  # nothing being read: let the loop look for more
                    if quiet >= SETTLE_TURNS:
                        break
                    quiet += 1
                    await asyncio.sleep(0)
                    continue
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
                rows += batch[-1][1]
            await self._call(loop, batch)

    async def _call(self, loop: asyncio.AbstractEventLoop, batch: list[Waiting]) -> None:
        jobs = [job for job, _, _ in batch]
        try:
            if sum(rows for _, rows, _ in batch) <= INLINE_ROWS:
                results = self._answers(jobs)
            else:
                results = await loop.run_in_executor(self._executor, self._answers, jobs)
        except Exception as exc:  # preparing failed: every request of the batch gets it
            results = [exc] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # a client that went away cancels its future
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _answers(self, jobs: list[Any]) -> list[dict[str, Any] | Exception]:
        """The jobs prepared, one network call, each answer."""
        made = self.prepare(jobs)
        requests = [(j, r) for j, r in enumerate(made) if isinstance(r, Request)]
        results: list[Any] = list(made)
        if not requests:
            return results
        parts = [r.X for _, r in requests]
        X = np.concatenate(parts) if len(parts) > 1 else parts[0]
        try:
            outputs = self.network(X)
        except Exception as exc:  # every request of the call gets the failure
            for j, _ in requests:
                results[j] = exc
            return results
        if self.on_batch is not None:
            self.on_batch(len(requests), len(X))
        start = 0
        for j, request in requests:
            stop = start + len(request.X)
            try:
                results[j] = request.answer(outputs[start:stop])
            except Exception as exc:
                results[j] = exc
            start = stop
        return results

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
