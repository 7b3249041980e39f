"""What the default recipe's time buys: cheaper variants of it against CatBoost.

The default recipe (two TabM networks of k = 16 members, Adam at a constant
2e-3 with early stopping) beats CatBoost on the shared sample but takes about
twenty times its fit time. Each variant here changes one or two of its
choices to cost less: fewer members, one network, fewer bins, larger
batches, a fixed cosine schedule of few epochs. For each seed, every variant
and CatBoost (default settings, the same 27 columns) fit the same 70/10/20
split, one after another in this process; the table gives validation and
test RMSE, seconds a fit (fit and test prediction, as
``benchmarks/accuracy.py`` times them) and the ratio to CatBoost's seconds on
the same split, which is what to compare on a shared, noisy machine.

    python benchmarks/recipe_costs.py --data ../shared/data/spotify/tracks.csv --seeds 2

``--only k=4`` runs the variants whose name contains the text (CatBoost and
the default always run). CatBoost is an optional extra (``pip install
catboost``); without it the ratio columns are left empty. Writes
``benchmarks/results/recipe_costs.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
from accuracy import optional_boosters  # benchmarks/, beside this script
from results_io import write_results

from nnscratch.data.features import RECIPE_FEATURES
from nnscratch.data.preprocessing import PreparedData, prepare
from nnscratch.data.tracks import load_tracks
from nnscratch.models.metrics import test_rmse
from nnscratch.models.recipes import DEFAULT_RECIPE, Recipe

HERE = Path(__file__).resolve().parent
DEFAULT_NAME = "default (k = 16 × 2 networks, lr 2e-3, early stopping, ≤ 8,000 steps)"
CATBOOST = "CatBoost (27 columns)"  # as benchmarks/accuracy.py names it


def cosine(epochs: int, learning_rate: float, **changes: Any) -> Recipe:
    """The default with a fixed cosine schedule of ``epochs`` (no early stopping)."""
    return replace(
        DEFAULT_RECIPE,
        lr_schedule="cosine",
        epochs=epochs,
        learning_rate=learning_rate,
        patience=None,
        max_steps=None,
        **changes,
    )


#: Each variant changes the default recipe as its name says.
VARIANTS: dict[str, Recipe] = {
    DEFAULT_NAME: DEFAULT_RECIPE,
    "k = 8": replace(DEFAULT_RECIPE, k=8),
    "k = 4": replace(DEFAULT_RECIPE, k=4),
    "one network (k = 16)": replace(DEFAULT_RECIPE, n_members=1),
    "8 bins instead of 16": replace(DEFAULT_RECIPE, n_bins=8),
    "batch 512, lr 3e-3, ≤ 4,000 steps": replace(
        DEFAULT_RECIPE, batch_size=512, learning_rate=3e-3, max_steps=4_000
    ),
    "cosine, 30 epochs, lr 3e-3": cosine(30, 3e-3),
    "cosine, 20 epochs, lr 4e-3": cosine(20, 4e-3),
    "k = 8, cosine, 30 epochs, lr 3e-3": cosine(30, 3e-3, k=8),
    "k = 8, cosine, 30 epochs, lr 3e-3, AdamW 1e-4": cosine(30, 3e-3, k=8, weight_decay=1e-4),
    "k = 4, cosine, 40 epochs, lr 3e-3": cosine(40, 3e-3, k=4),
    "k = 4, cosine, 40 epochs, lr 4e-3": cosine(40, 4e-3, k=4),
    "k = 4 × 4 networks, cosine, 40 epochs, lr 3e-3": cosine(40, 3e-3, k=4, n_members=4),
    "k = 2 × 4 networks, cosine, 40 epochs, lr 3e-3": cosine(40, 3e-3, k=2, n_members=4),
}


def validation_rmse(data: PreparedData, y_scaled_pred: np.ndarray) -> float:
    """RMSE in popularity points on the validation split."""
    return float(np.sqrt(np.mean((y_scaled_pred - data.y_val) ** 2)) * data.target_range)


def one_seed(frame: Any, seed: int, names: list[str]) -> dict[str, dict[str, float]]:
    data = prepare(frame, RECIPE_FEATURES, seed=seed, test_size=0.2, val_size=0.1)
    results: dict[str, dict[str, float]] = {}
    boosters = optional_boosters(seed)
    if CATBOOST in boosters:
        start = time.perf_counter()
        booster = boosters[CATBOOST]().fit(data.X_train, data.y_train)
        test = test_rmse(data, booster.predict(data.X_test))
        results[CATBOOST] = {
            "seconds": time.perf_counter() - start,
            "validation": validation_rmse(data, booster.predict(data.X_val)),
            "test": test,
        }
    for name in names:
        start = time.perf_counter()
        model = VARIANTS[name].fit(data, seed=seed)
        test = test_rmse(data, model.predict_scaled(data.X_test))
        seconds = time.perf_counter() - start
        results[name] = {
            "seconds": seconds,
            "validation": validation_rmse(data, model.predict_scaled(data.X_val)),
            "test": test,
            "epochs": float(np.mean([len(h.train_loss) for h in model.estimator.histories_])),
        }
    for row in results.values():
        if CATBOOST in results:
            row["x_catboost_seconds"] = row["seconds"] / results[CATBOOST]["seconds"]
            row["test_minus_catboost"] = row["test"] - results[CATBOOST]["test"]
    print(
        json.dumps({"seed": seed, **{k: round(v["test"], 3) for k, v in results.items()}}),
        flush=True,
    )
    return results


def markdown(report: dict[str, Any]) -> str:
    seeds = len(report["seeds"])
    lines = [
        f"Cheaper variants of the default recipe on {seeds} seeded 70/10/20 split(s) of "
        f"`{report['data']}` (means over the seeds); CatBoost with default settings on the "
        "same splits. Seconds a fit on this machine; × CatBoost is the ratio on the same "
        "split, averaged; test − CatBoost the paired difference, averaged.",
        "",
        "| recipe | epochs | validation RMSE | test RMSE | test − CatBoost | seconds "
        "| × CatBoost |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in report["summary"].items():
        paired = row.get("test_minus_catboost")
        ratio = row.get("x_catboost_seconds")
        epochs = f"{row['epochs']:.0f}" if "epochs" in row else "—"
        lines.append(
            f"| {name} | {epochs} | {row['validation']:.3f} | {row['test']:.3f} | "
            + (f"{paired:+.3f}" if paired is not None else "—")
            + f" | {row['seconds']:.1f} | "
            + (f"{ratio:.1f}×" if ratio is not None else "—")
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(HERE.parent.parent / "shared/data/spotify/tracks.csv")
    )
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--only", default="", help="variants whose name contains this text")
    parser.add_argument("--out", default=str(HERE / "results" / "recipe_costs"))
    args = parser.parse_args()
    if not find_spec("catboost"):
        print("note: catboost is not installed; no ratios (pip install catboost)", flush=True)
    names = [DEFAULT_NAME] + [n for n in VARIANTS if n != DEFAULT_NAME and args.only in n]
    frame = load_tracks(args.data, features=RECIPE_FEATURES)
    per_seed = [one_seed(frame, seed, names) for seed in range(args.seeds)]
    summary = {
        name: {key: float(np.mean([r[name][key] for r in per_seed])) for key in per_seed[0][name]}
        for name in per_seed[0]
    }
    report = {
        "data": args.data,
        "seeds": list(range(args.seeds)),
        "per_seed": per_seed,
        "summary": summary,
    }
    write_results(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
