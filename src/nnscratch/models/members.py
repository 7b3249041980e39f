"""An estimator's ensemble members: what each one is, and training them one after another
or side by side in threads.

A :class:`Member` holds what one member trains with: its network, the optimizer that
updates it (with its moment buffers), the random stream that shuffles its batches, and
its history. They are kept in one record, so a member is kept or dropped whole (Ctrl-C
drops the members that never started, whichever way they train). Every member's
network is built by one :class:`Architecture`, its optimizer by one
:class:`OptimizerSettings`: both are the estimator's hyperparameters, stated once.

The random streams are spawned from the user's ``random_state`` in one fixed order
(:func:`member_streams`), which both a new fit and a model loaded from its file use, so
a loaded model continues (``partial_fit``) with the streams a fit would have had.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.blas import one_blas_thread
from nnscratch.core.network import InputExpansion, Network, to_network_layout
from nnscratch.core.observe import StepObserver
from nnscratch.core.optimizers import OPTIMIZERS, Optimizer
from nnscratch.core.schedules import SCHEDULES
from nnscratch.core.training import (
    BatchTransform,
    Callback,
    History,
    StopFlag,
    TrainConfig,
    stop_on_interrupt,
    train,
)


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


@dataclass(frozen=True)
class Architecture:
    """What every member's network is: its layer sizes ``n[0] … n[L]``, the hidden and
    output activations and the loss, the initialisation, the dtype, TabM's ``k`` (1: a
    plain network) and the hidden layers' dropout rate."""

    layer_sizes: tuple[int, ...]
    hidden_activation: str
    output_activation: str
    loss: str
    init: str
    dtype: np.dtype
    k: int = 1
    dropout: float = 0.0

    def network(self, rng: Any, dropout_rng: Any) -> Network | BatchEnsembleNetwork:
        """One member's network, its weights drawn from ``rng``: a plain network, or with
        ``k > 1`` a BatchEnsemble of ``k``."""
        sizes = list(self.layer_sizes)
        hidden, output = self.hidden_activation, self.output_activation
        if self.k > 1:
            return BatchEnsembleNetwork(
                sizes, self.k, hidden, output, self.init, loss=self.loss, dtype=self.dtype, rng=rng
            )
        return Network(
            sizes,
            hidden,
            output,
            self.init,
            loss=self.loss,
            dropout=self.dropout,
            dtype=self.dtype,
            rng=rng,
            dropout_rng=dropout_rng,
        )


@dataclass(frozen=True)
class OptimizerSettings:
    """Every member's optimizer: its name in :data:`~nnscratch.core.optimizers.OPTIMIZERS`,
    the learning rate, and the momentum or decoupled weight decay where it takes one."""

    name: str
    learning_rate: float
    momentum: float = 0.9
    weight_decay: float = 0.0

    def optimizer(self) -> Optimizer:
        """A new optimizer (its buffers are made at its first step)."""
        extra: dict[str, float] = {}
        if self.name in ("momentum", "nesterov"):
            extra["momentum"] = self.momentum
        if self.name in ("adam", "adamw") and self.weight_decay:
            extra["weight_decay"] = self.weight_decay
        return OPTIMIZERS.lookup(self.name)(self.learning_rate, **extra)


@dataclass
class Member:
    """One ensemble member: its network, the optimizer that updates it, the stream that
    shuffles its batches, and its training history, kept (or dropped) together."""

    network: Network | BatchEnsembleNetwork
    optimizer: Optimizer
    shuffle: np.random.Generator
    history: History = field(default_factory=History)


def new_members(
    architecture: Architecture, settings: OptimizerSettings, streams: list[MemberStreams]
) -> list[Member]:
    """Fresh members for a new fit, one per member's streams."""
    return [
        Member(
            architecture.network(stream.init, stream.dropout),
            settings.optimizer(),
            stream.shuffle,
        )
        for stream in streams
    ]


