"""``nnscratch learn train``: the learner's network on real data, beside the package's engine.

The learner's own stages do all of the network's work — their ``initialize`` draws the
starting weights, their ``train`` runs their forward pass, cost, backward pass,
optimizer steps and loop, and their ``forward`` (and ``softmax``) make the test
predictions; nothing of the package's math runs on their side. The package's reading,
cleaning, split and scaling prepare the data (the same arrays for both sides), and its
metrics score the predictions.

Beside it, the package's engine (:class:`~nnscratch.core.network.Network` trained by
:func:`~nnscratch.core.training.train`, in float64) trains the same architecture on the
same data with the same settings, **from the learner's own initial weights**, so the
two runs' per-epoch training losses measure the forward pass, the backward pass, the
cost and the update (initialisation is checked in its own stage). With mini-batches
both draw the same shuffle: the one the stub's docstring prescribes is the engine's.
Both sides run with BLAS held to one thread, so that neither is slowed by threads
fighting for two cores (its own, or another program's), and their times compare.

========= ==================================================== =========================
data      network and default regime                           score
========= ==================================================== =========================
tracks    13-64-32-16-1 ReLU, linear output, the seed's 13      test RMSE (popularity
          features; full-batch gradient descent (the seed's     points)
          regime), η = 0.2, λ = 0.01, 1,000 epochs
digits    64-64-32-16-10 ReLU, softmax output, cross-entropy;   test accuracy (360
          momentum 0.9, η = 0.02, shuffled mini-batches of      digits)
          32, 60 epochs
MNIST     784-64-32-16-10 on the first 5,000 training images    test accuracy (the
          (as the seed's classifier); as digits, 20 epochs      10,000 test images)
========= ==================================================== =========================

:func:`run` writes ``metrics.json`` (``yours_test_rmse`` or ``yours_test_accuracy``,
the engine's, ``max_relative_difference`` — the largest relative difference between
the two runs' per-epoch training losses — and the seconds each side took),
``losses.csv`` and ``losses.png``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from nnscratch.app.learn.network import learner_functions
from nnscratch.app.learn.workspace import Workspace
from nnscratch.app.runs import staged_directory, write_json
from nnscratch.core.blas import one_blas_thread
from nnscratch.core.network import Network, to_network_layout
from nnscratch.core.optimizers import OPTIMIZERS
from nnscratch.core.training import TrainConfig, train
from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.images import is_image_source, load_images
from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import SYNTHETIC_LABEL, make_tracks
from nnscratch.data.tracks import load_tracks, tracks_from_frame
from nnscratch.files import atomic_write_text
from nnscratch.tasks.plots import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Rows of the built-in synthetic sample (as ``nnscratch train`` uses it).
SYNTHETIC_ROWS = 5000
#: The seed's classifier trained on MNIST's first training images only.
MNIST_FIRST_ROWS = 5000


@dataclass(frozen=True)
class Settings:
    """How both sides train: the architecture and the regime (``batch_size`` None is
    full-batch gradient descent)."""

    hidden: tuple[int, ...] = (64, 32, 16)
    optimizer: str = "gd"
    learning_rate: float = 0.2
    epochs: int = 1000
    batch_size: int | None = None
    lmbda: float = 0.01
    seed: int = 0


#: The defaults by kind of data (``--epochs`` and the other flags override them).
DEFAULTS = {
    "tracks": Settings(),
    "digits": Settings(
        optimizer="momentum", learning_rate=0.02, epochs=60, batch_size=32, lmbda=0.0
    ),
    "mnist": Settings(
        optimizer="momentum", learning_rate=0.02, epochs=20, batch_size=32, lmbda=0.0
    ),
}


#: The stages each kind of data needs passed before ``learn train`` runs: a regression
#: needs the stages up to the training loop, a classifier softmax's stage as well.
_REGRESSION_STAGES = (
    "data",
    "init",
    "activations",
    "forward",
    "loss",
    "backprop",
    "optimizers",
    "training",
)
NEEDS = {
    "tracks": _REGRESSION_STAGES,
    "digits": (*_REGRESSION_STAGES, "softmax"),
    "mnist": (*_REGRESSION_STAGES, "softmax"),
}


def kind_of(source: str | None) -> str:
    """``tracks``, ``digits`` (the 8×8 sample) or ``mnist`` (an image folder or .npz)."""
    if not is_image_source(source):
        return "tracks"
    return "digits" if source == "digits" else "mnist"


@dataclass
class Split:
    """Training and test arrays in the network layout (float64), and how to score."""

    kind: str
    source: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    #: regression: the target's range (scaled RMSE × scale = points); classification: 0
    scale: float

    @property
    def classes(self) -> bool:
        return self.kind != "tracks"

    def layer_sizes(self, settings: Settings) -> list[int]:
        return [self.X_train.shape[0], *settings.hidden, self.Y_train.shape[0]]


def load(source: str | None, seed: int) -> Split:
    """Tracks (a CSV, or the built-in sample for None), ``digits`` or an MNIST folder."""
    if is_image_source(source):
        assert source is not None
        images = load_images(source, seed)
        kind = kind_of(source)
        X_train, y_train = images.X_train, images.y_train
        if kind == "mnist":
            X_train, y_train = X_train[:MNIST_FIRST_ROWS], y_train[:MNIST_FIRST_ROWS]
        K = int(max(y_train.max(), images.y_test.max())) + 1
        return Split(
            kind,
            images.source,
            to_network_layout(X_train, np.float64),
            np.eye(K)[:, y_train],
            to_network_layout(images.X_test, np.float64),
            np.eye(K)[:, images.y_test],
            0.0,
        )
    if source is None:
        frame = tracks_from_frame(make_tracks(SYNTHETIC_ROWS, seed=seed), source=SYNTHETIC_LABEL)
        label = SYNTHETIC_LABEL
    else:
        frame, label = load_tracks(source), source
    data = prepare(frame, DEFAULT_FEATURES, seed=seed, dtype=np.float64)
    assert data.y_scaler is not None
    return Split(
        "tracks",
        label,
        to_network_layout(data.X_train, np.float64),
        data.y_train.reshape(1, -1).astype(np.float64),
        to_network_layout(data.X_test, np.float64),
        data.y_test.reshape(1, -1).astype(np.float64),
        float(data.y_scaler.data_range_[0]),
    )


@dataclass
class Side:
    """One side's run: its per-epoch training losses, its test predictions, its time."""

    losses: list[float]
    predictions: np.ndarray
    seconds: float


