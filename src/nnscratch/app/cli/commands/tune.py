"""``nnscratch tune``: cross-validated hyperparameter search (:mod:`nnscratch.app.tune.search`),
locally or on a Dask cluster, then the best configuration refit and tested once."""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from nnscratch import __version__
from nnscratch.app.cli.arguments import add_data_arguments, base_recipe, task_from_args
from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.runs import default_run_dir, staged_directory, write_json
from nnscratch.app.tune.search import (
    Search,
    SearchResult,
    connect,
    format_trials,
    plain_params,
    run_search,
    trials_frame,
)
from nnscratch.errors import DataError
from nnscratch.files import atomic_write_text
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.plots import save_figure, search_figure


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "tune",
        help="search hyperparameters by cross-validation (locally, or on a Dask cluster)",
        description="Draw --trials configurations of the default recipe (widths and depth, "
        "learning rate, weight decay, dropout, batch size, ensemble size, TabM k, encoding bins), "
        "score each by --cv-fold cross-validation on the training split, refit the best on "
        "the whole training split and score it once on the test split. Writes trials.csv, "
        "search.png, best.json (for `nnscratch train --recipe`), model.npz and metrics.json.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch tune --data ../shared/data/spotify/tracks.csv --trials 20
            nnscratch tune --data digits --trials 8 --cv 3
            nnscratch tune --data tracks.csv --scheduler tcp://10.0.0.5:8786
            nnscratch train --data tracks.csv --recipe runs/tune-X/best.json
        """),
    )
    add_data_arguments(parser)
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
    parser.add_argument("--max-rows", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--seed", type=int, default=0, help="seed for the trials, folds and fits")
    parser.add_argument("--out", help="output directory (default: runs/tune-<time>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise DataError(f"--trials must be at least 1, got {args.trials}")
    if args.cv < 2:
        raise DataError(f"--cv must be at least 2, got {args.cv}")
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if scheduler:  # fail fast, before reading data
        connect(scheduler).close()
    task, source = task_from_args(args)
    base = base_recipe(args, task).with_overrides(max_rows=args.max_rows)
    data = task.load(source, base, args.seed)
    for line in data.report():
        say(line)
    search = Search(task, data)
    n_rows = task.search_rows(data)[0]
    out = Path(args.out) if args.out else default_run_dir("tune-")
    jobs = os.cpu_count() if args.jobs == -1 else args.jobs
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{jobs} local worker process(es)"
    say(
        f"search: {args.trials} trials × {args.cv}-fold cross-validation on the "
        f"{n_rows:,} training rows, on {where}; seed {args.seed}"
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
    seconds = time.perf_counter() - started
    say()
    say(format_trials(result))
    failed = int((result.trials["status"] != "ok").sum())
    if failed:
        say(f"{failed} trial(s) failed; their errors are in trials.csv")
    best = _refit_best(search, base, result, args, n_rows)
    summary = {
        "data": search.source,
        "task": task.name,
        "trials": args.trials,
        "cv": args.cv,
        "seed": args.seed,
        "scheduler": scheduler,
        "metric": result.metric.key,
        "seconds": seconds,
        "failed_trials": failed,
    }
    _write_outputs(out, result, best, summary)
    return _conclude(out, result, best, args)


def _refit_best(
    search: Search, base: Recipe, result: SearchResult, args: argparse.Namespace, n_rows: int
) -> tuple[Recipe, Any, float] | None:
    """The best trial's recipe refit on the whole training split, and its test score
    (None when every trial failed)."""
    if not (result.trials["status"] == "ok").any():
        return None
    recipe = replace(
        base.with_overrides(**result.best_params), notes=f"tuned: best of {args.trials} trials"
    )
    say(f"refitting the best configuration on the whole training split ({n_rows:,} rows)")
    model, score = search.task.final(search.data, recipe, args.seed)
    return recipe, model, score


def _write_outputs(
    out: Path,
    result: SearchResult,
    best: tuple[Recipe, Any, float] | None,
    summary: dict[str, Any],
) -> None:
    """trials.csv, search.png, metrics.json, and the best's best.json and model.npz."""
    scores = result.trials["mean"].to_numpy()
    best_index = 0
    if best is not None:
        best_index = int(np.nanargmin(-scores if result.metric.higher_is_better else scores))
    metrics = {"nnscratch_version": __version__, "search": summary, "best": None}
    if best is not None:
        metrics["best"] = {
            "params": plain_params(result.best_params),
            "cv_mean": float(result.trials.sort_values("rank").iloc[0]["mean"]),
            f"test_{result.metric.key}": best[2],
        }
    with staged_directory(out) as stage:
        atomic_write_text(stage / "trials.csv", trials_frame(result).to_csv(index=False))
        figure = search_figure(list(result.trials["params"]), scores, result.metric.key, best_index)
        save_figure(figure, stage / "search.png")
        if best is not None:
            write_json(stage / "best.json", best[0].to_dict())
            best[1].save(stage / "model.npz")
        write_json(stage / "metrics.json", metrics)


def _conclude(
    out: Path,
    result: SearchResult,
    best: tuple[Recipe, Any, float] | None,
    args: argparse.Namespace,
) -> int:
    say()
    if best is None:
        say(f"every trial failed: nothing to refit; trials.csv in {out}/")
        return 2
    score = best[2]
    shown = result.metric.shown(score) if math.isfinite(score) else "nan"
    say(f"best configuration: test {result.metric.key} {shown} (the test split's only use)")
    say(f"outputs in {out}/: trials.csv, search.png, best.json, model.npz, metrics.json")
    say(
        f"reproduce it: nnscratch train --data {args.data or '<same data>'} "
        f"--recipe {out}/best.json --seed {args.seed}"
    )
    return 0
