"""What the network does while it learns: a read-only view of each layer, per step.

The training loop (:func:`nnscratch.core.training.train`) calls a
:class:`StepObserver` every ``observer.every`` optimizer steps, right after the
step, with a :class:`StepView`: for every layer ``l = 1..L`` of the batch just
trained on ::

    Z[l]       pre-activations W[l] · A[l-1] + b[l]      (n[l], m)     TabM: (n[l], K, m)
    A[l]       activations g(Z[l]) (after dropout)        (n[l], m)     TabM: (n[l], K, m)
    W[l]       weights after the step                     (n[l], n[l-1])   shared by TabM's members
    dW[l]      ∂J/∂W[l] of this batch                     (n[l], n[l-1])
    update[l]  the step the optimizer took, W_after − W_before

Every array is a read-only view of the network's own buffers (nothing is
copied, nothing can be written through it), valid during the call only: copy
what you keep. ``Z`` is computed when first read, from the weights the batch
went forward with, so observers that never read it pay nothing for it.

A network gives the view of its last forward/backward pass with
``net.layer_views(before)``; the lab uses it at step 0, the loop after every
observed step. With no observer the loop does no extra work. An observer may also
ask for the run's first and last steps (``ends``) or pick its cadence from the
run's length (``cadence``): see :class:`StepObserver`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written through (``array`` itself is untouched)."""
    view = array.view()
    view.flags.writeable = False
    return view


class LayerView:
    """Layer ``index``'s arrays for the current batch (see the module docs for shapes)."""

    __slots__ = (
        "A",
        "W",
        "_Z",
        "_pre_activation",
        "activation",
        "b",
        "dW",
        "db",
        "index",
        "update",
    )

    def __init__(
        self,
        index: int,
        *,
        activation: str,
        A: np.ndarray,
        W: np.ndarray,
        b: np.ndarray,
        dW: np.ndarray,
        db: np.ndarray,
        pre_activation: Callable[[], np.ndarray],
        update: np.ndarray | None,
    ) -> None:
        self.index, self.activation = index, activation
        self.A, self.W, self.b = read_only(A), read_only(W), read_only(b)
        self.dW, self.db = read_only(dW), read_only(db)
        self.update = None if update is None else read_only(update)
        self._pre_activation = pre_activation
        self._Z: np.ndarray | None = None

    @property
    def Z(self) -> np.ndarray:
        """The pre-activations of the batch (computed on first read, then kept)."""
        if self._Z is None:
            self._Z = read_only(self._pre_activation())
        return self._Z

    def __repr__(self) -> str:
        return f"LayerView(l={self.index}, A{self.A.shape}, W{self.W.shape})"


@dataclass(frozen=True)
class StepView:
    """One observed optimizer step: where it is and every layer's view.

    ``step`` counts this call of ``train``'s optimizer steps from 1; ``epoch`` is the
    history's epoch index (0-based); ``member`` is the ensemble member's index when an
    estimator trains several (``None`` for a lone network); ``objective`` is the batch's
    ``m·J`` as ``backward`` returned it, ``batch_weight`` its ``m`` (or ``Σ w``).
    ``inputs`` is the batch ``X`` ``(n[0], m)`` (read-only), and ``trace(X)`` runs any
    ``X`` in the network layout through the network as it is now (no dropout), giving
    ``(Z[l], A[l])`` for every layer in new arrays: how a fixed probe batch is measured.
    ``last`` marks the run's last step: the one it planned, or the one a run stopped
    early at (shown after it stopped, every ``update`` then None).
    """

    step: int
    epoch: int
    member: int | None
    objective: float
    batch_weight: float
    layers: tuple[LayerView, ...]
    inputs: np.ndarray
    trace: Callable[[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]
    last: bool = False

    @property
    def loss(self) -> float:
        """The batch's objective ``J``."""
        return self.objective / self.batch_weight


@runtime_checkable
class StepObserver(Protocol):
    """Called every ``every`` optimizer steps with a :class:`StepView`.

    Pass one among ``train``'s (or an estimator's ``fit``) ``callbacks``. Members that
    train side by side call the same observer from their threads: an observer that
    keeps state guards it with a lock. Two optional members tune when it is called:
    ``cadence(steps, member) -> int``, the steps between two views in a run of
    ``steps`` optimizer steps (instead of ``every``), and ``ends = True``, to be shown
    the run's first step and its last as well, whatever the cadence.
    """

    every: int

    def on_step(self, view: StepView) -> None: ...
