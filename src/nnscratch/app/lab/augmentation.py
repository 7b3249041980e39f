"""The lab's augmentation experiment: what distorting the training digits buys.

The same 784-512-256-10 network (dropout 0.2, Adam, batch 128), from the same
seed, trained four times: on the images as they are, and with each training
batch shifted, affinely transformed or elastically distorted afresh every epoch
(:mod:`nnscratch.data.augment`). It records validation accuracy per epoch, the
test accuracy at the end, the seconds an epoch takes (the transforms run on one
core beside the network's BLAS threads; ``benchmarks/augmentation_cost.py`` measures
the cost properly), and draws a grid of the same digits under each augmentation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nnscratch.app.lab.training import Lab, Run, fit
from nnscratch.core.optimizers import Adam
from nnscratch.data.augment import AUGMENTATIONS, augmentation
from nnscratch.errors import DataError
from nnscratch.tasks.plots import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The network the experiment trains: wide enough to learn from distorted digits.
WIDE = (512, 256)
#: How many digits the grid shows under each augmentation.
GRID_DIGITS = 10


def experiment_augmentation(lab: Lab) -> dict[str, Any]:
    """No augmentation, shifts, affine, elastic: the same network, seed and budget."""
    if lab.image_shape is None:
        raise DataError(
            "experiment augmentation needs images: --data an MNIST folder, or digits "
            "(scikit-learn's 8×8 digits, offline)"
        )
    runs = []
    for name in AUGMENTATIONS:
        net = lab.network(widths=WIDE, dropout=0.2)
        transform = augmentation(name, lab.image_shape)
        run = fit(
            lab,
            name,
            Adam(1e-3),
            epochs=lab.epochs_or(15),
            batch_size=128,
            net=net,
            batch_transform=transform,
            from_rows=True,
        )
        run.extra = {"test": lab.score(run.net, "test")}
        runs.append(run)
    rows = [
        {
            "augmentation": r.label,
            "best val accuracy": lab.best_val(r.history),
            "last val accuracy": lab.val_scores(r.history)[-1],
            "test accuracy": r.extra["test"],
            "final train loss": r.history.train_loss[-1],
            "seconds per epoch": float(np.median(r.history.seconds)),
        }
        for r in runs
    ]
    return {
        "runs": runs,
        "rows": rows,
        "grid": augmented_grid(lab, lab.image_shape),
        "setup": f"{'-'.join(map(str, lab.sizes_with(WIDE)))} network, dropout 0.2, Adam "
        "η = 1e-3, batch 128; each training batch distorted afresh",
    }


def augmented_grid(lab: Lab, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The first :data:`GRID_DIGITS` validation images ``(k, H, W)``, as they are and
    under each augmentation (one seeded draw)."""
    originals = np.ascontiguousarray(lab.X["val"][:, :GRID_DIGITS].T)
    grid = {}
    for name in AUGMENTATIONS:
        transform = augmentation(name, shape)
        rows = originals.copy()
        if transform is not None:
            transform(rows, np.random.default_rng(lab.seed))
        grid[name] = rows.reshape(len(rows), *shape)
    return grid


def plot_augmentation(name: str, result: dict[str, Any], source: str) -> Figure:
    """Validation accuracy per epoch, training loss, and the grid of augmented digits."""
    runs: list[Run] = result["runs"]
    fig = new_figure((18, 5.6))
    acc, loss, pictures = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.4]})
    for run in runs:
        epochs = np.arange(1, run.history.n_epochs + 1)
        acc.plot(epochs, 100 * np.asarray(run.history.val_accuracy), label=run.label, marker=".")
        loss.plot(epochs, run.history.train_loss, label=run.label)
    acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"{name}: validation accuracy")
    loss.set(
        xlabel="epoch",
        ylabel="training loss (log)",
        yscale="log",
        title="training loss on the distorted batches",
    )
    for panel in (acc, loss):
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
    grid = result["grid"]
    mosaic = np.concatenate([np.concatenate(list(images), axis=1) for images in grid.values()])
    pictures.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    height = next(iter(grid.values())).shape[1]
    pictures.set_yticks((np.arange(len(grid)) + 0.5) * height, list(grid))
    pictures.set_xticks([])
    pictures.set_title("the same validation digits under each augmentation (one draw)")
    fig.suptitle(f"{result['setup']}\n{source}", fontsize=9)
    fig.tight_layout()
    return fig
