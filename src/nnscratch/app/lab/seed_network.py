"""The experiments on the seed's network (init, activation, lr, l2, batch, optimizer):
each trains otherwise-identical networks and returns their runs, a table and its setup.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnscratch.app.lab.training import Lab, fit
from nnscratch.core.network import Network
from nnscratch.core.observe import StepView
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum, Optimizer


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
        ("small", "naive small  0.01·N(0, 1)"),
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
