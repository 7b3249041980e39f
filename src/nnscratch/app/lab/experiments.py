"""The analysis lab: one command per design claim, checked on real data.

``nnscratch experiment NAME`` trains several otherwise-identical networks
from the same seed and writes ``NAME.png`` (curves overlaid or bars),
``results.json`` and ``results.md``:

============ ================================================================
init         He vs Glorot vs 0.01·N(0,1): loss curves, per-layer signal at step 0
activation   ReLU vs sigmoid vs tanh vs leaky ReLU: loss, every layer's gradient
             norm over training (the vanishing-gradient picture)
lr           learning rates 1, 0.1, 0.01, 0.001: divergence is a result
l2           λ ∈ {0, 0.01, 0.1, 1}: the train vs test gap
batch        full batch vs mini-batch 32 / 256 vs per-sample: per epoch, per second
optimizer    GD vs momentum vs Adam, each at its best learning rate
augmentation images only: the same network with no augmentation, shifts, affine
             transforms, elastic distortion: validation accuracy per epoch, the
             seconds an epoch takes, and a grid of augmented digits
============ ================================================================

On a tracks CSV (Part 1) every experiment uses the seed's 13 features and a
13-64-32-16-1 network and scores RMSE in popularity points; on images
(``--data`` an MNIST folder or ``digits``, Part 3 as the original project
ran it) a 784-64-32-16-10 softmax network with cross-entropy, scored by
accuracy (``augmentation``: a wider 784-512-256-10 network, which has room
to learn from distorted digits). All train through the same
:func:`nnscratch.core.training.train` loop as everything else and use only
the training and validation data to choose anything; the test split is
reported, never used to pick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnscratch.app.lab import augmentation
from nnscratch.app.lab.figures import (
    plot_activation,
    plot_batch,
    plot_init,
    plot_l2,
    plot_loss_only,
)
from nnscratch.app.lab.seed_network import (
    experiment_activation,
    experiment_batch,
    experiment_init,
    experiment_l2,
    experiment_lr,
    experiment_optimizer,
)
from nnscratch.app.lab.training import Lab
from nnscratch.app.runs import default_run_dir, staged_directory, write_json
from nnscratch.files import atomic_write_text
from nnscratch.registry import Registry
from nnscratch.tasks.base import Task
from nnscratch.tasks.plots import save_figure
from nnscratch.tasks.registry import task_for_data

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Experiment:
    """One lab experiment: what it runs, how it draws its result, its default row cap."""

    run: Callable[[Lab], dict[str, Any]]
    plot: Callable[[str, dict[str, Any], str], Figure]
    max_rows: int | None = None  # keeps the experiment under two minutes on the shared data


#: The lab's experiments by name; ``nnscratch experiment NAME`` lists them by itself.
EXPERIMENTS: Registry[Experiment] = Registry("experiment")
EXPERIMENTS.add(Experiment(experiment_init, plot_init), "init")
EXPERIMENTS.add(Experiment(experiment_activation, plot_activation), "activation")
EXPERIMENTS.add(Experiment(experiment_lr, plot_loss_only), "lr")
EXPERIMENTS.add(Experiment(experiment_l2, plot_l2, max_rows=3000), "l2")
EXPERIMENTS.add(Experiment(experiment_batch, plot_batch, max_rows=10_000), "batch")
EXPERIMENTS.add(Experiment(experiment_optimizer, plot_loss_only), "optimizer")
EXPERIMENTS.add(
    Experiment(augmentation.experiment_augmentation, augmentation.plot_augmentation), "augmentation"
)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return ", ".join(cell(x) for x in v)
        return "—" if v is None else str(v)

    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command


def run_experiment(
    name: str,
    task: Task | None = None,
    *,
    data_path: str | None,
    seed: int = 0,
    out: Path | None = None,
    max_rows: int | None = None,
    epochs: int | None = None,
) -> Path:
    """Run experiment ``name`` on ``task``'s data (default: the task the data calls for);
    returns the output directory."""
    started = time.perf_counter()
    task = task if task is not None else task_for_data(data_path)
    experiment = EXPERIMENTS.lookup(name)
    rows_cap = max_rows if max_rows is not None else experiment.max_rows
    splits = task.lab_splits(data_path, seed, rows_cap)
    lab = Lab.from_splits(splits, seed, epochs)
    source = splits.source
    result = experiment.run(lab)
    out = out or default_run_dir(f"experiment-{name}-")
    payload = {
        "experiment": name,
        "data": source,
        "seed": seed,
        "setup": result["setup"],
        "rows": result["rows"],
        "curves": {r.label: r.history.to_dict() for r in result["runs"]},
        "seconds": time.perf_counter() - started,
    }
    table = markdown_table(result["rows"])
    with staged_directory(out) as stage:
        save_figure(experiment.plot(name, result, source), stage / f"{name}.png")
        write_json(stage / "results.json", payload)
        atomic_write_text(
            stage / "results.md", f"# {name}\n\n{result['setup']}; {source}\n\n{table}\n"
        )
    print(f"experiment {name}: {result['setup']}")
    print(f"data: {source}")
    print(table)
    print(
        f"outputs in {out}/: {name}.png, results.json, results.md "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return out
