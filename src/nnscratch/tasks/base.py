"""One interface for every kind of work, and one for what a saved model does.

A :class:`Task` is a kind of work: a table's numeric column
(:mod:`~nnscratch.tasks.regression`), a table's class labels
(:mod:`~nnscratch.tasks.classification`), images of digits
(:mod:`~nnscratch.tasks.digits`). It gives every command what it needs::

    train      load → fit → results (with baselines, what the model uses) → figures
    evaluate   the FittedModel of a file: evaluate(source)
    predict    the FittedModel of a file: predict_file(source)
    tune       load → fold_score per trial and fold → final
    serve      the FittedModel, if Servable: describe, json_request, body_request, its page
    export     the FittedModel, if Exportable: to_onnx
    experiment lab_splits: the data in the network's layout

so the application never asks which kind of work it is handling.
:data:`nnscratch.tasks.registry.TASKS` picks the task for some data (and for a
model file); a new kind of work is one module and one registry line.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from matplotlib.figure import Figure

from nnscratch.core.training import History
from nnscratch.errors import RequestError
from nnscratch.models.metrics import Metric, Results
from nnscratch.models.recipes import Recipe
from nnscratch.models.values import Predictions, Request

#: Where a task says what it does (``nnscratch train`` passes its printer).
Say = Callable[[str], None]


def quiet(line: str) -> None:
    """A :data:`Say` that says nothing (the search's fits)."""


@runtime_checkable
class FittedModel(Protocol):
    """What every trained model does, whatever its task: one file, predictions, scores
    and a description.

    ``predict_file`` and ``evaluate`` read a file (or folder) as ``nnscratch predict``
    and ``evaluate`` do; ``describe`` is what ``GET /model`` and the run's records say.
    What only some models do has a protocol of its own: :class:`Servable` (``nnscratch
    serve``) and :class:`Exportable` (``nnscratch export``).
    """

    task: ClassVar[str]

    @property
    def history(self) -> History: ...

    @property
    def n_members(self) -> int: ...

    def save(self, path: str | os.PathLike[str]) -> Path: ...

    def predict_file(self, source: str) -> Predictions: ...

    def evaluate(self, source: str, model_file: str) -> tuple[Results, list[str]]: ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class Servable(Protocol):
    """A model ``nnscratch serve`` can answer requests with.

    A request's JSON body goes to ``json_request``, any other body (a CSV, a PNG) to
    ``body_request`` with its media type, an Open Inference Protocol (KServe V2) request's
    tensors to ``tensor_request``: each gives the network's inputs and how the network's
    outputs (``network_outputs``, which a server may batch over many requests) become the
    answer. ``tensor_inputs`` and ``tensor_outputs`` describe the V2 tensors; ``page``
    names the served page. The answers computed at once, and the reading of many JSON
    bodies together, are the serving code's (:mod:`nnscratch.app.serve.handler`), written once.
    """

    page: ClassVar[str]

    def json_request(self, payload: Any, max_rows: int) -> Request: ...

    def body_request(self, media: str, body: bytes, max_rows: int) -> Request: ...

    def tensor_request(self, tensors: dict[str, np.ndarray], max_rows: int) -> Request: ...

    def network_outputs(self, X: np.ndarray) -> np.ndarray: ...

    def tensor_inputs(self) -> list[dict[str, Any]]: ...

    def tensor_outputs(self) -> list[dict[str, Any]]: ...


@runtime_checkable
class ReadsJsonTogether(Protocol):
    """A :class:`Servable` that reads many waiting JSON bodies at once, faster than one by
    one: each body's request, or the :class:`RequestError` it gets alone."""

    def json_requests(self, payloads: list[Any], max_rows: int) -> list[Request | RequestError]: ...


@runtime_checkable
class Exportable(Protocol):
    """A model ``nnscratch export`` can write: the whole model as one ONNX graph
    (``to_onnx``) and what that graph takes (``onnx_inputs``)."""

    def to_onnx(self) -> Any: ...

    def onnx_inputs(self) -> list[dict[str, Any]]: ...


class TaskData(Protocol):
    """A task's loaded data: its splits, what to say about them, what to record."""

    @property
    def source(self) -> str: ...

    def report(self) -> list[str]:
        """The data report's lines (rows read and dropped, the split)."""
        ...

    def record(self) -> dict[str, Any]:
        """``metrics.json``'s ``"data"`` (and other) entries."""
        ...


@dataclass(frozen=True)
class Fold:
    """Row positions (into a task's training rows) of one cross-validation fold."""

    train: np.ndarray
    early_stopping: np.ndarray
    held_out: np.ndarray


@dataclass
class NetworkSplits:
    """A task's data in the network's layout, for the analysis lab: ``X[split]``
    ``(n_features, m)`` and ``Y[split]`` ``(n_outputs, m)`` for ``train``, ``val`` and
    ``test``; one-hot ``Y`` (softmax and cross-entropy) when ``classification``, else
    scaled targets (identity and MSE) whose RMSE times ``rmse_scale`` is in the
    target's units."""

    X: dict[str, np.ndarray]
    Y: dict[str, np.ndarray]
    classification: bool
    rmse_scale: float
    source: str
    #: ``(rows, cols)`` when the inputs are images (the augmentation experiment needs it)
    image_shape: tuple[int, int] | None = None


def one_hot_columns(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Labels ``(m,)`` as one-hot columns ``(K, m)`` in the network's layout, float32."""
    rows = np.zeros((len(classes), len(labels)), dtype=np.float32)
    rows[np.searchsorted(classes, labels), np.arange(len(labels))] = 1
    return rows


class Task(ABC):
    """One kind of work, behind the interface every command uses (see the module doc)."""

    #: the name ``--task`` takes and model files record
    name: ClassVar[str]
    #: one line for ``--help``
    summary: ClassVar[str]
    #: recipes by name (``--preset``); ``"default"`` is what a plain ``train`` uses
    presets: ClassVar[dict[str, Recipe]]
    #: what ``nnscratch tune`` draws from (scikit-learn ``ParameterSampler`` spaces)
    search_space: ClassVar[dict[str, Any] | list[dict[str, Any]]]
    #: what the search ranks trials by
    metric: ClassVar[Metric]
    #: the fitted model it trains, and loads from a file
    model_type: ClassVar[Any]
    #: asked only after every other task declined the data (the catch-all for tables)
    fallback: ClassVar[bool] = False

    def __init__(self, target: str | None = None, keep_inputs: tuple[str, ...] = ()) -> None:
        self.target = target
        #: inputs the leakage guard must keep (``--keep-input``)
        self.keep_inputs = tuple(keep_inputs)

    @classmethod
    @abstractmethod
    def accepts(cls, source: str | None, requested: str | None) -> bool:
        """Whether this task handles ``source`` when the user asked for ``requested``
        (a ``--task`` name, or None)."""

    @classmethod
    def owns_model(cls, metadata: dict[str, Any]) -> bool:
        """Whether a model file with ``metadata`` holds this task's model."""
        return metadata.get("task") == cls.name

    def check(self, recipe: Recipe) -> None:  # noqa: B027 (a hook: most tasks take any)
        """Refuse a recipe this task cannot train (a ``DataError`` saying why)."""

    @abstractmethod
    def load(self, source: str | None, recipe: Recipe, seed: int) -> TaskData:
        """Read ``source``, split it (seeded), and fit what is fitted on the training rows."""

    @abstractmethod
    def fit(
        self, data: Any, recipe: Recipe, seed: int, *, say: Say = quiet, **fit_kwargs: Any
    ) -> Any:
        """Train ``recipe`` on the training split (early stopping on validation); say
        the inputs and the network before the first epoch. ``fit_kwargs`` go to the
        estimator (``verbose``, ``handle_interrupts``)."""

    @abstractmethod
    def results(self, model: Any, data: Any, seed: int) -> Results:
        """The model and its baselines on the validation and test splits."""

    @abstractmethod
    def figures(self, model: Any, data: Any, results: Results) -> dict[str, Figure]:
        """The run's figures by file name (``results``: what :meth:`results` gave)."""

    @abstractmethod
    def search_rows(self, data: Any) -> tuple[int, np.ndarray | None]:
        """How many training rows the search folds, and their labels (to stratify)."""

    @abstractmethod
    def fold_score(self, data: Any, recipe: Recipe, fold: Fold, seed: int) -> float:
        """``recipe`` fit on a fold's training rows and scored on its held-out rows."""

    @abstractmethod
    def test_score(self, model: Any, data: Any) -> float:
        """A fitted model's :attr:`metric` on the test split."""

    def final(self, data: Any, recipe: Recipe, seed: int) -> tuple[Any, float]:
        """``recipe`` fit as ``nnscratch train`` fits it, and its test score."""
        model = self.fit(data, recipe, seed)
        return model, self.test_score(model, data)

    @abstractmethod
    def lab_splits(self, source: str | None, seed: int, max_rows: int | None) -> NetworkSplits:
        """The data for the analysis lab's experiments."""
