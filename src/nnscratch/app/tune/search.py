"""Hyperparameter search (``nnscratch tune``): an Optuna study whose trials are
cross-validated on the training split, run on local worker processes or a Dask cluster.

::

    trial 0: the base recipe as it is (the task's default, or --recipe), so a search
             never ends with a worse configuration than the one it started from
    trials 1…P: the task's portfolio (:meth:`~nnscratch.tasks.base.Task.portfolio`), a
             few configurations that do well and differ from the default, enqueued
    while a trial may start (fewer than --trials started, and time left in the budget
    for one more: at least the median seconds of the complete trials so far):
        draw a configuration (seeded TPE) and run it on a free worker: K folds, each fit
        on the fold's training rows with early stopping on a slice of them, as the
        refit early-stops on the validation split (see :mod:`~nnscratch.app.tune.trials`)
        record its state (complete, pruned, failed), score, figures and seconds in the
        study, and its out-of-fold outputs in the run folder
    no trial starts after the budget and, once their length is known, none starts that
    would likely end after it; a trial still running when the budget ends stops at its
    next epoch's end (recorded as pruned), but trial 0, which always completes: Optuna's
    own ``timeout`` lets running trials finish, and one wide TabM trial on one core can
    outlast a 10-minute budget three times over

Workers: this process (one job), local worker processes (each given the data once when
it starts), or a Dask cluster (``tune --scheduler``; the data scattered to every
worker). A trial sent to a Dask worker that dies is run again by Dask elsewhere; where
the data died with the workers the search scatters it again and sends the trial anew, up
to :data:`RESUBMITS` times. A trial whose fit fails (a diverged network, say) is recorded
as failed, and the search goes on.

Only this process writes the study (:mod:`~nnscratch.app.tune.study`); trials are drawn
as workers come free, so with more than one worker their order, and so the trials TPE
draws, depend on timing. The test split is not read here.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from nnscratch.app.tune.trials import (
    COMPLETE,
    FAILED,
    PRUNED,
    Search,
    TrialOutcome,
    TrialPlan,
    install,
    run_installed,
    run_on_one_core,
    run_trial,
)
from nnscratch.errors import ClusterError
from nnscratch.files import atomic_write
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.base import Fold

#: Seconds ``tune --scheduler`` waits for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0

#: Times a Dask search sends a trial again whose scattered data was lost with the
#: workers (Dask keeps one copy where no task waits on more), scattering it afresh.
RESUBMITS = 2

#: The folder of a run that holds each complete trial's out-of-fold outputs.
OOF_FOLDER = "oof"


def make_folds(
    n: int, k: int, seed: int, labels: np.ndarray | None = None, stop_fraction: float = 0.125
) -> list[Fold]:
    """``k`` seeded folds of ``n`` rows (stratified when ``labels`` are given), each
    fold's training rows less a seeded ``stop_fraction`` of them for early stopping (the
    share of the validation split in the refit's training and validation rows)."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    if n < 2 * k:
        raise ValueError(f"{n} training rows are too few for {k}-fold cross-validation")
    rng = np.random.default_rng(seed)
    splitter = (
        StratifiedKFold(k, shuffle=True, random_state=seed)
        if labels is not None and pd.Series(labels).value_counts().min() >= k
        else KFold(k, shuffle=True, random_state=seed)
    )
    folds = []
    for train, held_out in splitter.split(np.zeros(n), labels):
        order = rng.permutation(train)
        n_stop = max(1, round(len(train) * stop_fraction))
        folds.append(Fold(np.sort(order[n_stop:]), np.sort(order[:n_stop]), held_out))
    return folds


@dataclass
class Budget:
    """How long the search may start trials: ``seconds`` (None: no limit) from when it was
    made, on ``clock``."""

    seconds: float | None
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def now(self) -> float:
        """Seconds since the budget began."""
        return self.clock() - self.started

    def may_start(self, lengths: list[float]) -> bool:
        """Whether a trial may start: time is left, at least the median of ``lengths``
        (the complete trials' seconds, where there are any)."""
        left = self.left()
        return left is None or (left > 0 and left >= (float(np.median(lengths)) if lengths else 0))

    def deadline(self) -> float | None:
        """The budget's end in ``time.time()`` seconds, the clock worker processes share
        (None: no limit)."""
        left = self.left()
        return None if left is None else time.time() + left

    def left(self) -> float | None:
        """Seconds left (None: no limit; 0 when spent)."""
        return (
            None if self.seconds is None else max(0.0, self.started + self.seconds - self.clock())
        )


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``dask.distributed.Client`` for ``address``; :class:`ClusterError` in one line
    when the extra is missing or no scheduler answers within ``timeout`` seconds."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError(
            "--scheduler needs dask.distributed: pip install 'nnscratch[cluster]'"
        ) from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({reason[:160]})"
        ) from None


