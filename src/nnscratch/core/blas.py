"""How many threads BLAS may use for the network's products.

OpenBLAS's thread count is one setting for the whole process. Small products
run faster on one thread (:data:`ONE_BLAS_THREAD_BELOW`), and prediction must
not depend on how many threads BLAS was given, so both hold it to one thread
while they run, safely from many threads at once (:func:`one_blas_thread`).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

import threadpoolctl
from threadpoolctl import ThreadpoolController

#: A batch whose largest matrix product has fewer multiply-adds than this
#: runs with BLAS held to one thread. OpenBLAS starts and synchronises its
#: threads on every product; on small products that costs about what the
#: second core gives, and much more whenever the other core is busy.
#: Measured on the default network (largest block 32 × 65), float32 Adam, six
#: fits each in random order on this 2-core machine, samples/s one thread
#: against two (best, median): batch 256 2.09 M, 2.06 M against 2.02 M,
#: 1.73 M; batch 2,048 1.91 M, 1.88 M against 2.46 M, 1.39 M. One thread is
#: the steady choice below 2²³ multiply-adds (4,033 columns here); above
#: that, e.g. full-batch gradient descent, BLAS keeps its threads.
ONE_BLAS_THREAD_BELOW = 2**23


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """Built once: looking the BLAS libraries up costs milliseconds (``threadpool_limits``
    does it on every call), limiting them through a kept controller microseconds."""
    return ThreadpoolController()


class _OneBlasThread:
    """BLAS held to one thread while any caller, in any thread, is inside.

    OpenBLAS's thread count is one setting for the whole process, and
    threadpoolctl's ``limit`` restores on exit whatever it found on entry: two
    overlapping ``with`` blocks in two threads would hand BLAS its threads
    back while the other is still inside. So the holds are counted under a
    lock: the first sets one thread, the last restores the original.
    threadpoolctl (3.8) also lets a single "controlling" thread change
    OpenBLAS and ignores the others; under the lock, each change releases
    that control before and after, so any thread's hold takes effect and no
    thread keeps control afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._by_thread: collections.Counter[int] = collections.Counter()
        self._limiter: Any = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        thread = threading.get_ident()
        with self._lock:
            if self._holders == 0:
                _release_openblas_control()
                self._limiter = _blas_controller().limit(limits=1, user_api="blas")
                _release_openblas_control()
            self._holders += 1
            self._by_thread[thread] += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                self._by_thread[thread] -= 1
                if self._by_thread[thread] == 0:
                    del self._by_thread[thread]
                if self._holders == 0:
                    _release_openblas_control()
                    self._limiter.restore_original_limits()
                    _release_openblas_control()
                    self._limiter = None

    def holds(self, thread: int) -> int:
        """How many holds the thread of ident ``thread`` is inside now."""
        with self._lock:
            return self._by_thread[thread]


def _release_openblas_control() -> None:
    """Let any thread set OpenBLAS's limit next (threadpoolctl ≥ 3.8 ties it to one)."""
    release = getattr(threadpoolctl.OpenBLASController, "clear_controlling_thread", None)
    if release is not None:
        release(force=True)


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread() -> contextlib.AbstractContextManager[None]:
    """Hold BLAS to one thread inside the ``with`` block (safe from many threads at once)."""
    return _ONE_BLAS_THREAD.hold()


def one_blas_thread_holds(thread: int | None = None) -> int:
    """How many :func:`one_blas_thread` blocks the thread of ident ``thread`` (default: the
    calling thread) is inside now: 0 when it holds nothing, whatever other threads do."""
    return _ONE_BLAS_THREAD.holds(threading.get_ident() if thread is None else thread)


def blas_threads_for_products(multiply_adds: int) -> contextlib.AbstractContextManager[object]:
    """BLAS held to one thread for a batch whose largest product has fewer than
    :data:`ONE_BLAS_THREAD_BELOW` multiply-adds; its own threads otherwise."""
    if multiply_adds < ONE_BLAS_THREAD_BELOW:
        return one_blas_thread()
    return contextlib.nullcontext()
