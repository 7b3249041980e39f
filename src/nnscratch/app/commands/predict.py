"""``nnscratch predict``: a saved model's predictions for a file, as a CSV."""

from __future__ import annotations

import argparse
from typing import Any

from nnscratch.app.console import HelpFormatter, examples, say
from nnscratch.files import atomic_write_text
from nnscratch.tasks.registry import load_model


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "predict",
        help="write a saved model's predictions for a CSV (or images)",
        description="Write id (when present) and predicted_<target> (for classes, with one "
        "probability per class) for every row that can be scored; report skipped rows. The "
        "CSV may lack the target; where it has it, the RMSE is printed too.",
        formatter_class=HelpFormatter,
        epilog=examples(
            "nnscratch predict --model runs/first/model.npz --data new.csv --out pred.csv"
        ),
    )
    parser.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    parser.add_argument(
        "--data",
        required=True,
        help="CSV of tracks to score; for a digits model, an MNIST folder (its test images, "
        "one row each: index,label,p0..p9) or a folder of PNG digits (white on black; other "
        "sizes are resized, dark-on-light ones inverted)",
    )
    parser.add_argument("--out", required=True, help="where to write the predictions CSV")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    predictions = load_model(args.model).predict_file(args.data)
    for line in predictions.report:
        say(line)
    atomic_write_text(args.out, predictions.frame.to_csv(index=False))
    n, unit = len(predictions.frame), predictions.unit
    say(f"predicted {n:,} of {predictions.read:,} {unit} → {args.out}")
    for line in predictions.notes:
        say(line)
    return 0
