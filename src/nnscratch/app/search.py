"""Hyperparameter search (``nnscratch tune``): cross-validated trials on joblib.

A search draws ``trials`` configurations from :data:`SPACES` with
scikit-learn's seeded ``ParameterSampler``, applies each to a base
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

import argparse
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy.stats import loguniform
from sklearn.model_selection import KFold, ParameterSampler, StratifiedKFold
from tqdm.auto import tqdm

from nnscratch import __version__
from nnscratch.app.runs import (
    default_run_dir,
    load_frame,
    resolve_data,
    say,
    staged_directory,
    write_json,
)
from nnscratch.data.images import DigitImages, is_image_source, load_images
from nnscratch.data.preprocessing import PreparedData, prepare
from nnscratch.data.schemas import TARGET
from nnscratch.errors import ClusterError, DataError
from nnscratch.files import atomic_write_text
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.metrics import test_rmse
from nnscratch.models.recipes import DEFAULT_RECIPE, DIGITS_RECIPE, Recipe
from nnscratch.tasks.plots import save_figure, search_figure

#: Seconds ``tune --scheduler`` waits for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0

#: Times a Dask search sends again the tasks whose scattered data was lost with a
#: worker (Dask keeps one copy of it where no task waits on more), scattering it afresh.
RESUBMITS = 2

#: Fraction of each fold's training rows held out for early stopping.
EARLY_STOPPING_FRACTION = 0.1

_TABLE_COMMON: dict[str, Any] = {
    "hidden": [(64, 32, 16), (64, 64), (128, 64), (128, 64, 32), (256, 128), (256, 128, 64)],
    "learning_rate": loguniform(3e-4, 3e-3),
    "weight_decay": [0.0, 1e-5, 1e-4, 1e-3],
    "batch_size": [128, 256, 512],
    "n_bins": [8, 16, 32],
    "bins": ["quantile", "tree"],
}

#: What ``tune`` searches, per kind of data. Lists are sampled uniformly;
#: ``loguniform`` draws are rounded to 3 significant digits. A list of spaces
#: is drawn from one at a time (scikit-learn's ``ParameterSampler``): tables
#: try plain networks (with dropout) and TabM networks (``k > 1``, no dropout).
SPACES: dict[str, dict[str, Any] | list[dict[str, Any]]] = {
    "table": [
        {**_TABLE_COMMON, "k": [1], "dropout": [0.0, 0.05, 0.1, 0.2], "n_members": [1, 3, 5]},
        {**_TABLE_COMMON, "k": [8, 16, 32], "dropout": [0.0], "n_members": [1, 2]},
    ],
    "images": {
        "hidden": [(128,), (256, 128), (512, 256), (512, 256, 128)],
        "learning_rate": loguniform(3e-4, 3e-3),
        "weight_decay": [0.0, 1e-5, 1e-4],
        "dropout": [0.0, 0.1, 0.2, 0.3],
        "batch_size": [64, 128, 256],
        "n_members": [1, 2],
    },
}


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


@dataclass(frozen=True)
class Fold:
    """Row positions (into the training split) of one cross-validation fold."""

    train: np.ndarray
    early_stopping: np.ndarray
    held_out: np.ndarray


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


class TableSearch:
    """Cross-validation on a prepared table: RMSE in target units, or accuracy."""

    def __init__(self, data: PreparedData) -> None:
        self.data = data
        self.source = data.report.source
        self.kind = "table"
        self.task = data.task
        self.metric = "rmse" if data.task == "regression" else "accuracy"
        self.higher_is_better = data.task == "classification"

    @property
    def labels(self) -> np.ndarray | None:
        return self.data.y_train if self.task == "classification" else None

    @property
    def n_rows(self) -> int:
        return len(self.data.y_train)

    def fold_data(self, fold: Fold) -> PreparedData:
        """The fold as prepared data: train, early stopping (as validation), held out (as test)."""
        d = self.data
        return replace(
            d,
            X_train=d.X_train[fold.train],
            y_train=d.y_train[fold.train],
            X_val=d.X_train[fold.early_stopping],
            y_val=d.y_train[fold.early_stopping],
            X_test=d.X_train[fold.held_out],
            y_test=d.y_train[fold.held_out],
            train_index=d.train_index[fold.train],
            val_index=d.train_index[fold.early_stopping],
            test_index=d.train_index[fold.held_out],
        )

    def _score(self, recipe: Recipe, data: PreparedData, seed: int) -> tuple[Any, float]:
        model = recipe.fit(data, seed)
        if self.task == "regression":
            return model, test_rmse(data, model.predict_scaled(data.X_test))
        proba = model.predict_proba_scaled(data.X_test)
        return model, float(np.mean(model.classes_[np.argmax(proba, axis=1)] == data.y_test))

    def fold_score(self, recipe: Recipe, fold: Fold, seed: int) -> float:
        return self._score(recipe, self.fold_data(fold), seed)[1]

    def final(self, recipe: Recipe, seed: int) -> tuple[Any, float]:
        """``recipe`` fit on the whole training split (early stopping on the validation
        split, as ``nnscratch train``), and its test score."""
        return self._score(recipe, self.data, seed)


class ImageSearch:
    """Cross-validation of a digit classifier on the training images: accuracy."""

    #: held out for early stopping in the final fit, as ``nnscratch train`` does
    VALIDATION = 5000

    def __init__(self, images: DigitImages) -> None:
        self.images = images
        self.source = images.source
        self.kind = "images"
        self.task = "classification"
        self.metric = "accuracy"
        self.higher_is_better = True

    @property
    def labels(self) -> np.ndarray:
        return self.images.y_train

    @property
    def n_rows(self) -> int:
        return len(self.images.y_train)

    def _fit(self, recipe: Recipe, train: np.ndarray, stop: np.ndarray, seed: int) -> Any:
        X, y = self.images.X_train, self.images.y_train
        estimator = recipe.build_classifier(seed)
        return estimator.fit(X[train], y[train], eval_set=(X[stop], y[stop]))

    def fold_score(self, recipe: Recipe, fold: Fold, seed: int) -> float:
        estimator = self._fit(recipe, fold.train, fold.early_stopping, seed)
        X, y = self.images.X_train, self.images.y_train
        return float(estimator.score(X[fold.held_out], y[fold.held_out]))

    def final(self, recipe: Recipe, seed: int) -> tuple[DigitModel, float]:
        n = self.n_rows
        n_val = min(self.VALIDATION, max(1, n // 10))
        order = np.random.default_rng(seed).permutation(n)
        estimator = self._fit(recipe, np.sort(order[n_val:]), np.sort(order[:n_val]), seed)
        score = float(estimator.score(self.images.X_test, self.images.y_test))
        return DigitModel(estimator, self.images.image_shape), score


Search = TableSearch | ImageSearch


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
        score = search.fold_score(recipe, fold, seed)
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
    metric: str
    higher_is_better: bool

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
    trials = sample_trials(SPACES[search.kind], n_trials, seed)
    folds = make_folds(search.n_rows, cv, seed, search.labels)
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
                calls = [fit(search, base, trials[t], folds[k], seed, trial=t, fold_index=k)
                         for t, k in pending]  # fmt: skip
                backend_error, data_lost = _run_tasks(calls, client, jobs, search, collect)
                pending = [task for task in tasks if task not in records]
                if not (pending and data_lost):
                    break
    finally:
        if client is not None:
            client.close()
    for t, k in tasks:
        records.setdefault(
            (t, k),
            {"trial": t, "fold": k, "score": math.nan, "seconds": 0.0, "status": "failed",
             "error": backend_error or "not run"},
        )  # fmt: skip
    return _rank(trials, records, cv, search.metric, search.higher_is_better)


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
    metric: str,
    higher_is_better: bool,
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
    key = -table["mean"] if higher_is_better else table["mean"]
    order = key.rank(method="first", na_option="keep")
    table.insert(0, "rank", order.astype("Int64"))
    return SearchResult(table, metric, higher_is_better)


def trials_frame(result: SearchResult) -> pd.DataFrame:
    """``trials.csv``: one row per trial, best first, a column per searched parameter."""
    table = result.trials.copy()
    params = pd.DataFrame([_plain(p) for p in table.pop("params")], index=table.index)
    out = pd.concat([table, params], axis=1).sort_values(["rank", "trial"], na_position="last")
    return out.rename(columns={"mean": f"mean_{result.metric}", "std": f"std_{result.metric}"})


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as CSV/JSON shows them (a layer tuple as ``64-32-16``)."""
    return {k: "-".join(map(str, v)) if isinstance(v, tuple) else v for k, v in params.items()}


