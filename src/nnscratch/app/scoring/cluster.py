"""The Dask cluster ``nnscratch predict`` scores on: one it connects to (``--scheduler``),
or a local one it starts (``--local-workers N``), and everything it started closed again.

:func:`dask_client` is a context manager: on the way out, normal or not (an error, Ctrl-C),
it closes the client and then the local cluster, workers before the scheduler, so no
connection is cut mid-message. What ``distributed`` logs while a cluster shuts down (a
comm closed under a worker that is stopping, a nanny that waits) is only noise by then,
and is silenced for that moment. The workers of a local cluster, processes of their own,
log nothing below CRITICAL: a task that fails is the client's to report, once, in input
order, and a worker's heartbeat cut by the scheduler closing first (a traceback it logs
as an error, seen on a loaded machine) is shutdown noise too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from nnscratch.errors import ClusterError

#: Seconds a scheduler has to answer, and a first worker to join it.
CONNECT_TIMEOUT_S = 10.0
#: The loggers whose shutdown messages are silenced.
NOISY_LOGGERS = ("distributed", "tornado", "asyncio")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            "scoring on Dask needs dask[distributed]: pip install 'nnscratch[cluster]'"
        ) from None
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: str | None, local_workers: int | None) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a local cluster of ``local_workers``
    processes (one thread each; all cores where None), closed on the way out (the local
    cluster too). :class:`ClusterError` where Dask is missing, or no scheduler answers or
    no worker joins within :data:`CONNECT_TIMEOUT_S`."""
    distributed = _distributed()
    if scheduler:
        client = connect(distributed, scheduler)
        with closing_quietly(client):
            wait_for_a_worker(client, scheduler)
            yield client
        return
    cluster, client = start_local(distributed, local_workers or os.cpu_count() or 1)
    with closing_quietly(cluster), closing_quietly(client):
        yield client


def start_local(distributed: Any, workers: int) -> tuple[Any, Any]:
    """A local cluster of ``workers`` processes and its client. Ctrl-C while they start
    (a few seconds) takes effect once they have: they are closed, then it is raised (a
    cluster half started cannot be closed cleanly)."""
    with _interrupts_held() as interrupted:
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # no dashboard, and the scheduler's own HTTP endpoints on a free local port (by
            # default they take 8787, and warn where another cluster holds it)
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,
        )
        client = distributed.Client(cluster, set_as_default=False)
    if interrupted:
        with closing_quietly(cluster), closing_quietly(client):
            raise KeyboardInterrupt
    return cluster, client


def connect(distributed: Any, address: str) -> Any:
    """A client of the scheduler at ``address``; :class:`ClusterError` in one line where it
    does not answer within :data:`CONNECT_TIMEOUT_S`."""
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S:g} s "
            f"({reason[:160]})"
        ) from None


def wait_for_a_worker(client: Any, address: str) -> None:
    """Return once the cluster has a worker; :class:`ClusterError` after
    :data:`CONNECT_TIMEOUT_S` without one (tasks would wait for ever)."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ClusterError(
            f"the Dask scheduler at {address} has no worker (none joined within "
            f"{CONNECT_TIMEOUT_S:g} s; start one with `dask worker {address}`)"
        ) from None


def describe(client: Any, scheduler: str | None) -> str:
    """One line naming the cluster: where it is, its workers and their threads."""
    threads = client.nthreads()
    workers = f"{len(threads)} worker(s), {sum(threads.values())} thread(s)"
    if scheduler:
        return f"scoring on the Dask cluster at {scheduler}: {workers}"
    return f"scoring on a local Dask cluster: {workers}"


@contextlib.contextmanager
def closing_quietly(thing: Any) -> Iterator[Any]:
    """``thing``, closed on the way out with the shutdown noise silenced."""
    try:
        yield thing
    finally:
        with _silenced():
            thing.close()


@contextlib.contextmanager
def _interrupts_held() -> Iterator[list[int]]:
    """Within the block, SIGINT is noted (in the list yielded) instead of raised; only in
    the main thread, where Python handles signals."""
    interrupted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: interrupted.append(number))
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