class Workers:
    """Where trials run: ``submit(plan)`` gives a :class:`concurrent.futures.Future` of its
    :class:`TrialOutcome`; ``size`` trials at once."""

    size = 1

    def __init__(self, search: Search, base: Recipe, folds: list[Fold], seed: int) -> None:
        self.search, self.base, self.folds, self.seed = search, base, folds, seed

    def submit(self, plan: TrialPlan) -> cf.Future:
        raise NotImplementedError

    def lost_data(self, exc: BaseException) -> bool:
        """Whether ``exc`` (a trial's future's) means the data went with the workers, so
        that the trial may be sent again once :meth:`submit` has scattered it anew."""
        return False

    def close(self) -> None:
        """Give the workers back."""


class InProcess(Workers):
    """This process, one trial at a time."""

    def submit(self, plan: TrialPlan) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_result(run_trial(self.search, self.base, plan, self.folds, self.seed))
        return future


class LocalProcesses(Workers):
    """``jobs`` local worker processes, started fresh (spawned) and given the data once."""

    def __init__(self, *args: Any, jobs: int) -> None:
        super().__init__(*args)
        self.size = jobs
        self.pool = self._pool()

    def _pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=install,
            initargs=(self.search,),
        )

    def submit(self, plan: TrialPlan) -> cf.Future:
        try:
            return self.pool.submit(run_installed, self.base, plan, self.folds, self.seed)
        except cf.BrokenExecutor:  # a worker died: the pool is gone, start another
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._pool()
            return self.pool.submit(run_installed, self.base, plan, self.folds, self.seed)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskWorkers(Workers):
    """The workers of a Dask cluster, each holding a scattered copy of the data."""

    def __init__(self, *args: Any, client: Any) -> None:
        super().__init__(*args)
        self.client = client
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        self.size = max(1, sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()))
        self.executor = client.get_executor(pure=False)
        self.scattered: Any = None

    def submit(self, plan: TrialPlan) -> cf.Future:
        if self.scattered is None:
            self.scattered = self.client.scatter(self.search, broadcast=True)
        return self.executor.submit(
            run_on_one_core, self.scattered, self.base, plan, self.folds, self.seed
        )

    def lost_data(self, exc: BaseException) -> bool:
        lost = type(exc).__name__ in ("CancelledError", "FutureCancelledError")
        if lost:
            self.scattered = None  # scattered again by the next submit
        return lost

    def close(self) -> None:
        self.client.close()


@contextmanager
def workers(
    search: Search,
    base: Recipe,
    folds: list[Fold],
    seed: int,
    *,
    jobs: int,
    scheduler: str | None,
) -> Iterator[Workers]:
    """The workers ``tune`` was asked for: a Dask cluster, else ``jobs`` local processes,
    else (one job) this process."""
    args = (search, base, folds, seed)
    if scheduler is not None:
        pool: Workers = DaskWorkers(*args, client=connect(scheduler))
    elif jobs > 1:
        pool = LocalProcesses(*args, jobs=jobs)
    else:
        pool = InProcess(*args)
    try:
        yield pool
    finally:
        pool.close()


@dataclass
class SearchResult:
    """Every trial of the study (earlier runs' too), and where their outputs are."""

    outcomes: list[TrialOutcome]
    higher_is_better: bool
    metric: str
    #: seconds this run searched
    seconds: float = 0.0
    #: this run's trials: when each started and ended, in seconds of the budget's clock
    timeline: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def complete(self) -> list[TrialOutcome]:
        return [o for o in self.outcomes if o.state == COMPLETE]

    def best(self) -> TrialOutcome | None:
        """The complete trial with the best value (the first of equals), or None."""
        done = self.complete
        if not done:
            return None
        key = (lambda o: -o.value) if self.higher_is_better else (lambda o: o.value)
        return min(done, key=lambda o: (key(o), o.number))