def train_members(
    members: list[Member],
    X: np.ndarray,
    Y: np.ndarray,
    config: TrainConfig,
    *,
    lr_schedule: str,
    n_planned: int,
    jobs: int = 1,
    sample_weight: np.ndarray | None = None,
    validation: tuple[np.ndarray, ...] | None = None,
    callbacks: tuple[Callback | StepObserver, ...] = (),
    batch_transform: BatchTransform | None = None,
    expand: InputExpansion | None = None,
) -> None:
    """Train every member on ``(X, Y)`` in the user layout, ``jobs`` at a time, as
    ``config`` says (each member gets its own ``lr_schedule``; progress bars count
    ``n_planned`` members). With ``expand``, ``X`` (and the validation inputs) are a
    source's rows, expanded into the network's inputs a batch at a time (see
    :func:`~nnscratch.core.training.train`). Members that Ctrl-C stopped before they began
    are removed from ``members``."""
    dtype = members[0].network.dtype
    Y_net = to_network_layout(Y, dtype)
    rows = np.ascontiguousarray(X, dtype=dtype)  # train transposes batches, or all, as needed
    validation_net = network_validation(validation, dtype, as_rows=expand is not None)
    configs = member_configs(config, lr_schedule, len(members), n_planned)
    several = len(members) > 1

    def fit_member(
        k: int,
        config: TrainConfig,
        stop: StopFlag | None = None,
        extra_callbacks: tuple[Callback, ...] = (),
    ) -> History:
        member = members[k]
        return train(
            member.network,
            None,
            Y_net,
            member.optimizer,
            config=config,
            validation=validation_net,
            rng=member.shuffle,
            callbacks=(*callbacks, *extra_callbacks),
            history=member.history,
            rows=rows,
            stop=stop,
            sample_weight=sample_weight,
            member=k if several else None,
            batch_transform=batch_transform,
            expand=expand,
        )

    try:
        if jobs == 1:
            for k in range(len(members)):
                if fit_member(k, configs[k]).interrupted:
                    del members[k + 1 :]  # those not started are dropped, whole
                    break
        else:
            fit_side_by_side(members, fit_member, configs, jobs)
    finally:  # a fitted model holds its weights, not a batch size's buffers a layer
        for member in members:
            member.network.drop_training_buffers()


def network_validation(
    validation: tuple[np.ndarray, ...] | None, dtype: np.dtype, *, as_rows: bool = False
) -> tuple[np.ndarray, ...] | None:
    """``(X_val, Y_val[, w_val])`` from the user layout into the network's (``as_rows``:
    ``X_val`` stays rows, a source's, which an expansion makes inputs of a batch at a
    time)."""
    if validation is None:
        return None
    X_val, Y_val, *weights = validation
    return (
        np.ascontiguousarray(X_val, dtype=dtype) if as_rows else to_network_layout(X_val, dtype),
        to_network_layout(Y_val, dtype),
        *[w for w in weights[:1] if w is not None],
    )


def member_configs(
    config: TrainConfig, lr_schedule: str, n_members: int, n_planned: int
) -> list[TrainConfig]:
    """Each member's :class:`TrainConfig`: ``config`` with its own schedule (a schedule
    may keep state) and progress label."""
    return [
        replace(
            config,
            schedule=SCHEDULES.lookup(lr_schedule)(config.epochs),
            progress_label=(f"member {k + 1}/{n_planned}" if n_planned > 1 else "training"),
        )
        for k in range(n_members)
    ]


def member_jobs(n_jobs: int | None, n_members: int) -> int:
    """Members trained at once: ``n_jobs`` (scikit-learn's convention: ``None`` is 1,
    ``-1`` every core), at most one per member."""
    if n_jobs is None:
        return 1
    cores = os.cpu_count() or 1
    jobs = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
    return max(1, min(jobs, n_members))


def fit_side_by_side(
    members: list[Member],
    fit_member: Callable[..., History],
    configs: list[TrainConfig],
    jobs: int,
) -> None:
    """Train the members ``jobs`` at a time in threads, each with BLAS on one thread.

    NumPy and BLAS release the GIL, so the threads use that many cores. Each
    member has its own network, optimizer, random streams and buffers and reads
    the training arrays only, so it ends with the bits a sequential fit on one
    BLAS thread gives it (see ``n_jobs``); each predicts its validation split on its own
    thread too (one batch's buffers a member). One progress bar counts all members'
    epochs; Ctrl-C stops every running member after its batch (members not
    started are dropped).
    """
    total = sum(c.epochs for c in configs)
    bar = tqdm(
        total=total,
        desc=f"{len(configs)} members, {jobs} at a time",
        unit="epoch",
        disable=not configs[0].progress,
        dynamic_ncols=True,
    )
    lock = threading.Lock()

    def count_epoch(epoch: int, logs: dict[str, float]) -> bool:
        with lock:
            bar.update(1)
        return False  # never stops training (early stopping and Ctrl-C do)

    started: list[bool] = [False] * len(configs)
    with bar, stop_on_interrupt(configs[0].handle_interrupts) as stop:

        def member(k: int) -> History | None:
            if stop.requested:
                return None  # interrupted before it began: dropped
            started[k] = True
            config = replace(
                configs[k], progress=False, handle_interrupts=False, validation_threads=1
            )
            before = members[k].history.n_epochs
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
    members[:] = [m for m, began in zip(members, started, strict=True) if began]
