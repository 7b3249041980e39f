"""Stage 6 (part 2) — the training loop.

One loop serves every regime::

    for each epoch:
        shuffle the training columns (seeded)          skipped for full batch
        for each mini-batch (X_b, Y_b) of m columns:
            Ŷ = forward(X_b)                           stage 4
            grads = backward(Ŷ, Y_b, λ)                stage 5
            optimizer.step(params, grads)              θ ← update(θ, grads)
        record train loss (running sums, no extra pass), validation loss / RMSE
        early stopping: keep the best weights, stop after `patience` bad epochs

``batch_size=None`` is the seed's full-batch gradient descent (one step per
"epoch", i.e. per iteration); ``batch_size=1`` is the seed's per-sample SGD.

The epoch's training loss is the sample-weighted mean of the batch objectives
``J_b = 1/m_b Σ_b ℓ + λ/(2 m_b) ‖W‖²`` (for MSE ``ℓ = ½(ŷ-y)²``), summed while
training from what ``backward`` returns, so no second pass over the data is
needed. Validation loss is the plain data loss ``J_data`` of the loss table.

Everything that is not data goes in one keyword-only :class:`TrainConfig`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from nnscratch.core.network import InputExpansion, Network, to_network_layout
from nnscratch.core.observe import StepObserver, StepView, read_only
from nnscratch.core.optimizers import Optimizer
from nnscratch.core.schedules import Schedule
from nnscratch.errors import TrainingDivergedError

#: Inputs from which shuffled mini-batches are gathered as rows (see :func:`train`).
#: MNIST's 784 inputs, batch 256: an epoch's column shuffle took 36% of the epoch.
ROWS_FROM = 64

#: ``transform(rows, rng)``: rewrites a batch's rows ``(m, n[0])`` in place (augmentation).
BatchTransform = Callable[[np.ndarray, np.random.Generator], object]

#: ``callback(epoch, logs) -> stop?``: called after every finished epoch, the last one
#: too, before early stopping decides; return True to stop.
Callback = Callable[[int, dict[str, float]], bool | None]


@dataclass(frozen=True)
class EpochView:
    """One finished epoch, as an :class:`EpochObserver` is told it: ``epoch`` is the
    history's index (0-based), ``member`` the ensemble member's index when an estimator
    trains several (``None`` for a lone network, as in a step's
    :class:`~nnscratch.core.observe.StepView`), ``logs`` the epoch's figures."""

    epoch: int
    member: int | None
    logs: dict[str, float]


@runtime_checkable
class EpochObserver(Protocol):
    """An epoch callback that is told which member the epoch belongs to: an object whose
    ``on_epoch(view)`` gets an :class:`EpochView` after every finished epoch, when a
    plain :data:`Callback` gets ``(epoch, logs)``; it returns True to stop, as they do.
    Members trained side by side call it from their threads."""

    def on_epoch(self, view: EpochView) -> bool | None: ...