def yours(workspace: Workspace, split: Split, settings: Settings) -> tuple[Side, list[Any]]:
    """The learner's network, from their ``initialize`` to their test predictions; and
    the initial parameters it started from (for the engine)."""
    names = ["initialize", "forward", "mse_cost", "mse_gradient", "train"]
    if split.classes:
        names += ["softmax", "cross_entropy", "softmax_cross_entropy_gradient"]
    learner = learner_functions(workspace, names)
    sizes = split.layer_sizes(settings)
    weights, biases = learner["initialize"](sizes, np.random.default_rng(settings.seed))
    start = [np.array(a, dtype=np.float64) for a in [*weights, *biases]]
    options: dict[str, Any] = {
        "cost": learner["mse_cost"],
        "cost_gradient": learner["mse_gradient"],
    }
    if split.classes:
        options = {
            "output": learner["softmax"],
            "cost": learner["cross_entropy"],
            "cost_gradient": learner["softmax_cross_entropy_gradient"],
        }
    L = len(sizes) - 1
    tick = time.perf_counter()
    with tqdm(total=settings.epochs, desc="your network", unit="epoch", leave=False) as bar:
        weights, biases, losses = learner["train"](
            [a.copy() for a in start[:L]],
            [a.copy() for a in start[L:]],
            split.X_train,
            split.Y_train,
            epochs=settings.epochs,
            learning_rate=settings.learning_rate,
            lmbda=settings.lmbda,
            batch_size=settings.batch_size,
            optimizer=settings.optimizer,
            seed=settings.seed,
            on_epoch=lambda epoch, loss: bar.update(1),
            **options,
        )
    seconds = time.perf_counter() - tick
    Z_L, _ = learner["forward"](weights, biases, split.X_test)
    predictions = learner["softmax"](Z_L) if split.classes else Z_L
    return Side([float(v) for v in losses], np.asarray(predictions), seconds), start


