"""Figures: loss curves, predicted vs actual, residuals.

Every figure is rendered off-screen (Agg) and written atomically as a PNG.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnscratch.files import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot() -> Any:
    """matplotlib's ``pyplot`` on the off-screen Agg backend, imported on the first figure:
    it takes about 25 MB that training, which draws nothing, need not hold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A matplotlib ``Figure`` of ``figsize`` inches, outside pyplot (matplotlib imported on
    the first one)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Render ``fig`` to PNG bytes in memory, then write them atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def loss_curve_figure(
    train_loss: Sequence[float],
    val_loss: Sequence[float] = (),
    best_epoch: int | None = None,
    title: str = "Training and validation loss",
) -> Figure:
    """Per-epoch training (and validation) loss on a log scale, best epoch marked."""
    fig, ax = pyplot().subplots(figsize=(7, 4.2))
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="training loss (MSE + L2)", lw=1.6)
    if len(val_loss):
        ax.plot(epochs[: len(val_loss)], val_loss, label="validation loss (MSE)", lw=1.6)
    if best_epoch is not None:
        ax.axvline(
            best_epoch + 1, color="grey", ls="--", lw=1, label=f"best epoch ({best_epoch + 1})"
        )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss, 1/(2m) Σ(ŷ−y)² on scaled popularity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


#: Points a scatter plot draws, at most: a seeded sample of more (a cloud as dense, and a
#: figure whose memory does not grow with the test split: 990,000 points took 100 MB).
SCATTER_POINTS = 100_000


def scatter_sample(n: int) -> slice | np.ndarray:
    """Which of ``n`` points a scatter plot draws: all, or a sorted seeded sample of
    :data:`SCATTER_POINTS`."""
    if n <= SCATTER_POINTS:
        return slice(None)
    return np.sort(np.random.default_rng(0).choice(n, size=SCATTER_POINTS, replace=False))


def pred_vs_actual_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Predicted against actual popularity, with the identity line (a sample of
    :data:`SCATTER_POINTS` tracks where there are more)."""
    fig, ax = pyplot().subplots(figsize=(5.5, 5.5))
    shown = scatter_sample(len(y_true))
    label = (
        "test tracks"
        if len(y_true) <= SCATTER_POINTS
        else (f"test tracks ({SCATTER_POINTS:,} of {len(y_true):,})")
    )
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    ax.scatter(y_true[shown], y_pred[shown], s=5, alpha=0.25, edgecolors="none", label=label)
    low = float(min(np.min(y_true), np.min(y_pred), 0))
    high = float(max(np.max(y_true), np.max(y_pred), 1))
    ax.plot([low, high], [low, high], color="black", lw=1, label="perfect prediction")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("actual popularity")
    ax.set_ylabel("predicted popularity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


def residuals_figure(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Residuals against prediction (a sample of :data:`SCATTER_POINTS` where there are
    more), and the histogram of every residual."""
    residuals = np.asarray(y_true) - np.asarray(y_pred)
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(10, 4.2))
    shown = scatter_sample(len(residuals))
    left.scatter(np.asarray(y_pred)[shown], residuals[shown], s=5, alpha=0.25, edgecolors="none")
    left.axhline(0, color="black", lw=1)
    left.set_xlabel("predicted popularity")
    left.set_ylabel("actual − predicted")
    left.set_title("residuals against prediction")
    left.grid(alpha=0.3)
    right.hist(residuals, bins=60, color="tab:blue", alpha=0.8)
    right.set_xlabel("actual − predicted (popularity points)")
    right.set_ylabel("tracks")
    right.set_title(f"residual distribution (mean {residuals.mean():+.2f})")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def accuracy_curve_figure(
    train_loss: Sequence[float],
    val_loss: Sequence[float],
    val_accuracy: Sequence[float],
    best_epoch: int | None,
) -> Figure:
    """Training and validation log-loss (log scale) beside validation accuracy, per epoch."""
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(train_loss) + 1)
    left.plot(epochs, train_loss, label="training")
    if len(val_loss):
        left.plot(epochs[: len(val_loss)], val_loss, label="validation")
    left.set_yscale("log")
    left.set(xlabel="epoch", ylabel="cross-entropy (log)", title="loss")
    if len(val_accuracy):
        right.plot(epochs[: len(val_accuracy)], np.asarray(val_accuracy) * 100, color="tab:green")
    right.set(xlabel="epoch", ylabel="validation accuracy (%)", title="accuracy")
    for panel in (left, right):
        if best_epoch is not None:
            panel.axvline(best_epoch + 1, color="grey", ls=":", label="best epoch")
        panel.grid(alpha=0.3)
    left.legend()
    fig.tight_layout()
    return fig


