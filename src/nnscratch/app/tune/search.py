"""Hyperparameter search (``nnscratch tune``): cross-validated trials on joblib.

A search draws ``trials`` configurations from its task's ``search_space``
(:mod:`nnscratch.tasks`) with scikit-learn's seeded ``ParameterSampler``, applies each to a base
:class:`~nnscratch.models.recipes.Recipe`, and scores it by K-fold cross-validation
on the **training split only**::

    for each trial t, fold k:                  one joblib task each
        fit recipe_t on the fold's training rows (early stopping on a
        seeded 10% of them), score it on fold k's held-out rows
    rank trials by their mean score over the K folds
    refit the best on the whole training split; score it once on the test split

The tasks run through joblib: local worker processes by default, or a Dask
cluster under joblib's ``"dask"`` backend (``tune --scheduler``). A task is a
pure function of (data, recipe, fold, seed), so the same seed gives the same
trials, scores and best configuration wherever the tasks run; a task whose
worker dies is run again by Dask on another worker, and where the data died
with it (Dask may keep a single copy) the search scatters it again and sends
the unfinished tasks anew, up to :data:`RESUBMITS` times. A trial whose fit fails
(a diverged network, say) is reported as failed, and the search goes on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, ParameterSampler, StratifiedKFold
from tqdm.auto import tqdm

from nnscratch.errors import ClusterError
from nnscratch.models.metrics import Metric
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.base import Fold, Task

#: Seconds ``tune --scheduler`` waits for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0

#: Times a Dask search sends again the tasks whose scattered data was lost with a
#: worker (Dask keeps one copy of it where no task waits on more), scattering it afresh.
RESUBMITS = 2

#: Fraction of each fold's training rows held out for early stopping.
EARLY_STOPPING_FRACTION = 0.1


def sample_trials(
    space: dict[str, Any] | list[dict[str, Any]], n_trials: int, seed: int
) -> list[dict[str, Any]]:
    """``n_trials`` parameter sets from ``space``, the same for the same seed."""
    trials = []
    for params in ParameterSampler(space, n_trials, random_state=seed):
        trials.append(
            {
                k: float(f"{v:.3g}") if isinstance(v, float | np.floating) else v
                for k, v in sorted(params.items())
            }
        )
    return trials


def make_folds(n: int, k: int, seed: int, labels: np.ndarray | None = None) -> list[Fold]:
    """``k`` seeded folds of ``n`` rows (stratified when ``labels`` are given), each
    fold's training rows less a seeded :data:`EARLY_STOPPING_FRACTION` for early stopping."""
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
        n_stop = max(1, round(len(train) * EARLY_STOPPING_FRACTION))
        folds.append(Fold(np.sort(order[n_stop:]), np.sort(order[:n_stop]), held_out))
    return folds


@dataclass
class Search:
    """A task and its loaded data: what every (trial, fold) fit needs. It travels to the
    workers as one argument (Dask scatters it once; loky memory-maps its arrays)."""

    task: Task
    data: Any

    @property
    def source(self) -> str:
        return str(self.data.source)

    @property
    def metric(self) -> Metric:
        return self.task.metric


def run_fold(
    search: Search,
    base: Recipe,
    params: dict[str, Any],
    fold: Fold,
    seed: int,
    *,
    trial: int = 0,
    fold_index: int = 0,
) -> dict[str, Any]:
    """One task: fit ``base`` with ``params`` on ``fold``; its record (the ``trial`` and
    ``fold_index`` it is, score, seconds, status, error)."""
    started = time.perf_counter()
    try:
        # one member at a time: the search already runs a fit per core
        recipe = replace(base.with_overrides(**params), n_jobs=1)
        score = search.task.fold_score(search.data, recipe, fold, seed)
        status, error = ("ok", "") if math.isfinite(score) else ("failed", "score is not finite")
    except (ArithmeticError, ValueError, MemoryError) as exc:  # e.g. a diverged network
        score, status, error = math.nan, "failed", f"{type(exc).__name__}: {exc}"
    return {
        "trial": trial,
        "fold": fold_index,
        "score": score,
        "seconds": time.perf_counter() - started,
        "status": status,
        "error": error,
    }