@dataclass
class History:
    """Per-epoch curves and how training ended."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_rmse: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False

    @property
    def n_epochs(self) -> int:
        return len(self.train_loss)

    def record(self, logs: dict[str, float], learning_rate: float, seconds: float) -> None:
        """Append one epoch's logs."""
        self.train_loss.append(logs["train_loss"])
        if "val_loss" in logs:
            self.val_loss.append(logs["val_loss"])
        if "val_rmse" in logs:
            self.val_rmse.append(logs["val_rmse"])
        if "val_accuracy" in logs:
            self.val_accuracy.append(logs["val_accuracy"])
        self.learning_rate.append(learning_rate)
        self.seconds.append(seconds)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> History:
        """Rebuild from :meth:`to_dict` (missing curves are empty)."""
        return cls(
            train_loss=list(state.get("train_loss", [])),
            val_loss=list(state.get("val_loss", [])),
            val_rmse=list(state.get("val_rmse", [])),
            val_accuracy=list(state.get("val_accuracy", [])),
            learning_rate=list(state.get("learning_rate", [])),
            best_epoch=state.get("best_epoch"),
            stopped_early=bool(state.get("stopped_early", False)),
            interrupted=bool(state.get("interrupted", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "val_rmse": list(self.val_rmse),
            "val_accuracy": list(self.val_accuracy),
            "learning_rate": list(self.learning_rate),
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
        }


class StopFlag:
    """A request to stop training after the current batch, as if Ctrl-C were pressed.

    :func:`train` checks ``requested`` after every batch. With
    ``config.handle_interrupts`` its own flag is set by the first SIGINT (a
    second one raises ``KeyboardInterrupt`` at once); ``stop=`` hands it a flag
    shared with other loops, e.g. ensemble members trained side by side.
    """

    def __init__(self) -> None:
        self.requested = False

    def handler(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write(
            "\ninterrupt: stopping after this batch (press Ctrl-C again to quit now)",
            file=sys.stderr,
        )


@contextmanager
def stop_on_interrupt(enabled: bool, flag: StopFlag | None = None) -> Iterator[StopFlag]:
    """``flag`` (a new one by default), set by the first SIGINT while ``enabled``."""
    flag = flag if flag is not None else StopFlag()
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # e.g. under nohup, or `cmd &`
    if not enabled or ignored or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, flag.handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train: everything :func:`train` needs besides the data.

    ``batch_size=None`` is full-batch gradient descent. With validation data
    and ``patience``, training stops after ``patience`` epochs whose
    monitored validation figure did not beat the best by ``min_delta``, and
    the best epoch's weights are restored. ``monitor`` names that figure:
    ``"val_loss"`` (lower is better) or ``"val_accuracy"`` (higher is better,
    classification losses only). ``rmse_scale`` multiplies the reported
    validation RMSE (the target scaler's range gives original units). With
    ``handle_interrupts``, Ctrl-C stops after the current batch.
    ``validation_threads`` caps the threads the validation split is predicted on (None:
    the network's choice); members trained side by side set 1, so that each predicts on
    its own core and holds one batch's buffers, not one a thread (the same bits).
    """

    epochs: int
    batch_size: int | None = None
    lmbda: float = 0.0
    patience: int | None = None
    min_delta: float = 0.0
    schedule: Schedule | None = None
    progress: bool = False
    progress_label: str = "training"
    rmse_scale: float = 1.0
    handle_interrupts: bool = False
    monitor: str = "val_loss"
    validation_threads: int | None = None

    def __post_init__(self) -> None:
        if self.monitor not in MONITORS:
            raise ValueError(
                f"monitor must be one of {', '.join(map(repr, MONITORS))}, got {self.monitor!r}"
            )


#: What early stopping can watch, and whether higher values are better.
MONITORS = {"val_loss": False, "val_accuracy": True}


class _Checkpoints:
    """The two weight snapshots training keeps, and the decisions made on them.

    ``last_good``: the weights after the last finished epoch, restored when
    the loss becomes NaN or infinite (then :class:`TrainingDivergedError`).
    ``best``: the weights of the epoch with the best monitored figure (the
    lowest loss, or with ``higher_is_better`` the highest accuracy), restored
    at the end when early stopping or an interrupt asks for it.
    """

    def __init__(
        self,
        flat: np.ndarray,
        patience: int | None,
        min_delta: float,
        *,
        higher_is_better: bool = False,
    ) -> None:
        self.flat = flat
        self.last_good = flat.copy()
        self.best = flat.copy()
        self.sign = -1.0 if higher_is_better else 1.0  # observe minimises sign · value
        self.best_loss = math.inf
        self.patience, self.min_delta = patience, min_delta
        self.wait = 0

    def diverged(self, epoch: int, learning_rate: float) -> TrainingDivergedError:
        """Restore the best weights (else the last good ones); the error to raise."""
        self.flat[...] = self.best if self.best_loss < math.inf else self.last_good
        return TrainingDivergedError(
            f"training diverged at epoch {epoch + 1}: the loss became NaN or infinite "
            f"(learning rate {learning_rate:g}); try a smaller learning rate, e.g. "
            f"{learning_rate / 10:g}"
        )

    def epoch_done(self) -> bool:
        """Keep the finished epoch's weights as the last good ones; False if they are not finite."""
        if not np.isfinite(self.flat).all():
            return False
        self.last_good[...] = self.flat
        return True

    def observe(self, value: float) -> tuple[bool, bool]:
        """Record the epoch's monitored figure: (is it the best so far, should training stop)."""
        loss = self.sign * value
        improved = loss < self.best_loss - self.min_delta
        if improved:
            self.best_loss = loss
            self.best[...] = self.flat
            self.wait = 0
        else:
            self.wait += 1
        return improved, self.patience is not None and self.wait >= self.patience

    def restore_best(self) -> None:
        self.flat[...] = self.best


def _as_layout(A: np.ndarray, rows: int, dtype: np.dtype) -> np.ndarray:
    return np.ascontiguousarray(np.reshape(A, (rows, -1)), dtype=dtype)


class _Batches:
    """The training data and how an epoch walks through it: ``m`` columns a batch,
    shuffled every epoch (seeded) unless one batch holds everything.

    With the rows given and at least :data:`ROWS_FROM` inputs, a batch is gathered
    as rows (contiguous, cheap) and transposed into the network's input buffer;
    otherwise the columns of ``X`` are shuffled into an epoch copy. The permutation,
    the batches and the bits are the same either way.

    With an ``expand`` (:data:`~nnscratch.core.network.InputExpansion`), ``rows`` are a
    source's rows (in memory, or a memory-mapped store: only indexed, never copied
    whole) and each gathered batch is expanded into the network's input rows before the
    transpose: the inputs, and so the bits, of the expanded rows given whole.
    """

    def __init__(
        self,
        net: Network,
        X: np.ndarray | None,
        Y: np.ndarray,
        rows: np.ndarray | None,
        batch_size: int | None,
        rng: np.random.Generator,
        weights: np.ndarray | None = None,
        transform: BatchTransform | None = None,
        expand: InputExpansion | None = None,
    ) -> None:
        if (transform is not None or expand is not None) and rows is None:
            raise ValueError("a batch transform or expansion needs the training rows (rows=...)")
        if expand is not None and X is not None:
            raise ValueError("with an expansion, train takes the source's rows, not X")
        if rows is not None:
            rows = np.ascontiguousarray(rows, dtype=net.dtype)
        if X is None:
            if rows is None:
                raise ValueError("train needs X, or its rows")
            n, n_inputs = rows.shape
        else:
            X = np.ascontiguousarray(X, dtype=net.dtype)
            n_inputs, n = X.shape
        Y = _as_layout(Y, net.layer_sizes[-1], net.dtype)
        if Y.shape[1] != n:
            raise ValueError(f"X has {n} samples but Y has {Y.shape[1]}")
        if n == 0:
            raise ValueError("no training samples")
        self.net, self.rng, self.n = net, rng, n
        self.m = n if batch_size is None else max(1, min(int(batch_size), n))
        self.shuffle = self.m < n
        self.by_rows = rows is not None and (
            transform is not None or expand is not None or (self.shuffle and n_inputs >= ROWS_FROM)
        )
        self.expand = expand
        # its own stream, spawned from the shuffles' (which spawning leaves as they were)
        self.transform = transform
        self.transform_rng = rng.spawn(1)[0] if transform is not None else None
        if self.by_rows:
            assert rows is not None
            if rows.shape != (n, n_inputs):
                raise ValueError(f"rows has shape {rows.shape}, expected {(n, n_inputs)}")
            self.row_buffer = np.empty((self.m, n_inputs), dtype=net.dtype)
            if expand is not None:  # the batch's network inputs, as rows
                self.input_rows = np.empty((self.m, net.layer_sizes[0]), dtype=net.dtype)
        elif X is None:
            X = to_network_layout(rows, net.dtype)  # the whole array, once
        self.rows, self.X, self.Y = rows, X, Y
        self.X_epoch = np.empty_like(X) if self.shuffle and not self.by_rows else X
        self.Y_epoch = np.empty_like(Y) if self.shuffle else Y
        self.order = np.arange(n, dtype=_index_dtype(n))
        self.weights = self.weights_epoch = None
        self.total_weight = float(n)
        if weights is not None:
            w = np.ascontiguousarray(weights, dtype=net.dtype).reshape(-1)
            if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError(f"sample weights must be {n} finite values >= 0, not all 0")
            self.weights, self.total_weight = w, float(np.sum(w, dtype=np.float64))
            self.weights_epoch = np.empty_like(w) if self.shuffle else w

    def new_epoch(self) -> None:
        """Draw this epoch's order; shuffle ``Y`` (and ``X``'s columns) into it."""
        if not self.shuffle:
            return
        # rng.permutation(n)'s draws and order, in int32 where n allows (half the memory),
        # the last epoch's let go first
        self.order = None  # type: ignore[assignment]
        self.order = np.arange(self.n, dtype=_index_dtype(self.n))
        self.rng.shuffle(self.order)
        # mode="wrap" skips bounds checks (the order is a permutation): 2x faster
        if not self.by_rows:
            np.take(self.X, self.order, axis=1, out=self.X_epoch, mode="wrap")
        np.take(self.Y, self.order, axis=1, out=self.Y_epoch, mode="wrap")
        if self.weights is not None:
            np.take(self.weights, self.order, out=self.weights_epoch, mode="wrap")

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None, int]]:
        """``(X_b, Y_b, w_b, stop)`` for each batch, ``X_b`` in the network layout, ``w_b``
        the batch's sample weights (None without)."""
        for start in range(0, self.n, self.m):
            stop = min(start + self.m, self.n)
            w = None if self.weights_epoch is None else self.weights_epoch[start:stop]
            if self.by_rows:  # gather the batch's rows, transpose them into the input buffer
                batch = self.row_buffer[: stop - start]
                np.take(self.rows, self.order[start:stop], axis=0, out=batch, mode="wrap")
                if self.transform is not None:  # on the batch's copy, before the transpose
                    self.transform(batch, self.transform_rng)
                if self.expand is not None:  # the source's rows → the network's inputs
                    expanded = self.input_rows[: stop - start]
                    self.expand(batch, expanded)
                    batch = expanded
                inputs = self.net.cache_for(stop - start).A[0]
                to_network_layout(batch, out=inputs)
                yield inputs, self.Y_epoch[:, start:stop], w, stop
            else:
                yield self.X_epoch[:, start:stop], self.Y_epoch[:, start:stop], w, stop


def _index_dtype(n: int) -> np.dtype:
    """The smallest of int32 and int64 that holds the positions of ``n`` rows."""
    return np.dtype(np.int32 if n <= np.iinfo(np.int32).max else np.int64)


def _validation_arrays(
    net: Network, validation: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, ...] | None:
    """``(X_val, Y_val)`` contiguous in the network's dtype (and the weights, where given),
    or None for no (or empty) data."""
    if validation is None or np.size(validation[1]) == 0:
        return None
    X_val = np.ascontiguousarray(validation[0], dtype=net.dtype)
    arrays = (X_val, _as_layout(validation[1], net.layer_sizes[-1], net.dtype))
    weights = validation[2] if len(validation) > 2 else None
    if weights is not None and np.sum(weights) > 0:  # rows of no weight at all: unweighted
        arrays += (np.asarray(weights, dtype=np.float64).reshape(-1),)
    return arrays


def _monitored(net: Network, config: TrainConfig, has_val: bool) -> str:
    """What early stopping watches: ``config.monitor``, or the training loss without
    validation data; refused where the loss does not log it."""
    monitor = config.monitor if has_val else "train_loss"
    if has_val and monitor not in net.loss_function.logged:
        raise ValueError(
            f"cannot monitor {monitor!r}: the {net.loss_function.name} loss logs "
            f"{', '.join(net.loss_function.logged)}"
        )
    return monitor


class _Watch:
    """The step observers of one :func:`train` call: counts the optimizer's steps and,
    on a step some observer is due at, keeps the parameters from before it (for ``Z``
    and the update) and hands every due observer the step's :class:`StepView`.

    An observer is due every ``cadence(steps, member)`` steps where it has that method
    (``steps``: the optimizer steps this call plans), else every ``observer.every``; one
    with ``ends = True`` also at the first step and the last. A run that stops before
    its planned last step (early stopping, a callback, an interrupt) shows those
    observers its last step when it ends (:meth:`finish`), without the update: the
    weights from before that step were not kept.
    """

    def __init__(
        self, net: Network, observers: list[StepObserver], member: int | None, planned: int
    ) -> None:
        self.cadences = [_cadence(observer, planned, member) for observer in observers]
        self.ends = [bool(getattr(observer, "ends", False)) for observer in observers]
        self.net, self.observers, self.member = net, observers, member
        self.planned, self.steps, self.epoch = planned, 0, 0
        self.seen = [0] * len(observers)  # the step each observer saw last
        self.before = net.params.copy()  # refilled before each observed step
        self.newest: tuple[float, np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def due(self, step: int) -> list[int]:
        """The observers due at ``step``, by index."""
        ends = step in (1, self.planned)
        return [
            i
            for i, every in enumerate(self.cadences)
            if step % every == 0 or (ends and self.ends[i])
        ]

    def step(
        self,
        optimizer: Optimizer,
        objective: float,
        inputs: np.ndarray,
        Y_batch: np.ndarray,
        weights: np.ndarray | None,
    ) -> None:
        """``optimizer.step``, then the due observers."""
        net = self.net
        self.steps += 1
        due = self.due(self.steps)
        if due:
            self.before.flat[...] = net.params.flat
        optimizer.step([net.params.flat], [net.grads.flat])
        self.newest = (objective, inputs, Y_batch, weights)
        if due:
            self.show(due, self.before)

    def show(self, due: list[int], before: Any) -> None:
        """The newest step's view, to the observers ``due`` (``before``: the parameters
        it went forward with, or None where they were not kept)."""
        assert self.newest is not None
        objective, inputs, Y_batch, weights = self.newest
        m = Y_batch.shape[1] if weights is None else float(np.sum(weights, dtype=np.float64))
        view = StepView(
            self.steps,
            self.epoch,
            self.member,
            float(objective),
            float(m),
            self.net.layer_views(before),
            read_only(inputs),
            self.net.trace,
            last=self.steps == self.planned or before is None,
        )
        for i in due:
            self.seen[i] = self.steps
            self.observers[i].on_step(view)

    def finish(self) -> None:
        """Show the run's last step to the observers of its ends that did not see it."""
        late = [i for i, ends in enumerate(self.ends) if ends and 0 < self.seen[i] < self.steps]
        if late:
            self.show(late, None)


def _cadence(observer: StepObserver, planned: int, member: int | None) -> int:
    """Steps between two views of ``observer`` in a run of ``planned`` steps."""
    cadence = getattr(observer, "cadence", None)
    every = observer.every if cadence is None else cadence(planned, member)
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"{observer!r}: every must be a positive integer, got {every!r}")
    return every


def _run_epoch(
    net: Network,
    batches: _Batches,
    optimizer: Optimizer,
    lmbda: float,
    on_diverged: Callable[[], TrainingDivergedError],
    interrupt: StopFlag,
    watch: _Watch | None = None,
) -> tuple[float, bool]:
    """One pass: forward, backward, step per batch (observed by ``watch``, where there are
    step observers); a batch whose rows all weigh 0 makes no step. Returns ``Σ_b m_b J_b``
    and whether an interrupt stopped it before its last batch."""
    params, grads = [net.params.flat], [net.grads.flat]
    objective_sum = 0.0  # Σ_b m_b J_b
    done = 0  # samples seen this epoch
    for inputs, Y_batch, weights, end in batches:
        done = end
        if weights is not None and not weights.any():
            continue  # rows of weight 0 are rows absent: a batch of them alone is no batch
        net.forward(inputs)
        objective = net.backward(Y_batch, lmbda, weights)  # m_b J_b (m_b: the batch's weight)
        objective_sum += objective
        if not math.isfinite(objective):
            raise on_diverged()
        if watch is None:
            optimizer.step(params, grads)
        else:
            watch.step(optimizer, objective, inputs, Y_batch, weights)
        if interrupt.requested:
            break
    return objective_sum, interrupt.requested and done < batches.n


def _epoch_logs(
    net: Network,
    objective_sum: float,
    n: float,
    validation: tuple[np.ndarray, ...] | None,
    rmse_scale: float,
    expand: InputExpansion | None = None,
    threads: int | None = None,
) -> dict[str, float]:
    """The epoch's training loss, and the loss table's validation figures (the loss
    weighted as training weighs it, where the validation rows have weights). With
    ``expand``, the validation inputs are a source's rows, expanded a batch at a time;
    ``threads`` caps the threads the prediction takes (None: the network's choice)."""
    logs = {"train_loss": objective_sum / n}
    if validation is not None:
        X_val, Y_val = validation[0], validation[1]
        capped = {} if threads is None else {"n_threads": threads}
        if expand is None:
            Y_hat = net.predict(X_val, **capped)
        else:
            Y_hat = net.predict_samples(X_val, expand=expand, **capped)
        logs.update(net.loss_function.validation_logs(Y_hat, Y_val, rmse_scale))
        if len(validation) > 2:
            weights = validation[2]
            per_sample = net.loss_function.per_sample(Y_hat, Y_val)
            logs["val_loss"] = float(np.dot(weights, per_sample) / np.sum(weights))
    return logs


def _show(bar: Any, logs: dict[str, float]) -> None:
    """The epoch's figures beside the progress bar; one step on."""
    postfix = {"loss": f"{logs['train_loss']:.4g}"}
    for key in ("val_rmse", "val_accuracy"):
        if key in logs:
            postfix[key] = f"{logs[key]:.4g}"
    bar.set_postfix(postfix, refresh=False)
    bar.update(1)


@dataclass
class _Loop:
    """One call of :func:`train`: what every epoch reads and writes."""

    net: Network
    batches: _Batches
    optimizer: Optimizer
    config: TrainConfig
    validation: tuple[np.ndarray, ...] | None
    history: History
    monitor: str
    checkpoints: _Checkpoints
    callbacks: Sequence[Callback]
    watch: _Watch | None = None

    def run(self, stop: StopFlag | None) -> None:
        """Every epoch, until the last, early stopping, a callback or an interrupt."""
        config = self.config
        # The bar is advanced by hand, not iterated over: a generator left by `break` is
        # finalised later, and a second Ctrl-C raised inside that finalisation would be
        # printed as "Exception ignored" and lost.
        bar = tqdm(
            total=config.epochs,
            desc=config.progress_label,
            unit="epoch",
            disable=not config.progress,
            dynamic_ncols=True,
            leave=True,
        )
        base_lr, start = self.optimizer.learning_rate, self.history.n_epochs
        # Overflow is expected when training diverges; it is caught and reported.
        with (
            stop_on_interrupt(config.handle_interrupts, stop) as interrupt,
            np.errstate(over="ignore", invalid="ignore"),
            contextlib.closing(bar),
        ):
            for epoch in range(start, start + config.epochs):
                if self.epoch(epoch, epoch - start, base_lr, interrupt, bar):
                    break

    def epoch(self, epoch: int, k: int, base_lr: float, interrupt: StopFlag, bar: Any) -> bool:
        """Epoch ``epoch`` (the ``k``-th of this call); True when training should stop."""
        tick = time.perf_counter()
        net, optimizer, history, val = self.net, self.optimizer, self.history, self.validation
        if self.config.schedule is not None:
            previous = history.val_loss[-1] if val is not None and history.val_loss else None
            optimizer.learning_rate = self.config.schedule.rate(k, base_lr, previous)
        diverged = functools.partial(self.checkpoints.diverged, epoch, optimizer.learning_rate)
        self.batches.new_epoch()
        if self.watch is not None:
            self.watch.epoch = epoch
        # Small batches: BLAS held to one thread, a process-wide setting, for the epoch's
        # batches only, so that a callback that waits (a paused page) holds nothing.
        with net.blas_threads_for(self.batches.m):
            objective_sum, cut_short = _run_epoch(
                net, self.batches, optimizer, self.config.lmbda, diverged, interrupt, self.watch
            )
        if cut_short:
            history.interrupted = True
            return True
        if not self.checkpoints.epoch_done():
            raise diverged()
        logs = _epoch_logs(
            net,
            objective_sum,
            self.batches.total_weight,
            val,
            self.config.rmse_scale,
            self.batches.expand,
            self.config.validation_threads,
        )
        history.record(logs, optimizer.learning_rate, time.perf_counter() - tick)
        _show(bar, logs)
        asked = [bool(callback(epoch, logs)) for callback in self.callbacks]  # every one
        if _epoch_ends_training(logs[self.monitor], epoch, self.checkpoints, history, diverged):
            return True
        if any(asked):
            return True
        if interrupt.requested:
            history.interrupted = True
        return interrupt.requested


def train(
    net: Network,
    X: np.ndarray | None,
    Y: np.ndarray,
    optimizer: Optimizer,
    *,
    config: TrainConfig,
    validation: tuple[np.ndarray, ...] | None = None,
    rng: np.random.Generator | int | None = 0,
    callbacks: Sequence[Callback | EpochObserver | StepObserver] = (),
    history: History | None = None,
    rows: np.ndarray | None = None,
    stop: StopFlag | None = None,
    sample_weight: np.ndarray | None = None,
    member: int | None = None,
    batch_transform: BatchTransform | None = None,
    expand: InputExpansion | None = None,
) -> History:
    """Train ``net`` in place on ``X`` ``(n[0], N)`` and ``Y`` ``(n[L], N)``.

    Arrays are in the network layout and dtype (see
    :func:`nnscratch.core.network.to_network_layout`); ``validation`` is an
    ``(X_val, Y_val)`` pair in the same layout (or ``(X_val, Y_val, w_val)``, whose
    validation loss is then weighted). ``rng`` drives the per-epoch
    shuffles; ``history`` continues an earlier one.

    ``rows`` is the same data in the user layout ``(N, n[0])``, C-contiguous, in
    the network's dtype (the estimators pass the array they were given; ``X``
    may then be ``None``, and is made from ``rows`` only if needed); see
    :class:`_Batches` for how batches are then gathered. ``sample_weight`` ``(N,)``
    weighs each sample's loss (scikit-learn's ``J = Σ w ℓ / Σ w`` per batch; the
    epoch's training loss is weighted the same way; validation is not).

    A non-finite loss raises :class:`TrainingDivergedError` after restoring
    the best (else the last finished epoch's) weights. With
    ``config.handle_interrupts``, Ctrl-C stops after the current batch
    (``history.interrupted``) with the best weights so far in ``net``; a
    ``stop`` flag set from elsewhere does the same.

    ``batch_transform(rows, rng)`` rewrites each batch's rows before the transpose
    (augmentation; needs ``rows``). ``expand(rows, out)``
    (:data:`~nnscratch.core.network.InputExpansion`) makes each batch's network inputs
    from ``rows``, a source's rows ``(N, n_source)`` that may be a memory-mapped store
    (``X`` is then ``None``); ``validation``'s inputs are then such rows too, in the
    user layout, predicted a batch at a time. ``callbacks``: epoch callbacks (:data:`Callback`),
    epoch observers (:class:`EpochObserver`) and step observers
    (:class:`~nnscratch.core.observe.StepObserver`); observers are told ``member``.
    """
    batches = _Batches(
        net,
        X,
        Y,
        rows,
        config.batch_size,
        np.random.default_rng(rng),
        sample_weight,
        batch_transform,
        expand,
    )
    val = _validation_arrays(net, validation)
    history = history if history is not None else History()
    monitor = _monitored(net, config, val is not None)
    checkpoints = _Checkpoints(
        net.params.flat,
        config.patience,
        config.min_delta,
        higher_is_better=MONITORS.get(monitor, False),
    )
    epoch_callbacks, observers = split_callbacks(callbacks, member)
    planned = config.epochs * math.ceil(batches.n / batches.m)
    watch = _Watch(net, observers, member, planned) if observers else None
    loop = _Loop(
        net, batches, optimizer, config, val, history, monitor, checkpoints, epoch_callbacks, watch
    )
    loop.run(stop)
    if watch is not None:
        watch.finish()
    restore = (val is not None and config.patience is not None) or history.interrupted
    if restore and history.best_epoch is not None:
        checkpoints.restore_best()  # the best validation (or, interrupted, training) weights
    return history


def split_callbacks(
    callbacks: Sequence[Callback | EpochObserver | StepObserver], member: int | None = None
) -> tuple[list[Callback], list[StepObserver]]:
    """``callbacks`` as (epoch callbacks, step observers); an object may be both. An
    :class:`EpochObserver` becomes an epoch callback that tells it ``member``."""
    epoch_callbacks: list[Callback] = []
    for c in callbacks:
        if isinstance(c, EpochObserver):
            epoch_callbacks.append(functools.partial(_tell, c, member))
        elif callable(c):
            epoch_callbacks.append(c)
        elif not isinstance(c, StepObserver):
            raise TypeError(
                f"a callback is a function (epoch, logs), an epoch observer or a step "
                f"observer: {c!r}"
            )
    observers = [c for c in callbacks if isinstance(c, StepObserver)]
    return epoch_callbacks, observers


def _tell(
    observer: EpochObserver, member: int | None, epoch: int, logs: dict[str, float]
) -> bool | None:
    """``observer.on_epoch`` as an epoch callback of ``member``'s training."""
    return observer.on_epoch(EpochView(epoch, member, logs))


def _epoch_ends_training(
    value: float,
    epoch: int,
    checkpoints: _Checkpoints,
    history: History,
    diverged: Callable[[], TrainingDivergedError],
) -> bool:
    """Record the monitored ``value``: the best epoch so far, or early stopping."""
    if not math.isfinite(value):
        raise diverged()
    improved, stop_now = checkpoints.observe(value)
    if improved:
        history.best_epoch = epoch
    if stop_now:
        history.stopped_early = True
    return stop_now