def confusion_matrix_figure(matrix: np.ndarray, labels: Sequence[str], title: str) -> Figure:
    """Counts of true (rows) against predicted (columns) classes, with each cell written in."""
    fig, ax = pyplot().subplots(figsize=(6.5, 5.5))
    shown = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = matrix.max() / 2
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            colour = "white" if matrix[i, j] > threshold else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def misclassified_figure(
    images: np.ndarray, true: Sequence[object], predicted: Sequence[object], title: str
) -> Figure:
    """A grid of images (``(n, rows, cols)``, at most 36) titled true → predicted."""
    n = min(len(images), 36)
    columns = 9
    rows = max(1, -(-n // columns))
    fig, axes = pyplot().subplots(rows, columns, figsize=(columns * 1.2, rows * 1.45 + 0.5))
    for k, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{true[k]} → {predicted[k]}", fontsize=8, color="tab:red")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def search_figure(
    ended: Sequence[float],
    values: Sequence[float],
    states: Sequence[str],
    importances: dict[str, float],
    metric: str,
    higher_is_better: bool,
    budget: float | None = None,
) -> Figure:
    """A search at a glance. Left: each trial's mean CV score at the minute it ended
    (complete trials as dots, pruned and failed ones as ticks under the axis), the best so
    far as a step line, the time budget dashed. Right: Optuna's parameter importances
    (fANOVA over the complete trials), or why there are none yet.

    ``ended`` are seconds since the search began, ``values`` NaN unless complete,
    ``states`` "complete", "pruned" or "failed".
    """
    fig, (ax, right) = pyplot().subplots(1, 2, figsize=(11, 4.2), width_ratios=(3, 2))
    minutes = np.asarray(ended, dtype=np.float64) / 60
    scores = np.asarray(values, dtype=np.float64)
    complete = np.array([s == "complete" for s in states], dtype=bool) & np.isfinite(scores)
    order = np.argsort(minutes, kind="stable")
    best, best_line = np.nan, []
    for i in order:
        if complete[i] and (
            np.isnan(best) or (scores[i] > best if higher_is_better else scores[i] < best)
        ):
            best = scores[i]
        best_line.append(best)
    ax.scatter(minutes[complete], scores[complete], s=22, alpha=0.7, label="complete trial")
    ax.step(minutes[order], best_line, where="post", color="tab:red", label="best so far")
    stopped = ~complete
    if stopped.any():
        ax.plot(
            minutes[stopped],
            np.zeros(int(stopped.sum())),
            "|",
            color="tab:gray",
            markersize=12,
            transform=ax.get_xaxis_transform(),
            label="pruned or failed",
        )
    if budget is not None:
        ax.axvline(budget / 60, color="black", ls="--", lw=0.8, label="time budget")
    ax.set_xlim(left=0)  # the search's start, however late the first trial ends
    ax.set_xlabel("minutes since the search began")
    ax.set_ylabel(f"mean CV {metric}")
    ax.set_title(f"{len(states)} trials, {int(complete.sum())} complete", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if importances:
        names = list(importances)[::-1]
        right.barh(range(len(names)), [importances[n] for n in names], color="tab:blue")
        right.set_yticks(range(len(names)), names, fontsize=8)
        right.set_xlabel("importance (fANOVA, sums to 1)")
    else:
        right.axis("off")
        note = "parameter importances need\nat least 2 complete drawn trials"
        right.text(0.5, 0.5, note, ha="center", va="center", fontsize=9)
    right.set_title("what mattered (Optuna)", fontsize=10)
    fig.tight_layout()
    return fig


def importance_figure(
    names: Sequence[str], means: Sequence[float], stds: Sequence[float], unit: str, title: str
) -> Figure:
    """Permutation importance: one bar per input (most important at the top), its spread
    over the shuffles as an error bar; at most the top 25."""
    names, means, stds = list(names)[:25], np.asarray(means)[:25], np.asarray(stds)[:25]
    fig, ax = pyplot().subplots(figsize=(7.5, 0.3 * len(names) + 1.6))
    positions = np.arange(len(names))[::-1]
    colors = ["tab:blue" if m >= 0 else "tab:gray" for m in means]
    ax.barh(positions, means, xerr=stds, color=colors, capsize=2)
    ax.set_yticks(positions, names, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"validation {unit} lost when the input is shuffled")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


#: The panels of :func:`layers_figure`: record key, title, log scale.
LAYER_PANELS = (
    ("act_mean", "mean of A[l] (probe batch)", False),
    ("act_std", "std of A[l] (probe batch)", False),
    ("dead_fraction", "dead units (A = 0 on the whole probe)", False),
    ("grad_rms", "RMS of dW[l]", True),
    ("weight_rms", "RMS of W[l]", False),
    ("update_ratio_log10", "log10 update : weight (healthy ≈ −3)", False),
)


def layers_figure(
    records: Sequence[dict], title: str = "What each layer does while it learns"
) -> Figure:
    """Per-layer telemetry over training: one panel per quantity, one line per layer
    (pooled over TabM's members; the first ensemble member's records). A line of few
    records marks each one (two records, the first and last step, are a short run)."""
    first = min((r["member"] for r in records if r["member"] is not None), default=None)
    mine = [r for r in records if r["k"] is None and r["member"] == first]
    layers = sorted({r["layer"] for r in mine})
    fig, axes = pyplot().subplots(2, 3, figsize=(13, 7), sharex=True)
    for ax, (key, label, log) in zip(axes.ravel(), LAYER_PANELS, strict=True):
        for l in layers:
            rows = [r for r in mine if r["layer"] == l and r[key] is not None]
            ax.plot(
                [r["step"] for r in rows],
                [r[key] for r in rows],
                lw=1.4,
                marker="o" if len(rows) <= 20 else None,
                ms=3,
                label=f"layer {l}" + (" (output)" if l == layers[-1] else ""),
            )
        if key == "update_ratio_log10":
            ax.axhline(-3, color="grey", ls="--", lw=1)
        if log and mine:
            ax.set_yscale("log")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("optimizer step")
    if layers:
        axes[0, 0].legend(fontsize=8)
    else:
        axes[0, 0].text(
            0.5, 0.5, "no telemetry recorded", ha="center", transform=axes[0, 0].transAxes
        )
    fig.suptitle(title)
    fig.tight_layout()
    return fig
