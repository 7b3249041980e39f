"""Accuracy of the default recipe against gradient boosting, over seeded splits.

For each seed, ``prepare`` makes a different 70/10/20 train/validation/test
split of the same CSV. Every model sees the same split; the ablation adds the
recipe's ingredients one at a time. Everything was chosen on validation
data; this reports the test split.

    python benchmarks/accuracy.py --data ../shared/data/spotify/tracks.csv --seeds 5

LightGBM and CatBoost (default settings, the same 27 columns and splits) run
when installed (``pip install lightgbm catboost``) and are skipped with a
note otherwise; the command line's own baseline stays scikit-learn's.

Writes ``benchmarks/results/accuracy.{md,json}`` (or ``--out``).
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
from results_io import write_results  # benchmarks/, beside this script
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from nnscratch.data.features import DEFAULT_FEATURES, RECIPE_FEATURES
from nnscratch.data.preprocessing import prepare
from nnscratch.data.tracks import load_tracks
from nnscratch.models.metrics import test_rmse
from nnscratch.models.recipes import DEFAULT_RECIPE, FAST_RECIPE, Recipe

HERE = Path(__file__).resolve().parent
BOOSTERS = ("HistGradientBoosting (27 columns)", "LightGBM (27 columns)", "CatBoost (27 columns)")
DEFAULT_ROW = "two TabM networks (k=16, lr 2e-3) instead of five = default recipe"

#: The ablation: each row adds one ingredient to the one above it.
ABLATION: dict[str, Recipe] = {
    "MLP, seed's 13 features (Min-Max, one network)": replace(
        FAST_RECIPE, features=DEFAULT_FEATURES, encoding="minmax", n_members=1
    ),
    "+ derived features (27 columns)": replace(FAST_RECIPE, encoding="minmax", n_members=1),
    "+ piecewise-linear encoding (16 quantile bins)": replace(
        FAST_RECIPE, bins="quantile", n_members=1
    ),
    "+ ensemble of 5 (the default before TabM)": replace(FAST_RECIPE, bins="quantile"),
    "+ target-aware bins = --preset fast": FAST_RECIPE,
    DEFAULT_ROW: DEFAULT_RECIPE,
}


def rmse(data, y_scaled_pred) -> float:
    return test_rmse(data, y_scaled_pred)


def optional_boosters(seed: int) -> dict[str, Any]:
    """LightGBM and CatBoost regressors with default settings, where installed."""
    out: dict[str, Any] = {}
    if find_spec("lightgbm"):
        import lightgbm

        out["LightGBM (27 columns)"] = lambda: lightgbm.LGBMRegressor(random_state=seed, verbose=-1)
    if find_spec("catboost"):
        import catboost

        out["CatBoost (27 columns)"] = lambda: catboost.CatBoostRegressor(
            random_seed=seed, verbose=False, thread_count=-1, allow_writing_files=False
        )
    return out


def one_seed(frame, seed: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    data = prepare(frame, RECIPE_FEATURES, seed=seed, test_size=0.2, val_size=0.1)
    seed_cols = [list(RECIPE_FEATURES).index(f) for f in DEFAULT_FEATURES]

    def timed(name: str, fit_predict) -> None:
        start = time.perf_counter()
        pred = fit_predict()
        results[name] = {"rmse": rmse(data, pred), "seconds": time.perf_counter() - start}

    mean = float(np.mean(data.y_train))
    timed("training mean", lambda: np.full(len(data.y_test), mean))
    timed(
        "LinearRegression (27 columns)",
        lambda: LinearRegression().fit(data.X_train, data.y_train).predict(data.X_test),
    )
    timed(
        "HistGradientBoosting (27 columns)",
        lambda: (
            HistGradientBoostingRegressor(random_state=seed)
            .fit(data.X_train, data.y_train)
            .predict(data.X_test)
        ),
    )
    timed(
        "HistGradientBoosting (seed's 13 features)",
        lambda: (
            HistGradientBoostingRegressor(random_state=seed)
            .fit(data.X_train[:, seed_cols], data.y_train)
            .predict(data.X_test[:, seed_cols])
        ),
    )
    for name, make in optional_boosters(seed).items():
        timed(name, lambda make=make: make().fit(data.X_train, data.y_train).predict(data.X_test))
    for name, recipe in ABLATION.items():
        sub = (
            data
            if recipe.features == RECIPE_FEATURES
            else prepare(frame, recipe.features, seed=seed, test_size=0.2, val_size=0.1)
        )

        def fit_predict(recipe=recipe, sub=sub):
            return recipe.fit(sub, seed=seed).predict_scaled(sub.X_test)

        timed(name, fit_predict)
    print(
        json.dumps({"seed": seed, **{k: round(v["rmse"], 3) for k, v in results.items()}}),
        flush=True,
    )
    return results


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Test RMSE in popularity points over {len(report['seeds'])} seeded 70/10/20 splits of "
        f"`{report['data']}` (mean ± std); wall time per fit on this machine.",
        "",
        "| model | test RMSE | seconds |",
        "|---|---:|---:|",
    ]
    for name, row in report["summary"].items():
        lines.append(
            f"| {name} | {row['rmse_mean']:.2f} ± {row['rmse_std']:.2f} | "
            f"{row['seconds_mean']:.1f} |"
        )
    lines.append("")
    for rival in BOOSTERS:
        if rival in report["summary"]:
            paired = np.mean(
                [r[DEFAULT_ROW]["rmse"] - r[rival]["rmse"] for r in report["per_seed"]]
            )
            lines.append(
                f"Default recipe minus {rival.split(' (')[0]}: {paired:+.3f} points "
                f"(mean of the per-seed differences)."
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(HERE.parent.parent / "shared/data/spotify/tracks.csv")
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "accuracy"))
    args = parser.parse_args()
    for name in ("lightgbm", "catboost"):
        if not find_spec(name):
            print(f"note: {name} is not installed; skipped (pip install {name})", flush=True)
    frame = load_tracks(args.data, features=RECIPE_FEATURES)
    per_seed = [one_seed(frame, seed) for seed in range(args.seeds)]
    summary = {}
    for name in per_seed[0]:
        values = np.array([r[name]["rmse"] for r in per_seed])
        seconds = np.array([r[name]["seconds"] for r in per_seed])
        summary[name] = {
            "rmse_mean": float(values.mean()),
            "rmse_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "seconds_mean": float(seconds.mean()),
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
