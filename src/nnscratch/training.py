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
``J_b = Σ_b(ŷ-y)²/(2 m_b) + λ/(2 m_b) ‖W‖²``, summed while training, so no
second pass over the data is needed. Validation loss is the plain
``1/(2m) Σ(ŷ-y)²``.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nnscratch.errors import TrainingDivergedError
from nnscratch.network import Network
from nnscratch.optimizers import Optimizer, Schedule

#: ``callback(epoch, logs) -> stop?``: called after each epoch; return True to stop.
Callback = Callable[[int, dict[str, float]], bool | None]


@dataclass
class History:
    """Per-epoch curves and how training ended."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_rmse: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False

    @property
    def n_epochs(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "val_rmse": list(self.val_rmse),
            "learning_rate": list(self.learning_rate),
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
        }


class _InterruptFlag:
    """Ctrl-C handling: the first SIGINT asks the loop to stop after the batch,
    a second one raises ``KeyboardInterrupt`` at once."""

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
def _interrupts_stop_training(enabled: bool) -> Iterator[_InterruptFlag]:
    flag = _InterruptFlag()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, flag.handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _divergence_message(epoch: int, learning_rate: float) -> str:
    return (
        f"training diverged at epoch {epoch + 1}: the loss became NaN or infinite "
        f"(learning rate {learning_rate:g}); try a smaller learning rate, e.g. "
        f"{learning_rate / 10:g}"
    )


def train(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int | None = None,
    lmbda: float = 0.0,
    rng: np.random.Generator | int | None = 0,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    schedule: Schedule | None = None,
    progress: bool = False,
    progress_label: str = "training",
    callbacks: Sequence[Callback] = (),
    rmse_scale: float = 1.0,
    handle_interrupts: bool = False,
    history: History | None = None,
) -> History:
    """Train ``net`` in place on ``X`` ``(n[0], N)`` and ``Y`` ``(n[L], N)``.

    Arrays are in the network layout and dtype (see
    :func:`nnscratch.data.to_network_layout`). With validation data and
    ``patience``, training stops after ``patience`` epochs whose validation
    loss did not beat the best by ``min_delta``, and the best epoch's weights
    are restored. ``rmse_scale`` multiplies the reported validation RMSE
    (pass the target scaler's range to see it in original units).

    A non-finite loss raises :class:`TrainingDivergedError` after restoring
    the weights of the last finished epoch. With ``handle_interrupts``, Ctrl-C
    stops after the current batch (``history.interrupted``) with the best
    weights so far in ``net``.
    """
    X = np.ascontiguousarray(X, dtype=net.dtype)
    Y = np.ascontiguousarray(np.reshape(Y, (net.layer_sizes[-1], -1)), dtype=net.dtype)
    n = X.shape[1]
    if Y.shape[1] != n:
        raise ValueError(f"X has {n} samples but Y has {Y.shape[1]}")
    if n == 0:
        raise ValueError("no training samples")
    has_val = X_val is not None and Y_val is not None and np.size(Y_val) > 0
    if has_val:
        X_val = np.ascontiguousarray(X_val, dtype=net.dtype)
        Y_val = np.ascontiguousarray(np.reshape(Y_val, (net.layer_sizes[-1], -1)), dtype=net.dtype)
    rng = np.random.default_rng(rng)
    m = n if batch_size is None else max(1, min(int(batch_size), n))
    shuffle = m < n
    X_epoch = np.empty_like(X) if shuffle else X
    Y_epoch = np.empty_like(Y) if shuffle else Y
    params, grads = [net.params.flat], [net.grads.flat]
    base_lr = optimizer.learning_rate
    history = history if history is not None else History()
    start_epoch = history.n_epochs
    last_good = net.params.flat.copy()
    best = net.params.flat.copy()
    best_loss = math.inf
    wait = 0
    monitor = "val_loss" if has_val else "train_loss"

    bar = tqdm(
        range(start_epoch, start_epoch + epochs),
        desc=progress_label,
        unit="epoch",
        disable=not progress,
        dynamic_ncols=True,
        leave=True,
    )
    # Overflow is expected when training diverges; it is caught below and reported.
    with (
        _interrupts_stop_training(handle_interrupts) as interrupt,
        np.errstate(over="ignore", invalid="ignore"),
        contextlib.closing(bar),
        net.blas_threads_for(m),  # small batches: one BLAS thread is faster
    ):
        for epoch in bar:
            tick = time.perf_counter()
            previous = history.val_loss[-1] if has_val and history.val_loss else None
            if schedule is not None:
                optimizer.learning_rate = schedule.rate(epoch - start_epoch, base_lr, previous)
            if shuffle:
                order = rng.permutation(n)
                # mode="wrap" skips bounds checks (the order is a permutation): 2x faster
                np.take(X, order, axis=1, out=X_epoch, mode="wrap")
                np.take(Y, order, axis=1, out=Y_epoch, mode="wrap")
            objective_sum = 0.0  # Σ_b 2 m_b J_b = Σ_b (sse_b + λ‖W‖²)
            for start in range(0, n, m):
                stop = min(start + m, n)
                net.forward(X_epoch[:, start:stop])
                objective = net.backward(Y_epoch[:, start:stop], lmbda)  # 2 m_b J_b
                objective_sum += objective
                if not math.isfinite(objective):
                    net.params.flat[...] = last_good
                    raise TrainingDivergedError(_divergence_message(epoch, optimizer.learning_rate))
                optimizer.step(params, grads)
                if interrupt.requested:
                    break
            if interrupt.requested and stop < n:
                history.interrupted = True
                break
            if not np.isfinite(net.params.flat).all():
                net.params.flat[...] = last_good
                raise TrainingDivergedError(_divergence_message(epoch, optimizer.learning_rate))
            last_good[...] = net.params.flat

            logs = {"train_loss": objective_sum / (2 * n)}
            if has_val:
                residual = net.predict(X_val) - Y_val
                val_sse = float(np.vdot(residual, residual))
                logs["val_loss"] = val_sse / (2 * Y_val.shape[1])
                logs["val_rmse"] = math.sqrt(val_sse / Y_val.size) * rmse_scale
            history.train_loss.append(logs["train_loss"])
            if has_val:
                history.val_loss.append(logs["val_loss"])
                history.val_rmse.append(logs["val_rmse"])
            history.learning_rate.append(optimizer.learning_rate)
            history.seconds.append(time.perf_counter() - tick)
            postfix = {"loss": f"{logs['train_loss']:.4g}"}
            if has_val:
                postfix["val_rmse"] = f"{logs['val_rmse']:.4g}"
            bar.set_postfix(postfix, refresh=False)

            if not math.isfinite(logs[monitor]):
                net.params.flat[...] = best if best_loss < math.inf else last_good
                raise TrainingDivergedError(_divergence_message(epoch, optimizer.learning_rate))
            if logs[monitor] < best_loss - min_delta:
                best_loss = logs[monitor]
                best[...] = net.params.flat
                history.best_epoch = epoch
                wait = 0
            else:
                wait += 1
            if patience is not None and wait >= patience:
                history.stopped_early = True
                break
            if any(cb(epoch, logs) for cb in callbacks):
                break
            if interrupt.requested:
                history.interrupted = True
                break
    if has_val and patience is not None and history.best_epoch is not None:
        net.params.flat[...] = best  # restore the best validation weights
    elif history.interrupted and history.best_epoch is not None:
        net.params.flat[...] = best
    return history
