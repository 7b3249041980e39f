"""``nnscratch evaluate``: a saved model's scores on every usable row of a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.tasks.registry import load_model


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="score a saved model on a CSV (or on test images)",
        description="Print a saved model's scores in the target's units (RMSE, MAE and R²; "
        "accuracy, macro-F1 and log-loss for classes) on every usable row of a CSV of any "
        "recognised schema, or on the test images of an image source.",
        formatter_class=HelpFormatter,
        epilog=examples("nnscratch evaluate --model runs/first/model.npz --data tracks.csv"),
    )
    parser.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    parser.add_argument(
        "--data",
        required=True,
        help="CSV with the model's target column; for a digits model, an MNIST folder or 'digits'",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    results, report = model.evaluate(args.data, Path(args.model).name)
    for line in report:
        say(line)
    say()
    say(results.table())
    return 0
