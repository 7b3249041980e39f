"""The analysis lab's data and one training run: every experiment is made of these.

Every run trains through the same :func:`nnscratch.core.training.train` loop as
everything else, from the same seed; :mod:`nnscratch.app.lab.experiments` lists the
experiments and runs one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnscratch.core.network import Network
from nnscratch.core.observe import StepObserver
from nnscratch.core.optimizers import Optimizer
from nnscratch.core.training import BatchTransform, Callback, History, TrainConfig, train
from nnscratch.errors import TrainingDivergedError
from nnscratch.tasks.base import NetworkSplits

#: The seed's hidden layers; the input and output widths follow the data.
HIDDEN = (64, 32, 16)


@dataclass
class Lab:
    """The data of every run in the network layout, the task, and what every run shares.

    Regression (Spotify): one identity output, MSE, scored by RMSE in
    popularity points. Classification (digits): softmax over the classes,
    cross-entropy, scored by accuracy.
    """

    X: dict[str, np.ndarray]  # split → (n_features, m)
    Y: dict[str, np.ndarray]  # split → (n_outputs, m): scaled targets, or one-hot
    classification: bool
    rmse_scale: float  # scaled RMSE × this = popularity points (1 for classification)
    seed: int
    epochs: int | None  # overrides each experiment's own epoch count (for quick runs)
    image_shape: tuple[int, int] | None = None  # (rows, cols) when the inputs are images

    @classmethod
    def from_splits(cls, splits: NetworkSplits, seed: int, epochs: int | None) -> Lab:
        """The lab on a task's data (:meth:`nnscratch.tasks.base.Task.lab_splits`)."""
        return cls(
            splits.X,
            splits.Y,
            splits.classification,
            splits.rmse_scale,
            seed,
            epochs,
            splits.image_shape,
        )

    @property
    def sizes(self) -> list[int]:
        return self.sizes_with(HIDDEN)

    def sizes_with(self, hidden: tuple[int, ...]) -> list[int]:
        """Layer widths: the data's inputs, ``hidden``, the task's outputs."""
        return [self.X["train"].shape[0], *hidden, self.Y["train"].shape[0]]

    @property
    def score_name(self) -> str:
        return "accuracy" if self.classification else "RMSE"

    def network(
        self,
        hidden: str = "relu",
        init: str = "he",
        widths: tuple[int, ...] = HIDDEN,
        dropout: float = 0.0,
    ) -> Network:
        """A fresh network from the lab's seed, with the task's output and loss: hidden
        layers of ``widths`` (the seed's by default), dropout masks from seed + 1."""
        output, loss = ("softmax", "cross_entropy") if self.classification else ("identity", "mse")
        return Network(
            self.sizes_with(widths),
            hidden,
            output,
            init,
            loss=loss,
            rng=self.seed,
            dropout=dropout,
            dropout_rng=self.seed + 1,
        )

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        return self.X[split], self.Y[split]

    def epochs_or(self, default: int) -> int:
        return self.epochs if self.epochs is not None else default

    def score(self, net: Network, split: str) -> float:
        """Accuracy (classification) or RMSE in popularity points on a split."""
        X, Y = self.arrays(split)
        predicted = net.predict(X)
        if self.classification:
            return float(np.mean(np.argmax(predicted, axis=0) == np.argmax(Y, axis=0)))
        residual = (predicted - Y).astype(np.float64)
        return float(np.sqrt(np.mean(residual**2))) * self.rmse_scale

    def val_scores(self, history: History) -> list[float]:
        """The per-epoch validation score: accuracy, or RMSE in points."""
        return history.val_accuracy if self.classification else history.val_rmse

    def best_val(self, history: History) -> float | None:
        scores = self.val_scores(history)
        if not scores:
            return None
        return max(scores) if self.classification else min(scores)


@dataclass
class Run:
    """One trained configuration: its label, curves, and how it ended."""

    label: str
    history: History
    net: Network
    diverged_at: int | None = None
    extra: dict[str, Any] | None = None


def fit(
    lab: Lab,
    label: str,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int | None = 256,
    hidden: str = "relu",
    init: str = "he",
    lmbda: float = 0.0,
    callbacks: tuple[Callback | StepObserver, ...] = (),
    net: Network | None = None,
    batch_transform: BatchTransform | None = None,
    from_rows: bool = False,
) -> Run:
    """Train one network from the lab's seed; a divergence is recorded, not raised.
    ``batch_transform`` rewrites each batch's rows (augmentation, images only), which
    gathers batches from the rows ``(m, n)`` as the estimators do; ``from_rows`` does so
    without one (so that runs with and without a transform take comparable times)."""
    net = net or lab.network(hidden, init)
    X, Y = lab.arrays("train")
    rows = np.ascontiguousarray(X.T) if batch_transform is not None or from_rows else None
    X_val, Y_val = lab.arrays("val")
    history = History()
    diverged = None
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lmbda=lmbda, rmse_scale=lab.rmse_scale
    )
    try:
        train(
            net,
            X,
            Y,
            optimizer,
            config=config,
            validation=(X_val, Y_val),
            rng=lab.seed,
            callbacks=callbacks,
            history=history,
            rows=rows,
            batch_transform=batch_transform,
        )
    except TrainingDivergedError:
        diverged = history.n_epochs + 1
    return Run(label, history, net, diverged)