@dataclass
class SearchResult:
    """Every trial's parameters and fold scores, ranked."""

    trials: pd.DataFrame  # one row per trial: rank, mean, std, fit_seconds, status, parameters
    metric: Metric

    @property
    def best_params(self) -> dict[str, Any]:
        ok = self.trials[self.trials["status"] == "ok"]
        if ok.empty:
            raise ValueError("every trial failed; see trials.csv for the errors")
        return dict(ok.sort_values("rank").iloc[0]["params"])


@contextmanager
def _backend(client: Any, jobs: int, search: Search) -> Iterator[int]:
    """joblib's local process backend, or its Dask backend on ``client`` with
    ``search`` scattered to every worker (once a worker is there to hold it)."""
    if client is None:
        with joblib.parallel_config(backend="loky", n_jobs=jobs):
            yield jobs
        return
    client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    with joblib.parallel_config(backend="dask", client=client, scatter=[search]):
        yield -1


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


def run_search(
    search: Search,
    base: Recipe,
    *,
    n_trials: int,
    cv: int,
    seed: int = 0,
    jobs: int = -1,
    scheduler: str | None = None,
    progress: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SearchResult:
    """Cross-validate ``n_trials`` sampled configurations of ``base``; see the module doc.

    ``on_result`` is called with each finished task's record (trial, fold,
    score, seconds, status, error) as it arrives. Tasks cancelled because the
    data scattered to the workers was lost go again (up to :data:`RESUBMITS`
    times); any other failure of the backend itself (the cluster gone) stops
    the search, and the tasks not finished are then reported as failed.
    """
    trials = sample_trials(search.task.search_space, n_trials, seed)
    n_rows, labels = search.task.search_rows(search.data)
    folds = make_folds(n_rows, cv, seed, labels)
    tasks = [(t, k) for t in range(len(trials)) for k in range(cv)]
    records: dict[tuple[int, int], dict[str, Any]] = {}
    bar = tqdm(
        total=len(tasks),
        desc=f"{len(trials)} trials × {cv} folds",
        unit="fit",
        disable=not progress,
        dynamic_ncols=True,
    )

    def collect(record: dict[str, Any]) -> None:
        records[(record["trial"], record["fold"])] = record
        bar.update(1)
        if on_result is not None:
            on_result(record)

    # ``search`` is an argument of every task, not captured: joblib memory-maps its
    # arrays for local processes, and the Dask backend sends it once (scatter)
    fit = joblib.delayed(run_fold)
    pending = tasks
    client = None if scheduler is None else connect(scheduler)
    try:
        with bar:
            for _ in range(1 + (RESUBMITS if client is not None else 0)):
                calls = [
                    fit(search, base, trials[t], folds[k], seed, trial=t, fold_index=k)
                    for t, k in pending
                ]
                backend_error, data_lost = _run_tasks(calls, client, jobs, search, collect)
                pending = [task for task in tasks if task not in records]
                if not (pending and data_lost):
                    break
    finally:
        if client is not None:
            client.close()
    for t, k in tasks:  # what the backend never ran, as failed
        records.setdefault((t, k), _failed(t, k, backend_error or "not run"))
    return _rank(trials, records, cv, search.metric)


def _failed(trial: int, fold: int, error: str) -> dict[str, Any]:
    return {
        "trial": trial,
        "fold": fold,
        "score": math.nan,
        "seconds": 0.0,
        "status": "failed",
        "error": error,
    }


def _run_tasks(
    calls: list[Any],
    client: Any,
    jobs: int,
    search: Search,
    collect: Callable[[dict[str, Any]], None],
) -> tuple[str, bool]:
    """Run joblib's delayed ``calls`` once through the backend, passing each record
    to ``collect`` as it arrives.

    Returns ``("", False)`` when every call ran, else the backend's error and
    whether it was the loss of the scattered data (a Dask worker that held the
    only copy died, so the tasks waiting on it were cancelled): sending those
    tasks again, with the data scattered afresh, can then finish them.
    """
    try:
        with _backend(client, jobs, search) as n_jobs:
            parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            for record in parallel(calls):
                collect(record)
    except (OSError, TimeoutError, RuntimeError) as exc:  # e.g. every worker lost
        return _not_run(exc), False
    except Exception as exc:
        name = type(exc).__name__
        if name not in ("KilledWorker", "CancelledError", "FutureCancelledError"):
            raise
        return _not_run(exc), name != "KilledWorker"
    return "", False


def _not_run(exc: BaseException) -> str:
    return f"not run: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _rank(
    trials: list[dict[str, Any]],
    records: dict[tuple[int, int], dict[str, Any]],
    cv: int,
    metric: Metric,
) -> SearchResult:
    rows = []
    for t, params in enumerate(trials):
        folds = [records[(t, k)] for k in range(cv)]
        scores = np.array([f["score"] for f in folds], dtype=np.float64)
        ok = all(f["status"] == "ok" for f in folds)
        errors = sorted({f["error"] for f in folds if f["error"]})
        rows.append(
            {
                "trial": t,
                "mean": float(scores.mean()) if ok else math.nan,
                "std": float(scores.std()) if ok else math.nan,
                "fit_seconds": float(sum(f["seconds"] for f in folds)),
                "status": "ok" if ok else "failed",
                "error": "; ".join(errors),
                **{f"fold_{k}": float(scores[k]) for k in range(cv)},
                "params": params,
            }
        )
    table = pd.DataFrame(rows)
    key = -table["mean"] if metric.higher_is_better else table["mean"]
    order = key.rank(method="first", na_option="keep")
    table.insert(0, "rank", order.astype("Int64"))
    return SearchResult(table, metric)