def run_search(
    search: Search,
    base: Recipe,
    study: Any,
    folds: list[Fold],
    *,
    seed: int,
    out: Path,
    budget: Budget,
    max_trials: int,
    jobs: int = 1,
    scheduler: str | None = None,
    on_trial: Callable[[TrialOutcome, SearchResult], None] | None = None,
) -> SearchResult:
    """Add up to ``max_trials`` trials to ``study`` within ``budget``; see the module doc.
    ``on_trial`` is told each trial as it ends, with the search so far."""
    result = SearchResult(study_outcomes(study, out), _maximizes(study), search.task.metric.key)
    started = time.perf_counter()
    running: dict[cf.Future, tuple[Any, TrialPlan, int]] = {}
    begun, lengths, starts = 0, [], {}
    with workers(search, base, folds, seed, jobs=jobs, scheduler=scheduler) as pool:
        while True:
            while len(running) < pool.size and begun < max_trials and budget.may_start(lengths):
                trial, plan = _next_trial(study, search, base)
                if plan.number > 0:  # trial 0, the default, always completes
                    plan = replace(plan, deadline=budget.deadline())
                starts[plan.number] = budget.now()
                running[pool.submit(plan)] = (trial, plan, 0)
                begun += 1
            if not running:
                break
            done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for future in done:
                trial, plan, tries = running.pop(future)
                outcome = _outcome(future, plan)
                if outcome is None and tries < RESUBMITS and pool.lost_data(_error(future)):
                    running[pool.submit(plan)] = (trial, plan, tries + 1)
                    continue
                if outcome is None:
                    outcome = TrialOutcome(plan.number, plan.params, FAILED, note=_why(future))
                result.timeline[plan.number] = (starts[plan.number], budget.now())
                if outcome.state == COMPLETE:
                    lengths.append(budget.now() - starts[plan.number])
                record(study, trial, outcome, out)
                result.outcomes.append(outcome)
                if on_trial is not None:
                    on_trial(outcome, result)
    result.seconds = time.perf_counter() - started
    return result


def _maximizes(study: Any) -> bool:
    return study.direction.name == "MAXIMIZE"


def _next_trial(study: Any, search: Search, base: Recipe) -> tuple[Any, TrialPlan]:
    """A new trial of the study and its plan: the base recipe as it is when the study has
    none yet (and then the task's portfolio is enqueued to come next), else the next
    configuration enqueued, else one drawn by the sampler."""
    first = len(study.trials) == 0
    trial = study.ask()
    params = {} if first else search.task.suggest(trial)
    trial.set_user_attr("default", first)
    if first:
        _enqueue_portfolio(study, search)
    finished = _complete_of_kind(study, base, network_kind(base, params))
    direction = "maximize" if _maximizes(study) else "minimize"
    return trial, TrialPlan(trial.number, params, finished, direction)


def _enqueue_portfolio(study: Any, search: Search) -> None:
    """Queue the task's portfolio in the study, each marked as such for ``trials.csv``."""
    for configuration in search.task.portfolio():
        study.enqueue_trial(configuration, user_attrs={"portfolio": True})


def _complete_of_kind(study: Any, base: Recipe, kind: str) -> list[Any]:
    """The study's complete trials whose networks are of ``kind``: those a new trial's
    pruner compares it with (:func:`network_kind`)."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(_state("COMPLETE"),))
        if network_kind(base, _params(t.user_attrs.get("params", {}))) == kind
    ]


def network_kind(base: Recipe, params: dict[str, Any]) -> str:
    """``"tabm"`` or ``"plain"``: the networks a trial's recipe (``base`` with ``params``)
    trains. A trial is pruned against the complete trials of its own kind only: TabM's
    members need more epochs than plain networks (60-100 against 25-45 on the shared
    sample), so at the same epoch a good TabM trial is behind plain ones that end worse.
    Compared with all of them, 115 of the 132 trials of a 10-minute search on the shared
    sample were pruned, every TabM one among them, and the sampler learnt to draw plain
    networks, 0.15 points or more behind the default in cross-validation."""
    return "tabm" if params.get("k", base.k) > 1 else "plain"


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


def _outcome(future: cf.Future, plan: TrialPlan) -> TrialOutcome | None:
    """The trial's outcome, or None where its worker or the backend failed."""
    if _error(future) is not None:
        return None
    return future.result()


def _error(future: cf.Future) -> BaseException | None:
    """What a done future raised (a cancelled one, as Dask's are when the data they need
    is lost: its :class:`~concurrent.futures.CancelledError`), or None."""
    if future.cancelled():
        return cf.CancelledError()
    return future.exception()