def engine(split: Split, settings: Settings, start: list[np.ndarray]) -> Side:
    """The package's engine on the same data and settings, from the learner's weights."""
    sizes = split.layer_sizes(settings)
    net = Network(
        sizes,
        output_activation="softmax" if split.classes else "identity",
        loss="cross_entropy" if split.classes else "mse",
        dtype=np.float64,
    )
    L = len(sizes) - 1
    net.params.load_(start[:L], start[L:])
    optimizer = OPTIMIZERS.lookup(settings.optimizer)(settings.learning_rate)
    config = TrainConfig(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lmbda=settings.lmbda,
        progress=True,
        progress_label="the engine",
    )
    tick = time.perf_counter()
    history = train(net, split.X_train, split.Y_train, optimizer, config=config, rng=settings.seed)
    seconds = time.perf_counter() - tick
    return Side(history.train_loss, net.predict(split.X_test), seconds)


def max_relative_difference(a: list[float], b: list[float]) -> float:
    """``max_e |a_e − b_e| / max(|a_e|, |b_e|)`` (inf where the runs' lengths differ)."""
    if len(a) != len(b) or not a:
        return math.inf
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(x - y) / scale))


def score(split: Split, predictions: np.ndarray) -> float:
    """Test RMSE in the target's units, or test accuracy."""
    if split.classes:
        return float(np.mean(predictions.argmax(axis=0) == split.Y_test.argmax(axis=0)))
    residual = np.asarray(predictions, dtype=np.float64).reshape(-1) - split.Y_test.reshape(-1)
    return float(np.sqrt(np.mean(residual**2)) * split.scale)


@dataclass
class Milestone:
    """What :func:`run` measured (``metrics.json`` is its :meth:`record`)."""

    split: Split
    settings: Settings
    layer_sizes: list[int]
    yours: Side
    engine: Side

    @property
    def metric(self) -> str:
        return "test_accuracy" if self.split.classes else "test_rmse"

    @property
    def difference(self) -> float:
        return max_relative_difference(self.yours.losses, self.engine.losses)

    def record(self, workspace: Path) -> dict[str, Any]:
        return {
            "data": self.split.source,
            "kind": self.split.kind,
            "workspace": str(workspace),
            "layer_sizes": self.layer_sizes,
            "settings": asdict(self.settings),
            f"yours_{self.metric}": score(self.split, self.yours.predictions),
            f"engine_{self.metric}": score(self.split, self.engine.predictions),
            "max_relative_difference": self.difference,
            "yours_final_loss": self.yours.losses[-1] if self.yours.losses else None,
            "engine_final_loss": self.engine.losses[-1],
            "yours_seconds": round(self.yours.seconds, 2),
            "engine_seconds": round(self.engine.seconds, 2),
            "training_samples": int(self.split.X_train.shape[1]),
            "test_samples": int(self.split.X_test.shape[1]),
        }


def run(
    workspace: Workspace,
    source: str | None,
    settings: Settings,
    out: Path,
    say: Callable[[str], None],
) -> Milestone:
    """Both sides on ``source``; the outputs written to ``out``; what was measured."""
    split = load(source, settings.seed)
    sizes = split.layer_sizes(settings)
    say(describe(split, settings, sizes))
    with workspace.importable(), one_blas_thread():  # both sides alike (see the docs)
        mine, start = yours(workspace, split, settings)
    say(f"your network ({workspace.folder.name}/): {len(mine.losses)} epochs, {mine.seconds:.1f} s")
    with one_blas_thread():
        theirs = engine(split, settings, start)
    say(
        f"the engine (float64, from your initial weights): {settings.epochs} epochs, "
        f"{theirs.seconds:.1f} s"
    )
    milestone = Milestone(split, settings, sizes, mine, theirs)
    write(out, milestone, workspace.folder)
    say(summary(milestone))
    return milestone


