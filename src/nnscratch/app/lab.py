"""The analysis lab's runs: the lab's data, one training run, and the experiments on
the seed's network (init, activation, lr, l2, batch, optimizer) with their figures.

Every run trains through the same :func:`nnscratch.core.training.train` loop as
everything else, from the same seed; :mod:`nnscratch.app.experiments` lists the
experiments and runs one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from nnscratch.core.network import Network
from nnscratch.core.observe import StepObserver, StepView
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum, Optimizer
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


# --------------------------------------------------------------------------- experiments


def layer_signal(net: Network, lab: Lab) -> tuple[list[float], list[float]]:
    """Per-layer RMS of the activations A[l] and of the gradients dW[l], at step 0."""
    X, Y = lab.arrays("train")
    batch = slice(0, min(2048, X.shape[1]))
    net.forward(X[:, batch])
    net.backward(Y[:, batch])
    layers = net.layer_views()  # the public, read-only view of that pass
    activations = [float(np.sqrt(np.mean(v.A.astype(np.float64) ** 2))) for v in layers]
    gradients = [float(np.sqrt(np.mean(v.dW.astype(np.float64) ** 2))) for v in layers]
    return activations, gradients


class GradientNorms:
    """A step observer: ``‖dW[l]‖`` of every layer at each ``every``-th step (an epoch's
    last batch, with ``every`` the steps an epoch takes)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.norms: list[list[float]] = []

    def on_step(self, view: StepView) -> None:
        self.norms.append([float(np.linalg.norm(layer.dW)) for layer in view.layers])


def experiment_init(lab: Lab) -> dict[str, Any]:
    runs, signal = [], {}
    for init, label in (
        ("he", "He  N(0, 2/n_in)"),
        ("glorot", "Glorot  N(0, 2/(n_in+n_out))"),
        ("small", "0.01·N(0, 1)"),
    ):
        net = lab.network("relu", init)
        signal[label] = layer_signal(net, lab)
        net = lab.network("relu", init)
        runs.append(
            fit(
                lab,
                label,
                GradientDescent(0.05),
                epochs=lab.epochs_or(300),
                batch_size=None,
                net=net,
            )
        )
    rows = [
        {
            "init": r.label,
            "final train loss": r.history.train_loss[-1],
            f"val {lab.score_name}": lab.val_scores(r.history)[-1],
            "step-0 RMS of A[1..4]": signal[r.label][0],
            "step-0 RMS of dW[1..4]": signal[r.label][1],
        }
        for r in runs
    ]
    return {
        "runs": runs,
        "rows": rows,
        "signal": signal,
        "setup": "full-batch gradient descent, η = 0.05, as the seed",
    }


def experiment_activation(lab: Lab) -> dict[str, Any]:
    """ReLU vs sigmoid vs tanh vs leaky ReLU, with every layer's gradient norm per epoch."""
    runs = []
    for act in ("relu", "sigmoid", "tanh", "leaky_relu"):
        init = "he" if "relu" in act else "glorot"
        # per epoch: ‖dW[l]‖ for l = 1..L at its last batch of 256
        record = GradientNorms(every=math.ceil(lab.X["train"].shape[1] / 256))
        run = fit(
            lab,
            act,
            GradientDescent(0.1),
            epochs=lab.epochs_or(40),
            net=lab.network(act, init),
            callbacks=(record,),
        )
        run.extra = {"gradient norm per layer": record.norms}
        runs.append(run)
    rows = [
        {
            "hidden activation": r.label,
            "init": "he" if "relu" in r.label else "glorot",
            "final train loss": r.history.train_loss[-1],
            f"val {lab.score_name}": lab.val_scores(r.history)[-1],
            "‖dW[1]‖ / ‖dW[L]‖ at the end": (
                r.extra["gradient norm per layer"][-1][0]
                / max(r.extra["gradient norm per layer"][-1][-1], 1e-30)
            ),
        }
        for r in runs
    ]
    return {
        "runs": runs,
        "rows": rows,
        "setup": "mini-batch SGD (batch 256, η = 0.1); He init for ReLUs, Glorot otherwise",
    }


