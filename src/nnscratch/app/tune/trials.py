"""One trial of the search, where it runs (this process, a local worker process, a Dask
worker): its recipe cross-validated fold after fold, pruned on the way, and what it
sends back (:class:`TrialOutcome`).

::

    for fold k = 0 … K-1 (one after another):
        fit the recipe on the fold's training rows, early stopping on a slice of them
            (each epoch of fold 0's first network reports its validation figure to the
             pruner, which may stop the trial; and any epoch that ends after the
             trial's deadline, the search's budget, stops it)
        predict the fold's held-out rows: their out-of-fold outputs
    value = the mean of the K fold scores

A trial's pruning is decided here, against the trials that had finished when it
started (``finished``, a snapshot of the study): the process that owns the study then
records the figures and the decision. That way no worker writes to the study, and the
same code runs wherever a trial runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nnscratch.app.tune.study import pruner, require_optuna
from nnscratch.core.blas import one_blas_thread
from nnscratch.core.training import EpochView
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.base import Fold, Task

#: What a trial can end as (Optuna's states, in its words).
COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"


@dataclass
class Search:
    """A task and its loaded data: what every trial needs. It travels to the workers once
    (a local worker process gets it when it starts; Dask scatters it to every worker)."""

    task: Task
    data: Any

    @property
    def source(self) -> str:
        return str(self.data.source)


@dataclass(frozen=True)
class TrialPlan:
    """What a trial runs: its number in the study, its recipe overrides (none for the
    default recipe, trial 0), the finished trials its pruner compares it with, and its
    deadline."""

    number: int
    params: dict[str, Any]
    finished: list[Any] = field(default_factory=list)
    direction: str = "minimize"
    #: when the search's budget ends, in ``time.time()`` seconds (the one clock that the
    #: processes of a machine share; a cluster's machines share it to within their clock
    #: synchronisation): the trial stops at the first epoch that ends after it. None: it
    #: runs to its end (no budget, or trial 0, the default recipe, which a search always
    #: completes so that it never ends worse than the default)
    deadline: float | None = None


@dataclass
class TrialOutcome:
    """A trial's end: its state, value (the mean fold score; NaN unless complete), fold
    scores, the figures it reported by epoch, the out-of-fold outputs of every training
    row (complete trials only), its seconds, and why it stopped early (or failed)."""

    number: int
    params: dict[str, Any]
    state: str
    value: float = math.nan
    fold_scores: list[float] = field(default_factory=list)
    figures: dict[int, float] = field(default_factory=dict)
    oof: np.ndarray | None = None
    seconds: float = 0.0
    note: str = ""


class Pruned(Exception):
    """The pruner stopped the trial at ``epoch``."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned at epoch {epoch + 1}")


class OutOfTime(Exception):
    """The trial's deadline passed: it stopped at the end of ``epoch`` of fold ``fold``."""

    def __init__(self, epoch: int, fold: int) -> None:
        super().__init__(f"stopped at the budget's end, in fold {fold + 1} at epoch {epoch + 1}")


class EpochReports:
    """The epoch observer of a trial's fits: any epoch that ends after the plan's deadline
    stops the trial; fold 0's first network reports its validation figure (``log_key``)
    every epoch and asks the pruner."""

    def __init__(self, plan: TrialPlan, log_key: str) -> None:
        self.plan, self.log_key = plan, log_key
        self.figures: dict[int, float] = {}
        self.reporting = True
        self.fold = 0
        self.trial: Any = None
        if plan.finished:
            optuna = require_optuna()
            study = optuna.create_study(direction=plan.direction, pruner=pruner(optuna))
            study.add_trials(plan.finished)
            self.trial = study.ask()

    def on_epoch(self, view: EpochView) -> None:
        if self.plan.deadline is not None and time.time() >= self.plan.deadline:
            raise OutOfTime(view.epoch, self.fold)
        if not self.reporting or view.member not in (None, 0) or self.log_key not in view.logs:
            return
        value = float(view.logs[self.log_key])
        self.figures[view.epoch] = value
        if self.trial is not None and math.isfinite(value):
            self.trial.report(value, view.epoch)
            if self.trial.should_prune():
                raise Pruned(view.epoch)


def run_trial(
    search: Search,
    base: Recipe,
    plan: TrialPlan,
    folds: list[Fold],
    seed: int,
) -> TrialOutcome:
    """Cross-validate ``base`` with ``plan.params`` (see the module doc)."""
    started = time.perf_counter()
    task = search.task
    # one network at a time: the search already runs a trial per core
    recipe = replace(base.with_overrides(**plan.params), n_jobs=1)
    reports = EpochReports(plan, f"val_{task.metric.key}")
    n_rows = task.search_rows(search.data)[0]
    oof: np.ndarray | None = None
    scores = []
    outcome = TrialOutcome(plan.number, plan.params, FAILED)
    try:
        for k, fold in enumerate(folds):
            reports.reporting, reports.fold = k == 0, k
            outputs = task.fold_outputs(search.data, recipe, fold, seed, callbacks=(reports,))
            if oof is None:
                oof = np.full((n_rows, outputs.shape[1]), np.nan)
            oof[fold.held_out] = outputs
            scores.append(task.outputs_score(search.data, outputs, fold.held_out))
        value = float(np.mean(scores))
        if math.isfinite(value):
            outcome.state, outcome.value, outcome.oof = COMPLETE, value, oof
        else:
            outcome.note = "the score is not finite"
    except (Pruned, OutOfTime) as stop:
        outcome.state, outcome.note = PRUNED, str(stop)
    except (ArithmeticError, ValueError, MemoryError) as exc:  # e.g. a diverged network
        outcome.note = f"{type(exc).__name__}: {exc}"
    outcome.fold_scores = [float(s) for s in scores]
    outcome.figures = reports.figures
    outcome.seconds = time.perf_counter() - started
    return outcome


#: The search a local worker process received when it started (see :func:`install`).
_INSTALLED: list[Search] = []


def install(search: Search) -> None:
    """A local worker process's initializer: keep ``search`` for every trial it runs."""
    _INSTALLED[:] = [search]


def run_on_one_core(
    search: Search, base: Recipe, plan: TrialPlan, folds: list[Fold], seed: int
) -> TrialOutcome:
    """:func:`run_trial` with BLAS held to one thread, where a trial runs beside others, one
    a core (local worker processes, a Dask worker's threads). BLAS's threads are one
    setting for the whole process, and a TabM network's first-layer products are large
    enough to use them all: two worker processes on two cores ran four threads between
    them, each trial's second thread waiting by spinning on the core the other trial
    needed."""
    with one_blas_thread():
        return run_trial(search, base, plan, folds, seed)


def run_installed(base: Recipe, plan: TrialPlan, folds: list[Fold], seed: int) -> TrialOutcome:
    """:func:`run_on_one_core` on the search this worker process was given."""
    return run_on_one_core(_INSTALLED[0], base, plan, folds, seed)
