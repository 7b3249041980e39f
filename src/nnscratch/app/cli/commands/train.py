"""``nnscratch train``: fit a recipe on some data and report it beside baselines.

One path for every task: load the data into splits, fit the recipe (a progress
bar; Ctrl-C stops after the batch and keeps the best weights so far), print the
results table, and write the run directory (model, metrics.json, history.csv,
the task's figures) in one staged move.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from nnscratch.app.cli.arguments import (
    add_data_arguments,
    add_recipe_arguments,
    describe_recipe,
    recipe_from_args,
    task_from_args,
)
from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.playground.watch import WatchedRun, watching
from nnscratch.app.runs import default_run_dir, run_record, write_run
from nnscratch.app.serve.server import require_serve_extra
from nnscratch.core.telemetry import DEFAULT_EVERY, Telemetry
from nnscratch.core.training import History
from nnscratch.data.training_table import (
    MemoryBudget,
    release_freed_memory,
    retain_less_freed_memory,
)
from nnscratch.errors import DataError
from nnscratch.tasks.plots import layers_figure
from nnscratch.tasks.table import TableTask


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train a model and report it beside baselines",
        description="Train on a Spotify CSV (any recognised schema), images of digits, or "
        "the built-in synthetic sample; print the data report, a progress bar and a results "
        "table in the target's units; write model.npz, metrics.json, history.csv and plots.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch train
            nnscratch train --data ../shared/data/spotify/tracks.csv
            nnscratch train --data tracks.csv --preset seed      # the seed's full-batch GD
            nnscratch train --data tracks.csv --hidden 128,64 --lr 3e-3 --epochs 50
            nnscratch train --data ../shared/data/mnist       # a digit classifier on MNIST
            nnscratch train --data digits --preset seed        # the original digit classifier
            nnscratch train --data tracks.csv --task classification --target explicit
        """),
    )
    add_data_arguments(parser)
    add_recipe_arguments(parser)
    parser.add_argument(
        "--memory-budget",
        metavar="SIZE",
        help="the memory training may take, e.g. 256MB or 2GB (default: a quarter of this "
        "machine's): a table whose training would take more is trained out of core, its "
        "scaled rows memory-mapped from files beside the run directory and read a batch at "
        "a time",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for split, init and shuffling")
    parser.add_argument("--out", help="output directory (default: runs/<timestamp>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--telemetry",
        nargs="?",
        type=int,
        const=DEFAULT_EVERY,
        metavar="EVERY",
        help="record every layer's activations, dead units, gradients and update ratio every "
        f"EVERY optimizer steps (default {DEFAULT_EVERY}): telemetry.jsonl and layers.png",
    )
    parser.add_argument(
        "--watch",
        nargs="?",
        type=int,
        const=8000,
        metavar="PORT",
        help="watch the run live on a page at http://127.0.0.1:PORT/ (default port 8000): "
        "losses and every layer's telemetry, as the playground shows them; needs the serve extra",
    )
    parser.set_defaults(func=run)


def fit_watched(args: argparse.Namespace, task: Any, data: Any, recipe: Any) -> tuple[Any, Any]:
    """``task.fit`` with the callbacks ``--telemetry`` and ``--watch`` ask for: the fitted
    model, and the telemetry (None without either)."""
    every = args.telemetry or DEFAULT_EVERY
    if args.watch is None:
        telemetry = None if args.telemetry is None else Telemetry(every=every, say=tqdm.write)
        callbacks = (telemetry,) if telemetry else ()
        fit = functools.partial(
            task.fit,
            data,
            recipe,
            args.seed,
            say=say,
            verbose=not args.quiet,
            handle_interrupts=True,
        )
        return fit(callbacks=callbacks), telemetry
    require_serve_extra()
    watched = WatchedRun(f"{task.name} on {data.source}", every, say=tqdm.write)
    with watching(watched, "127.0.0.1", args.watch) as url:
        say(f"watch it at {url}")
        try:
            model = task.fit(
                data,
                recipe,
                args.seed,
                say=say,
                verbose=not args.quiet,
                handle_interrupts=True,
                callbacks=(watched.telemetry, watched),
            )
        finally:
            watched.done("the run ended")
    return model, watched.telemetry if args.telemetry is not None else None


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    retain_less_freed_memory()  # this command owns its process: freed blocks go back
    task, source = task_from_args(args)
    recipe = recipe_from_args(args, task)
    out = Path(args.out) if args.out else default_run_dir()
    data = task.load(source, recipe, args.seed, **load_options(args, task, out))
    for line in data.report():
        say(line)
    say(describe_recipe(args, recipe))
    fit_started = time.perf_counter()
    model, telemetry = fit_watched(args, task, data, recipe)
    fit_seconds = time.perf_counter() - fit_started
    release_freed_memory()  # training's buffers, before the baselines fit
    history = model.history
    say(trained_line(history, model.n_members, fit_seconds))
    results = task.results(model, data, args.seed)
    say()
    say(results.table())
    for line in results.notes:
        say(line)

    model_name = "checkpoint.npz" if history.interrupted else "model.npz"
    recipe_record = {"preset": args.preset, "file": args.recipe, **recipe.to_dict()}
    timing = {"fit_seconds": fit_seconds, "started": started}
    record = run_record(task, data, recipe_record, results, history, timing)
    figures, texts = task.figures(model, data, results), {}
    if telemetry is not None:
        texts["telemetry.jsonl"] = "".join(json.dumps(r) + "\n" for r in telemetry.in_order())
        figures["layers.png"] = layers_figure(telemetry.records)
    written = write_run(out, model, record, figures, model_name, texts)
    say()
    if history.interrupted:
        say(f"interrupted: the best weights so far are saved as {out / model_name}")
    say(f"outputs in {out}/: {', '.join(written)}")
    return 130 if history.interrupted else 0


def load_options(args: argparse.Namespace, task: Any, out: Path) -> dict[str, Any]:
    """What ``task.load`` takes beside the data: the memory budget (``--memory-budget``, or
    the default), whose out-of-core files go beside the run directory where its folder
    exists (else in the temporary folder), and a progress bar of the first pass, for a
    task that reads a table."""
    if not isinstance(task, TableTask):
        if args.memory_budget is not None:
            raise DataError(
                f"--memory-budget applies to tables; the {task.name} task's data is not one"
            )
        return {}
    folder = out.parent if out.parent.is_dir() else None
    if args.memory_budget is not None:
        budget = MemoryBudget.given(args.memory_budget, folder)
    else:
        budget = MemoryBudget.default(folder)
    return {"budget": budget, "progress": not args.quiet}


def trained_line(history: History, n_members: int, fit_seconds: float) -> str:
    """``trained 40 epoch(s) per member, 2 members in 12.3 s (stopped early, best epoch 28)``."""
    stop_note = (
        "interrupted"
        if history.interrupted
        else "stopped early"
        if history.stopped_early
        else "ran all epochs"
    )
    best = f", best epoch {history.best_epoch + 1}" if history.best_epoch is not None else ""
    members = f" per member, {n_members} members" if n_members > 1 else ""
    return (
        f"trained {history.n_epochs} epoch(s){members} in {fit_seconds:.1f} s ({stop_note}{best})"
    )
