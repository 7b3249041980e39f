"""The figures of the experiments on the seed's network, one ``plot_NAME`` each."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nnscratch.app.lab.training import Run
from nnscratch.tasks.plots import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    fig = new_figure((7, 4.5))
    ax = fig.subplots()
    _loss_panel(ax, name, result["runs"])
    return _finish(fig, result, source)


def plot_init(name: str, result: dict[str, Any], source: str) -> Figure:
    """Loss curves, and per-layer RMS of activations and weight gradients at step 0."""
    fig = new_figure((16, 4.5))
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
    fig = new_figure((12, 4.5))
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
    fig = new_figure((16, 4.5))
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
    fig = new_figure((7, 4.5))
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
