"""``nnscratch tune``: an Optuna search of a task's recipes (:mod:`nnscratch.app.tune`),
locally or on a Dask cluster, within a time budget; then the default, the best single
configuration and an ensemble of the best, refit and tested once."""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path
from typing import Any

from nnscratch import __version__
from nnscratch.app.cli.arguments import add_data_arguments, base_recipe, task_from_args
from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.runs import default_run_dir, staged_directory, write_json
from nnscratch.app.tune.finish import Final, choose, refit
from nnscratch.app.tune.report import search_plot, trial_line
from nnscratch.app.tune.search import (
    Budget,
    Search,
    SearchResult,
    connect,
    make_folds,
    run_search,
    trials_frame,
)
from nnscratch.app.tune.selection import ROUNDS
from nnscratch.app.tune.study import (
    STUDY_FILE,
    StudySettings,
    check_resumable,
    create_study,
    open_study,
    read_settings,
    require_optuna,
)
from nnscratch.errors import DataError
from nnscratch.files import atomic_write_text
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.plots import save_figure

#: Trials a search runs when neither --trials nor --time-budget is given.
DEFAULT_TRIALS = 20
_UNITS = {"s": 1, "m": 60, "h": 3600}


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "tune",
        help="search hyperparameters (Optuna, with pruning and a time budget) and ensemble "
        "the best",
        description="Search the default recipe's neighbourhood (widths and depth, learning "
        "rate, weight decay, batch size, encoding bins, TabM k or dropout, networks side by "
        "side) with Optuna: trial 0 is the recipe itself, then the task's "
        "portfolio (a few configurations that differ from it), then draws of a seeded TPE "
        "sampler, each scored by --cv-fold cross-validation on the training split and pruned "
        "when its validation curve falls behind the median of its kind. Then the best single "
        "configuration and a greedy ensemble of the complete trials (weights from their "
        "out-of-fold predictions) are refit on the whole training split and scored once on "
        "the test split, beside the default. Writes study.db (resumable), trials.csv, "
        "search.png, best.json (for `nnscratch train --recipe`), model.npz (the ensemble, "
        "one file any command reads) and metrics.json. Needs pip install 'nnscratch[tune]'.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch tune --data ../shared/data/spotify/tracks.csv --time-budget 10m
            nnscratch tune --data tracks.csv --trials 8 --ensemble 0
            nnscratch tune --resume runs/tune-X --time-budget 30m    # more trials, same study
            nnscratch tune --data digits --time-budget 5m
            nnscratch tune --data tracks.csv --time-budget 1h --scheduler tcp://10.0.0.5:8786
            nnscratch predict --model runs/tune-X/model.npz --data new.csv
        """),
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--time-budget",
        metavar="DURATION",
        help="start no trial after this long, e.g. 90s, 10m, 1h, nor one that would likely "
        "end after it (by the median length of the complete trials); trials running then "
        "stop at their epoch's end, but trial 0 (the default), which always completes; "
        "then come the refits and the report",
    )
    parser.add_argument(
        "--trials",
        type=int,
        help=f"start at most this many trials (default: {DEFAULT_TRIALS} without "
        "--time-budget, else as many as the budget allows)",
    )
    parser.add_argument("--cv", type=int, help="cross-validation folds (default 3)")
    parser.add_argument(
        "--ensemble",
        type=int,
        default=ROUNDS,
        metavar="ROUNDS",
        help="rounds of greedy ensemble selection over the complete trials; 0 saves the "
        "best single configuration instead",
    )
    parser.add_argument(
        "--jobs", type=int, default=-1, help="local worker processes (-1: one per core)"
    )
    parser.add_argument(
        "--scheduler",
        help="a Dask scheduler, e.g. tcp://HOST:8786 (default: $DASK_SCHEDULER_ADDRESS, else "
        "local processes); needs pip install 'nnscratch[cluster]'",
    )
    parser.add_argument("--recipe", help="a JSON recipe to start from (default: the default)")
    parser.add_argument("--max-rows", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--seed", type=int, help="seed for the sampler, folds and fits (default 0)")
    parser.add_argument("--out", help="output directory (default: runs/tune-<time>)")
    parser.add_argument(
        "--resume",
        metavar="RUN",
        help="add trials to the search in this run folder (its data, task, seed, folds and "
        "recipe), then refit and report on all of them",
    )
    parser.add_argument("--quiet", action="store_true", help="no line per trial")
    parser.set_defaults(func=run)


def parse_duration(text: str) -> float:
    """``90s``, ``10m``, ``1.5h`` or plain seconds → seconds; :class:`DataError` otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*", text)
    seconds = float(match[1]) * _UNITS[match[2] or "s"] if match else math.nan
    if not seconds > 0 or not math.isfinite(seconds):
        raise DataError(f"--time-budget {text!r}: give a positive duration such as 90s, 10m or 1h")
    return seconds