def format_trials(result: SearchResult, top: int = 10) -> str:
    """A plain-text table of the best ``top`` trials (failed ones last)."""
    table = trials_frame(result).head(top)
    metric = result.metric
    mean, std = f"mean_{metric}", f"std_{metric}"
    params = [
        c
        for c in table.columns
        if c not in (*_FIXED_COLUMNS, mean, std) and not c.startswith("fold_")
    ]
    scale, unit = (100.0, "%") if metric == "accuracy" else (1.0, "")
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


# --------------------------------------------------------------------------- nnscratch tune


def add_parser(sub: Any, formatter: Any, examples: Callable[[str], str]) -> None:
    """Add ``nnscratch tune`` to the command line's subcommands."""
    parser = sub.add_parser(
        "tune",
        help="search hyperparameters by cross-validation (locally, or on a Dask cluster)",
        description="Draw --trials configurations of the default recipe (widths and depth, "
        "learning rate, weight decay, dropout, batch size, ensemble size, TabM k, encoding bins), "
        "score each by --cv-fold cross-validation on the training split, refit the best on "
        "the whole training split and score it once on the test split. Writes trials.csv, "
        "search.png, best.json (for `nnscratch train --recipe`), model.npz and metrics.json.",
        formatter_class=formatter,
        epilog=examples("""
            nnscratch tune --data ../shared/data/spotify/tracks.csv --trials 20
            nnscratch tune --data digits --trials 8 --cv 3
            nnscratch tune --data tracks.csv --scheduler tcp://10.0.0.5:8786
            nnscratch train --data tracks.csv --recipe runs/tune-X/best.json
        """),
    )
    parser.add_argument(
        "--data",
        help="a tracks CSV, or images (an MNIST folder, 'digits', an .npz); default: "
        "$NNSCRATCH_DATA, else the synthetic tracks",
    )
    parser.add_argument("--trials", type=int, default=20, help="configurations to try")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds")
    parser.add_argument(
        "--jobs", type=int, default=-1, help="local worker processes (-1: one per core)"
    )
    parser.add_argument(
        "--scheduler",
        help="a Dask scheduler, e.g. tcp://HOST:8786 (default: $DASK_SCHEDULER_ADDRESS, else "
        "local processes); needs pip install 'nnscratch[cluster]'",
    )
    parser.add_argument("--recipe", help="a JSON recipe to search around (default: the default)")
    parser.add_argument("--target", help="the column to predict (tables)")
    parser.add_argument(
        "--task",
        choices=["regression", "classification"],
        default="regression",
        help="what the --target column holds (tables; images are always classified)",
    )
    parser.add_argument("--max-rows", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--seed", type=int, default=0, help="seed for the trials, folds and fits")
    parser.add_argument("--out", help="output directory (default: runs/tune-<time>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_command)


def _load(args: argparse.Namespace, source: str | None) -> tuple[Search, Recipe]:
    """The search for ``--data`` (a table, or images) and the recipe it varies."""
    if is_image_source(source):
        assert source is not None
        base = Recipe.from_json(args.recipe) if args.recipe else DIGITS_RECIPE
        images = load_images(source, args.seed)
        say(
            f"data: {images.source}: {len(images.y_train):,} training and "
            f"{len(images.y_test):,} test images"
        )
        return ImageSearch(images), base
    base = Recipe.from_json(args.recipe) if args.recipe else DEFAULT_RECIPE
    base = base.with_overrides(max_rows=args.max_rows)
    if args.task == "classification" and not args.target:
        raise DataError("--task classification needs --target COLUMN (the column of labels)")
    target = args.target or TARGET
    frame = load_frame(
        source,
        base.features,
        args.seed,
        target=target,
        optional=base.optional,
        categoricals=base.categoricals,
    )
    data = prepare(
        frame,
        frame.attrs["features"],
        target,
        seed=args.seed,
        max_rows=base.max_rows,
        dtype=np.dtype(base.dtype),
        categoricals=frame.attrs["categoricals"],
        task=args.task,
    )
    say(str(data.report))
    sizes = data.split_sizes()
    say(
        f"  split (seed {args.seed}): train {sizes['train']:,} (searched by cross-validation), "
        f"validation {sizes['validation']:,} and test {sizes['test']:,} (the final fit only)"
    )
    return TableSearch(data), base


def _command(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise DataError(f"--trials must be at least 1, got {args.trials}")
    if args.cv < 2:
        raise DataError(f"--cv must be at least 2, got {args.cv}")
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    client_check = connect(scheduler) if scheduler else None  # fail fast, before reading data
    if client_check is not None:
        client_check.close()
    source = resolve_data(args.data)
    search, base = _load(args, source)
    out = Path(args.out) if args.out else default_run_dir("tune-")
    where = (
        f"the Dask cluster at {scheduler}"
        if scheduler
        else (f"{os.cpu_count() if args.jobs == -1 else args.jobs} local worker process(es)")
    )
    say(
        f"search: {args.trials} trials × {args.cv}-fold cross-validation on the "
        f"{search.n_rows:,} training rows, on {where}; seed {args.seed}"
    )
    started = time.perf_counter()
    result = run_search(
        search,
        base,
        n_trials=args.trials,
        cv=args.cv,
        seed=args.seed,
        jobs=args.jobs,
        scheduler=scheduler,
        progress=not args.quiet,
    )
    search_seconds = time.perf_counter() - started
    say()
    say(format_trials(result))
    failed = int((result.trials["status"] != "ok").sum())
    if failed:
        say(f"{failed} trial(s) failed; their errors are in trials.csv")
    ok = result.trials["status"] == "ok"
    best_recipe = final_model = None
    test_score = math.nan
    if ok.any():
        best_recipe = replace(
            base.with_overrides(**result.best_params), notes=f"tuned: best of {args.trials} trials"
        )
        say(
            f"refitting the best configuration on the whole training split ({search.n_rows:,} rows)"
        )
        final_model, test_score = search.final(best_recipe, args.seed)
    with staged_directory(out) as stage:
        frame = trials_frame(result)
        atomic_write_text(stage / "trials.csv", frame.to_csv(index=False))
        scores = result.trials["mean"].to_numpy()
        best_index = (
            int(np.nanargmin(-scores if result.higher_is_better else scores)) if ok.any() else 0
        )
        save_figure(
            search_figure(list(result.trials["params"]), scores, result.metric, best_index),
            stage / "search.png",
        )
        if best_recipe is not None and final_model is not None:
            write_json(stage / "best.json", best_recipe.to_dict())
            final_model.save(stage / "model.npz")
        write_json(
            stage / "metrics.json",
            {
                "nnscratch_version": __version__,
                "search": {
                    "data": search.source,
                    "task": search.task,
                    "trials": args.trials,
                    "cv": args.cv,
                    "seed": args.seed,
                    "scheduler": scheduler,
                    "metric": result.metric,
                    "seconds": search_seconds,
                    "failed_trials": failed,
                },
                "best": None
                if best_recipe is None
                else {
                    "params": _plain(result.best_params),
                    "cv_mean": float(result.trials.sort_values("rank").iloc[0]["mean"]),
                    f"test_{result.metric}": test_score,
                },
            },
        )
    say()
    if best_recipe is None:
        say(f"every trial failed: nothing to refit; trials.csv in {out}/")
        return 2
    shown = f"{test_score * 100:.2f}%" if result.metric == "accuracy" else f"{test_score:.3f}"
    say(f"best configuration: test {result.metric} {shown} (the test split's only use)")
    say(f"outputs in {out}/: trials.csv, search.png, best.json, model.npz, metrics.json")
    say(
        f"reproduce it: nnscratch train --data {args.data or '<same data>'} "
        f"--recipe {out}/best.json --seed {args.seed}"
    )
    return 0
