"""What a playground session trains: its *source*, made from the page's settings by a
factory the sessions are given (:class:`Sessions <nnscratch.app.playground.sessions.Sessions>`
``(sources=...)``, by default :class:`PlaygroundSources`): the seam where another
network plugs in.

A source is one of the package's small sets (:mod:`nnscratch.data.toys`), trained
through ``MLPClassifier``/``MLPRegressor`` (:class:`ToySource`), or a tracks file as
``nnscratch train`` reads it (the built-in sample, or the file given to ``nnscratch
playground --data``), trained as ``nnscratch train`` trains it, through its task
(:class:`TracksSource`). Anything with the :class:`Source` methods will do: its
``fit`` passes the session's callbacks (a step observer and an epoch callback) to the
training loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nnscratch.app.playground.settings import TRACKS, Settings
from nnscratch.core.training import History
from nnscratch.data.toys import ToyData, make_toy
from nnscratch.errors import RequestError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.regressor import MLPRegressor
from nnscratch.tasks.registry import task_for_data

#: Rows of a fixed probe batch for the page's telemetry.
PROBE_ROWS = 256


class Source(Protocol):
    """What a session trains. ``data``: the small set the page draws (None: nothing but the
    network's own figures); the others in the order a session calls them."""

    data: ToyData | None

    def hello(self) -> dict[str, Any]:
        """What the page is told before training: ``classes``, ``n_features``, ``points``."""
        ...

    def load(self) -> None:
        """Read what ``fit`` needs (in the session's thread, once started)."""
        ...

    def steps_per_epoch(self) -> int: ...

    def probe(self) -> np.ndarray | None:
        """Rows ``(m, n_inputs)`` the telemetry probes, or None for the run's first batch."""
        ...

    def fit(self, callbacks: tuple[Any, ...]) -> None:
        """Train, with ``callbacks`` among the training loop's."""
        ...

    def save(self, path: Path) -> None:
        """The model file of the weights as they are (the session calls it paused or done)."""
        ...

    # optional: ``ended() -> str | None``, how the fit ended where the training loop
    # itself stopped it ("stopped early at epoch 49: …"); the session asks it once done


def how_it_ended(history: History | None, patience: int | None, epochs: int) -> str | None:
    """What the page says of a finished fit: stopped early (when, why, which weights are
    kept), or the epochs asked for reached; None where the history does not tell."""
    if history is None:
        return None
    if history.stopped_early:
        said = (
            f"stopped early at epoch {history.n_epochs}: validation loss had not improved "
            f"for {patience} epochs"
        )
        if history.best_epoch is not None:
            said += f" (the weights of epoch {history.best_epoch + 1}, its best, are kept)"
        return said
    if history.n_epochs >= epochs:
        return f"reached the {epochs} epochs asked for"
    return None


def estimator_for(settings: Settings, data: ToyData) -> MLPClassifier | MLPRegressor:
    """The estimator the settings describe (no early stopping: the page decides)."""
    params = dict(
        hidden_layer_sizes=settings.hidden,
        activation=settings.activation,
        init=settings.init,
        optimizer=settings.optimizer,
        learning_rate=settings.lr,
        batch_size=settings.batch or None,
        epochs=settings.epochs,
        l2=settings.l2,
        dropout=settings.dropout,
        early_stopping=False,
        random_state=settings.seed,
        dtype="float64",
    )
    if data.classification:
        return MLPClassifier(**params)
    return MLPRegressor(**params)


class ToySource:
    """One of the package's small sets (:mod:`nnscratch.data.toys`), trained through the
    estimator that ``estimator(settings, data)`` makes (by default the one the settings
    describe: :func:`estimator_for`)."""

    def __init__(
        self,
        settings: Settings,
        estimator: Callable[[Settings, ToyData], Any] = estimator_for,
    ) -> None:
        self.settings = settings
        self.data: ToyData | None = make_toy(settings.data, settings.noise, settings.seed)
        self.estimator = estimator(settings, self.data)

    def load(self) -> None:
        """Nothing to read: the points were made with the source."""

    def steps_per_epoch(self) -> int:
        n = len(self.data.y_train)  # type: ignore[union-attr]
        return math.ceil(n / min(self.settings.batch or n, n))

    def probe(self) -> np.ndarray | None:
        """The first :data:`PROBE_ROWS` training points, whatever the batch."""
        return self.data.X_train[:PROBE_ROWS]  # type: ignore[union-attr]

    def fit(self, callbacks: tuple[Any, ...]) -> None:
        data = self.data
        assert data is not None
        self.estimator.fit(
            data.X_train, data.y_train, eval_set=(data.X_val, data.y_val), callbacks=callbacks
        )

    def ended(self) -> str | None:
        return how_it_ended(getattr(self.estimator, "history_", None), None, self.settings.epochs)

    def save(self, path: Path) -> None:
        """The estimator's model file; for 8×8 digits the digits model ``nnscratch predict``
        reads. Paused runs too: the weights as they are."""
        if not hasattr(self.estimator, "networks_"):
            raise RequestError(409, "nothing is trained yet: press Start or Step")
        if self.settings.data == "digits":
            DigitModel(self.estimator, (8, 8)).save(path)
        else:
            self.estimator.save(path)

    def hello(self) -> dict[str, Any]:
        data = self.data
        assert data is not None
        points = None
        if data.n_features <= 2:  # the validation points, and the training points
            points = {
                "X": np.round(data.X_val, 3).tolist(),
                "y": np.round(data.y_val, 3).tolist(),
                "train": {
                    "X": np.round(data.X_train, 3).tolist(),
                    "y": np.round(data.y_train, 3).tolist(),
                },
            }
        classes = None if data.classes is None else data.classes.tolist()
        return {"classes": classes, "n_features": data.n_features, "points": points}


class TracksSource:
    """A tracks file (``None``: the built-in synthetic sample), read, split and trained as
    ``nnscratch train`` does it, through its task, with the settings' network: early
    stopping included (the recipe's patience; the page says when it stopped, and why),
    for the epochs the page asks (no step budget)."""

    def __init__(self, settings: Settings, path: str | None) -> None:
        self.settings, self.path = settings, path
        self.task = task_for_data(path)
        self.recipe = (
            self.task.presets["default"]
            .with_overrides(
                hidden=settings.hidden,
                activation=settings.activation,
                init=settings.init,
                optimizer=settings.optimizer,
                learning_rate=settings.lr,
                batch_size=settings.batch or None,
                l2=settings.l2,
                dropout=settings.dropout,
                epochs=settings.epochs,
                lr_schedule="constant",
            )
            .with_overrides(n_members=1, k=1, n_jobs=1)
        )
        self.recipe = replace(self.recipe, max_steps=None)  # the page's epochs, all of them
        self.data: ToyData | None = None  # nothing to draw but the network's own figures
        self.model: Any = None

    def load(self) -> None:
        self.loaded = self.task.load(self.path, self.recipe, self.settings.seed)

    def steps_per_epoch(self) -> int:
        n = len(self.loaded.prepared.y_train)
        return math.ceil(n / min(self.settings.batch or n, n))

    def probe(self) -> np.ndarray | None:
        """None: the network's inputs are the task's encoding of the rows, so the telemetry
        probes the run's first batch (a full one), as ``nnscratch train --telemetry`` does."""
        return None

    def fit(self, callbacks: tuple[Any, ...]) -> None:
        self.model = self.task.fit(
            self.loaded, self.recipe, self.settings.seed, callbacks=callbacks
        )

    def ended(self) -> str | None:
        history = None if self.model is None else self.model.history
        return how_it_ended(history, self.recipe.patience, self.settings.epochs)

    def save(self, path: Path) -> None:
        """The model ``nnscratch train`` would have written: ``predict`` and ``serve`` read it."""
        if self.model is None:
            raise RequestError(409, "a tracks file's model is ready when its run has finished")
        self.model.save(path)

    def hello(self) -> dict[str, Any]:
        return {
            "classes": None,
            "n_features": 0,
            "points": None,
            "source": self.path or "the built-in synthetic sample",
        }


class PlaygroundSources:
    """The default source factory: a small set, or the built-in sample, or the tracks file
    ``data_path`` (``nnscratch playground --data``) as the data set ``file``."""

    def __init__(self, data_path: str | None = None) -> None:
        self.data_path = data_path

    def __call__(self, settings: Settings) -> Source:
        if settings.data == "file" and self.data_path is None:
            raise RequestError(
                422,
                "data: 'file' is the CSV given to nnscratch playground --data, and none was given",
            )
        if settings.data in TRACKS:
            return TracksSource(settings, self.data_path if settings.data == "file" else None)
        return ToySource(settings)