def check_arguments(args: argparse.Namespace) -> float | None:
    """Refuse bad numbers before anything is read or written; the budget in seconds."""
    budget = None if args.time_budget is None else parse_duration(args.time_budget)
    if args.trials is not None and args.trials < 1:
        raise DataError(f"--trials must be at least 1, got {args.trials}")
    if args.cv is not None and args.cv < 2:
        raise DataError(f"--cv must be at least 2, got {args.cv}")
    if args.ensemble < 0:
        raise DataError(f"--ensemble must be 0 (off) or more rounds, got {args.ensemble}")
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        raise DataError("--resume writes into the run it resumes; drop --out")
    return budget


def run(args: argparse.Namespace) -> int:
    budget_s = check_arguments(args)
    optuna = require_optuna()
    stored = read_settings(Path(args.resume)) if args.resume else None
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if scheduler:  # fail fast, before reading data
        connect(scheduler).close()
    search, base, settings = load(args, stored)
    out = Path(args.resume or args.out or default_run_dir("tune-"))
    if stored is not None:
        check_resumable(out, stored, settings)
        study = open_study(out, stored)
    elif (out / STUDY_FILE).exists():
        raise DataError(f"{out}: holds a search already; --resume it, or choose another --out")
    else:
        study = create_study(out, settings)
    n_rows, labels = search.task.search_rows(search.data)
    folds = make_folds(n_rows, settings.cv, settings.seed, labels, stop_share(search))
    max_trials = args.trials or (DEFAULT_TRIALS if budget_s is None else 10**9)
    jobs = (os.cpu_count() or 1) if args.jobs == -1 else args.jobs
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{jobs} worker(s)"
    limit = f"up to {args.trials} trials" if args.trials or budget_s is None else "trials"
    limit += f" for {args.time_budget}" if budget_s else ""
    so_far = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    say(
        f"search: {limit}, each {settings.cv}-fold cross-validated on the {n_rows:,} training "
        f"rows, on {where}; seed {settings.seed}; study in {out / STUDY_FILE}"
        + (f" ({so_far} trials so far)" if stored else "")
    )
    budget = Budget(budget_s)

    def tell(outcome: Any, so_far: SearchResult) -> None:
        if not args.quiet:
            say(trial_line(outcome, so_far, budget.left()))

    result = run_search(
        search,
        base,
        study,
        folds,
        seed=settings.seed,
        out=out,
        budget=budget,
        max_trials=max_trials,
        jobs=jobs if scheduler is None else 1,
        scheduler=scheduler,
        on_trial=tell,
    )
    final = refit(choose(result, search, args.ensemble), result, search, base, settings.seed, say)
    write_outputs(out, study, result, final, settings, base, budget_s, optuna)
    return conclude(out, result, final, settings)