def describe(split: Split, settings: Settings, sizes: list[int]) -> str:
    regime = "full-batch gradient descent" if settings.optimizer == "gd" else settings.optimizer
    if settings.batch_size is not None:
        regime = f"{settings.optimizer}, mini-batches of {settings.batch_size}"
    output = "softmax output, cross-entropy" if split.classes else "linear output, ½-MSE"
    return (
        f"data: {split.source}: {split.X_train.shape[1]:,} training and "
        f"{split.X_test.shape[1]:,} test samples\n"
        f"network: {' → '.join(map(str, sizes))}, ReLU, {output}; {regime}, "
        f"η = {settings.learning_rate:g}, λ = {settings.lmbda:g}, {settings.epochs} epochs, "
        f"seed {settings.seed}"
    )


def summary(milestone: Milestone) -> str:
    split = milestone.split
    mine = score(split, milestone.yours.predictions)
    theirs = score(split, milestone.engine.predictions)
    if split.classes:
        said = f"test accuracy: yours {mine:.2%}, the engine's {theirs:.2%}"
    else:
        said = f"test RMSE: yours {mine:.3f}, the engine's {theirs:.3f} (popularity points)"
    return (
        f"{said}\n"
        f"final training loss: yours {milestone.yours.losses[-1]:.6g}, "
        f"the engine's {milestone.engine.losses[-1]:.6g}\n"
        f"the two runs' per-epoch training losses differ by at most "
        f"{milestone.difference:.2e} (relative)"
    )


def write(out: Path, milestone: Milestone, workspace: Path) -> None:
    """``metrics.json``, ``losses.csv`` and ``losses.png``, staged and moved in together."""
    rows = ["epoch,yours,engine"] + [
        f"{e},{a!r},{b!r}"
        for e, (a, b) in enumerate(
            zip(milestone.yours.losses, milestone.engine.losses, strict=False), start=1
        )
    ]
    with staged_directory(out) as stage:
        write_json(stage / "metrics.json", milestone.record(workspace))
        atomic_write_text(stage / "losses.csv", "\n".join(rows) + "\n")
        save_figure(loss_figure(milestone), stage / "losses.png")


def loss_figure(milestone: Milestone) -> Figure:
    """Both runs' training losses, and their relative difference epoch by epoch (epochs
    where the two agree to the bit are counted, not drawn: a log scale has no 0)."""
    figure = new_figure((9, 3.6))
    left, right = figure.subplots(1, 2)
    epochs = np.arange(1, len(milestone.engine.losses) + 1)
    left.semilogy(epochs, milestone.engine.losses, label="the engine", linewidth=4, alpha=0.45)
    left.semilogy(epochs[: len(milestone.yours.losses)], milestone.yours.losses, label="yours")
    left.set(xlabel="epoch", ylabel="training loss", title="the two runs")
    left.legend()
    a, b = np.asarray(milestone.yours.losses), np.asarray(milestone.engine.losses)
    if len(a) == len(b):
        gap = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
        shown = gap > 0
        right.semilogy(epochs[shown], gap[shown], ".", markersize=3)
        right.set_title(
            f"relative difference: at most {gap.max():.1e}\n"
            f"({int((~shown).sum())} of {len(gap)} epochs equal to the bit)",
            fontsize=10,
        )
    right.set(xlabel="epoch", ylabel="|yours − engine| / max")
    figure.tight_layout()
    return figure


def settings_for(kind: str, **overrides: Any) -> Settings:
    """The defaults for ``kind`` of data, with the flags given (None: keep the default)."""
    return replace(DEFAULTS[kind], **{k: v for k, v in overrides.items() if v is not None})
