"""Training an estimator's ensemble members: their random streams, one after another or
side by side in threads.

Every member has its own network, optimizer, shuffling stream and history. The
streams are spawned from the user's ``random_state`` in one fixed order
(:func:`member_streams`), which both a new fit and a model loaded from its file
use, so a loaded model continues (``partial_fit``) with the streams a fit would
have had.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from nnscratch.core.blas import one_blas_thread
from nnscratch.core.network import to_network_layout
from nnscratch.core.observe import StepObserver
from nnscratch.core.schedules import SCHEDULES
from nnscratch.core.training import (
    Callback,
    History,
    StopFlag,
    TrainConfig,
    stop_on_interrupt,
    train,
)

#: An :class:`nnscratch.models.base.MLPBase` (named, not imported: base imports this module).
MLPBase = Any


class MemberStreams(NamedTuple):
    """One member's random streams: its initial weights, its shuffles, its dropout masks."""

    init: np.random.Generator
    shuffle: np.random.Generator
    dropout: np.random.Generator


def generator(random_state: Any) -> np.random.Generator:
    """A Generator from ``random_state``: None, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


def member_streams(
    random_state: Any, n_members: int
) -> tuple[np.random.Generator, list[MemberStreams]]:
    """The validation split's stream and each member's streams, spawned from
    ``random_state`` in the one order that fit and load share."""
    split, *members = generator(random_state).spawn(1 + n_members)
    return split, [MemberStreams(*member.spawn(3)) for member in members]


def train_members(
    est: MLPBase,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int,
    sample_weight: np.ndarray | None = None,
    validation: tuple[np.ndarray, ...] | None = None,
    patience: int | None = None,
    rmse_scale: float = 1.0,
    callbacks: tuple[Callback | StepObserver, ...] = (),
    handle_interrupts: bool = False,
) -> None:
    """Train every member for ``epochs`` on ``(X, Y)`` in the user layout."""
    dtype = est.networks_[0].dtype
    Y_net = to_network_layout(Y, dtype)
    rows = np.ascontiguousarray(X, dtype=dtype)  # train transposes batches, or all, as needed
    validation_net = network_validation(validation, dtype)
    configs = train_configs(est, epochs, patience, rmse_scale, handle_interrupts)
    batch_transform = est._batch_transform()

    def fit_member(
        k: int,
        config: TrainConfig,
        stop: StopFlag | None = None,
        extra_callbacks: tuple[Callback, ...] = (),
    ) -> History:
        return train(
            est.networks_[k],
            None,
            Y_net,
            est._optimizers[k],
            config=config,
            validation=validation_net,
            rng=est._shuffle_rngs[k],
            callbacks=(*callbacks, *extra_callbacks),
            history=est.histories_[k],
            rows=rows,
            stop=stop,
            sample_weight=sample_weight,
            member=k if len(est.networks_) > 1 else None,
            batch_transform=batch_transform,
        )

    try:
        jobs = member_jobs(est)
        if jobs == 1:
            for k in range(len(est.networks_)):
                if fit_member(k, configs[k]).interrupted:
                    keep_members(est, list(range(k + 1)))  # those not started are dropped
                    break
        else:
            fit_side_by_side(est, fit_member, configs, jobs, handle_interrupts)
    finally:
        est._sync_fitted_attributes()


def network_validation(
    validation: tuple[np.ndarray, ...] | None, dtype: np.dtype
) -> tuple[np.ndarray, ...] | None:
    """``(X_val, Y_val[, w_val])`` from the user layout into the network's."""
    if validation is None:
        return None
    X_val, Y_val, *weights = validation
    return (
        to_network_layout(X_val, dtype),
        to_network_layout(Y_val, dtype),
        *[w for w in weights[:1] if w is not None],
    )


def train_configs(
    est: MLPBase, epochs: int, patience: int | None, rmse_scale: float, handle_interrupts: bool
) -> list[TrainConfig]:
    """Each member's :class:`TrainConfig` (its own schedule and progress label)."""
    return [
        TrainConfig(
            epochs=epochs,
            batch_size=est.batch_size,
            lmbda=est.l2,
            patience=patience,
            min_delta=est.min_delta,
            schedule=SCHEDULES.lookup(est.lr_schedule)(epochs),
            progress=bool(est.verbose),
            progress_label=(f"member {k + 1}/{est.n_members}" if est.n_members > 1 else "training"),
            rmse_scale=rmse_scale,
            handle_interrupts=handle_interrupts,
            monitor=est._monitor(),
        )
        for k in range(len(est.networks_))
    ]


def member_jobs(est: MLPBase) -> int:
    """Members trained at once: ``n_jobs`` (scikit-learn's convention: ``None`` is 1,
    ``-1`` every core), at most one per member."""
    n_jobs = est.n_jobs
    if n_jobs is None:
        return 1
    cores = os.cpu_count() or 1
    jobs = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
    return max(1, min(jobs, len(est.networks_)))


def fit_side_by_side(
    est: MLPBase,
    fit_member: Callable[..., History],
    configs: list[TrainConfig],
    jobs: int,
    handle_interrupts: bool,
) -> None:
    """Train the members ``jobs`` at a time in threads, each with BLAS on one thread.

    NumPy and BLAS release the GIL, so the threads use that many cores. Each
    member has its own network, optimizer, random streams and buffers and reads
    the training arrays only, so it ends with the bits a sequential fit on one
    BLAS thread gives it (see ``n_jobs``). One progress bar counts all members'
    epochs; Ctrl-C stops every running member after its batch (members not
    started are dropped).
    """
    total = sum(c.epochs for c in configs)
    bar = tqdm(
        total=total,
        desc=f"{len(configs)} members, {jobs} at a time",
        unit="epoch",
        disable=not est.verbose,
        dynamic_ncols=True,
    )
    lock = threading.Lock()

    def count_epoch(epoch: int, logs: dict[str, float]) -> bool:
        with lock:
            bar.update(1)
        return False  # never stops training (early stopping and Ctrl-C do)

    started: list[bool] = [False] * len(configs)
    with bar, stop_on_interrupt(handle_interrupts) as stop:

        def member(k: int) -> History | None:
            if stop.requested:
                return None  # interrupted before it began: dropped
            started[k] = True
            config = replace(configs[k], progress=False, handle_interrupts=False)
            before = est.histories_[k].n_epochs
            history = fit_member(k, config, stop, extra_callbacks=(count_epoch,))
            with lock:  # a member that stopped early: its epochs not run are done too
                bar.update(config.epochs - (history.n_epochs - before))
            return history

        with one_blas_thread(), ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(member, k) for k in range(len(configs))]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                stop.requested = True  # the others stop after their batch
                raise
    keep_members(est, [k for k in range(len(configs)) if started[k]])


def keep_members(est: MLPBase, kept: list[int]) -> None:
    """Keep the members ``kept`` (their networks, optimizers, shuffle streams and histories,
    all four together), dropping the others."""
    est.networks_ = [est.networks_[k] for k in kept]
    est.histories_ = [est.histories_[k] for k in kept]
    est._optimizers = [est._optimizers[k] for k in kept]
    est._shuffle_rngs = [est._shuffle_rngs[k] for k in kept]