def load(
    args: argparse.Namespace, stored: StudySettings | None
) -> tuple[Search, Recipe, StudySettings]:
    """The task and its data (a resumed search's unless others are named), the base
    recipe, and the settings a new study would hold."""
    if stored is not None:
        args.data = args.data or stored.data
        args.task = args.task or stored.task
        args.target = args.target or stored.target
    task, source = task_from_args(args)
    if stored is not None:
        base, seed, cv = Recipe.from_dict(stored.recipe), stored.seed, stored.cv
    else:
        base = base_recipe(args, task).with_overrides(max_rows=args.max_rows)
        seed, cv = args.seed or 0, args.cv or 3
    task.check(base)
    data = task.load(source, base, seed)
    for line in data.report():
        say(line)
    metric = task.metric
    settings = StudySettings(
        str(source) if source is not None else "",
        task.name,
        task.target,
        data.fingerprint(),
        seed,
        cv,
        base.to_dict(),
        metric.key,
        metric.higher_is_better,
    )
    return Search(task, data), base, settings


def stop_share(search: Search) -> float:
    """The validation split's share of the refit's training and validation rows: the
    share of each fold's training rows its early stopping uses."""
    splits = search.data.record()["data"]["splits"]
    return splits["validation"] / max(1, splits["train"] + splits["validation"])


def write_outputs(
    out: Path,
    study: Any,
    result: SearchResult,
    final: Final,
    settings: StudySettings,
    base: Recipe,
    budget_s: float | None,
    optuna: Any,
) -> None:
    """trials.csv, search.png, best.json, model.npz and metrics.json, together."""
    key = settings.metric
    metrics = {
        "nnscratch_version": __version__,
        "search": {
            "data": settings.data,
            "task": settings.task,
            "seed": settings.seed,
            "cv": settings.cv,
            "metric": key,
            "time_budget_s": budget_s,
            "seconds": result.seconds,
            "trials": len(result.outcomes),
            "states": {s: sum(o.state == s for o in result.outcomes) for s in _STATES},
        },
        "saved": final.saved.name,
    }
    for label, contender in (("default", final.default), ("best", final.best)):
        metrics[label] = _record(contender, key)
    metrics["ensemble"] = None if final.ensemble is None else _record(final.ensemble, key)
    with staged_directory(out) as stage:
        atomic_write_text(
            stage / "trials.csv", trials_frame(result, study, base).to_csv(index=False)
        )
        save_figure(search_plot(study, result, budget_s, optuna), stage / "search.png")
        if final.best.recipe is not None:
            write_json(stage / "best.json", final.best.recipe.to_dict())
        final.saved.model.save(stage / "model.npz")
        write_json(stage / "metrics.json", metrics)


_STATES = ("complete", "pruned", "failed")


def _record(contender: Any, key: str) -> dict[str, Any]:
    return {
        "name": contender.name,
        "trials": {str(t): w for t, w in contender.weights.items()},
        f"oof_{key}": None if math.isnan(contender.cv) else contender.cv,
        f"test_{key}": contender.test,
    }


def conclude(out: Path, result: SearchResult, final: Final, settings: StudySettings) -> int:
    """The side-by-side table, and where everything is."""
    key = settings.metric
    show = (lambda v: f"{v * 100:.2f}%") if key == "accuracy" else (lambda v: f"{v:.3f}")
    width = max(len(c.name) for c in final.rows())
    say()
    say(f"{'':{width}}  {'OOF ' + key:>12}  {'test ' + key:>12}")
    for c in final.rows():
        cv = "—" if math.isnan(c.cv) else show(c.cv)
        say(f"{c.name:{width}}  {cv:>12}  {show(c.test):>12}")
    say(
        "(OOF: the out-of-fold outputs of the search's folds, weighted for an ensemble, "
        "scored on every training row; test: the test split's only use)"
    )
    say(f"saved: {final.saved.name} as {out}/model.npz")
    say(f"outputs in {out}/: trials.csv, search.png, best.json, model.npz, metrics.json, study.db")
    say(f"more trials: nnscratch tune --resume {out} --time-budget 10m")
    return 0