def _why(future: cf.Future) -> str:
    exc = _error(future)
    return f"not run: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def record(study: Any, trial: Any, outcome: TrialOutcome, out: Path) -> None:
    """Write a trial's end into the study (figures, fold scores, seconds, state, value),
    and a complete trial's out-of-fold outputs into ``out``."""
    for epoch, value in sorted(outcome.figures.items()):
        trial.report(value, epoch)
    trial.set_user_attr("params", plain_params(outcome.params))
    trial.set_user_attr("fold_scores", outcome.fold_scores)
    trial.set_user_attr("seconds", outcome.seconds)
    trial.set_user_attr("note", outcome.note)
    if outcome.state == COMPLETE and outcome.oof is not None:
        save_oof(out, outcome.number, outcome.oof)
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=_state("PRUNED" if outcome.state == PRUNED else "FAIL"))


def save_oof(out: Path, number: int, oof: np.ndarray) -> None:
    """A complete trial's out-of-fold outputs, ``oof/trial-<number>.npy`` (atomic)."""
    folder = out / OOF_FOLDER
    folder.mkdir(parents=True, exist_ok=True)

    def write(fh: io.BufferedWriter) -> None:
        np.save(fh, oof, allow_pickle=False)

    atomic_write(folder / f"trial-{number}.npy", write)


def study_outcomes(study: Any, out: Path) -> list[TrialOutcome]:
    """The study's finished trials as outcomes, with the out-of-fold outputs kept in
    ``out`` (a complete trial whose outputs are missing counts as failed)."""
    outcomes = []
    states = {"COMPLETE": COMPLETE, "PRUNED": PRUNED, "FAIL": FAILED}
    for t in study.get_trials(deepcopy=False):
        if t.state.name not in states:  # running or waiting: a search that was killed
            continue
        attrs = t.user_attrs
        outcome = TrialOutcome(
            t.number,
            _params(attrs.get("params", {})),
            states[t.state.name],
            t.value if t.state.name == "COMPLETE" else math.nan,
            list(attrs.get("fold_scores", [])),
            dict(t.intermediate_values),
            seconds=float(attrs.get("seconds", 0.0)),
            note=str(attrs.get("note", "")),
        )
        if outcome.state == COMPLETE:
            path = out / OOF_FOLDER / f"trial-{t.number}.npy"
            if path.is_file():
                outcome.oof = np.load(path, allow_pickle=False)
            else:
                outcome.state, outcome.note = FAILED, f"its out-of-fold outputs are gone ({path})"
        outcomes.append(outcome)
    return outcomes


def plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as CSV and JSON show them (a layer tuple as ``64-32-16``)."""
    return {k: "-".join(map(str, v)) if isinstance(v, tuple) else v for k, v in params.items()}


def _params(plain: dict[str, Any]) -> dict[str, Any]:
    """:func:`plain_params` read back: ``hidden`` as a tuple again."""
    return {
        k: tuple(int(n) for n in v.split("-")) if k == "hidden" and isinstance(v, str) else v
        for k, v in plain.items()
    }


def trials_frame(result: SearchResult, study: Any, base: Recipe) -> pd.DataFrame:
    """``trials.csv``: one row per trial, best first: its rank among the complete ones,
    state, mean and std of its fold scores, each fold's, seconds, what stopped it, and a
    column per searched parameter (the base recipe's value where a trial drew none)."""
    trials = study.get_trials(deepcopy=False)
    started = {t.number: t.datetime_start for t in trials}
    portfolio = {t.number for t in trials if t.user_attrs.get("portfolio")}
    searched = sorted({k for o in result.outcomes for k in o.params})
    defaults = plain_params({k: getattr(base, k) for k in searched if hasattr(base, k)})
    rows = []
    for o in result.outcomes:
        scores = np.asarray(o.fold_scores, dtype=np.float64)
        complete = o.state == COMPLETE
        rows.append(
            {
                "trial": o.number,
                "state": o.state,
                f"mean_{result.metric}": o.value if complete else math.nan,
                f"std_{result.metric}": float(scores.std()) if complete else math.nan,
                **{f"fold_{k}": float(s) for k, s in enumerate(scores)},
                "seconds": o.seconds,
                "epochs_reported": len(o.figures),
                "note": _origin(o.number, portfolio) + (o.note and f" {o.note}"),
                "started": started.get(o.number),
                **(defaults | plain_params(o.params)),
            }
        )
    table = pd.DataFrame(rows)
    mean = table[f"mean_{result.metric}"]
    key = -mean if result.higher_is_better else mean
    table.insert(0, "rank", key.rank(method="first", na_option="keep").astype("Int64"))
    table["note"] = table["note"].str.strip()
    return table.sort_values(["rank", "trial"], na_position="last").reset_index(drop=True)


def _origin(number: int, portfolio: set[int]) -> str:
    """Where a trial's configuration came from, where not from the sampler."""
    if number == 0:
        return "default recipe"
    return "portfolio" if number in portfolio else ""
