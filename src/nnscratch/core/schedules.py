"""Stage 6 — learning-rate schedules: the rate of each epoch.

    ConstantLR         η throughout
    StepLR             η · γ^(epoch // step)
    CosineLR           cosine annealing from η to η · min_fraction
    ReduceLROnPlateau  η · factor after `patience` epochs without improvement

:data:`SCHEDULES` makes one by name for a run of a given number of epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from nnscratch.registry import Registry


class Schedule:
    """Learning rate per epoch: ``rate(epoch, base_lr, val_loss) -> lr``.

    ``epoch`` counts from 0; ``val_loss`` is the monitored loss of the
    previous epoch (``None`` before the first).
    """

    def rate(self, epoch: int, base_lr: float, val_loss: float | None) -> float:
        return base_lr


class ConstantLR(Schedule):
    """The base learning rate throughout."""


class StepLR(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size: int = 30, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = step_size, gamma

    def rate(self, epoch: int, base_lr: float, val_loss: float | None) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(Schedule):
    """Cosine annealing from ``base_lr`` to ``base_lr · min_fraction`` over ``total_epochs``."""

    def __init__(self, total_epochs: int, min_fraction: float = 0.0) -> None:
        self.total_epochs, self.min_fraction = max(total_epochs, 1), min_fraction

    def rate(self, epoch: int, base_lr: float, val_loss: float | None) -> float:
        progress = min(epoch / self.total_epochs, 1.0)
        low = base_lr * self.min_fraction
        return low + (base_lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


class ReduceLROnPlateau(Schedule):
    """Multiply the rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(
        self, factor: float = 0.5, patience: int = 5, min_lr: float = 1e-6, min_delta: float = 0.0
    ) -> None:
        self.factor, self.patience = factor, patience
        self.min_lr, self.min_delta = min_lr, min_delta
        self._best = math.inf
        self._wait = 0
        self._scale = 1.0

    def rate(self, epoch: int, base_lr: float, val_loss: float | None) -> float:
        if epoch == 0:
            self._best, self._wait, self._scale = math.inf, 0, 1.0
        if val_loss is not None:
            if val_loss < self._best - self.min_delta:
                self._best, self._wait = val_loss, 0
            else:
                self._wait += 1
                if self._wait > self.patience:
                    self._scale *= self.factor
                    self._wait = 0
        return max(base_lr * self._scale, self.min_lr)


#: Schedules by name; each entry makes one for a run of ``epochs`` epochs:
#: ``SCHEDULES.lookup(name)(epochs)``.
SCHEDULES: Registry[Callable[[int], Schedule]] = Registry("schedule")
SCHEDULES.add(lambda epochs: ConstantLR(), "constant")
SCHEDULES.add(lambda epochs: StepLR(step_size=max(epochs // 3, 1), gamma=0.3), "step")
SCHEDULES.add(CosineLR, "cosine")
SCHEDULES.add(lambda epochs: ReduceLROnPlateau(), "plateau")