def experiment_lr(lab: Lab) -> dict[str, Any]:
    runs = [
        fit(lab, f"η = {lr:g}", GradientDescent(lr), epochs=lab.epochs_or(30))
        for lr in (1.0, 0.1, 0.01, 0.001)
    ]
    rows = [
        {
            "learning rate": r.label,
            "diverged at epoch": r.diverged_at,
            "final train loss": r.history.train_loss[-1] if r.history.train_loss else None,
            f"val {lab.score_name}": (
                lab.val_scores(r.history)[-1] if lab.val_scores(r.history) else None
            ),
        }
        for r in runs
    ]
    return {"runs": runs, "rows": rows, "setup": "mini-batch SGD, batch 256"}


def experiment_l2(lab: Lab) -> dict[str, Any]:
    runs = []
    for lmbda in (0.0, 0.01, 0.1, 1.0):
        run = fit(
            lab, f"λ = {lmbda:g}", Adam(3e-3), epochs=lab.epochs_or(150), batch_size=64, lmbda=lmbda
        )
        run.extra = {"train": lab.score(run.net, "train"), "test": lab.score(run.net, "test")}
        runs.append(run)
    rows = [
        {
            "λ": r.label,
            f"train {lab.score_name}": r.extra["train"],
            f"test {lab.score_name}": r.extra["test"],
            "gap (test - train)": r.extra["test"] - r.extra["train"],
            "Σ‖W‖²": r.net.params.squared_weight_norm(),
        }
        for r in runs
    ]
    return {
        "runs": runs,
        "rows": rows,
        "score": lab.score_name,
        "setup": "Adam η = 3e-3, batch 64, no early stopping, so that it can overfit",
    }


def experiment_batch(lab: Lab) -> dict[str, Any]:
    n = lab.X["train"].shape[1]
    plan = [
        ("full batch (GD)", None, 300),
        ("mini-batch 256", 256, 20),
        ("mini-batch 32", 32, 8),
        ("per-sample SGD (batch 1)", 1, 2),
    ]
    runs = []
    for label, batch, epochs in plan:
        epochs = lab.epochs_or(epochs)
        runs.append(fit(lab, label, GradientDescent(0.01), epochs=epochs, batch_size=batch))
    rows = [
        {
            "regime": r.label,
            "epochs": r.history.n_epochs,
            "updates": r.history.n_epochs * math.ceil(n / (b or n)),
            "seconds": sum(r.history.seconds),
            "final train loss": r.history.train_loss[-1],
            f"val {lab.score_name}": lab.val_scores(r.history)[-1],
        }
        for r, (_, b, _) in zip(runs, plan, strict=True)
    ]
    return {"runs": runs, "rows": rows, "setup": "plain SGD, η = 0.01 for every regime"}


def experiment_optimizer(lab: Lab) -> dict[str, Any]:
    grid: dict[str, tuple[Callable[[float], Optimizer], tuple[float, ...]]] = {
        "gradient descent": (GradientDescent, (0.3, 0.1, 0.03)),
        "momentum 0.9": (lambda lr: Momentum(lr, 0.9), (0.03, 0.01, 0.003)),
        "Adam": (Adam, (3e-3, 1e-3, 3e-4)),
    }
    runs, rows = [], []
    for name, (make, rates) in grid.items():
        tried = [
            fit(lab, f"{name}, η = {lr:g}", make(lr), epochs=lab.epochs_or(25)) for lr in rates
        ]
        score = lambda r: min(r.history.val_loss) if r.history.val_loss else math.inf  # noqa: E731
        best = min(tried, key=score)
        runs.append(best)
        rows.append(
            {
                "optimizer": name,
                "best η (by validation loss)": best.label.split("= ")[1],
                "rates tried": list(rates),
                f"best val {lab.score_name}": lab.best_val(best.history),
            }
        )
    return {
        "runs": runs,
        "rows": rows,
        "setup": "mini-batch 256, each optimizer's η chosen from its grid by validation loss",
    }


# --------------------------------------------------------------------------- figures


def _log_panel(panel: Any, xlabel: str, ylabel: str, title: str) -> None:
    """Log-scale y, labels, grid and legend: the look every curve panel shares."""
    panel.set_yscale("log")
    panel.set_xlabel(xlabel)
    panel.set_ylabel(ylabel)
    panel.set_title(title)
    panel.grid(alpha=0.3)
    panel.legend(fontsize=8)


