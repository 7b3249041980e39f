"""One interface for every kind of work, and one for what a saved model does.

A :class:`Task` is a kind of work: a table's numeric column
(:mod:`~nnscratch.tasks.regression`), a table's class labels
(:mod:`~nnscratch.tasks.classification`), images of digits
(:mod:`~nnscratch.tasks.digits`). It gives every command what it needs::

    train      load → fit → results (with baselines, what the model uses) → figures
    evaluate   the FittedModel of a file: evaluate(source)
    predict    the FittedModel of a file: predict_file(source)
    tune       load → suggest a trial → fold_outputs per fold → outputs_score → final
    serve      the FittedModel, if a ServableModel: describe, and its serving part
    export     the FittedModel, if an ExportableModel: its export part's to_onnx
    experiment lab_splits: the data in the network's layout

so the application never asks which kind of work it is handling. What a fitted
model does is :mod:`nnscratch.models.fitted`'s protocols.
:data:`nnscratch.tasks.registry.TASKS` picks the task for some data (and for a
model file); a new kind of work is one module and one registry line.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from nnscratch.models.metrics import Metric, Results
from nnscratch.models.recipes import Recipe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Where a task says what it does (``nnscratch train`` passes its printer).
Say = Callable[[str], None]


def quiet(line: str) -> None:
    """A :data:`Say` that says nothing (the search's fits)."""


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

    def fingerprint(self) -> str:
        """A digest of the training split (its inputs and targets): what a resumed search
        checks that it searches the same data."""
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


def digest(*arrays: np.ndarray) -> str:
    """A SHA-256 of arrays' values (labels of any type as text): a data set's fingerprint."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        if array.dtype.kind in "biuf":
            h.update(str(array.dtype).encode() + np.ascontiguousarray(array).tobytes())
        else:
            h.update("\x1f".join(map(str, array.ravel())).encode())
        h.update(str(array.shape).encode())
    return h.hexdigest()


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
    #: what the search ranks trials by (and what each epoch reports to its pruner:
    #: the validation split's ``val_<key>``)
    metric: ClassVar[Metric]
    #: the fitted model it trains, and loads from a file (a
    #: :class:`~nnscratch.models.fitted.FittedModel`)
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
    def load(
        self, source: str | None, recipe: Recipe, seed: int, *, budget: Any = None
    ) -> TaskData:
        """Read ``source``, split it (seeded), and fit what is fitted on the training rows.
        ``budget``: the :class:`~nnscratch.data.training_table.MemoryBudget` a task that
        can train out of core keeps to (None: its default)."""

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
    def suggest(self, trial: Any) -> dict[str, Any]:
        """One configuration drawn for an Optuna ``trial`` (define-by-run: its
        ``suggest_*`` calls), as recipe overrides."""

    def portfolio(self) -> list[dict[str, Any]]:
        """Configurations a search tries right after the default recipe, before its sampler
        draws any (Optuna parameters as :meth:`suggest` names them; each is enqueued):
        a few that do well and differ from the default, so that a short search has
        something worth ensembling. None by default."""
        return []

    @abstractmethod
    def search_rows(self, data: Any) -> tuple[int, np.ndarray | None]:
        """How many training rows the search folds, and their labels (to stratify)."""

    @abstractmethod
    def fold_outputs(
        self, data: Any, recipe: Recipe, fold: Fold, seed: int, callbacks: Sequence[Any] = ()
    ) -> np.ndarray:
        """``recipe`` fit on a fold's training rows (early stopping on its early-stopping
        rows, ``callbacks`` told every epoch), and its outputs on the fold's held-out rows
        ``(n_held_out, n_outputs)`` float64: scaled predictions of a number, or class
        probabilities, which an ensemble averages."""

    @abstractmethod
    def outputs_score(self, data: Any, outputs: np.ndarray, rows: np.ndarray) -> float:
        """The :attr:`metric` of ``outputs`` (as :meth:`fold_outputs` gives them) for the
        training rows at positions ``rows``."""

    def fold_score(self, data: Any, recipe: Recipe, fold: Fold, seed: int) -> float:
        """``recipe`` fit on a fold's training rows and scored on its held-out rows."""
        return self.outputs_score(data, self.fold_outputs(data, recipe, fold, seed), fold.held_out)

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
