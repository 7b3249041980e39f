"""What augmentation costs an epoch: the default digits network with each augmentation.

Each round trains one network of the default digits recipe (its width, dropout,
batch and optimizer) for ``--epochs`` epochs on MNIST's training images, on one
BLAS thread as each member trains when the recipe's networks train side by side,
once with no augmentation and once with each of shift, affine and elastic, in an
order that rotates from round to round, in this one process. The table gives the
median of each augmentation's per-round ratio to the round's plain epoch (the
issue's bar: ≤ 1.3×), and the transforms' own seconds per 60,000 images. The
machine is shared and noisy: read the ratios.

    python benchmarks/augmentation_cost.py --data ../shared/data/mnist

Writes ``benchmarks/results/augmentation_cost.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from results_io import write_results  # benchmarks/, beside this script
from threadpoolctl import threadpool_info, threadpool_limits

from nnscratch.data.augment import AUGMENTATIONS, augmentation
from nnscratch.data.images import load_mnist
from nnscratch.models.recipes import DIGITS_RECIPE

HERE = Path(__file__).resolve().parent
NAMES = list(AUGMENTATIONS)


def epoch_seconds(X: np.ndarray, y: np.ndarray, name: str, epochs: int) -> float:
    """Median seconds per epoch of one default-recipe network trained with ``name``."""
    recipe = replace(DIGITS_RECIPE, n_members=1, epochs=epochs, patience=None, augment=name)
    estimator = recipe.build_classifier(0).set_params(image_shape=(28, 28), n_jobs=1)
    estimator.fit(X, y)
    return float(np.median(estimator.history_.seconds))


def transform_seconds(X: np.ndarray, name: str, batch: int) -> float:
    """Seconds the transform alone takes over 60,000 images, a batch at a time."""
    transform = augmentation(name, (28, 28))
    if transform is None:
        return 0.0
    rows, rng = X[:20_000].copy(), np.random.default_rng(0)
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        transform(rows[start : start + batch], rng)
    return (time.perf_counter() - started) * 60_000 / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared/data/mnist"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "augmentation_cost"))
    args = parser.parse_args()
    images = load_mnist(args.data)
    X, y = images.X_train, images.y_train
    rounds: list[dict[str, float]] = []
    with threadpool_limits(1, user_api="blas"):
        epoch_seconds(X[:5000], y[:5000], "none", 1)  # warm-up: imports, buffers
        for r in range(args.rounds):
            order = NAMES[r % len(NAMES) :] + NAMES[: r % len(NAMES)]
            seconds = {name: epoch_seconds(X, y, name, args.epochs) for name in order}
            rounds.append(seconds)
            print(
                f"round {r + 1}: " + ", ".join(f"{n} {seconds[n]:.2f} s" for n in NAMES), flush=True
            )
        alone = {
            name: transform_seconds(X, name, DIGITS_RECIPE.batch_size or 256) for name in NAMES
        }
    ratios = {n: statistics.median(r[n] / r["none"] for r in rounds) for n in NAMES}
    blas = [i.get("internal_api", "") + " " + str(i.get("architecture")) for i in threadpool_info()]
    report = {
        "data": args.data,
        "epochs": args.epochs,
        "rounds": rounds,
        "median_ratio": ratios,
        "transform_seconds_per_60k": alone,
        "recipe": DIGITS_RECIPE.notes,
        "machine": platform.processor() or platform.machine(),
        "blas": blas,
    }
    write_results(args.out, report, markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Machine: {report['machine']}, BLAS: {', '.join(report['blas'])}",
        "",
        f"**What augmentation costs an epoch** (one network of the default digits recipe: "
        f"{report['recipe']}; one BLAS thread; {report['epochs']} epochs a fit, "
        f"{len(report['rounds'])} rounds, rotating order)",
        "",
        "| augmentation | seconds per epoch (median of rounds) | × no augmentation | "
        "transform alone, s per 60,000 images |",
        "|---|---:|---:|---:|",
    ]
    for name in NAMES:
        seconds = statistics.median(r[name] for r in report["rounds"])
        lines.append(
            f"| {name} | {seconds:.2f} | {report['median_ratio'][name]:.2f}× | "
            f"{report['transform_seconds_per_60k'][name]:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