def _loss_panel(ax: Any, name: str, runs: list[Run], xlabel: str = "epoch") -> None:
    """Every run's training loss against epochs, on a log scale."""
    for run in runs:
        epochs = np.arange(1, run.history.n_epochs + 1)
        label = run.label + (f" (diverged at epoch {run.diverged_at})" if run.diverged_at else "")
        ax.plot(epochs, run.history.train_loss, label=label, lw=1.6)
    _log_panel(ax, xlabel, "training loss (log)", f"{name}: training loss")


def _finish(fig: Figure, result: dict[str, Any], source: str) -> Figure:
    fig.suptitle(f"{result['setup']}\n{source}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_loss_only(name: str, result: dict[str, Any], source: str) -> Figure:
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    _loss_panel(ax, name, result["runs"])
    return _finish(fig, result, source)


def plot_init(name: str, result: dict[str, Any], source: str) -> Figure:
    """Loss curves, and per-layer RMS of activations and weight gradients at step 0."""
    fig = Figure(figsize=(16, 4.5))
    (ax, bars, grads) = fig.subplots(1, 3)
    width = 0.25
    layers = np.arange(1, len(next(iter(result["signal"].values()))[0]) + 1)
    for i, (label, (acts, dws)) in enumerate(result["signal"].items()):
        bars.bar(layers + (i - 1) * width, acts, width, label=label)
        grads.bar(layers + (i - 1) * width, dws, width, label=label)
    for panel, what, title in ((bars, "A", "activations"), (grads, "dW", "weight gradients")):
        panel.set_yscale("log")
        panel.set_xticks(layers, [f"{what}[{l}]" for l in layers])
        panel.set_ylabel(f"RMS of {title} at step 0 (log)")
        panel.set_title(f"{title} per layer, before training")
        panel.legend(fontsize=8, loc="lower left")
    _loss_panel(ax, name, result["runs"], xlabel="iteration")
    return _finish(fig, result, source)


def _plot_with_right_panel(
    name: str,
    result: dict[str, Any],
    source: str,
    draw: Callable[[Any, Run], None],
    labels: tuple[str, str, str],
) -> Figure:
    """Loss curves on the left; on the right, ``draw(panel, run)`` for every run."""
    fig = Figure(figsize=(12, 4.5))
    (ax, right) = fig.subplots(1, 2)
    _loss_panel(ax, name, result["runs"])
    for run in result["runs"]:
        draw(right, run)
    _log_panel(right, *labels)
    return _finish(fig, result, source)


def plot_activation(name: str, result: dict[str, Any], source: str) -> Figure:
    """Loss curves, and each layer's gradient norm over training, one panel per activation:
    the vanishing gradient shows as the first layers' curves falling below the last's."""
    runs = result["runs"]
    fig = Figure(figsize=(16, 4.5))
    axes = fig.subplots(1, 1 + len(runs))
    _loss_panel(axes[0], name, runs)
    for ax, run in zip(axes[1:], runs, strict=True):
        norms = np.asarray(run.extra["gradient norm per layer"])
        for layer in range(norms.shape[1] if norms.size else 0):
            ax.plot(np.arange(1, len(norms) + 1), norms[:, layer], label=f"‖dW[{layer + 1}]‖")
        _log_panel(ax, "epoch", "gradient norm at the epoch's last batch (log)", run.label)
    return _finish(fig, result, source)


def plot_batch(name: str, result: dict[str, Any], source: str) -> Figure:
    """Loss against epochs, and the same curves against wall-clock time."""
    return _plot_with_right_panel(
        name,
        result,
        source,
        lambda panel, run: panel.plot(
            np.cumsum(run.history.seconds), run.history.train_loss, label=run.label, marker="."
        ),
        ("wall-clock seconds", "training loss (log)", "the same curves against time"),
    )


def plot_l2(name: str, result: dict[str, Any], source: str) -> Figure:
    """Loss curves, with the test − train RMSE gap per λ as an inset."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    _loss_panel(ax, name, result["runs"])
    inset = ax.inset_axes((0.55, 0.45, 0.4, 0.4))
    gaps = [r["gap (test - train)"] for r in result["rows"]]
    positions = np.arange(len(gaps))
    inset.bar(positions, gaps, color="tab:red")
    inset.set_xticks(positions, [r.label for r in result["runs"]])
    inset.set_title(f"test − train {result['score']}", fontsize=8)
    inset.tick_params(labelsize=7)
    return _finish(fig, result, source)
