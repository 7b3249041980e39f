"""``nnscratch experiment NAME``: the analysis lab (:mod:`nnscratch.app.lab.training`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnscratch.app.cli.arguments import add_data_arguments, task_from_args
from nnscratch.app.cli.console import HelpFormatter, examples
from nnscratch.app.lab import experiments


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "experiment",
        help="the analysis lab: check a design claim on real data",
        description=experiments.__doc__,
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch experiment init --data ../shared/data/spotify/tracks.csv
            nnscratch experiment lr --data tracks.csv --out runs/lr
            nnscratch experiment batch                     # built-in synthetic sample
            nnscratch experiment augmentation --data ../shared/data/mnist
        """),
    )
    parser.add_argument("name", choices=sorted(experiments.EXPERIMENTS), help="which experiment")
    add_data_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed for split, init and shuffling")
    parser.add_argument("--out", help="output directory (default: runs/experiment-NAME-<time>)")
    parser.add_argument("--max-rows", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--epochs", type=int, help="override every run's epoch count (quick look)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    task, source = task_from_args(args)
    experiments.run_experiment(
        args.name,
        task,
        data_path=source,
        seed=args.seed,
        out=Path(args.out) if args.out else None,
        max_rows=args.max_rows,
        epochs=args.epochs,
    )
    return 0