def trials_frame(result: SearchResult) -> pd.DataFrame:
    """``trials.csv``: one row per trial, best first, a column per searched parameter."""
    table = result.trials.copy()
    params = pd.DataFrame([plain_params(p) for p in table.pop("params")], index=table.index)
    out = pd.concat([table, params], axis=1).sort_values(["rank", "trial"], na_position="last")
    key = result.metric.key
    return out.rename(columns={"mean": f"mean_{key}", "std": f"std_{key}"})


def plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as CSV/JSON shows them (a layer tuple as ``64-32-16``)."""
    return {k: "-".join(map(str, v)) if isinstance(v, tuple) else v for k, v in params.items()}


def format_trials(result: SearchResult, top: int = 10) -> str:
    """A plain-text table of the best ``top`` trials (failed ones last)."""
    table = trials_frame(result).head(top)
    metric = result.metric.key
    mean, std = f"mean_{metric}", f"std_{metric}"
    params = [
        c
        for c in table.columns
        if c not in (*_FIXED_COLUMNS, mean, std) and not c.startswith("fold_")
    ]
    scale, unit = (100.0, "%") if result.metric.percent else (1.0, "")
    cells = []
    for _, row in table.iterrows():
        ok = row["status"] == "ok"
        cells.append(
            [
                f"{int(row['rank'])}" if ok else "–",
                f"{int(row['trial'])}",
                f"{row[mean] * scale:.3f}{unit} ± {row[std] * scale:.3f}" if ok else "failed",
                f"{row['fit_seconds']:.1f}",
                *(f"{row[p]}" for p in params),
            ]
        )
    header = ["rank", "trial", f"{metric} (mean ± std)", "fit s", *params]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-" * len(lines[0]))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


_FIXED_COLUMNS = ("rank", "trial", "fit_seconds", "status", "error")
